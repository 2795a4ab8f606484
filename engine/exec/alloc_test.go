package exec_test

import (
	"context"
	"testing"

	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// branch is a subgraph returning a constant of n elements (value v each).
func branch(name string, n int, v float32) *graph.Graph {
	g := graph.New(name)
	t := tensor.New(tensor.Float32, []int{n})
	for i := range t.Float32s() {
		t.Float32s()[i] = v
	}
	g.Outputs = []*graph.Value{g.AddInitializer(name+"_out", t)}
	return g
}

// An If whose branches give different shapes: only running it tells the output
// shape, so the executor lets the kernel allocate (backends.AllocatingKernel).
func TestDataDependentShapesFromControlFlow(t *testing.T) {
	g := graph.New("if")
	cond := g.AddInput("cond", tensor.Bool, graph.Shape{})
	n := g.AddNode("If", "choose", []*graph.Value{cond}, []string{"y"}, graph.Attrs{
		"then_branch": {Kind: graph.AttrGraph, Graph: branch("then", 2, 1)},
		"else_branch": {Kind: graph.AttrGraph, Graph: branch("else", 5, -1)},
	})
	g.Outputs = []*graph.Value{n.Outputs[0]}
	s, err := exec.NewSession(g, cpu.New(cpu.Options{}), exec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cond bool
		n    int
		v    float32
	}{{true, 2, 1}, {false, 5, -1}, {true, 2, 1}} {
		ct := tensor.New(tensor.Bool, nil)
		ct.Bools()[0] = c.cond
		res, err := s.Run(context.Background(), map[string]*tensor.Tensor{"cond": ct}, nil)
		if err != nil {
			t.Fatal(err)
		}
		y := res.Outputs[0].Float32s()
		if len(y) != c.n || y[0] != c.v || y[c.n-1] != c.v {
			t.Fatalf("cond %v: got %v, want %d x %v", c.cond, y, c.n, c.v)
		}
		res.Release()
	}
}
