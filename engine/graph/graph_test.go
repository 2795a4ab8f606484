package graph_test

import (
	"strings"
	"testing"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

func TestBuilderTurnsInPlaceWritesIntoSSA(t *testing.T) {
	b := graph.NewBuilder("inplace")
	b.Input("x", tensor.Float32, graph.ShapeOf(2, 3))
	b.Const("w", tensor.New(tensor.Float32, []int{3, 4}))
	if _, err := b.Op("MatMul", "fc1", []string{"x", "w"}, []string{"y"}, nil); err != nil {
		t.Fatal(err)
	}
	first := b.Lookup("y")
	if _, err := b.Op("Relu", "relu1", []string{"y"}, []string{"y"}, nil); err != nil {
		t.Fatal(err)
	}
	second := b.Lookup("y")
	if first == second {
		t.Fatal("in-place write reused the SSA value")
	}
	g, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	relu := g.Nodes[1]
	if relu.Inputs[0] != first || relu.Outputs[0] != second {
		t.Fatalf("relu reads %v and writes %v", relu.Inputs[0], relu.Outputs[0])
	}
	if len(g.Outputs) != 1 || g.Outputs[0] != second {
		t.Fatalf("outputs = %v, want the newest y", g.Outputs)
	}
	want := "graph inplace {\n  input %x: float32[2,3]\n  const %w: float32[3,4]\n  %y_1 = MatMul(%x, %w)  # fc1\n  %y = Relu(%y_1)  # relu1\n  output %y: ?\n}\n"
	if got := g.String(); got != want {
		t.Fatalf("text form:\n%s\nwant:\n%s", got, want)
	}
}

func TestBuilderErrors(t *testing.T) {
	cases := []struct {
		name string
		do   func(b *graph.Builder) error
		want string
	}{
		{"read before write", func(b *graph.Builder) error {
			_, err := b.Op("Relu", "r", []string{"nope"}, []string{"y"}, nil)
			return err
		}, `tensor "nope" has no value yet`},
		{"duplicate input", func(b *graph.Builder) error {
			_, err := b.Input("x", tensor.Float32, nil)
			return err
		}, `tensor "x" already exists`},
		{"duplicate node", func(b *graph.Builder) error {
			b.Op("Relu", "r", []string{"x"}, []string{"y"}, nil)
			_, err := b.Op("Relu", "r", []string{"y"}, []string{"z"}, nil)
			return err
		}, `node name "r" is already used`},
		{"unwritten output", func(b *graph.Builder) error {
			b.Output("q")
			_, err := b.Finish()
			return err
		}, `output "q" is never written`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := graph.NewBuilder("g")
			b.Input("x", tensor.Float32, graph.ShapeOf(1))
			err := c.do(b)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestValidateReportsEveryProblemByName(t *testing.T) {
	g := graph.New("bad")
	x := g.AddInput("x", tensor.Float32, graph.ShapeOf(2))
	orphan := &graph.Value{Name: "ghost"}
	n := g.AddNode("Add", "add", []*graph.Value{x, orphan}, []string{"y"}, nil)
	g.AddNode("", "noop", []*graph.Value{x}, []string{"z"}, nil)
	g.Outputs = []*graph.Value{n.Outputs[0], {Name: "never"}}
	err := g.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`node "add" (Add) input 1 reads "ghost"`, `node "noop" has no operator`, `output "never" is never written`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestTopoSortAndClone(t *testing.T) {
	g := graph.New("order")
	x := g.AddInput("x", tensor.Float32, graph.ShapeOf(2))
	a := g.AddNode("Relu", "a", []*graph.Value{x}, []string{"a"}, nil)
	b := g.AddNode("Relu", "b", []*graph.Value{a.Outputs[0]}, []string{"b"}, nil)
	g.Nodes = []*graph.Node{b, a}
	g.Outputs = []*graph.Value{b.Outputs[0]}
	if err := g.TopoSort(); err != nil {
		t.Fatal(err)
	}
	if g.Nodes[0] != a {
		t.Fatalf("order after sort: %v", g.Nodes)
	}
	c := g.Clone()
	if c.String() != g.String() {
		t.Fatal("clone prints differently")
	}
	c.Nodes[0].Op = "Sigmoid"
	if g.Nodes[0].Op != "Relu" {
		t.Fatal("clone shares nodes with the original")
	}
	// a cycle
	a.Inputs[0] = b.Outputs[0]
	if err := g.TopoSort(); err == nil {
		t.Fatal("cycle not detected")
	}
}

func TestShapes(t *testing.T) {
	s := graph.Shape{{Size: -1, Param: "batch"}, {Size: 3}}
	if s.Known() || s.String() != "[batch,3]" {
		t.Fatalf("shape %v known=%v", s, s.Known())
	}
	if !graph.ShapeOf(2, 3).Equal(graph.ShapeOf(2, 3)) || graph.ShapeOf(2).Equal(graph.ShapeOf(3)) {
		t.Fatal("Equal")
	}
}
