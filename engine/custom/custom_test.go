package custom_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/custom"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// buildGraph: y = relu(custom(x @ w)), where the custom op is named op.
func buildGraph(t *testing.T, op string, k, n int, w *tensor.Tensor, shapes []string) *graph.Graph {
	t.Helper()
	b := graph.NewBuilder("g")
	if _, err := b.Input("x", tensor.Float32, graph.Shape{{Size: -1, Param: "batch"}, {Size: int64(k)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Const("w", w); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Op("MatMul", "mm", []string{"x", "w"}, []string{"h"}, nil); err != nil {
		t.Fatal(err)
	}
	node, err := b.Op(op, "cust", []string{"h"}, []string{"c"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	custom.Mark(node, nil, shapes)
	if _, err := b.Op("Relu", "relu", []string{"c"}, []string{"y"}, nil); err != nil {
		t.Fatal(err)
	}
	g, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func randTensor(r *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(tensor.Float32, shape)
	for i := range t.Float32s() {
		t.Float32s()[i] = float32(r.NormFloat64())
	}
	return t
}

func TestGoCustomOpMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	affine := func(_ context.Context, _ *graph.Node, in, out []*tensor.Tensor) error {
		for i, v := range in[0].Float32s() {
			out[0].Float32s()[i] = 2*v - 1
		}
		return nil
	}
	for _, sz := range [][3]int{{1, 1, 1}, {3, 7, 5}, {17, 33, 65}} {
		m, k, n := sz[0], sz[1], sz[2]
		w := randTensor(r, k, n)
		reg := custom.NewRegistry()
		if err := reg.Register(custom.Op{Name: "Affine", Go: affine}); err != nil {
			t.Fatal(err)
		}
		g := buildGraph(t, "Affine", k, n, w, nil)
		sess, err := exec.NewSession(g, custom.Wrap(cpu.New(cpu.Options{}), reg), exec.Options{HeapOutputs: true})
		if err != nil {
			t.Fatal(err)
		}
		x := randTensor(r, m, k)
		res, err := sess.Run(context.Background(), map[string]*tensor.Tensor{"x": x}, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := res.Outputs[0].Float32s()
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var s float64
				for p := 0; p < k; p++ {
					s += float64(x.Float32s()[i*k+p]) * float64(w.Float32s()[p*n+j])
				}
				want := math.Max(2*s-1, 0)
				if d := math.Abs(float64(got[i*n+j]) - want); d > 1e-4*(1+math.Abs(want))*math.Sqrt(float64(k)) {
					t.Fatalf("%v: y[%d,%d] = %v, want %v", sz, i, j, got[i*n+j], want)
				}
			}
		}
	}
}

type failing struct{ err error }

func (f failing) Call(context.Context, int64, *graph.Node, []*tensor.Tensor, []*tensor.Tensor) error {
	return f.err
}

func TestErrorsNameTheNode(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	w := randTensor(r, 4, 3)
	x := randTensor(r, 2, 4)
	sentinel := errors.New("boom")
	cases := []struct {
		name string
		op   custom.Op
		want func(error) bool
	}{
		{"foreign error", custom.Op{Name: "F", Foreign: failing{sentinel}}, func(err error) bool { return errors.Is(err, sentinel) }},
		{"go panic", custom.Op{Name: "F", Go: func(context.Context, *graph.Node, []*tensor.Tensor, []*tensor.Tensor) error {
			panic("bad")
		}}, func(err error) bool { return err != nil }},
	}
	for _, c := range cases {
		reg := custom.NewRegistry()
		if err := reg.Register(c.op); err != nil {
			t.Fatal(err)
		}
		g := buildGraph(t, "F", 4, 3, w, []string{"0.0,0.1"})
		sess, err := exec.NewSession(g, custom.Wrap(cpu.New(cpu.Options{}), reg), exec.Options{HeapOutputs: true})
		if err != nil {
			t.Fatal(err)
		}
		_, err = sess.Run(context.Background(), map[string]*tensor.Tensor{"x": x}, nil)
		var ce *custom.Error
		if !errors.As(err, &ce) || ce.Node != "cust" || !c.want(err) {
			t.Errorf("%s: got %v, want a custom.Error for node cust", c.name, err)
		}
	}
}

func TestUnregisteredAndBadRegistrations(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	g := buildGraph(t, "Missing", 4, 3, randTensor(r, 4, 3), nil)
	sess, err := exec.NewSession(g, custom.Wrap(cpu.New(cpu.Options{}), custom.NewRegistry()), exec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = sess.Run(context.Background(), map[string]*tensor.Tensor{"x": randTensor(r, 1, 4)}, nil)
	if !errors.Is(err, custom.ErrNotRegistered) {
		t.Errorf("got %v, want ErrNotRegistered", err)
	}
	reg := custom.NewRegistry()
	for _, op := range []custom.Op{{}, {Name: "x"}, {Name: "x", Foreign: failing{}, Go: func(context.Context, *graph.Node, []*tensor.Tensor, []*tensor.Tensor) error { return nil }}} {
		if reg.Register(op) == nil {
			t.Errorf("Register(%+v) succeeded", op)
		}
	}
}

func TestShapeSpecErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	reg := custom.NewRegistry()
	_ = reg.Register(custom.Op{Name: "F", Foreign: failing{}})
	for _, spec := range []string{"9.0", "0.5", "x", "-3", "@4"} {
		g := buildGraph(t, "F", 4, 3, randTensor(r, 4, 3), []string{spec})
		sess, err := exec.NewSession(g, custom.Wrap(cpu.New(cpu.Options{}), reg), exec.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sess.Run(context.Background(), map[string]*tensor.Tensor{"x": randTensor(r, 1, 4)}, nil); err == nil {
			t.Errorf("spec %q: run succeeded", spec)
		}
	}
}
