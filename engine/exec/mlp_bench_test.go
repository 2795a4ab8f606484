package exec_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/passes"
	"github.com/lightiam/lightos/engine/passes/cpufold"
	"github.com/lightiam/lightos/engine/tensor"
)

// mlp3 builds the MLP 784-512-512-10 of bench/python/bench_mlp.py (MatMul, Add, Relu
// per layer, no Relu after the last) and optimizes it as the Python module does, so
// each layer becomes one FusedMatMul.
func mlp3(b *testing.B) *graph.Graph {
	b.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	sizes := []int{784, 512, 512, 10}
	bl := graph.NewBuilder("mlp3")
	if _, err := bl.Input("x", tensor.Float32, graph.Shape{{Size: -1, Param: "batch"}, {Size: 784}}); err != nil {
		b.Fatal(err)
	}
	h := "x"
	for i := 0; i+1 < len(sizes); i++ {
		w, bias := fmt.Sprintf("w%d", i), fmt.Sprintf("b%d", i)
		bl.Const(w, randTensor(r, sizes[i], sizes[i+1]))
		bl.Const(bias, randTensor(r, sizes[i+1]))
		o := fmt.Sprintf("h%d", i)
		if _, err := bl.Op("MatMul", "", []string{h, w}, []string{o}, nil); err != nil {
			b.Fatal(err)
		}
		if _, err := bl.Op("Add", "", []string{o, bias}, []string{o}, nil); err != nil {
			b.Fatal(err)
		}
		if i+2 < len(sizes) {
			if _, err := bl.Op("Relu", "", []string{o}, []string{o}, nil); err != nil {
				b.Fatal(err)
			}
		}
		h = o
	}
	bl.Output(h)
	g, err := bl.Finish()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := passes.Optimize(g, passes.Options{Eval: cpufold.New()}); err != nil {
		b.Fatal(err)
	}
	return g
}

// BenchmarkSessionMLP runs the optimized MLP through Session.Run with profiling on
// (as the Python module's sessions do) and caller-owned outputs.
func BenchmarkSessionMLP(b *testing.B) {
	g := mlp3(b)
	for _, batch := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch%d", batch), func(b *testing.B) {
			s, err := exec.NewSession(g, cpu.New(cpu.Options{}), exec.Options{Profile: true})
			if err != nil {
				b.Fatal(err)
			}
			r := rand.New(rand.NewPCG(3, 4))
			feeds := map[string]*tensor.Tensor{"x": randTensor(r, batch, 784)}
			out := tensor.New(tensor.Float32, []int{batch, 10})
			ro := &exec.RunOptions{Outputs: map[string]*tensor.Tensor{g.Outputs[0].Name: out}}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				res, err := s.Run(ctx, feeds, ro)
				if err != nil {
					b.Fatal(err)
				}
				res.Release()
			}
		})
	}
}
