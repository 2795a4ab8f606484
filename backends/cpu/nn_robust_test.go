package cpu_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// TestNNRandomAttributesNeverPanic feeds Conv, ConvTranspose and the pools random,
// often invalid, attribute and shape combinations: each run must either succeed or
// return an error naming the node, never panic (the executor would report a panic as
// "panicked").
func TestNNRandomAttributesNeverPanic(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 1))
	pick := func(vals ...int64) int64 { return vals[r.IntN(len(vals))] }
	ints := func(n int, vals ...int64) graph.Attr {
		v := make([]int64, n)
		for i := range v {
			v[i] = pick(vals...)
		}
		return graph.Ints(v...)
	}
	for iter := 0; iter < 400; iter++ {
		sp := 1 + r.IntN(3)
		if r.IntN(10) == 0 {
			sp = 0 // no spatial axis at all
		}
		xs := []int{1 + r.IntN(2), 1 + r.IntN(4)}
		ks := []int{1 + r.IntN(4), 1 + r.IntN(3)}
		for i := 0; i < sp; i++ {
			xs = append(xs, r.IntN(6))
			ks = append(ks, r.IntN(4))
		}
		attrs := graph.Attrs{}
		n := sp
		if r.IntN(8) == 0 {
			n = sp + 1 // wrong attribute lengths
		}
		if r.IntN(2) == 0 {
			attrs["strides"] = ints(n, -1, 0, 1, 2, 3)
		}
		if r.IntN(2) == 0 {
			attrs["dilations"] = ints(n, 0, 1, 2)
		}
		if r.IntN(2) == 0 {
			attrs["pads"] = ints(2*n, -1, 0, 1, 2, 5)
		}
		if r.IntN(3) == 0 {
			attrs["auto_pad"] = graph.String([]string{"SAME_UPPER", "SAME_LOWER", "VALID", "NOTSET", "BOGUS"}[r.IntN(5)])
		}
		if r.IntN(3) == 0 {
			attrs["group"] = graph.Int(pick(0, 1, 2, 3))
		}
		if r.IntN(3) == 0 {
			attrs["kernel_shape"] = ints(n, 0, 1, 2, 3)
		}
		if r.IntN(4) == 0 {
			attrs["output_padding"] = ints(n, -1, 0, 1, 2)
		}
		if r.IntN(4) == 0 {
			attrs["output_shape"] = ints(n, 1, 4, 9)
		}
		if r.IntN(3) == 0 {
			attrs["ceil_mode"] = graph.Int(1)
		}
		x := randTensor(r, tensor.Float32, xs...)
		w := randTensor(r, tensor.Float32, ks...)
		for _, op := range []string{"Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool", "GlobalAveragePool"} {
			ins := []nodeInput{feed(x)}
			nOut := 1
			switch op {
			case "Conv", "ConvTranspose":
				ins = append(ins, konst(w))
				if r.IntN(2) == 0 {
					ins = append(ins, konst(randTensor(r, tensor.Float32, 1+r.IntN(4))))
				}
			case "MaxPool":
				nOut = 2
			}
			_, err := runOp(op, attrs, nOut, ins...)
			if err != nil && (strings.Contains(err.Error(), "panic") || !strings.Contains(err.Error(), "node_")) {
				t.Fatalf("%s x%v w%v %v: %v", op, xs, ks, fmt.Sprint(attrs), err)
			}
		}
	}
}

// TestNNRandomShapesNeverPanic runs the matrix, normalization and softmax operators
// on random, often mismatched, shapes and attributes: success or an error naming the
// node, never a panic.
func TestNNRandomShapesNeverPanic(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 1))
	shape := func() []int {
		s := make([]int, r.IntN(5))
		for i := range s {
			s[i] = r.IntN(5)
		}
		return s
	}
	ops := []struct {
		op     string
		inputs int
		nOut   int
		attrs  func() graph.Attrs
	}{
		{"MatMul", 2, 1, func() graph.Attrs { return nil }},
		{"Gemm", 3, 1, func() graph.Attrs {
			return graph.Attrs{"transA": graph.Int(int64(r.IntN(2))), "transB": graph.Int(int64(r.IntN(2))), "alpha": graph.Float(0.5)}
		}},
		{"BatchNormalization", 5, 1, func() graph.Attrs { return nil }},
		{"LayerNormalization", 3, 3, func() graph.Attrs { return graph.Attrs{"axis": graph.Int(int64(r.IntN(7) - 3))} }},
		{"InstanceNormalization", 3, 1, func() graph.Attrs { return nil }},
		{"GroupNormalization", 3, 1, func() graph.Attrs { return graph.Attrs{"num_groups": graph.Int(int64(r.IntN(4)))} }},
		{"LRN", 1, 1, func() graph.Attrs { return graph.Attrs{"size": graph.Int(int64(r.IntN(4)))} }},
		{"Softmax", 1, 1, func() graph.Attrs { return graph.Attrs{"axis": graph.Int(int64(r.IntN(9) - 4))} }},
		{"LogSoftmax", 1, 1, func() graph.Attrs {
			return graph.Attrs{"axis": graph.Int(int64(r.IntN(9) - 4)), "_opset": graph.Int(11)}
		}},
		{"Hardmax", 1, 1, func() graph.Attrs { return nil }},
	}
	for iter := 0; iter < 300; iter++ {
		for _, o := range ops {
			ins := make([]nodeInput, o.inputs)
			for i := range ins {
				x := randTensor(r, tensor.Float32, shape()...)
				if i > 0 && r.IntN(2) == 0 {
					ins[i] = konst(x)
				} else {
					ins[i] = feed(x)
				}
			}
			_, err := runOp(o.op, o.attrs(), o.nOut, ins...)
			if err != nil && (strings.Contains(err.Error(), "panic") || !strings.Contains(err.Error(), "node_")) {
				t.Fatalf("%s: %v", o.op, err)
			}
		}
	}
}
