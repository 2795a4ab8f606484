package exec_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/passes"
	"github.com/lightiam/lightos/engine/passes/cpufold"
	"github.com/lightiam/lightos/engine/tensor"
)

// geluGraph is an erf GELU of Relu(x) whose constants have shape [1] and whose input
// has an unknown, unnamed first dimension: the gelu pass cannot prove the output keeps
// x's shape until the shapes are concrete.
func geluGraph(t *testing.T) *graph.Graph {
	b := graph.NewBuilder("gelu")
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(b.Input("x", tensor.Float32, graph.Shape{{Size: -1}, {Size: 6}}))
	for name, v := range map[string]float32{"sqrt2": math.Sqrt2, "one": 1, "half": 0.5} {
		c := tensor.New(tensor.Float32, []int{1})
		c.Float32s()[0] = v
		must(b.Const(name, c))
	}
	must(b.Op("Relu", "", []string{"x"}, []string{"r"}, nil))
	must(b.Op("Div", "", []string{"r", "sqrt2"}, []string{"d"}, nil))
	must(b.Op("Erf", "", []string{"d"}, []string{"e"}, nil))
	must(b.Op("Add", "", []string{"e", "one"}, []string{"p"}, nil))
	must(b.Op("Mul", "", []string{"r", "p"}, []string{"m"}, nil))
	must(b.Op("Mul", "", []string{"m", "half"}, []string{"y"}, nil))
	b.Output("y")
	g, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func countOps(g *graph.Graph, op string) int {
	n := 0
	for _, nd := range g.Nodes {
		if nd.Op == op {
			n++
		}
	}
	return n
}

// Specialize runs on each plan's copy once its input shapes are known: the optimizer
// then fuses what it could not with symbolic shapes, the session's graph stays as it
// was, plans for several shapes compile concurrently, and the numbers match the
// unspecialized session's.
func TestSpecializeOptimizesEachPlanWithConcreteShapes(t *testing.T) {
	g := geluGraph(t)
	optimize := func(g *graph.Graph) error {
		_, err := passes.Optimize(g, passes.Options{Eval: cpufold.New()})
		return err
	}
	if err := optimize(g); err != nil {
		t.Fatal(err)
	}
	if countOps(g, "Erf") != 1 {
		t.Fatalf("the gelu pass fused with unknown shapes; the test needs a graph it cannot fuse:\n%v", g)
	}
	nodes := len(g.Nodes)
	dev := cpu.New(cpu.Options{Threads: 1})
	spec, err := exec.NewSession(g, dev, exec.Options{HeapOutputs: true, Specialize: optimize})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := exec.NewSession(g, dev, exec.Options{HeapOutputs: true})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w, batch := range []int{1, 3, 7, 3, 1, 16} {
		wg.Add(1)
		go func(w, batch int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 9))
			x := tensor.New(tensor.Float32, []int{batch, 6})
			for i := range x.Float32s() {
				x.Float32s()[i] = float32(r.NormFloat64() * 2)
			}
			feeds := map[string]*tensor.Tensor{"x": x}
			got, err := spec.Run(context.Background(), feeds, nil)
			if err != nil {
				errs <- err
				return
			}
			want, err := plain.Run(context.Background(), feeds, nil)
			if err != nil {
				errs <- err
				return
			}
			for i, v := range got.Outputs[0].Float32s() {
				xv := math.Max(float64(x.Float32s()[i]), 0)
				ref := xv * 0.5 * (1 + math.Erf(xv/math.Sqrt2))
				if w := want.Outputs[0].Float32s()[i]; math.Abs(float64(v)-ref) > 1e-5*(1+math.Abs(ref)) || math.Abs(float64(w)-ref) > 1e-5*(1+math.Abs(ref)) {
					errs <- errors.New("specialized or plain output differs from the float64 GELU")
					return
				}
			}
		}(w, batch)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	p, err := spec.Plan(map[string][]int{"x": {3, 6}})
	if err != nil {
		t.Fatal(err)
	}
	if countOps(p.Graph(), "Erf") != 0 || countOps(p.Graph(), "Gelu") != 1 {
		t.Fatalf("specialized plan graph did not fuse the GELU:\n%v", p.Graph())
	}
	if len(g.Nodes) != nodes || countOps(g, "Erf") != 1 {
		t.Fatalf("Specialize changed the session's own graph")
	}
	bad, err := exec.NewSession(g, dev, exec.Options{Specialize: func(*graph.Graph) error { return errors.New("boom") }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Plan(map[string][]int{"x": {2, 6}}); err == nil {
		t.Fatal("a failing Specialize gave no error")
	}
}
