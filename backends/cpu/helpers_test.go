package cpu_test

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// opRun describes a one-node graph: its operator, attributes and inputs. Inputs listed
// in consts become initializers (constants at plan time); the others are fed at run
// time. A nil input is an omitted optional input.
type opRun struct {
	op     string
	attrs  graph.Attrs
	ins    []*tensor.Tensor
	consts map[int]bool
	nOut   int
	opset  int64
}

// run builds the graph with graph.Builder and runs it on the CPU device through
// exec.Session, returning the outputs or the first error.
func (r opRun) run() (outs []*tensor.Tensor, err error) {
	inputs := make([]nodeInput, len(r.ins))
	for i, t := range r.ins {
		inputs[i] = nodeInput{T: t, Const: r.consts[i]}
	}
	attrs := r.attrs
	if attrs == nil {
		attrs = graph.Attrs{}
	}
	g, _, feeds, err := oneNodeGraph("", r.op, attrs, max(r.nOut, 1), inputs)
	if err != nil {
		return nil, err
	}
	g.Opset = r.opset
	sess, err := exec.NewSession(g, cpu.New(cpu.Options{Threads: 3}), exec.Options{HeapOutputs: true})
	if err != nil {
		return nil, err
	}
	res, err := sess.Run(context.Background(), feeds, nil)
	if err != nil {
		return nil, err
	}
	return res.Outputs, nil
}

// mustRun runs r and fails the test on an error.
func (r opRun) mustRun(t *testing.T) []*tensor.Tensor {
	t.Helper()
	outs, err := r.run()
	if err != nil {
		t.Fatalf("%s: %v", r.op, err)
	}
	return outs
}

// wantErr runs r and checks that it fails with an error naming the node.
func (r opRun) wantErr(t *testing.T, why string) {
	t.Helper()
	_, err := r.run()
	if err == nil {
		t.Fatalf("%s (%s): no error", r.op, why)
	}
	if !strings.Contains(err.Error(), "node_"+strings.ToLower(r.op)) {
		t.Fatalf("%s (%s): error does not name the node: %v", r.op, why, err)
	}
}

// randT makes a tensor of dtype dt with values drawn from gen.
func randT(dt tensor.DType, shape []int, gen func() float64) *tensor.Tensor {
	t := tensor.New(dt, shape)
	for i := 0; i < t.Len(); i++ {
		t.SetFloat64At(i, gen())
	}
	return t
}

// uniform returns a generator of values in [lo, hi); integers when integral is set.
func uniform(r *rand.Rand, lo, hi float64, integral bool) func() float64 {
	return func() float64 {
		v := lo + (hi-lo)*r.Float64()
		if integral {
			v = math.Floor(v)
		}
		return v
	}
}

func i64s(shape []int, v ...int64) *tensor.Tensor {
	t, err := tensor.FromInt64(shape, v)
	if err != nil {
		panic(err)
	}
	return t
}

func vec(v ...int64) *tensor.Tensor { return i64s([]int{len(v)}, v...) }

func f32s(shape []int, v ...float32) *tensor.Tensor {
	t, err := tensor.FromFloat32(shape, v)
	if err != nil {
		panic(err)
	}
	return t
}

// unravel turns a flat index into a multi-index of shape.
func multiIndex(i int, shape []int) []int {
	idx := make([]int, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		if shape[d] > 0 {
			idx[d] = i % shape[d]
			i /= shape[d]
		}
	}
	return idx
}

// ravel turns a multi-index into a flat index of shape.
func flatIndex(idx, shape []int) int {
	f := 0
	for d := range shape {
		f = f*shape[d] + idx[d]
	}
	return f
}

// bcastIndex is the flat index into an input of shape in read by output multi-index
// idx under NumPy broadcasting.
func bcastIndex(idx, in []int) int {
	off := len(idx) - len(in)
	f := 0
	for d := range in {
		v := idx[off+d]
		if in[d] == 1 {
			v = 0
		}
		f = f*in[d] + v
	}
	return f
}

// tolFor is the comparison tolerance for results of dtype dt.
func dtypeTol(dt tensor.DType) float64 {
	switch dt {
	case tensor.Float32:
		return 2e-6
	case tensor.Float64:
		return 1e-12
	case tensor.Float16:
		return 2e-3
	case tensor.BFloat16:
		return 1.6e-2
	}
	return 0
}

// checkClose compares got against want elementwise (relative+absolute tolerance tol;
// NaN equals NaN).
func checkClose(t *testing.T, what string, got *tensor.Tensor, wantShape []int, want []float64, tol float64) {
	t.Helper()
	if !equalInts(got.Shape(), wantShape) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape(), wantShape)
	}
	if got.Len() != len(want) {
		t.Fatalf("%s: %d elements, want %d", what, got.Len(), len(want))
	}
	for i, w := range want {
		g := got.Float64At(i)
		if math.IsNaN(w) && math.IsNaN(g) {
			continue
		}
		if math.IsInf(w, 0) && g == w {
			continue
		}
		if math.Abs(g-w) > tol*(1+math.Abs(w)) {
			t.Fatalf("%s: element %d (%v) = %v, want %v", what, i, multiIndex(i, wantShape), g, w)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// roundTo rounds v to what dtype dt can hold (for references of half-precision ops).
func roundTo(dt tensor.DType, v float64) float64 {
	t := tensor.New(dt, []int{1})
	t.SetFloat64At(0, v)
	return t.Float64At(0)
}
