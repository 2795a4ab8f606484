package passes_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/passes"
	"github.com/lightiam/lightos/engine/passes/cpufold"
	"github.com/lightiam/lightos/engine/tensor"
)

// gb builds test graphs tersely: every op gets a fresh output name.
type gb struct {
	t *testing.T
	b *graph.Builder
	r *rand.Rand
	n int
}

func newGB(t *testing.T, seed uint64) *gb {
	return &gb{t: t, b: graph.NewBuilder(t.Name()), r: rand.New(rand.NewPCG(seed, seed+1))}
}

func (g *gb) in(name string, shape ...int) string {
	if _, err := g.b.Input(name, tensor.Float32, graph.ShapeOf(shape...)); err != nil {
		g.t.Fatal(err)
	}
	return name
}

func (g *gb) konst(name string, t *tensor.Tensor) string {
	if _, err := g.b.Const(name, t); err != nil {
		g.t.Fatal(err)
	}
	return name
}

// inBatch declares an input whose first dimension is the symbol "batch".
func (g *gb) inBatch(name string, shape ...int) string {
	s := graph.ShapeOf(shape...)
	s[0] = graph.Dim{Size: -1, Param: "batch"}
	if _, err := g.b.Input(name, tensor.Float32, s); err != nil {
		g.t.Fatal(err)
	}
	return name
}

// rnd adds a random float32 constant.
func (g *gb) rnd(name string, shape ...int) string { return g.konst(name, randT(g.r, shape...)) }

func (g *gb) scalar(name string, v float32) string {
	t, _ := tensor.FromFloat32([]int{}, []float32{v})
	return g.konst(name, t)
}

func (g *gb) op(op string, attrs graph.Attrs, ins ...string) string {
	g.n++
	out := fmt.Sprintf("%s_%d", op, g.n)
	if _, err := g.b.Op(op, "", ins, []string{out}, attrs); err != nil {
		g.t.Fatal(err)
	}
	return out
}

func (g *gb) finish(outs ...string) *graph.Graph {
	for _, o := range outs {
		g.b.Output(o)
	}
	gr, err := g.b.Finish()
	if err != nil {
		g.t.Fatal(err)
	}
	requireKernels(g.t, gr)
	if err := ops.Infer(gr, ops.InferOptions{}); err != nil {
		g.t.Fatal(err)
	}
	return gr
}

func randT(r *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(tensor.Float32, shape)
	for i := range t.Float32s() {
		t.Float32s()[i] = float32(r.NormFloat64())
	}
	return t
}

// requireKernels skips the test when a node of g has no schema or no CPU kernel yet
// (the plain operators are written by other engineers).
func requireKernels(t *testing.T, g *graph.Graph) {
	t.Helper()
	for _, n := range g.Nodes {
		if _, ok := ops.Lookup(n.Domain, n.Op); !ok || !cpu.HasKernel(n.Domain, n.Op) {
			t.Skipf("operator %s has no schema or CPU kernel yet", n.Op)
		}
	}
}

// countOps counts nodes by operator name.
func countOps(g *graph.Graph) map[string]int {
	m := map[string]int{}
	for _, n := range g.Nodes {
		m[n.Op]++
	}
	return m
}

// optimizeAndCompare optimizes g (verifying after every pass), runs the graph before
// and after on the same random inputs through exec.Session, compares the outputs
// and returns the report and the optimized graph's op counts.
func optimizeAndCompare(t *testing.T, g *graph.Graph, opts passes.Options) (*passes.Report, map[string]int) {
	t.Helper()
	requireKernels(t, g)
	before := g.Clone()
	opts.Verify = true
	if opts.Eval == nil {
		opts.Eval = cpufold.New()
	}
	var dump bytes.Buffer
	opts.DumpTo = &dump
	rep, err := passes.Optimize(g, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := passes.Verify(g); err != nil {
		t.Fatalf("optimized graph does not verify: %v\n%v", err, g)
	}
	r := rand.New(rand.NewPCG(99, uint64(len(g.Nodes))))
	feeds := map[string]*tensor.Tensor{}
	for _, in := range before.Inputs {
		shape := in.Shape.Ints()
		for i, d := range shape {
			if d < 0 {
				shape[i] = 3 // a symbolic (batch) dimension
			}
		}
		feeds[in.Name] = randT(r, shape...)
	}
	run := func(gr *graph.Graph) []*tensor.Tensor {
		sess, err := exec.NewSession(gr, cpu.New(cpu.Options{}), exec.Options{HeapOutputs: true})
		if err != nil {
			t.Fatal(err)
		}
		res, err := sess.Run(context.Background(), feeds, nil)
		if err != nil {
			t.Fatalf("%v\n%v", err, gr)
		}
		return res.Outputs
	}
	want, got := run(before), run(g)
	if len(want) != len(got) {
		t.Fatalf("%d outputs before, %d after", len(want), len(got))
	}
	for i := range want {
		w, gt := want[i].Float32s(), got[i].Float32s()
		if fmt.Sprint(want[i].Shape()) != fmt.Sprint(got[i].Shape()) {
			t.Fatalf("output %d: shape %v before, %v after", i, want[i].Shape(), got[i].Shape())
		}
		for j := range w {
			if d := math.Abs(float64(w[j] - gt[j])); d > 2e-4*(1+math.Abs(float64(w[j]))) {
				t.Fatalf("output %d element %d: %v before, %v after\nbefore:\n%v\nafter:\n%v", i, j, w[j], gt[j], before, g)
			}
		}
	}
	return rep, countOps(g)
}

func expectCounts(t *testing.T, rep *passes.Report, got map[string]int, fired map[string]int, nodes map[string]int) {
	t.Helper()
	for p, n := range fired {
		if c := rep.Count(p); c != n {
			t.Errorf("pass %s fired %d times, want %d (report %+v)", p, c, n, rep.Fired)
		}
	}
	for op, n := range nodes {
		if got[op] != n {
			t.Errorf("%d %s nodes after, want %d (all: %v)", got[op], op, n, got)
		}
	}
}

func int64s(v ...int) *tensor.Tensor {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	t, _ := tensor.FromInt64([]int{len(v)}, out)
	return t
}
