package ops

import (
	"fmt"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

func init() {
	register(Schema{Name: "Transpose", Doc: "permute axes (perm; reversed by default)", Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: inferTranspose})
	register(Schema{Name: "Concat", Doc: "join along axis", Inputs: Arity{1, Variadic}, Outputs: Arity{1, 1}, Infer: inferConcat})
	register(Schema{Name: "Split", Doc: "split along axis (split input or attribute, num_outputs, or equal parts)",
		Inputs: Arity{1, 2}, Outputs: Arity{1, Variadic}, Infer: inferSplit})
	register(Schema{Name: "Slice", Doc: "strided slice (starts, ends, axes, steps inputs; attributes before opset 10)",
		Inputs: Arity{1, 5}, Outputs: Arity{1, 1}, Infer: inferSlice})
	register(Schema{Name: "Gather", Doc: "take slices along axis at indices (negative indices count from the end)",
		Inputs: Arity{2, 2}, Outputs: Arity{1, 1}, Infer: inferGather})
	register(Schema{Name: "GatherElements", Doc: "take elements along axis at per-element indices", Inputs: Arity{2, 2}, Outputs: Arity{1, 1}, Infer: inferGatherElements})
	register(Schema{Name: "ScatterElements", Doc: "write updates along axis at per-element indices (reduction none, add, mul, max, min)",
		Inputs: Arity{3, 3}, Outputs: Arity{1, 1}, Infer: inferScatterElements})
	register(Schema{Name: "Scatter", Doc: "ScatterElements under its opset 9-10 name",
		Inputs: Arity{3, 3}, Outputs: Arity{1, 1}, Infer: inferScatterElements})
	register(Schema{Name: "Tile", Doc: "repeat along each axis", Inputs: Arity{2, 2}, Outputs: Arity{1, 1}, Infer: inferTile})
	register(Schema{Name: "Pad", Doc: "pad (constant, reflect, edge, wrap); pads input from opset 11, attribute before",
		Inputs: Arity{1, 4}, Outputs: Arity{1, 1}, Infer: inferPad})
	register(Schema{Name: "Trilu", Doc: "keep the upper or lower triangle of the last two axes", Inputs: Arity{1, 2}, Outputs: Arity{1, 1}, Infer: inferTrilu})
	register(Schema{Name: "CumSum", Doc: "cumulative sum along axis (exclusive, reverse)", Inputs: Arity{2, 2}, Outputs: Arity{1, 1}, Infer: inferCumSum})
	register(Schema{Name: "TopK", Doc: "k largest (or smallest) values along axis with their int64 indices",
		Inputs: Arity{1, 2}, Outputs: Arity{2, 2}, Infer: inferTopK})
	register(Schema{Name: "NonZero", Doc: "indices of the non-zero elements, [rank, count] int64 (count known only at run time)",
		Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: inferNonZero})
}

// TransposePerm resolves Transpose's perm for a rank (reversed axes by default).
func TransposePerm(a graph.Attrs, rank int) ([]int, error) {
	p := a.GetInts("perm", nil)
	perm := make([]int, rank)
	if p == nil {
		for i := range perm {
			perm[i] = rank - 1 - i
		}
		return perm, nil
	}
	if len(p) != rank {
		return nil, fmt.Errorf("perm %v has %d entries for rank %d", p, len(p), rank)
	}
	seen := make([]bool, rank)
	for i, v := range p {
		if v < 0 || v >= int64(rank) || seen[v] {
			return nil, fmt.Errorf("perm %v is not a permutation of 0..%d", p, rank-1)
		}
		seen[v] = true
		perm[i] = int(v)
	}
	return perm, nil
}

func inferTranspose(c *InferContext) ([]graph.Type, error) {
	x := c.In[0]
	if !x.HasShape {
		return []graph.Type{x}, nil
	}
	perm, err := TransposePerm(c.Attrs(), len(x.Shape))
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	return []graph.Type{Typed(x.DType, x.Shape.Permute(perm))}, nil
}

func inferConcat(c *InferContext) ([]graph.Type, error) {
	dt := c.In[0].DType
	if !c.Attrs().Has("axis") {
		return nil, c.Errorf("attribute axis is required")
	}
	var rank = -1
	for i, t := range c.In {
		if !c.Has(i) {
			return nil, c.Errorf("input %d is missing", i)
		}
		if t.DType != dt {
			return nil, c.Errorf("input %d is %v but input 0 is %v", i, t.DType, dt)
		}
		if !t.HasShape {
			continue
		}
		if rank >= 0 && len(t.Shape) != rank {
			return nil, c.Errorf("input %d has rank %d, input 0 has rank %d", i, len(t.Shape), rank)
		}
		rank = len(t.Shape)
	}
	if rank < 0 {
		return []graph.Type{Unranked(dt)}, nil
	}
	axis, err := NormAxis(c.Attrs().GetInt("axis", 0), rank)
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	out := unknownShape(rank)
	sum := int64(0)
	for i, t := range c.In {
		if !t.HasShape {
			sum = -1
			continue
		}
		for d, dim := range t.Shape {
			if d == axis {
				continue
			}
			switch {
			case !out[d].Known() && out[d].Param == "":
				out[d] = dim
			case dim.Known() && out[d].Known() && dim.Size != out[d].Size:
				return nil, c.Errorf("input %d has shape %v; dimension %d differs from the other inputs (%d)", i, t.Shape, d, out[d].Size)
			case dim.Known() && !out[d].Known():
				out[d] = dim
			}
		}
		if sum >= 0 && t.Shape[axis].Known() {
			sum += t.Shape[axis].Size
		} else {
			sum = -1
		}
	}
	out[axis] = graph.Dim{Size: sum}
	return []graph.Type{Typed(dt, out)}, nil
}

// SplitSizes resolves a Split node's part sizes along an axis of size dim for nOut
// outputs: split (input or attribute) when given, else num_outputs parts of
// ceil(dim/n) with a smaller last part (opset 18), else equal parts.
func SplitSizes(split []int64, dim, nOut int) ([]int, error) {
	sizes := make([]int, nOut)
	if split != nil {
		if len(split) != nOut {
			return nil, fmt.Errorf("split %v has %d parts for %d outputs", split, len(split), nOut)
		}
		total := 0
		for i, s := range split {
			if s < 0 {
				return nil, fmt.Errorf("split %v has a negative part", split)
			}
			sizes[i] = int(s)
			total += int(s)
		}
		if dim >= 0 && total != dim {
			return nil, fmt.Errorf("split %v sums to %d, not the axis size %d", split, total, dim)
		}
		return sizes, nil
	}
	if dim < 0 {
		for i := range sizes {
			sizes[i] = -1
		}
		return sizes, nil
	}
	chunk := (dim + nOut - 1) / nOut
	left := dim
	for i := range sizes {
		sizes[i] = min(chunk, left)
		left -= sizes[i]
	}
	return sizes, nil
}

// SplitSpec returns the explicit split of a Split node (attribute before opset 13,
// input 1 after), nil when the parts are equal; ok is false for a non-constant input.
func SplitSpec(c *InferContext) (split []int64, ok bool) {
	if c.Attrs().Has("split") {
		return c.Attrs().GetInts("split", nil), true
	}
	return ConstInts(c, 1)
}

func inferSplit(c *InferContext) ([]graph.Type, error) {
	x := c.In[0]
	nOut := len(c.Node.Outputs)
	if no := c.Attrs().GetInt("num_outputs", 0); no > 0 && int(no) != nOut {
		return nil, c.Errorf("num_outputs is %d but the node has %d outputs", no, nOut)
	}
	types := make([]graph.Type, nOut)
	split, ok := SplitSpec(c)
	if !x.HasShape || !ok {
		for i := range types {
			types[i] = Unranked(x.DType)
			if x.HasShape {
				types[i] = Typed(x.DType, unknownShape(len(x.Shape)))
			}
		}
		return types, nil
	}
	axis, err := NormAxis(c.Attrs().GetInt("axis", 0), len(x.Shape))
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	sizes, err := SplitSizes(split, int(x.Shape[axis].Size), nOut)
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	for i := range types {
		s := append(graph.Shape{}, x.Shape...)
		s[axis] = graph.Dim{Size: int64(sizes[i])}
		types[i] = Typed(x.DType, s)
	}
	return types, nil
}

// SliceAxis is the resolved slice of one axis: Count elements from Start by Step.
type SliceAxis struct{ Start, Step, Count int }

// SliceParams resolves ONNX Slice arguments for a concrete shape: negative starts and
// ends count from the end, values are clamped (to [0, dim] for positive steps, to
// [-1, dim-1] for negative ones), axes default to 0..len(starts)-1 and steps to 1.
// Axes not sliced are returned whole.
func SliceParams(shape []int, starts, ends, axes, steps []int64) ([]SliceAxis, error) {
	r := len(shape)
	if len(starts) != len(ends) {
		return nil, fmt.Errorf("starts %v and ends %v differ in length", starts, ends)
	}
	if axes == nil {
		axes = make([]int64, len(starts))
		for i := range axes {
			axes[i] = int64(i)
		}
	}
	if len(axes) != len(starts) {
		return nil, fmt.Errorf("axes %v and starts %v differ in length", axes, starts)
	}
	if steps != nil && len(steps) != len(starts) {
		return nil, fmt.Errorf("steps %v and starts %v differ in length", steps, starts)
	}
	na, err := NormAxes(axes, r)
	if err != nil {
		return nil, err
	}
	out := make([]SliceAxis, r)
	for i, d := range shape {
		out[i] = SliceAxis{0, 1, d}
	}
	for i, a := range na {
		d := int64(shape[a])
		step := int64(1)
		if steps != nil {
			step = steps[i]
		}
		if step == 0 {
			return nil, fmt.Errorf("step of axis %d is 0", a)
		}
		s, e := starts[i], ends[i]
		if s < 0 {
			s += d
		}
		if e < 0 {
			e += d
		}
		var count int64
		switch {
		case d == 0:
		case step > 0:
			s, e = max(0, min(s, d)), max(0, min(e, d))
			if e > s {
				count = (e - s + step - 1) / step
			}
		default:
			s, e = max(0, min(s, d-1)), max(-1, min(e, d-1))
			if s > e {
				count = (s - e - step - 1) / -step
			}
		}
		if count == 0 {
			s = 0
		}
		out[a] = SliceAxis{int(s), int(step), int(count)}
	}
	return out, nil
}

// SliceArgs gathers a Slice node's starts, ends, axes and steps from its attributes
// (opset < 10) or constant inputs; ok is false when an input is not constant.
func SliceArgs(c *InferContext) (starts, ends, axes, steps []int64, ok bool) {
	a := c.Attrs()
	if a.Has("starts") {
		return a.GetInts("starts", nil), a.GetInts("ends", nil), a.GetInts("axes", nil), nil, true
	}
	var ok1, ok2, ok3, ok4 bool
	starts, ok1 = ConstInts(c, 1)
	ends, ok2 = ConstInts(c, 2)
	axes, ok3 = ConstInts(c, 3)
	steps, ok4 = ConstInts(c, 4)
	return starts, ends, axes, steps, ok1 && ok2 && ok3 && ok4
}

func inferSlice(c *InferContext) ([]graph.Type, error) {
	x := c.In[0]
	if !c.Attrs().Has("starts") && (!c.Has(1) || !c.Has(2)) {
		return nil, c.Errorf("starts and ends are required")
	}
	starts, ends, axes, steps, ok := SliceArgs(c)
	if !x.HasShape {
		return []graph.Type{x}, nil
	}
	r := len(x.Shape)
	if !ok {
		// Axes known not to be sliced keep their size.
		out := unknownShape(r)
		if ax, aok := ConstInts(c, 3); aok && ax != nil && !c.Attrs().Has("starts") {
			if na, err := NormAxes(ax, r); err == nil {
				copy(out, x.Shape)
				for _, a := range na {
					out[a] = graph.Dim{Size: -1}
				}
			}
		}
		return []graph.Type{Typed(x.DType, out)}, nil
	}
	// Resolve each sliced axis on its own, so that unknown axes elsewhere don't matter.
	if _, err := SliceParams(make([]int, r), starts, ends, axes, steps); err != nil {
		return nil, c.Errorf("%v", err)
	}
	out := append(graph.Shape{}, x.Shape...)
	for i := range starts {
		a := int64(i)
		if axes != nil {
			a = axes[i]
		}
		ax, _ := NormAxis(a, r)
		d := x.Shape[ax]
		if !d.Known() {
			out[ax] = graph.Dim{Size: -1}
			continue
		}
		var st []int64
		if steps != nil {
			st = steps[i : i+1]
		}
		p, err := SliceParams([]int{int(d.Size)}, starts[i:i+1], ends[i:i+1], []int64{0}, st)
		if err != nil {
			return nil, c.Errorf("%v", err)
		}
		out[ax] = graph.Dim{Size: int64(p[0].Count)}
	}
	return []graph.Type{Typed(x.DType, out)}, nil
}

func checkIndices(c *InferContext, i int) error {
	if dt := c.In[i].DType; dt != tensor.Int64 && dt != tensor.Int32 {
		return c.Errorf("indices are %v; expected int32 or int64", dt)
	}
	return nil
}

func inferGather(c *InferContext) ([]graph.Type, error) {
	if err := checkIndices(c, 1); err != nil {
		return nil, err
	}
	x, idx := c.In[0], c.In[1]
	if !x.HasShape || !idx.HasShape {
		return []graph.Type{Unranked(x.DType)}, nil
	}
	axis, err := NormAxis(c.Attrs().GetInt("axis", 0), len(x.Shape))
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	out := append(graph.Shape{}, x.Shape[:axis]...)
	out = append(out, idx.Shape...)
	out = append(out, x.Shape[axis+1:]...)
	return []graph.Type{Typed(x.DType, out)}, nil
}

func inferGatherElements(c *InferContext) ([]graph.Type, error) {
	if err := checkIndices(c, 1); err != nil {
		return nil, err
	}
	x, idx := c.In[0], c.In[1]
	if x.HasShape && idx.HasShape {
		if len(x.Shape) != len(idx.Shape) {
			return nil, c.Errorf("data %v and indices %v differ in rank", x.Shape, idx.Shape)
		}
		if _, err := NormAxis(c.Attrs().GetInt("axis", 0), len(x.Shape)); err != nil {
			return nil, c.Errorf("%v", err)
		}
	}
	return []graph.Type{{DType: x.DType, Shape: idx.Shape, HasShape: idx.HasShape}}, nil
}

func inferScatterElements(c *InferContext) ([]graph.Type, error) {
	if err := checkIndices(c, 1); err != nil {
		return nil, err
	}
	if err := SameDTypes(c, 0, 2); err != nil {
		return nil, err
	}
	x, idx, upd := c.In[0], c.In[1], c.In[2]
	if idx.HasShape && upd.HasShape && !idx.Shape.Equal(upd.Shape) && idx.Shape.Known() && upd.Shape.Known() {
		return nil, c.Errorf("indices %v and updates %v differ in shape", idx.Shape, upd.Shape)
	}
	if x.HasShape {
		if idx.HasShape && len(idx.Shape) != len(x.Shape) {
			return nil, c.Errorf("data %v and indices %v differ in rank", x.Shape, idx.Shape)
		}
		if _, err := NormAxis(c.Attrs().GetInt("axis", 0), len(x.Shape)); err != nil {
			return nil, c.Errorf("%v", err)
		}
	}
	switch r := c.Attrs().GetString("reduction", "none"); r {
	case "none", "add", "mul", "max", "min":
	default:
		return nil, c.Errorf("reduction %q is not one of none, add, mul, max, min", r)
	}
	return []graph.Type{x}, nil
}

func inferTile(c *InferContext) ([]graph.Type, error) {
	x := c.In[0]
	reps, ok := ConstInts(c, 1)
	if !x.HasShape {
		return []graph.Type{x}, nil
	}
	if !ok {
		return []graph.Type{Typed(x.DType, unknownShape(len(x.Shape)))}, nil
	}
	if len(reps) != len(x.Shape) {
		return nil, c.Errorf("repeats %v has %d entries for rank %d", reps, len(reps), len(x.Shape))
	}
	out := make(graph.Shape, len(reps))
	for i, r := range reps {
		if r < 0 {
			return nil, c.Errorf("repeats %v has a negative entry", reps)
		}
		out[i] = graph.Dim{Size: -1}
		if x.Shape[i].Known() {
			out[i] = graph.Dim{Size: x.Shape[i].Size * r}
		}
	}
	return []graph.Type{Typed(x.DType, out)}, nil
}

// PadSpec returns a Pad node's per-axis (begin, end) amounts for rank: from the pads
// attribute (opset < 11) or input 1, restricted to axes (input 3, opset 18) when
// given. ok is false when an input is not constant.
func PadSpec(c *InferContext, rank int) (begin, end []int, ok bool, err error) {
	var pads, axes []int64
	if c.Attrs().Has("pads") {
		pads = c.Attrs().GetInts("pads", nil)
	} else {
		var ok1, ok2 bool
		pads, ok1 = ConstInts(c, 1)
		axes, ok2 = ConstInts(c, 3)
		if !ok1 || !ok2 {
			return nil, nil, false, nil
		}
	}
	begin, end, err = PadAmounts(pads, axes, rank)
	return begin, end, true, err
}

// PadAmounts spreads pads ([begin..., end...] for axes, or for every axis when axes
// is nil) over rank axes.
func PadAmounts(pads, axes []int64, rank int) (begin, end []int, err error) {
	na := make([]int, rank)
	for i := range na {
		na[i] = i
	}
	if axes != nil {
		if na, err = NormAxes(axes, rank); err != nil {
			return nil, nil, err
		}
	}
	if len(pads) != 2*len(na) {
		return nil, nil, fmt.Errorf("pads %v has %d values, expected %d", pads, len(pads), 2*len(na))
	}
	begin, end = make([]int, rank), make([]int, rank)
	for i, a := range na {
		begin[a], end[a] = int(pads[i]), int(pads[i+len(na)])
	}
	return begin, end, nil
}

func inferPad(c *InferContext) ([]graph.Type, error) {
	x := c.In[0]
	switch m := c.Attrs().GetString("mode", "constant"); m {
	case "constant", "reflect", "edge", "wrap":
	default:
		return nil, c.Errorf("mode %q is not one of constant, reflect, edge, wrap", m)
	}
	if !x.HasShape {
		return []graph.Type{x}, nil
	}
	begin, end, ok, err := PadSpec(c, len(x.Shape))
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	if !ok {
		return []graph.Type{Typed(x.DType, unknownShape(len(x.Shape)))}, nil
	}
	out := make(graph.Shape, len(x.Shape))
	for i, d := range x.Shape {
		out[i] = graph.Dim{Size: -1}
		if begin[i]+end[i] == 0 {
			out[i] = d
		}
		if d.Known() {
			n := d.Size + int64(begin[i]+end[i])
			if n < 0 {
				return nil, c.Errorf("pads %v+%v remove more than axis %d's %d elements", begin[i], end[i], i, d.Size)
			}
			out[i] = graph.Dim{Size: n}
		}
	}
	return []graph.Type{Typed(x.DType, out)}, nil
}

func inferTrilu(c *InferContext) ([]graph.Type, error) {
	x := c.In[0]
	if x.HasShape && len(x.Shape) < 2 {
		return nil, c.Errorf("input has shape %v; expected at least 2 dimensions", x.Shape)
	}
	return []graph.Type{x}, nil
}

func inferCumSum(c *InferContext) ([]graph.Type, error) {
	if err := checkKind(c, 0, kindNumeric); err != nil {
		return nil, err
	}
	x := c.In[0]
	if ax, ok := ConstInts(c, 1); ok && x.HasShape && len(ax) == 1 {
		if _, err := NormAxis(ax[0], len(x.Shape)); err != nil {
			return nil, c.Errorf("%v", err)
		}
	}
	return []graph.Type{x}, nil
}

// TopKCount returns K from TopK's attribute k (opset < 10) or input 1.
func TopKCount(c *InferContext) (k int64, ok bool) {
	if c.Attrs().Has("k") {
		return c.Attrs().GetInt("k", 0), true
	}
	v, ok := ConstInts(c, 1)
	if !ok || len(v) != 1 {
		return 0, false
	}
	return v[0], true
}

func inferTopK(c *InferContext) ([]graph.Type, error) {
	if err := checkKind(c, 0, kindNumeric); err != nil {
		return nil, err
	}
	x := c.In[0]
	if !x.HasShape {
		return []graph.Type{Unranked(x.DType), Unranked(tensor.Int64)}, nil
	}
	axis, err := NormAxis(c.Attrs().GetInt("axis", -1), len(x.Shape))
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	out := append(graph.Shape{}, x.Shape...)
	k, ok := TopKCount(c)
	if ok {
		if k < 0 || (x.Shape[axis].Known() && k > x.Shape[axis].Size) {
			return nil, c.Errorf("k = %d is outside [0, %v] (axis %d of %v)", k, x.Shape[axis], axis, x.Shape)
		}
		out[axis] = graph.Dim{Size: k}
	} else {
		out[axis] = graph.Dim{Size: -1}
	}
	return []graph.Type{Typed(x.DType, out), Typed(tensor.Int64, out)}, nil
}

func inferNonZero(c *InferContext) ([]graph.Type, error) {
	x := c.In[0]
	rank := graph.Dim{Size: -1}
	if x.HasShape {
		rank = graph.Dim{Size: int64(len(x.Shape))}
	}
	count := graph.Dim{Size: -1}
	if t := c.Const(0); t != nil {
		n := 0
		for i := 0; i < t.Len(); i++ {
			if t.Float64At(i) != 0 {
				n++
			}
		}
		count = graph.Dim{Size: int64(n)}
		rank = graph.Dim{Size: int64(t.Rank())}
	}
	return []graph.Type{Typed(tensor.Int64, graph.Shape{rank, count})}, nil
}
