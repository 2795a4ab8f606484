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
	"github.com/lightiam/lightos/engine/tensor"
)

func randTensor(r *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(tensor.Float32, shape)
	for i := range t.Float32s() {
		t.Float32s()[i] = float32(r.NormFloat64())
	}
	return t
}

// mlp builds y = relu(x @ w + b) in the in-place style of the product description.
func mlp(t *testing.T, w, b *tensor.Tensor) *graph.Graph {
	t.Helper()
	bl := graph.NewBuilder("mlp")
	k, n := w.Shape()[0], w.Shape()[1]
	if _, err := bl.Input("x", tensor.Float32, graph.Shape{{Size: -1, Param: "batch"}, {Size: int64(k)}}); err != nil {
		t.Fatal(err)
	}
	bl.Const("w", w)
	bl.Const("b", b)
	_ = n
	steps := []struct {
		op       string
		ins, out []string
	}{
		{"MatMul", []string{"x", "w"}, []string{"y"}},
		{"Add", []string{"y", "b"}, []string{"y"}},
		{"Relu", []string{"y"}, []string{"y"}},
	}
	for _, s := range steps {
		if _, err := bl.Op(s.op, "", s.ins, s.out, nil); err != nil {
			t.Fatal(err)
		}
	}
	bl.Output("y")
	g, err := bl.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func reference(x, w, b *tensor.Tensor) []float64 {
	m, k, n := x.Shape()[0], w.Shape()[0], w.Shape()[1]
	out := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			s := float64(b.Float32s()[j])
			for p := 0; p < k; p++ {
				s += float64(x.Float32s()[i*k+p]) * float64(w.Float32s()[p*n+j])
			}
			out[i*n+j] = math.Max(s, 0)
		}
	}
	return out
}

func TestSessionRunsMLPAtSeveralBatches(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	w, b := randTensor(r, 37, 13), randTensor(r, 13)
	sess, err := exec.NewSession(mlp(t, w, b), cpu.New(cpu.Options{}), exec.Options{Profile: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, batch := range []int{1, 7, 64} {
		x := randTensor(r, batch, 37)
		res, err := sess.Run(context.Background(), map[string]*tensor.Tensor{"x": x}, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := res.Outputs[0].Float32s()
		want := reference(x, w, b)
		for i := range want {
			if math.Abs(float64(got[i])-want[i]) > 1e-4*(1+math.Abs(want[i])) {
				t.Fatalf("batch %d: element %d = %v, want %v", batch, i, got[i], want[i])
			}
		}
		if len(res.Profile.Nodes) != 3 {
			t.Errorf("profile has %d nodes, want 3", len(res.Profile.Nodes))
		}
		res.Release()
	}
}

func TestSessionRejectsBadFeeds(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	sess, err := exec.NewSession(mlp(t, randTensor(r, 5, 3), randTensor(r, 3)), cpu.New(cpu.Options{}), exec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]map[string]*tensor.Tensor{
		"missing":     {},
		"wrong dtype": {"x": tensor.New(tensor.Float64, []int{2, 5})},
		"wrong shape": {"x": tensor.New(tensor.Float32, []int{2, 6})},
		"wrong rank":  {"x": tensor.New(tensor.Float32, []int{5})},
		"unknown":     {"x": tensor.New(tensor.Float32, []int{2, 5}), "z": tensor.New(tensor.Float32, []int{1})},
	}
	for name, feeds := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := sess.Run(context.Background(), feeds, nil)
			if !errors.Is(err, exec.ErrFeed) {
				t.Fatalf("got %v, want an ErrFeed", err)
			}
		})
	}
}

func TestSessionConcurrentRuns(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	w, b := randTensor(r, 31, 17), randTensor(r, 17)
	sess, err := exec.NewSession(mlp(t, w, b), cpu.New(cpu.Options{}), exec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		x := randTensor(r, 1+i, 31)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rep := 0; rep < 20; rep++ {
				res, err := sess.Run(context.Background(), map[string]*tensor.Tensor{"x": x}, nil)
				if err != nil {
					t.Error(err)
					return
				}
				want := reference(x, w, b)
				for j, g := range res.Outputs[0].Float32s() {
					if math.Abs(float64(g)-want[j]) > 1e-4*(1+math.Abs(want[j])) {
						t.Errorf("concurrent run: element %d = %v, want %v", j, g, want[j])
						return
					}
				}
				res.Release()
			}
		}()
	}
	wg.Wait()
}

func TestSessionCancel(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	sess, _ := exec.NewSession(mlp(t, randTensor(r, 5, 3), randTensor(r, 3)), cpu.New(cpu.Options{}), exec.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := sess.Run(ctx, map[string]*tensor.Tensor{"x": randTensor(r, 2, 5)}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}
