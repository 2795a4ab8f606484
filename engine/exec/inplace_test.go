package exec

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// inPlaceAdds is the CPU device with its Add kernels declared in place over input 0
// (backends.InPlacer): Add reads each element of its inputs before it writes the same
// element of its output, so that is true of equal shapes, which viewGraph's Adds have.
type inPlaceAdds struct{ backends.KernelProvider }

type inPlaceKernel struct{ backends.Kernel }

func (inPlaceKernel) OverwritesOutputs() bool { return true }
func (inPlaceKernel) InPlaceInput() int       { return 0 }

func (d inPlaceAdds) Kernel(n *graph.Node) (backends.Kernel, error) {
	k, err := d.KernelProvider.Kernel(n)
	if err != nil || n.Op != "Add" {
		return k, err
	}
	return inPlaceKernel{k}, nil
}

// TestInPlaceOutputsOnRandomGraphs runs the random view graphs on a device whose Adds
// write over their first input, against plain runs (NoAlias: every value its own
// buffer): results bit for bit equal, feeds and constants untouched, no two live
// buffers sharing bytes except where an Add took over the input it read last; and
// the plans do hand buffers over.
func TestInPlaceOutputsOnRandomGraphs(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 8))
	dev := inPlaceAdds{cpu.New(cpu.Options{Threads: 1})}
	total := 0
	for gi := 0; gi < 60; gi++ {
		steps := 3 + r.IntN(25)
		t.Run(fmt.Sprintf("graph%d/steps%d", gi, steps), func(t *testing.T) {
			g := viewGraph(t, r, steps)
			a, p := sessionsOn(t, g, dev)
			for run := 0; run < 2; run++ {
				runBoth(t, a, p, randFeeds(r))
			}
			shapes := map[string][]int{"x": {2, 3, 4}, "y": {24}}
			plan, err := a.Plan(shapes)
			if err != nil {
				t.Fatal(err)
			}
			checkArenaLifetimes(t, plan)
			total += plan.Stats().InPlaceNodes
			plain, err := p.Plan(shapes)
			if err != nil {
				t.Fatal(err)
			}
			if n := plain.Stats().InPlaceNodes; n != 0 {
				t.Fatalf("NoAlias plan runs %d nodes in place", n)
			}
		})
	}
	if total == 0 {
		t.Fatal("no Add ran in place in any graph: the test exercises nothing")
	}
	t.Logf("%d Adds ran in place", total)
}

// TestInPlaceRefusals builds one Add per case whose in-place input must keep its
// buffer: a graph input, a value read again later, the same value twice, or an output
// that is a graph output; and one where the Add may take it over.
func TestInPlaceRefusals(t *testing.T) {
	dev := inPlaceAdds{cpu.New(cpu.Options{Threads: 1})}
	type node struct{ op, a, b, out string } // b empty: a unary op
	cases := []struct {
		name  string
		nodes []node
		want  int // in-place nodes
	}{
		{"intermediate read last", []node{{"Relu", "x", "", "a"}, {"Add", "a", "y", "s"}, {"Neg", "s", "", "out"}}, 1},
		{"graph input", []node{{"Add", "x", "y", "s"}, {"Neg", "s", "", "out"}}, 0},
		{"read again later", []node{{"Relu", "x", "", "a"}, {"Add", "a", "y", "s"}, {"Mul", "s", "a", "out"}}, 0},
		{"same value twice", []node{{"Relu", "x", "", "a"}, {"Add", "a", "a", "s"}, {"Neg", "s", "", "out"}}, 0},
		{"graph output", []node{{"Relu", "x", "", "a"}, {"Add", "a", "y", "out"}}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := graph.NewBuilder("inplace")
			for _, in := range []string{"x", "y"} {
				if _, err := b.Input(in, tensor.Float32, graph.ShapeOf(24)); err != nil {
					t.Fatal(err)
				}
			}
			for _, n := range tc.nodes {
				ins := []string{n.a}
				if n.b != "" {
					ins = append(ins, n.b)
				}
				if _, err := b.Op(n.op, n.op+"_"+n.out, ins, []string{n.out}, nil); err != nil {
					t.Fatal(err)
				}
			}
			b.Output("out")
			g, err := b.Finish()
			if err != nil {
				t.Fatal(err)
			}
			a, p := sessionsOn(t, g, dev)
			feeds := randFeeds(rand.New(rand.NewPCG(1, 2)))
			feeds["x"], _ = feeds["x"].Reshape([]int{24})
			runBoth(t, a, p, feeds)
			plan, err := a.Plan(map[string][]int{"x": {24}, "y": {24}})
			if err != nil {
				t.Fatal(err)
			}
			checkArenaLifetimes(t, plan)
			if got := plan.Stats().InPlaceNodes; got != tc.want {
				t.Fatalf("%d nodes in place, want %d", got, tc.want)
			}
		})
	}
}
