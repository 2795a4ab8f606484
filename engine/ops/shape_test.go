package ops_test

import (
	"strings"
	"testing"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// operand is one input of a one-node inference test: a type, or constant data.
type operand struct {
	t graph.Type
	c *tensor.Tensor
}

func typ(dt tensor.DType, dims ...graph.Dim) operand {
	return operand{t: graph.Type{DType: dt, Shape: graph.Shape(dims), HasShape: true}}
}

func unranked(dt tensor.DType) operand { return operand{t: graph.Type{DType: dt}} }

func konstI64(v ...int64) operand {
	t, _ := tensor.FromInt64([]int{len(v)}, v)
	return operand{c: t}
}

// inferNode infers one node over the operands and returns its output types as text.
func inferNode(op string, attrs graph.Attrs, nOut int, ins ...operand) ([]string, error) {
	g := graph.New("t")
	vals := make([]*graph.Value, len(ins))
	for i, in := range ins {
		name := "x" + string(rune('a'+i))
		switch {
		case in.c != nil:
			vals[i] = g.AddInitializer(name, in.c)
		case in.t.DType != tensor.Invalid:
			v := g.AddInput(name, in.t.DType, in.t.Shape)
			v.HasShape = in.t.HasShape
			vals[i] = v
		}
	}
	outs := make([]string, nOut)
	for i := range outs {
		outs[i] = "y" + string(rune('a'+i))
	}
	n := g.AddNode(op, "the_node", vals, outs, attrs)
	if err := ops.Infer(g, ops.InferOptions{}); err != nil {
		return nil, err
	}
	res := make([]string, nOut)
	for i, v := range n.Outputs {
		res[i] = v.Type.String()
	}
	return res, nil
}

var (
	nDim = graph.Dim{Size: -1, Param: "N"}
	sDim = graph.Dim{Size: -1, Param: "S"}
)

func dim(n int64) graph.Dim { return graph.Dim{Size: n} }

func TestElementwiseAndShapeInference(t *testing.T) {
	f := tensor.Float32
	cases := []struct {
		op    string
		attrs graph.Attrs
		nOut  int
		ins   []operand
		want  string // outputs joined by " "
	}{
		{"Add", nil, 1, []operand{typ(f, nDim, dim(1), dim(5)), typ(f, dim(3), dim(1))}, "float32[N,3,5]"},
		{"Add", nil, 1, []operand{typ(f, nDim, dim(4)), typ(f, nDim, dim(4))}, "float32[N,4]"},
		{"Add", nil, 1, []operand{unranked(f), typ(f, dim(4))}, "float32[?]"},
		{"Less", nil, 1, []operand{typ(f, dim(2)), typ(f, dim(1))}, "bool[2]"},
		{"Pow", nil, 1, []operand{typ(tensor.Int32, dim(2)), typ(f, dim(2))}, "int32[2]"},
		{"IsNaN", nil, 1, []operand{typ(f, nDim)}, "bool[N]"},
		{"Where", nil, 1, []operand{typ(tensor.Bool, dim(2), dim(1)), typ(f, dim(3)), typ(f, dim(1), dim(1))}, "float32[2,3]"},
		{"Sum", nil, 1, []operand{typ(f, dim(2), dim(1)), typ(f, dim(3)), typ(f, dim(1), dim(3))}, "float32[2,3]"},
		{"Reshape", nil, 1, []operand{typ(f, nDim, dim(3), dim(4)), konstI64(0, -1)}, "float32[N,?]"},
		{"Reshape", nil, 1, []operand{typ(f, dim(2), dim(3), dim(4)), konstI64(0, -1)}, "float32[2,12]"},
		{"Reshape", nil, 1, []operand{typ(f, dim(2), dim(3)), typ(tensor.Int64, dim(3))}, "float32[?,?,?]"},
		{"Flatten", nil, 1, []operand{typ(f, nDim, dim(3), dim(4))}, "float32[N,12]"},
		{"Flatten", graph.Attrs{"axis": graph.Int(2)}, 1, []operand{typ(f, nDim, dim(3), dim(4))}, "float32[?,4]"},
		{"Transpose", graph.Attrs{"perm": graph.Ints(1, 0, 2)}, 1, []operand{typ(f, nDim, sDim, dim(4))}, "float32[S,N,4]"},
		{"Concat", graph.Attrs{"axis": graph.Int(1)}, 1, []operand{typ(f, nDim, dim(3)), typ(f, nDim, dim(4))}, "float32[N,7]"},
		{"Concat", graph.Attrs{"axis": graph.Int(1)}, 1, []operand{typ(f, nDim, sDim), typ(f, nDim, dim(4))}, "float32[N,?]"},
		{"Split", graph.Attrs{"axis": graph.Int(1)}, 2, []operand{typ(f, nDim, dim(6)), konstI64(2, 4)}, "float32[N,2] float32[N,4]"},
		{"Split", graph.Attrs{"axis": graph.Int(1)}, 2, []operand{typ(f, nDim, dim(6))}, "float32[N,3] float32[N,3]"},
		{"Slice", nil, 1, []operand{typ(f, nDim, dim(10)), konstI64(1), konstI64(-1), konstI64(1), konstI64(2)}, "float32[N,4]"},
		{"Slice", nil, 1, []operand{typ(f, dim(3), dim(10)), typ(tensor.Int64, dim(1)), konstI64(5), konstI64(1)}, "float32[3,?]"},
		{"Gather", graph.Attrs{"axis": graph.Int(1)}, 1, []operand{typ(f, nDim, dim(10), dim(4)), typ(tensor.Int64, sDim, dim(2))}, "float32[N,S,2,4]"},
		{"Squeeze", nil, 1, []operand{typ(f, nDim, dim(1), dim(4)), konstI64(1)}, "float32[N,4]"},
		{"Squeeze", nil, 1, []operand{typ(f, nDim, dim(1))}, "float32[?]"},
		{"Unsqueeze", nil, 1, []operand{typ(f, nDim, dim(4)), konstI64(-1, 0)}, "float32[1,N,4,1]"},
		{"Expand", nil, 1, []operand{typ(f, dim(3), dim(1)), konstI64(2, 1, 5)}, "float32[2,3,5]"},
		{"Expand", nil, 1, []operand{typ(f, dim(3), dim(1)), typ(tensor.Int64, dim(3))}, "float32[?,?,?]"},
		{"Shape", nil, 1, []operand{typ(f, nDim, dim(3))}, "int64[2]"},
		{"Shape", graph.Attrs{"start": graph.Int(-1)}, 1, []operand{typ(f, nDim, dim(3))}, "int64[1]"},
		{"ConstantOfShape", nil, 1, []operand{konstI64(2, 3)}, "float32[2,3]"},
		{"ConstantOfShape", nil, 1, []operand{typ(tensor.Int64, dim(2))}, "float32[?,?]"},
		{"Range", nil, 1, []operand{typ(tensor.Int64), typ(tensor.Int64), typ(tensor.Int64)}, "int64[?]"},
		{"Cast", graph.Attrs{"to": graph.Int(int64(tensor.Float16))}, 1, []operand{typ(f, nDim)}, "float16[N]"},
		{"ReduceMean", graph.Attrs{"axes": graph.Ints(-1)}, 1, []operand{typ(f, nDim, sDim, dim(8))}, "float32[N,S,1]"},
		{"ReduceSum", graph.Attrs{"keepdims": graph.Int(0)}, 1, []operand{typ(f, nDim, dim(8)), konstI64(1)}, "float32[N]"},
		{"ReduceSum", nil, 1, []operand{typ(f, nDim, dim(8)), typ(tensor.Int64, dim(1))}, "float32[?,?]"},
		{"ArgMax", graph.Attrs{"axis": graph.Int(1), "keepdims": graph.Int(0)}, 1, []operand{typ(f, nDim, dim(8))}, "int64[N]"},
		{"TopK", nil, 2, []operand{typ(f, nDim, dim(8)), konstI64(3)}, "float32[N,3] int64[N,3]"},
		{"TopK", nil, 2, []operand{typ(f, nDim, dim(8)), typ(tensor.Int64, dim(1))}, "float32[N,?] int64[N,?]"},
		{"NonZero", nil, 1, []operand{typ(f, nDim, dim(8))}, "int64[2,?]"},
		{"Pad", nil, 1, []operand{typ(f, nDim, dim(8)), konstI64(0, 1, 0, 2)}, "float32[N,11]"},
		{"Tile", nil, 1, []operand{typ(f, nDim, dim(8)), konstI64(2, 3)}, "float32[?,24]"},
		{"Einsum", graph.Attrs{"equation": graph.String("bij,bjk->bik")}, 1, []operand{typ(f, nDim, dim(3), dim(4)), typ(f, nDim, dim(4), dim(5))}, "float32[?,3,5]"},
		{"Dropout", nil, 2, []operand{typ(f, nDim)}, "float32[N] bool[N]"},
	}
	for _, c := range cases {
		got, err := inferNode(c.op, c.attrs, c.nOut, c.ins...)
		if err != nil {
			t.Errorf("%s: %v", c.op, err)
			continue
		}
		if s := strings.Join(got, " "); s != c.want {
			t.Errorf("%s: got %s, want %s", c.op, s, c.want)
		}
	}
}

func TestElementwiseAndShapeInferenceErrors(t *testing.T) {
	f := tensor.Float32
	cases := []struct {
		op    string
		attrs graph.Attrs
		nOut  int
		ins   []operand
		why   string
	}{
		{"Add", nil, 1, []operand{typ(f, dim(3)), typ(f, dim(4))}, "do not broadcast"},
		{"Add", nil, 1, []operand{typ(f, dim(3)), typ(tensor.Int64, dim(3))}, "dtypes differ"},
		{"Exp", nil, 1, []operand{typ(tensor.Int32, dim(3))}, "floating-point"},
		{"Reshape", nil, 1, []operand{typ(f, dim(2), dim(3)), konstI64(4, 2)}, "cannot reshape"},
		{"Transpose", graph.Attrs{"perm": graph.Ints(0, 2)}, 1, []operand{typ(f, dim(2), dim(3))}, "not a permutation"},
		{"Concat", graph.Attrs{"axis": graph.Int(0)}, 1, []operand{typ(f, dim(2), dim(3)), typ(f, dim(2), dim(4))}, "differs"},
		{"Concat", nil, 1, []operand{typ(f, dim(2))}, "axis is required"},
		{"Gather", graph.Attrs{"axis": graph.Int(3)}, 1, []operand{typ(f, dim(2)), typ(tensor.Int64, dim(1))}, "out of range"},
		{"Squeeze", nil, 1, []operand{typ(f, dim(2), dim(3)), konstI64(1)}, "cannot squeeze"},
		{"Slice", nil, 1, []operand{typ(f, dim(2)), konstI64(0), konstI64(1), konstI64(0), konstI64(0)}, "step"},
		{"ReduceSum", nil, 1, []operand{typ(f, dim(2)), konstI64(1)}, "out of range"},
		{"Split", nil, 2, []operand{typ(f, dim(6)), konstI64(2, 3)}, "sums to"},
		{"Cast", graph.Attrs{"to": graph.Int(99)}, 1, []operand{typ(f, dim(2))}, "not a supported dtype"},
		{"Einsum", graph.Attrs{"equation": graph.String("ij->k")}, 1, []operand{typ(f, dim(2), dim(2))}, "does not appear"},
		{"Where", nil, 1, []operand{typ(f, dim(2)), typ(f, dim(2)), typ(f, dim(2))}, "condition"},
	}
	for _, c := range cases {
		_, err := inferNode(c.op, c.attrs, c.nOut, c.ins...)
		if err == nil {
			t.Errorf("%s (%s): no error", c.op, c.why)
			continue
		}
		if !strings.Contains(err.Error(), "the_node") || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%s: error %q should name the node and say %q", c.op, err, c.why)
		}
	}
}
