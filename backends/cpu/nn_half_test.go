package cpu_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// TestHalfPrecisionNN runs NN operators on float16 and bfloat16 tensors (computed in
// float32, rounded back) against float64 references on the same rounded inputs.
func TestHalfPrecisionNN(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 1))
	for _, dt := range []tensor.DType{tensor.Float16, tensor.BFloat16} {
		t.Run(fmt.Sprintf("%v/MatMul", dt), func(t *testing.T) {
			a, b := randTensor(r, dt, 2, 7, 13), randTensor(r, dt, 13, 5)
			out, err := runOp("MatMul", nil, 1, feed(a), konst(b))
			if err != nil {
				t.Fatal(err)
			}
			shape, want := refMatMul(a, b)
			closeTo(t, "MatMul", out[0], shape, want, math.Sqrt(13))
		})
		t.Run(fmt.Sprintf("%v/Conv", dt), func(t *testing.T) {
			c := convCase{n: 1, c: 4, m: 6, group: 2, in: []int{9, 8}, k: []int{3, 3}, pads: []int{1, 1, 1, 1}, bias: true}.fill()
			x, w, bias := randTensor(r, dt, 1, 4, 9, 8), randTensor(r, dt, 6, 2, 3, 3), randTensor(r, dt, 6)
			out, err := runOp("Conv", c.attrs(), 1, feed(x), konst(w), konst(bias))
			if err != nil {
				t.Fatal(err)
			}
			shape, want := refConv(c, x, w, bias)
			closeTo(t, "Conv", out[0], shape, want, 5)
		})
		t.Run(fmt.Sprintf("%v/Softmax", dt), func(t *testing.T) {
			x := randTensor(r, dt, 3, 17)
			out, err := runOp("Softmax", nil, 1, feed(x))
			if err != nil {
				t.Fatal(err)
			}
			closeTo(t, "Softmax", out[0], []int{3, 17}, refSoftmax("Softmax", x, 3, 17, 1), 0.1)
		})
		t.Run(fmt.Sprintf("%v/MaxPool", dt), func(t *testing.T) {
			c := poolCase{n: 1, c: 2, in: []int{7, 6}, k: []int{3, 3}, strides: []int{2, 2}, pads: []int{1, 1, 1, 1}}.fill()
			x := randTensor(r, dt, 1, 2, 7, 6)
			out, err := runOp("MaxPool", c.attrs("MaxPool"), 2, feed(x))
			if err != nil {
				t.Fatal(err)
			}
			shape, want, ind := refPool("MaxPool", c, 0, x)
			closeTo(t, "MaxPool", out[0], shape, want, 0)
			closeTo(t, "MaxPool indices", out[1], shape, ind, 0)
		})
		t.Run(fmt.Sprintf("%v/LayerNormalization", dt), func(t *testing.T) {
			x, sc := randTensor(r, dt, 4, 32), randTensor(r, dt, 32)
			out, err := runOp("LayerNormalization", graph.Attrs{}, 3, feed(x), konst(sc))
			if err != nil {
				t.Fatal(err)
			}
			if out[1].DType() != tensor.Float32 {
				t.Fatalf("Mean is %v, want float32 (stash type)", out[1].DType())
			}
			want, means, _ := refNormGroups(x, 32, float64(float32(1e-5)), func(i int, v float64) float64 { return v * sc.Float64At(i%32) })
			closeTo(t, "LayerNormalization", out[0], []int{4, 32}, want, 1)
			closeTo(t, "Mean", out[1], []int{4, 1}, means, 1)
		})
	}
}

// TestMaxPoolInt8 pools int8 and uint8 tensors (opset 12), exactly.
func TestMaxPoolInt8(t *testing.T) {
	r := rand.New(rand.NewPCG(20, 1))
	for _, dt := range []tensor.DType{tensor.Int8, tensor.Uint8} {
		c := poolCase{n: 2, c: 3, in: []int{9, 7}, k: []int{3, 2}, strides: []int{2, 2}, pads: []int{1, 0, 1, 1}, ceil: true}.fill()
		x := nnRandInt8(r, dt, 2, 3, 9, 7)
		out, err := runOp("MaxPool", c.attrs("MaxPool"), 2, feed(x))
		if err != nil {
			t.Fatal(err)
		}
		shape, want, ind := refPool("MaxPool", c, 0, x)
		if out[0].DType() != dt {
			t.Fatalf("output is %v, want %v", out[0].DType(), dt)
		}
		closeTo(t, "MaxPool", out[0], shape, want, 0)
		closeTo(t, "MaxPool indices", out[1], shape, ind, 0)
	}
	_, err := runOp("AveragePool", graph.Attrs{"kernel_shape": graph.Ints(2, 2)}, 1, feed(nnRandInt8(r, tensor.Uint8, 1, 1, 4, 4)))
	wantErr(t, "AveragePool on uint8", err)
}
