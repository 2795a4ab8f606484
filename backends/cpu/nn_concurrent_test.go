package cpu_test

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// TestNNConcurrentRuns runs a small CNN (Conv, BatchNormalization, MaxPool, Gemm,
// Softmax) from several goroutines on one session, at several batch sizes, and checks
// every result against a single-threaded run: kernels keep no per-run state.
func TestNNConcurrentRuns(t *testing.T) {
	r := rand.New(rand.NewPCG(18, 1))
	b := graph.NewBuilder("cnn")
	if _, err := b.Input("x", tensor.Float32, graph.Shape{{Size: -1, Param: "N"}, {Size: 3}, {Size: 12}, {Size: 12}}); err != nil {
		t.Fatal(err)
	}
	consts := map[string]*tensor.Tensor{
		"w": randTensor(r, tensor.Float32, 8, 3, 3, 3), "cb": randTensor(r, tensor.Float32, 8),
		"s": randTensor(r, tensor.Float32, 8), "bb": randTensor(r, tensor.Float32, 8),
		"m": randTensor(r, tensor.Float32, 8), "v": nnPositive(r, tensor.Float32, 8),
		"fw": randTensor(r, tensor.Float32, 10, 8*6*6), "fb": randTensor(r, tensor.Float32, 10),
		"shape": tensorOf([]int64{0, -1}),
	}
	for name, c := range consts {
		if _, err := b.Const(name, c); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		op       string
		ins, out []string
		attrs    graph.Attrs
	}{
		{"Conv", []string{"x", "w", "cb"}, []string{"y"}, graph.Attrs{"pads": graph.Ints(1, 1, 1, 1)}},
		{"BatchNormalization", []string{"y", "s", "bb", "m", "v"}, []string{"y"}, nil},
		{"MaxPool", []string{"y"}, []string{"y"}, graph.Attrs{"kernel_shape": graph.Ints(2, 2), "strides": graph.Ints(2, 2)}},
		{"Reshape", []string{"y", "shape"}, []string{"y"}, nil},
		{"Gemm", []string{"y", "fw", "fb"}, []string{"y"}, graph.Attrs{"transB": graph.Int(1)}},
		{"Softmax", []string{"y"}, []string{"y"}, nil},
	}
	for _, s := range steps {
		if _, err := b.Op(s.op, "", s.ins, s.out, s.attrs); err != nil {
			t.Fatal(err)
		}
	}
	b.Output("y")
	g, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	single, err := exec.NewSession(g, cpu.New(cpu.Options{Threads: 1}), exec.Options{HeapOutputs: true})
	if err != nil {
		t.Fatal(err)
	}
	multi, err := exec.NewSession(g, cpu.New(cpu.Options{}), exec.Options{HeapOutputs: true})
	if err != nil {
		t.Fatal(err)
	}
	var inputs []*tensor.Tensor
	var wants [][]float32
	for _, n := range []int{1, 3, 5, 2} {
		x := randTensor(r, tensor.Float32, n, 3, 12, 12)
		res, err := single.Run(context.Background(), map[string]*tensor.Tensor{"x": x}, nil)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, x)
		wants = append(wants, res.Outputs[0].Float32s())
	}
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for rep := 0; rep < 10; rep++ {
				i := (w + rep) % len(inputs)
				res, err := multi.Run(context.Background(), map[string]*tensor.Tensor{"x": inputs[i]}, nil)
				if err != nil {
					t.Error(err)
					return
				}
				for j, v := range res.Outputs[0].Float32s() {
					if math.Abs(float64(v-wants[i][j])) > 1e-5 {
						t.Errorf("goroutine %d: element %d = %v, want %v", w, j, v, wants[i][j])
						return
					}
				}
			}
		}(w)
	}
	wg.Wait()
}

func tensorOf(v []int64) *tensor.Tensor {
	t, _ := tensor.FromInt64([]int{len(v)}, v)
	return t
}
