package ops

import (
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// ReduceOps are the reductions over a set of axes (keepdims, noop_with_empty_axes;
// axes as an attribute in older opsets, as input 1 from opset 18, 13 for ReduceSum).
var ReduceOps = []string{"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
	"ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"}

func init() {
	for _, name := range ReduceOps {
		register(Schema{Name: name, Doc: name + " over axes (all axes by default)", Inputs: Arity{1, 2}, Outputs: Arity{1, 1}, Infer: inferReduce})
	}
	for _, name := range []string{"ArgMax", "ArgMin"} {
		register(Schema{Name: name, Doc: name + " along axis as int64 (keepdims, select_last_index)", Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: inferArg})
	}
}

// ReduceAxes resolves a reduction node's axes for a rank. It returns the sorted axes
// to reduce (every axis when none are given), noop when axes are empty and
// noop_with_empty_axes is set (the output is then the input), and ok=false when the
// axes input is not a known constant.
func ReduceAxes(c *InferContext, rank int) (axes []int, noop, ok bool, err error) {
	raw, ok := AxesOf(c, 1)
	if !ok {
		return nil, false, false, nil
	}
	if len(raw) == 0 {
		if c.Attrs().GetInt("noop_with_empty_axes", 0) != 0 {
			return nil, true, true, nil
		}
		axes = make([]int, rank)
		for i := range axes {
			axes[i] = i
		}
		return axes, false, true, nil
	}
	na, err := NormAxes(raw, rank)
	if err != nil {
		return nil, false, true, err
	}
	sorted := make([]bool, rank)
	for _, a := range na {
		sorted[a] = true
	}
	for a, r := range sorted {
		if r {
			axes = append(axes, a)
		}
	}
	return axes, false, true, nil
}

func inferReduce(c *InferContext) ([]graph.Type, error) {
	x := c.In[0]
	if err := checkKind(c, 0, kindNumeric); err != nil && !(x.DType == tensor.Bool && (c.Node.Op == "ReduceMax" || c.Node.Op == "ReduceMin")) {
		return nil, err
	}
	if c.Has(1) && c.In[1].DType != tensor.Int64 {
		return nil, c.Errorf("axes are %v; expected int64", c.In[1].DType)
	}
	if !x.HasShape {
		return []graph.Type{x}, nil
	}
	keep := c.Attrs().GetInt("keepdims", 1) != 0
	axes, noop, ok, err := ReduceAxes(c, len(x.Shape))
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	if !ok {
		if keep {
			return []graph.Type{Typed(x.DType, unknownShape(len(x.Shape)))}, nil
		}
		return []graph.Type{Unranked(x.DType)}, nil
	}
	if noop {
		return []graph.Type{x}, nil
	}
	return []graph.Type{Typed(x.DType, reducedShape(x.Shape, axes, keep))}, nil
}

func reducedShape(s graph.Shape, axes []int, keep bool) graph.Shape {
	red := map[int]bool{}
	for _, a := range axes {
		red[a] = true
	}
	out := graph.Shape{}
	for i, d := range s {
		switch {
		case !red[i]:
			out = append(out, d)
		case keep:
			out = append(out, graph.Dim{Size: 1})
		}
	}
	return out
}

func inferArg(c *InferContext) ([]graph.Type, error) {
	if err := checkKind(c, 0, kindNumeric); err != nil {
		return nil, err
	}
	x := c.In[0]
	if !x.HasShape {
		return []graph.Type{Unranked(tensor.Int64)}, nil
	}
	axis, err := NormAxis(c.Attrs().GetInt("axis", 0), len(x.Shape))
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	return []graph.Type{Typed(tensor.Int64, reducedShape(x.Shape, []int{axis}, c.Attrs().GetInt("keepdims", 1) != 0))}, nil
}
