package ops_test

import (
	"strings"
	"testing"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// inferOne builds a graph with one node op over inputs of the given types and returns
// its output types (or the inference error).
func inferOne(op string, attrs graph.Attrs, nOut int, opset int64, ins ...graph.Type) ([]graph.Type, error) {
	g := graph.New("t")
	g.Opset = opset
	vals := make([]*graph.Value, len(ins))
	for i, t := range ins {
		if t.DType == tensor.Invalid {
			continue // omitted optional input
		}
		vals[i] = g.AddInput("x"+string(rune('a'+i)), t.DType, t.Shape)
	}
	outs := make([]string, nOut)
	for i := range outs {
		outs[i] = "y" + string(rune('a'+i))
	}
	n := g.AddNode(op, "the_node", vals, outs, attrs)
	if err := ops.Infer(g, ops.InferOptions{}); err != nil {
		return nil, err
	}
	types := make([]graph.Type, nOut)
	for i, v := range n.Outputs {
		types[i] = v.Type
	}
	return types, nil
}

var batch = graph.Dim{Size: -1, Param: "N"}

func f32(dims ...graph.Dim) graph.Type {
	return graph.Type{DType: tensor.Float32, Shape: graph.Shape(dims), HasShape: true}
}

func d(n int64) graph.Dim { return graph.Dim{Size: n} }

func TestNNInference(t *testing.T) {
	cases := []struct {
		name  string
		op    string
		attrs graph.Attrs
		nOut  int
		opset int64
		ins   []graph.Type
		want  []string
	}{
		{"conv same_upper stride 2", "Conv", graph.Attrs{"auto_pad": graph.String("SAME_UPPER"), "strides": graph.Ints(2, 2)}, 1, 0,
			[]graph.Type{f32(batch, d(3), d(224), d(223)), f32(d(64), d(3), d(7), d(7))}, []string{"float32[N,64,112,112]"}},
		{"conv pads dilations", "Conv", graph.Attrs{"pads": graph.Ints(1, 2, 3, 4), "dilations": graph.Ints(2, 1)}, 1, 0,
			[]graph.Type{f32(d(1), d(4), d(10), d(10)), f32(d(6), d(4), d(3), d(3)), f32(d(6))}, []string{"float32[1,6,10,14]"}},
		{"conv groups", "Conv", graph.Attrs{"group": graph.Int(2), "pads": graph.Ints(1, 1, 3, 4), "dilations": graph.Ints(2, 1)}, 1, 0,
			[]graph.Type{f32(d(1), d(4), d(10), d(10)), f32(d(6), d(2), d(3), d(3)), f32(d(6))}, []string{"float32[1,6,10,13]"}},
		{"conv 1-D symbolic length", "Conv", nil, 1, 0,
			[]graph.Type{f32(d(2), d(3), graph.Dim{Size: -1, Param: "T"}), f32(d(5), d(3), d(3))}, []string{"float32[2,5,?]"}},
		{"conv 3-D", "Conv", graph.Attrs{"strides": graph.Ints(2, 2, 2)}, 1, 0,
			[]graph.Type{f32(d(1), d(2), d(9), d(8), d(7)), f32(d(4), d(2), d(3), d(3), d(3))}, []string{"float32[1,4,4,3,3]"}},
		{"convtranspose output_padding", "ConvTranspose", graph.Attrs{"strides": graph.Ints(2, 2), "pads": graph.Ints(1, 1, 1, 1), "output_padding": graph.Ints(1, 1)}, 1, 0,
			[]graph.Type{f32(batch, d(8), d(5), d(5)), f32(d(8), d(3), d(3), d(3))}, []string{"float32[N,3,10,10]"}},
		{"convtranspose output_shape", "ConvTranspose", graph.Attrs{"strides": graph.Ints(2, 2), "output_shape": graph.Ints(11, 12), "group": graph.Int(2)}, 1, 0,
			[]graph.Type{f32(d(1), d(8), d(5), d(6)), f32(d(8), d(3), d(3), d(3))}, []string{"float32[1,6,11,12]"}},
		{"maxpool ceil", "MaxPool", graph.Attrs{"kernel_shape": graph.Ints(3, 3), "strides": graph.Ints(2, 2), "ceil_mode": graph.Int(1)}, 2, 0,
			[]graph.Type{f32(batch, d(64), d(112), d(112))}, []string{"float32[N,64,56,56]", "int64[N,64,56,56]"}},
		{"averagepool same_lower", "AveragePool", graph.Attrs{"kernel_shape": graph.Ints(3), "strides": graph.Ints(2), "auto_pad": graph.String("SAME_LOWER")}, 1, 0,
			[]graph.Type{f32(d(1), d(3), d(9))}, []string{"float32[1,3,5]"}},
		{"global average pool", "GlobalAveragePool", nil, 1, 0, []graph.Type{f32(batch, d(2048), d(7), d(7))}, []string{"float32[N,2048,1,1]"}},
		{"gemm trans", "Gemm", graph.Attrs{"transA": graph.Int(1), "transB": graph.Int(1)}, 1, 0,
			[]graph.Type{f32(d(5), batch), f32(d(7), d(5)), f32(d(7))}, []string{"float32[N,7]"}},
		{"layernorm stats", "LayerNormalization", graph.Attrs{"axis": graph.Int(-2)}, 3, 0,
			[]graph.Type{f32(batch, d(4), d(768)), f32(d(4), d(768))}, []string{"float32[N,4,768]", "float32[N,1,1]", "float32[N,1,1]"}},
		{"batchnorm", "BatchNormalization", nil, 1, 0,
			[]graph.Type{f32(batch, d(3), d(5)), f32(d(3)), f32(d(3)), f32(d(3)), f32(d(3))}, []string{"float32[N,3,5]"}},
		{"groupnorm", "GroupNormalization", graph.Attrs{"num_groups": graph.Int(2)}, 1, 0,
			[]graph.Type{f32(batch, d(4), d(5)), f32(d(4)), f32(d(4))}, []string{"float32[N,4,5]"}},
		{"softmax opset 11", "Softmax", nil, 1, 11, []graph.Type{f32(d(2), d(3))}, []string{"float32[2,3]"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := inferOne(c.op, c.attrs, c.nOut, c.opset, c.ins...)
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range c.want {
				if got[i].String() != w {
					t.Errorf("output %d is %v, want %s", i, got[i], w)
				}
			}
		})
	}
}

func TestNNInferenceErrors(t *testing.T) {
	x := f32(d(1), d(4), d(8), d(8))
	cases := []struct {
		name  string
		op    string
		attrs graph.Attrs
		ins   []graph.Type
		msg   string
	}{
		{"conv channels", "Conv", nil, []graph.Type{x, f32(d(2), d(3), d(3), d(3))}, "channels"},
		{"conv group", "Conv", graph.Attrs{"group": graph.Int(3)}, []graph.Type{x, f32(d(3), d(2), d(3), d(3))}, "group"},
		{"conv pads length", "Conv", graph.Attrs{"pads": graph.Ints(1, 1)}, []graph.Type{x, f32(d(2), d(4), d(3), d(3))}, "pads"},
		{"conv bias", "Conv", nil, []graph.Type{x, f32(d(2), d(4), d(3), d(3)), f32(d(3))}, "bias"},
		{"conv kernel too big", "Conv", nil, []graph.Type{f32(d(1), d(1), d(2), d(2)), f32(d(1), d(1), d(3), d(3))}, "larger"},
		{"conv int", "Conv", nil, []graph.Type{{DType: tensor.Int32, Shape: x.Shape, HasShape: true}, {DType: tensor.Int32, Shape: x.Shape, HasShape: true}}, "floating"},
		{"pool no kernel", "MaxPool", nil, []graph.Type{x}, "kernel_shape"},
		{"pool auto_pad", "MaxPool", graph.Attrs{"kernel_shape": graph.Ints(2, 2), "auto_pad": graph.String("FULL")}, []graph.Type{x}, "auto_pad"},
		{"gemm inner", "Gemm", nil, []graph.Type{f32(d(2), d(3)), f32(d(4), d(5))}, "inner"},
		{"gemm C", "Gemm", nil, []graph.Type{f32(d(2), d(3)), f32(d(3), d(5)), f32(d(3))}, "broadcast"},
		{"layernorm axis", "LayerNormalization", graph.Attrs{"axis": graph.Int(4)}, []graph.Type{x, f32(d(8))}, "axis"},
		{"groupnorm groups", "GroupNormalization", graph.Attrs{"num_groups": graph.Int(3)}, []graph.Type{x, f32(d(4)), f32(d(4))}, "num_groups"},
		{"softmax axis", "Softmax", graph.Attrs{"axis": graph.Int(-5)}, []graph.Type{x}, "axis"},
		{"lrn size", "LRN", nil, []graph.Type{x}, "size"},
		{"convtranspose output_padding", "ConvTranspose", graph.Attrs{"output_padding": graph.Ints(1, 1)}, []graph.Type{x, f32(d(4), d(2), d(3), d(3))}, "output_padding"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := inferOne(c.op, c.attrs, 1, 0, c.ins...)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), "the_node") || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %q should name the node and mention %q", err, c.msg)
			}
		})
	}
}

func TestSoftmaxLayout(t *testing.T) {
	cases := []struct {
		axis  int64
		opset int64
		want  ops.SoftmaxSpan
	}{
		{-1, 0, ops.SoftmaxSpan{Outer: 6, Axis: 4, Inner: 1}},
		{1, 13, ops.SoftmaxSpan{Outer: 2, Axis: 3, Inner: 4}},
		{1, 11, ops.SoftmaxSpan{Outer: 2, Axis: 12, Inner: 1}},
		{0, 9, ops.SoftmaxSpan{Outer: 1, Axis: 24, Inner: 1}},
	}
	for _, c := range cases {
		got, err := ops.SoftmaxLayout(graph.Attrs{"axis": graph.Int(c.axis)}, []int{2, 3, 4}, c.opset)
		if err != nil || got != c.want {
			t.Errorf("axis %d opset %d: %+v, %v; want %+v", c.axis, c.opset, got, err, c.want)
		}
	}
}
