package cuda_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/backends/cuda/cudatest"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/passes"
	"github.com/lightiam/lightos/engine/passes/cpufold"
	"github.com/lightiam/lightos/engine/tensor"
)

// wholeRun runs feeds through s and checks, against the CPU engine's outputs, that the
// run went through the device's whole-graph plan (one "GraphPlan" profile entry).
func wholeRun(t *testing.T, s *exec.Session, g *graph.Graph, feeds map[string]*tensor.Tensor, tol float64) {
	t.Helper()
	want := cpuRun(t, g, feeds)
	res, err := s.Run(context.Background(), feeds, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if n := res.Profile.Nodes; len(n) != 1 || n[0].Op != "GraphPlan" {
		t.Fatalf("profile %+v, want one GraphPlan entry: the session ran node by node", n)
	}
	for i, name := range res.Names {
		if e := relErr(res.Outputs[i].Float32s(), want[name].Float32s()); !(e <= tol) {
			t.Errorf("output %q: relative error %.3g > %.0g", name, e, tol)
		}
	}
}

// TestSessionRunsResNet50Whole runs ResNet-50, as an exporter writes it with a dynamic
// batch, through exec.Session on the GPU with the optimizer as Specialize (what the
// server and the Python module do): each batch compiles one whole-graph cuda.Plan.
func TestSessionRunsResNet50Whole(t *testing.T) {
	d := gpu(t, false)
	if testing.Short() {
		t.Skip("short")
	}
	g, _, err := cudatest.ResNet50(1, 7)
	if err != nil {
		t.Fatal(err)
	}
	g.Inputs[0].Shape[0] = graph.Dim{Size: -1, Param: "batch"}
	opt := func(g *graph.Graph) error {
		_, err := passes.Optimize(g, passes.Options{Eval: cpufold.New()})
		return err
	}
	s, err := exec.NewSession(g, d, exec.Options{Profile: true, Specialize: opt})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := rand.New(rand.NewPCG(5, 6))
	for _, b := range []int{1, 3} {
		wholeRun(t, s, g, map[string]*tensor.Tensor{"x": randT(r, []int{b, 3, 224, 224}, false)}, 1e-4)
	}
}

// TestSessionRunsMLPWhole runs a two-layer MLP at several batches, also from several
// goroutines at once, through exec.Session on the GPU, against the CPU engine.
func TestSessionRunsMLPWhole(t *testing.T) {
	d := gpu(t, false)
	r := rand.New(rand.NewPCG(21, 22))
	b := graph.NewBuilder("mlp2")
	b.Input("x", tensor.Float32, graph.Shape{{Size: -1, Param: "batch"}, {Size: 67}})
	constT(b, r, "w1", 67, 129)
	constT(b, r, "b1", 129)
	constT(b, r, "w2", 129, 10)
	constT(b, r, "b2", 10)
	for _, s := range []struct {
		op  string
		in  []string
		out string
	}{{"MatMul", []string{"x", "w1"}, "h"}, {"Add", []string{"h", "b1"}, "hb"}, {"Relu", []string{"hb"}, "hr"},
		{"MatMul", []string{"hr", "w2"}, "o"}, {"Add", []string{"o", "b2"}, "y"}} {
		if err := op(b, s.op, s.in, s.out, nil); err != nil {
			t.Fatal(err)
		}
	}
	b.Output("y")
	g, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	s, err := exec.NewSession(g, d, exec.Options{Profile: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, batch := range []int{1, 5, 33, 5} {
		wholeRun(t, s, g, map[string]*tensor.Tensor{"x": randT(r, []int{batch, 67}, false)}, 1e-5)
	}
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		feeds := map[string]*tensor.Tensor{"x": randT(r, []int{1 + 4*(i%3), 67}, false)}
		want := cpuRun(t, g, feeds)["y"].Float32s()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rep := 0; rep < 10; rep++ {
				res, err := s.Run(context.Background(), feeds, nil)
				if err != nil {
					t.Error(err)
					return
				}
				if e := relErr(res.Outputs[0].Float32s(), want); !(e <= 1e-5) {
					t.Errorf("concurrent run: relative error %.3g", e)
					return
				}
				res.Release()
			}
		}()
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": randT(r, []int{5, 67}, false)}, nil); err == nil {
		t.Error("a run after Close worked")
	}
}

// TestSessionFallsBackNodeByNode: a graph with an operator the GPU lacks (CumSum)
// cannot be one GPU plan; through backends.Fallback the session runs it node by node
// (CumSum on the CPU), and on the bare GPU device it fails with ErrUnsupported.
func TestSessionFallsBackNodeByNode(t *testing.T) {
	d := gpu(t, false)
	r := rand.New(rand.NewPCG(23, 24))
	b := graph.NewBuilder("mixed")
	b.Input("a", tensor.Float32, graph.ShapeOf(5, 19))
	constT(b, r, "w", 19, 6)
	if _, err := b.Const("axis", tensorInts(1)); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		op  string
		in  []string
		out string
	}{{"MatMul", []string{"a", "w"}, "m"}, {"CumSum", []string{"m", "axis"}, "c"}, {"Tanh", []string{"c"}, "y"}} {
		if err := op(b, s.op, s.in, s.out, nil); err != nil {
			t.Fatal(err)
		}
	}
	b.Output("y")
	g, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	feeds := map[string]*tensor.Tensor{"a": randT(r, []int{5, 19}, false)}
	want := cpuRun(t, g, feeds)["y"].Float32s()
	s, err := exec.NewSession(g, &backends.Fallback{Primary: d, Secondary: cpu.New(cpu.Options{})}, exec.Options{Profile: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.Run(context.Background(), feeds, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Profile.Nodes) != 3 {
		t.Errorf("profile has %d entries, want 3 (node by node)", len(res.Profile.Nodes))
	}
	if e := relErr(res.Outputs[0].Float32s(), want); !(e <= 1e-5) {
		t.Errorf("relative error %.3g", e)
	}
	bare, err := exec.NewSession(g, d, exec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Close()
	if _, err := bare.Run(context.Background(), feeds, nil); !errors.Is(err, backends.ErrUnsupported) {
		t.Errorf("bare GPU device: got %v, want ErrUnsupported", err)
	}
}
