package cpu

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// owInput is one input of an overwrite case: a tensor fed or constant.
type owInput struct {
	t     *tensor.Tensor
	konst bool
}

// TestOverwritingKernelsWriteEveryElement runs every kernel of overwritingOps twice on
// the same inputs, once into zeroed outputs and once into outputs filled with 0xFF
// bytes (NaN for floats), and fails unless the outputs are bit-identical: a kernel
// that skipped an element or accumulated into its output would show the garbage.
// Every listed operator must have a case.
func TestOverwritingKernelsWriteEveryElement(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 5))
	f := func(shape ...int) owInput {
		x := tensor.New(tensor.Float32, shape)
		for i := range x.Float32s() {
			x.Float32s()[i] = float32(r.NormFloat64())
		}
		return owInput{t: x}
	}
	c := func(shape ...int) owInput { in := f(shape...); in.konst = true; return in }
	idx := func(n int, shape ...int) owInput {
		x := tensor.New(tensor.Int64, shape)
		for i := range x.Int64s() {
			x.Int64s()[i] = int64(r.IntN(n))
		}
		return owInput{t: x, konst: true}
	}
	lightos := ops.DomainLightOS
	cases := []struct {
		domain, op string
		attrs      graph.Attrs
		nOut       int
		in         []owInput
	}{
		{lightos, ops.FusedMatMul, graph.Attrs{"activation": graph.String("Gelu")}, 1, []owInput{f(2, 5, 7), c(7, 9), c(9)}},
		{lightos, ops.FusedMatMul, nil, 1, []owInput{f(33, 64), c(64, 40)}},
		{lightos, ops.FusedMatMul, graph.Attrs{"activation": graph.String("GeluTanh")}, 1, []owInput{f(2, 130, 96), c(96, 200), c(200)}},
		{"", "MatMul", nil, 1, []owInput{f(2, 70, 33), f(2, 33, 90)}},
		{lightos, ops.FusedMatMul, graph.Attrs{"activation": graph.String("Relu")}, 1, []owInput{f(3, 0), c(0, 5), c(5)}},
		{lightos, ops.Attention, graph.Attrs{"scale": graph.Float(0.5)}, 1, []owInput{f(2, 2, 5, 4), f(2, 2, 6, 4), f(2, 2, 6, 3), f(2, 1, 1, 6)}},
		{lightos, ops.Attention, graph.Attrs{"num_heads": graph.Int(2), "causal": graph.Int(1)}, 1, []owInput{f(2, 7, 8), f(2, 7, 8), f(2, 7, 6)}},
		{lightos, ops.LayerNormAttention, graph.Attrs{"num_heads": graph.Int(2)}, 1,
			[]owInput{f(2, 5, 8), c(8), c(8), c(8, 8), c(8), c(8, 8), c(8), c(8, 6), c(6)}},
		{"", "MatMul", nil, 1, []owInput{f(3, 4, 6), f(6, 5)}},
		{"", "MatMul", nil, 1, []owInput{f(5), c(5, 3)}},
		{"", "LayerNormalization", graph.Attrs{"axis": graph.Int(-1)}, 3, []owInput{f(3, 7), c(7), c(7)}},
		{"", "Softmax", graph.Attrs{"axis": graph.Int(-1)}, 1, []owInput{f(4, 9)}},
		{"", "Add", nil, 1, []owInput{f(3, 1, 5), f(4, 1)}},
		{"", "Sub", nil, 1, []owInput{f(3, 4, 5), c(5)}},
		{"", "Mul", nil, 1, []owInput{f(2, 3), f(2, 3)}},
		{"", "Div", nil, 1, []owInput{f(1, 37), f(2, 1)}},
		{"", "Relu", nil, 1, []owInput{f(37)}},
		{"", "Gelu", nil, 1, []owInput{f(3, 37)}},
		{"", "Erf", nil, 1, []owInput{f(41)}},
		{"", "Sigmoid", nil, 1, []owInput{f(5, 9)}},
		{"", "Tanh", nil, 1, []owInput{f(19)}},
		{"", "Transpose", graph.Attrs{"perm": graph.Ints(2, 0, 1)}, 1, []owInput{f(2, 3, 4)}},
		{"", "Gather", graph.Attrs{"axis": graph.Int(0)}, 1, []owInput{c(5, 4), idx(5, 3, 2)}},
		{"", "Gather", graph.Attrs{"axis": graph.Int(1)}, 1, []owInput{f(3, 6, 2), idx(6, 4)}},
		{"", "Concat", graph.Attrs{"axis": graph.Int(1)}, 1, []owInput{f(2, 3), f(2, 5), f(2, 1)}},
		{"", "Cast", graph.Attrs{"to": graph.Int(int64(tensor.Float16))}, 1, []owInput{f(11)}},
		{"", "Cast", graph.Attrs{"to": graph.Int(int64(tensor.Int64))}, 1, []owInput{f(3, 3)}},
		{"", "Conv", graph.Attrs{"pads": graph.Ints(1, 1, 1, 1)}, 1, []owInput{f(2, 3, 9, 7), c(5, 3, 3, 3), c(5)}},
		{"", "Conv", graph.Attrs{"strides": graph.Ints(2, 2), "group": graph.Int(4)}, 1, []owInput{f(1, 4, 11, 10), c(4, 1, 3, 3)}},
		{"", "Conv", graph.Attrs{"pads": graph.Ints(1, 0, 1, 1, 0, 1)}, 1, []owInput{f(1, 2, 4, 5, 6), c(3, 2, 3, 2, 3)}},
		{"", "Conv", nil, 1, []owInput{f(2, 40, 7, 7), c(130, 40, 1, 1)}},
		{lightos, ops.FusedConv, graph.Attrs{"activation": graph.String("Relu"), "pads": graph.Ints(1, 1, 1, 1)}, 1,
			[]owInput{f(3, 6, 7, 7), c(70, 6, 3, 3), c(70), f(3, 70, 7, 7)}},
		{lightos, ops.FusedConv, graph.Attrs{"activation": graph.String("LeakyRelu"), "alpha": graph.Float(0.1)}, 1,
			[]owInput{f(1, 5, 8, 9), c(6, 5, 1, 1), c(6)}},
		{"", "MaxPool", graph.Attrs{"kernel_shape": graph.Ints(3, 3), "strides": graph.Ints(2, 2), "pads": graph.Ints(1, 1, 1, 1)}, 1,
			[]owInput{f(2, 3, 13, 12)}},
		{"", "MaxPool", graph.Attrs{"kernel_shape": graph.Ints(2, 2)}, 2, []owInput{f(1, 2, 6, 5)}},
		{lightos, ops.NhwcConv, graph.Attrs{"activation": graph.String("Relu"), "pads": graph.Ints(1, 1, 1, 1)}, 1,
			[]owInput{f(2, 7, 6, 5), c(19, 5, 3, 3), c(19), f(2, 7, 6, 19)}},
		{lightos, ops.NhwcConv, graph.Attrs{"activation": graph.String("Clip"), "min": graph.Float(0), "max": graph.Float(6),
			"group": graph.Int(9), "strides": graph.Ints(2, 2), "pads": graph.Ints(1, 1, 1, 1)}, 1,
			[]owInput{f(1, 9, 8, 9), c(9, 1, 3, 3), c(9)}},
		{lightos, ops.NhwcMaxPool, graph.Attrs{"kernel_shape": graph.Ints(3, 3), "strides": graph.Ints(2, 2), "pads": graph.Ints(1, 1, 1, 1)}, 1,
			[]owInput{f(2, 13, 12, 11)}},
		{lightos, ops.NhwcAveragePool, graph.Attrs{"kernel_shape": graph.Ints(3, 2), "ceil_mode": graph.Int(1), "strides": graph.Ints(2, 2)}, 1,
			[]owInput{f(2, 8, 9, 5)}},
		{lightos, ops.NhwcGlobalAveragePool, nil, 1, []owInput{f(2, 3, 5, 300)}},
	}
	covered := map[opKey]bool{}
	dev := New(Options{Threads: 2})
	for i, tc := range cases {
		covered[opKey{tc.domain, tc.op}] = true
		t.Run(fmt.Sprintf("%d/%s", i, tc.op), func(t *testing.T) {
			b := graph.NewBuilder("overwrite")
			names := make([]string, len(tc.in))
			var feeds []*tensor.Tensor
			for j, in := range tc.in {
				names[j] = fmt.Sprintf("in%d", j)
				var err error
				if in.konst {
					_, err = b.Const(names[j], in.t)
				} else {
					_, err = b.Input(names[j], in.t.DType(), graph.ShapeOf(in.t.Shape()...))
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			outs := make([]string, tc.nOut)
			for j := range outs {
				outs[j] = fmt.Sprintf("out%d", j)
			}
			n, err := b.Op(tc.op, "node", names, outs, tc.attrs)
			if err != nil {
				t.Fatal(err)
			}
			n.Domain = tc.domain
			for _, o := range outs {
				b.Output(o)
			}
			g, err := b.Finish()
			if err != nil {
				t.Fatal(err)
			}
			if err := ops.Infer(g, ops.InferOptions{}); err != nil {
				t.Fatal(err)
			}
			k, err := dev.Kernel(g.Nodes[0])
			if err != nil {
				t.Fatal(err)
			}
			if ow, ok := k.(backends.OutputOverwriter); !ok || !ow.OverwritesOutputs() {
				t.Fatalf("kernel of %s is not marked as overwriting its outputs", tc.op)
			}
			for _, in := range tc.in {
				feeds = append(feeds, in.t)
			}
			run := func(fill byte) []*tensor.Tensor {
				res := make([]*tensor.Tensor, tc.nOut)
				for j, v := range g.Nodes[0].Outputs {
					res[j] = tensor.New(v.DType, v.Shape.Ints())
					for x := range res[j].Bytes() {
						res[j].Bytes()[x] = fill
					}
				}
				if err := k.Run(context.Background(), feeds, res); err != nil {
					t.Fatal(err)
				}
				return res
			}
			zero, junk := run(0), run(0xFF)
			for j := range zero {
				if string(zero[j].Bytes()) != string(junk[j].Bytes()) {
					t.Fatalf("output %d differs when its buffer starts as garbage: the kernel leaves elements unwritten or accumulates", j)
				}
			}
		})
	}
	for k := range overwritingOps {
		if !covered[k] {
			t.Errorf("operator %s.%s is listed in overwritingOps without a case here", k.domain, k.op)
		}
	}
}
