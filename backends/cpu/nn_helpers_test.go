package cpu_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// nodeInput is one input of a one-node test graph: a fed tensor, a constant (so that
// kernels pre-pack it), or omitted (nil T).
type nodeInput struct {
	T     *tensor.Tensor
	Const bool
}

func feed(t *tensor.Tensor) nodeInput  { return nodeInput{T: t} }
func konst(t *tensor.Tensor) nodeInput { return nodeInput{T: t, Const: true} }

var omitted = nodeInput{}

// runOp builds a graph holding one node op(inputs) with nOut outputs (an empty name
// in skip omits an output), runs it on the CPU device through exec.Session and
// returns the outputs.
func runOp(op string, attrs graph.Attrs, nOut int, inputs ...nodeInput) ([]*tensor.Tensor, error) {
	return runOpThreads(0, op, attrs, nOut, inputs...)
}

func runOpThreads(threads int, op string, attrs graph.Attrs, nOut int, inputs ...nodeInput) ([]*tensor.Tensor, error) {
	g, _, feeds, err := oneNodeGraph("", op, attrs, nOut, inputs)
	if err != nil {
		return nil, err
	}
	sess, err := exec.NewSession(g, cpu.New(cpu.Options{Threads: threads}), exec.Options{HeapOutputs: true})
	if err != nil {
		return nil, err
	}
	res, err := sess.Run(context.Background(), feeds, nil)
	if err != nil {
		return nil, err
	}
	return res.Outputs, nil
}

// oneNodeGraph builds a graph of one node of op in domain over inputs (named in0,
// in1, ...; constants become initializers, the others graph inputs, nil ones are
// omitted) with nOut outputs out0, out1, ... It returns the graph, the node and the
// feeds of its graph inputs.
func oneNodeGraph(domain, op string, attrs graph.Attrs, nOut int, inputs []nodeInput) (*graph.Graph, *graph.Node, map[string]*tensor.Tensor, error) {
	b := graph.NewBuilder("test_" + op)
	names := make([]string, len(inputs))
	feeds := map[string]*tensor.Tensor{}
	for i, in := range inputs {
		if in.T == nil {
			continue
		}
		names[i] = fmt.Sprintf("in%d", i)
		var err error
		if in.Const {
			_, err = b.Const(names[i], in.T)
		} else {
			_, err = b.Input(names[i], in.T.DType(), graph.ShapeOf(in.T.Shape()...))
			feeds[names[i]] = in.T
		}
		if err != nil {
			return nil, nil, nil, err
		}
	}
	outs := make([]string, nOut)
	for i := range outs {
		outs[i] = fmt.Sprintf("out%d", i)
	}
	n, err := b.Op(op, "node_"+strings.ToLower(op), names, outs, attrs)
	if err != nil {
		return nil, nil, nil, err
	}
	n.Domain = domain
	for _, o := range outs {
		b.Output(o)
	}
	g, err := b.Finish()
	if err != nil {
		return nil, nil, nil, err
	}
	return g, n, feeds, nil
}

func randTensor(r *rand.Rand, dt tensor.DType, shape ...int) *tensor.Tensor {
	t := tensor.New(dt, shape)
	for i := 0; i < t.Len(); i++ {
		t.SetFloat64At(i, r.NormFloat64())
	}
	return t
}

func randInts(r *rand.Rand, dt tensor.DType, shape ...int) *tensor.Tensor {
	t := tensor.New(dt, shape)
	for i := 0; i < t.Len(); i++ {
		t.SetFloat64At(i, float64(r.IntN(7)-3))
	}
	return t
}

// tolFor is the comparison tolerance for a dtype: relative to the magnitude of the
// reference plus scale (the size of the sums involved).
func nnTol(dt tensor.DType) float64 {
	switch dt {
	case tensor.Float32:
		return 2e-5
	case tensor.Float64:
		return 1e-11
	case tensor.Float16:
		return 2e-3
	case tensor.BFloat16:
		return 1.6e-2
	}
	return 0
}

// closeTo fails the test when got differs from the float64 reference want.
func closeTo(t *testing.T, what string, got *tensor.Tensor, wantShape []int, want []float64, scale float64) {
	t.Helper()
	if fmt.Sprint(got.Shape()) != fmt.Sprint(wantShape) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape(), wantShape)
	}
	if got.Len() != len(want) {
		t.Fatalf("%s: %d elements, want %d", what, got.Len(), len(want))
	}
	tol := nnTol(got.DType())
	for i, w := range want {
		g := got.Float64At(i)
		if math.IsNaN(w) && math.IsNaN(g) {
			continue
		}
		if math.IsInf(w, 0) && g == w {
			continue
		}
		if math.Abs(g-w) > tol*(math.Abs(w)+scale) || math.IsNaN(g) {
			t.Fatalf("%s: element %d = %v, want %v (tolerance %g)", what, i, g, w, tol*(math.Abs(w)+scale))
		}
	}
}

// wantErr fails unless err is non-nil and mentions the node's name.
func wantErr(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", what)
	}
	if !strings.Contains(err.Error(), "node_") {
		t.Fatalf("%s: error %q does not name the node", what, err)
	}
}
