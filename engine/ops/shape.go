package ops

import (
	"fmt"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

func init() {
	register(Schema{Name: "Reshape", Doc: "reshape to the shape input (0 copies a dimension unless allowzero, -1 is inferred)",
		Inputs: Arity{2, 2}, Outputs: Arity{1, 1}, Infer: inferReshape})
	register(Schema{Name: "Flatten", Doc: "reshape to 2-D at axis", Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: inferFlatten})
	register(Schema{Name: "Squeeze", Doc: "remove size-1 axes (axes attribute before opset 13, input after; all size-1 axes by default)",
		Inputs: Arity{1, 2}, Outputs: Arity{1, 1}, Infer: inferSqueeze})
	register(Schema{Name: "Unsqueeze", Doc: "insert size-1 axes (axes attribute before opset 13, input after)",
		Inputs: Arity{1, 2}, Outputs: Arity{1, 1}, Infer: inferUnsqueeze})
	register(Schema{Name: "Shape", Doc: "the input's shape as int64 (start, end)", Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: inferShape})
	register(Schema{Name: "Size", Doc: "the input's element count as an int64 scalar", Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: inferSize})
	register(Schema{Name: "Expand", Doc: "broadcast to a shape (bidirectional)", Inputs: Arity{2, 2}, Outputs: Arity{1, 1}, Infer: inferExpand})
	register(Schema{Name: "ConstantOfShape", Doc: "a tensor of the given shape filled with value (default float32 0)",
		Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: inferConstantOfShape})
	register(Schema{Name: "Constant", Doc: "a constant from value, value_float(s) or value_int(s)",
		Inputs: Arity{0, 0}, Outputs: Arity{1, 1}, Infer: inferConstant})
	register(Schema{Name: "Range", Doc: "start, start+delta, ... up to limit (exclusive)", Inputs: Arity{3, 3}, Outputs: Arity{1, 1}, Infer: inferRange})
	register(Schema{Name: "Cast", Doc: "convert to the dtype of attribute to", Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: inferCast})
	register(Schema{Name: "CastLike", Doc: "convert to the dtype of the second input", Inputs: Arity{2, 2}, Outputs: Arity{1, 1}, Infer: inferCastLike})
	register(Schema{Name: "Dropout", Doc: "inference (or ratio 0): identity, with an all-true mask as optional second output",
		Inputs: Arity{1, 3}, Outputs: Arity{1, 2}, Infer: inferDropout})
}

// ConstInts returns the values of constant input i as int64s, or ok=false when the
// input is not a known constant. An omitted input gives nil, true.
func ConstInts(c *InferContext, i int) (v []int64, ok bool) {
	if !c.Has(i) {
		return nil, true
	}
	t := c.Const(i)
	if t == nil {
		return nil, false
	}
	return t.AsInt64s(), true
}

// AxesOf returns the axes of a node that takes them as an attribute (older opsets) or
// as input i (newer ones): the attribute when present, else the constant input. ok is
// false when the input is present but not constant; nil axes mean "not given".
func AxesOf(c *InferContext, i int) (axes []int64, ok bool) {
	if c.Attrs().Has("axes") {
		return c.Attrs().GetInts("axes", nil), true
	}
	return ConstInts(c, i)
}

// NormAxes turns possibly negative axes into [0, rank), failing on duplicates or
// values out of range.
func NormAxes(axes []int64, rank int) ([]int, error) {
	out := make([]int, len(axes))
	seen := map[int]bool{}
	for i, a := range axes {
		n, err := NormAxis(a, rank)
		if err != nil {
			return nil, err
		}
		if seen[n] {
			return nil, fmt.Errorf("axis %d appears twice in %v", a, axes)
		}
		seen[n] = true
		out[i] = n
	}
	return out, nil
}

// unknownShape is a shape of the given rank with every dimension unknown.
func unknownShape(rank int) graph.Shape {
	s := make(graph.Shape, rank)
	for i := range s {
		s[i] = graph.Dim{Size: -1}
	}
	return s
}

// ReshapeDims resolves a Reshape shape spec against the input shape (sizes may be
// unknown, -1 in in). 0 copies the input dimension at that position unless allowzero;
// one -1 takes the remaining size.
func ReshapeDims(in graph.Shape, spec []int64, allowzero bool) (graph.Shape, error) {
	out := make(graph.Shape, len(spec))
	infer := -1
	known := int64(1)
	allKnown := true
	for i, s := range spec {
		switch {
		case s == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("shape %v has more than one -1", spec)
			}
			infer = i
			continue
		case s == 0 && !allowzero:
			if i >= len(in) {
				return nil, fmt.Errorf("shape %v copies dimension %d, but the input %v has rank %d", spec, i, in, len(in))
			}
			out[i] = in[i]
		case s < 0:
			return nil, fmt.Errorf("shape %v has a negative dimension %d", spec, s)
		default:
			out[i] = graph.Dim{Size: s}
		}
		if out[i].Known() {
			known *= out[i].Size
		} else {
			allKnown = false
		}
	}
	if allowzero && infer >= 0 {
		for _, s := range spec {
			if s == 0 {
				return nil, fmt.Errorf("shape %v has both 0 and -1 with allowzero set", spec)
			}
		}
	}
	total, inKnown := int64(1), in.Known()
	for _, d := range in {
		total *= d.Size
	}
	if infer >= 0 {
		out[infer] = graph.Dim{Size: -1}
		if inKnown && allKnown {
			if known == 0 || total%known != 0 {
				return nil, fmt.Errorf("cannot reshape %v (%d elements) to %v", in, total, spec)
			}
			out[infer] = graph.Dim{Size: total / known}
		}
		return out, nil
	}
	if inKnown && allKnown && total != known {
		return nil, fmt.Errorf("cannot reshape %v (%d elements) to %v (%d elements)", in, total, spec, known)
	}
	return out, nil
}

func inferReshape(c *InferContext) ([]graph.Type, error) {
	x := c.In[0]
	if !c.In[1].DType.IsInteger() {
		return nil, c.Errorf("shape input is %v; expected int64", c.In[1].DType)
	}
	spec, ok := ConstInts(c, 1)
	if !ok || !x.HasShape {
		s := c.In[1]
		if ok && spec != nil {
			return []graph.Type{Typed(x.DType, unknownShape(len(spec)))}, nil
		}
		if s.HasShape && len(s.Shape) == 1 && s.Shape[0].Known() {
			return []graph.Type{Typed(x.DType, unknownShape(int(s.Shape[0].Size)))}, nil
		}
		return []graph.Type{Unranked(x.DType)}, nil
	}
	out, err := ReshapeDims(x.Shape, spec, c.Attrs().GetInt("allowzero", 0) != 0)
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	return []graph.Type{Typed(x.DType, out)}, nil
}

// product multiplies dimensions: unknown if any is unknown, except that one
// symbolic dimension times ones stays that symbol.
func product(s graph.Shape) graph.Dim {
	p := int64(1)
	var sym *graph.Dim
	for i, d := range s {
		if !d.Known() {
			if sym != nil {
				return graph.Dim{Size: -1}
			}
			sym = &s[i]
			continue
		}
		p *= d.Size
	}
	if sym != nil {
		if p == 1 {
			return *sym
		}
		return graph.Dim{Size: -1}
	}
	return graph.Dim{Size: p}
}

func inferFlatten(c *InferContext) ([]graph.Type, error) {
	x := c.In[0]
	if !x.HasShape {
		return []graph.Type{Typed(x.DType, unknownShape(2))}, nil
	}
	r := len(x.Shape)
	axis := c.Attrs().GetInt("axis", 1)
	if axis < 0 {
		axis += int64(r)
	}
	if axis < 0 || axis > int64(r) {
		return nil, c.Errorf("axis %d is out of range for rank %d", c.Attrs().GetInt("axis", 1), r)
	}
	return []graph.Type{Typed(x.DType, graph.Shape{product(x.Shape[:axis]), product(x.Shape[axis:])})}, nil
}

func inferSqueeze(c *InferContext) ([]graph.Type, error) {
	x := c.In[0]
	axes, ok := AxesOf(c, 1)
	if !ok || !x.HasShape {
		return []graph.Type{Unranked(x.DType)}, nil
	}
	r := len(x.Shape)
	drop := map[int]bool{}
	if axes == nil {
		for i, d := range x.Shape {
			if !d.Known() {
				return []graph.Type{Unranked(x.DType)}, nil
			}
			if d.Size == 1 {
				drop[i] = true
			}
		}
	} else {
		na, err := NormAxes(axes, r)
		if err != nil {
			return nil, c.Errorf("%v", err)
		}
		for _, a := range na {
			if d := x.Shape[a]; d.Known() && d.Size != 1 {
				return nil, c.Errorf("cannot squeeze axis %d of shape %v: its size is %d", a, x.Shape, d.Size)
			}
			drop[a] = true
		}
	}
	out := graph.Shape{}
	for i, d := range x.Shape {
		if !drop[i] {
			out = append(out, d)
		}
	}
	return []graph.Type{Typed(x.DType, out)}, nil
}

func inferUnsqueeze(c *InferContext) ([]graph.Type, error) {
	x := c.In[0]
	axes, ok := AxesOf(c, 1)
	if !ok || !x.HasShape {
		return []graph.Type{Unranked(x.DType)}, nil
	}
	if axes == nil {
		return nil, c.Errorf("axes are required")
	}
	out, err := UnsqueezeShape(x.Shape, axes)
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	return []graph.Type{Typed(x.DType, out)}, nil
}

// UnsqueezeShape inserts size-1 dimensions at axes (counted in the output's rank).
func UnsqueezeShape(in graph.Shape, axes []int64) (graph.Shape, error) {
	r := len(in) + len(axes)
	na, err := NormAxes(axes, r)
	if err != nil {
		return nil, err
	}
	ins := map[int]bool{}
	for _, a := range na {
		ins[a] = true
	}
	out := make(graph.Shape, 0, r)
	j := 0
	for i := 0; i < r; i++ {
		if ins[i] {
			out = append(out, graph.Dim{Size: 1})
		} else {
			out = append(out, in[j])
			j++
		}
	}
	return out, nil
}

// ShapeRange resolves Shape's start and end attributes for a rank.
func ShapeRange(a graph.Attrs, rank int) (start, end int) {
	clamp := func(v int64) int {
		if v < 0 {
			v += int64(rank)
		}
		return int(max(0, min(v, int64(rank))))
	}
	start = clamp(a.GetInt("start", 0))
	end = clamp(a.GetInt("end", int64(rank)))
	return start, max(start, end)
}

func inferShape(c *InferContext) ([]graph.Type, error) {
	x := c.In[0]
	if !x.HasShape {
		return []graph.Type{Typed(tensor.Int64, unknownShape(1))}, nil
	}
	s, e := ShapeRange(c.Attrs(), len(x.Shape))
	return []graph.Type{Typed(tensor.Int64, graph.ShapeOf(e-s))}, nil
}

func inferSize(c *InferContext) ([]graph.Type, error) {
	return []graph.Type{Typed(tensor.Int64, graph.Shape{})}, nil
}

func inferExpand(c *InferContext) ([]graph.Type, error) {
	x := c.In[0]
	spec, ok := ConstInts(c, 1)
	if !ok || !x.HasShape {
		s := c.In[1]
		if x.HasShape && s.HasShape && len(s.Shape) == 1 && s.Shape[0].Known() {
			return []graph.Type{Typed(x.DType, unknownShape(max(len(x.Shape), int(s.Shape[0].Size))))}, nil
		}
		return []graph.Type{Unranked(x.DType)}, nil
	}
	target := make(graph.Shape, len(spec))
	for i, v := range spec {
		if v < 0 {
			return nil, c.Errorf("shape %v has a negative dimension", spec)
		}
		target[i] = graph.Dim{Size: v}
	}
	out, err := BroadcastShapes(x.Shape, target)
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	return []graph.Type{Typed(x.DType, out)}, nil
}

// ShapeFromConst reads a shape from a constant int64 tensor, rejecting negative sizes.
func ShapeFromConst(spec []int64) (graph.Shape, error) {
	s := make(graph.Shape, len(spec))
	for i, v := range spec {
		if v < 0 {
			return nil, fmt.Errorf("shape %v has a negative dimension", spec)
		}
		s[i] = graph.Dim{Size: v}
	}
	return s, nil
}

func inferConstantOfShape(c *InferContext) ([]graph.Type, error) {
	dt := tensor.Float32
	if v, ok := c.Attrs()["value"]; ok {
		if v.Kind != graph.AttrTensor || v.Tensor == nil || v.Tensor.Len() != 1 {
			return nil, c.Errorf("attribute value must be a one-element tensor")
		}
		dt = v.Tensor.DType()
	}
	spec, ok := ConstInts(c, 0)
	if !ok {
		s := c.In[0]
		if s.HasShape && len(s.Shape) == 1 && s.Shape[0].Known() {
			return []graph.Type{Typed(dt, unknownShape(int(s.Shape[0].Size)))}, nil
		}
		return []graph.Type{Unranked(dt)}, nil
	}
	s, err := ShapeFromConst(spec)
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	return []graph.Type{Typed(dt, s)}, nil
}

// ConstantValue returns the tensor a Constant node produces.
func ConstantValue(a graph.Attrs) (*tensor.Tensor, error) {
	if v, ok := a["value"]; ok {
		if v.Kind != graph.AttrTensor || v.Tensor == nil {
			return nil, fmt.Errorf("attribute value is not a tensor")
		}
		return v.Tensor, nil
	}
	if v, ok := a["value_float"]; ok {
		t := tensor.New(tensor.Float32, nil)
		t.Float32s()[0] = v.Float
		return t, nil
	}
	if v, ok := a["value_floats"]; ok {
		return tensor.FromFloat32([]int{len(v.Floats)}, v.Floats)
	}
	if v, ok := a["value_int"]; ok {
		return tensor.ScalarInt64(v.Int), nil
	}
	if v, ok := a["value_ints"]; ok {
		return tensor.FromInt64([]int{len(v.Ints)}, v.Ints)
	}
	return nil, fmt.Errorf("no supported value attribute (value, value_float(s), value_int(s))")
}

func inferConstant(c *InferContext) ([]graph.Type, error) {
	t, err := ConstantValue(c.Attrs())
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	return []graph.Type{Typed(t.DType(), graph.ShapeOf(t.Shape()...))}, nil
}

// RangeCount is the number of elements of Range(start, limit, delta).
func RangeCount(start, limit, delta float64) (int, error) {
	if delta == 0 {
		return 0, fmt.Errorf("delta is 0")
	}
	n := (limit - start) / delta
	if n != n {
		return 0, fmt.Errorf("range(%v, %v, %v) is not defined", start, limit, delta)
	}
	if n <= 0 {
		return 0, nil
	}
	c := int64(n)
	if float64(c) < n {
		c++
	}
	if c > 1<<40 {
		return 0, fmt.Errorf("range(%v, %v, %v) is too long", start, limit, delta)
	}
	return int(c), nil
}

func inferRange(c *InferContext) ([]graph.Type, error) {
	dt := c.In[0].DType
	if err := SameDTypes(c, 0, 1, 2); err != nil {
		return nil, err
	}
	if err := checkKind(c, 0, kindNumeric); err != nil {
		return nil, err
	}
	for i := 0; i < 3; i++ {
		if t := c.In[i]; t.HasShape && len(t.Shape) > 1 {
			return nil, c.Errorf("input %d has shape %v; expected a scalar", i, t.Shape)
		}
	}
	s, l, d := c.Const(0), c.Const(1), c.Const(2)
	if s == nil || l == nil || d == nil {
		return []graph.Type{Typed(dt, unknownShape(1))}, nil
	}
	if s.Len() != 1 || l.Len() != 1 || d.Len() != 1 {
		return nil, c.Errorf("start, limit and delta must be scalars")
	}
	var n int
	var err error
	if dt.IsInteger() {
		n, err = rangeCountInt(s.Int64At(0), l.Int64At(0), d.Int64At(0))
	} else {
		n, err = RangeCount(s.Float64At(0), l.Float64At(0), d.Float64At(0))
	}
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	return []graph.Type{Typed(dt, graph.ShapeOf(n))}, nil
}

func rangeCountInt(start, limit, delta int64) (int, error) {
	if delta == 0 {
		return 0, fmt.Errorf("delta is 0")
	}
	span := limit - start
	if (span > 0) != (delta > 0) || span == 0 {
		return 0, nil
	}
	if delta < 0 {
		span, delta = -span, -delta
	}
	return int((span + delta - 1) / delta), nil
}

func inferCast(c *InferContext) ([]graph.Type, error) {
	if !c.Attrs().Has("to") {
		return nil, c.Errorf("attribute to is required")
	}
	dt := tensor.DType(c.Attrs().GetInt("to", 0))
	if !dt.Valid() {
		return nil, c.Errorf("attribute to = %d is not a supported dtype", c.Attrs().GetInt("to", 0))
	}
	if !c.In[0].DType.Valid() {
		return nil, c.Errorf("input dtype %v is not supported", c.In[0].DType)
	}
	return []graph.Type{{DType: dt, Shape: c.In[0].Shape, HasShape: c.In[0].HasShape}}, nil
}

func inferCastLike(c *InferContext) ([]graph.Type, error) {
	return []graph.Type{{DType: c.In[1].DType, Shape: c.In[0].Shape, HasShape: c.In[0].HasShape}}, nil
}

func inferDropout(c *InferContext) ([]graph.Type, error) {
	// Training mode with a non-zero ratio draws random masks; the CPU kernel refuses it
	// at run time (ratio and training_mode are often graph inputs).
	x := c.In[0]
	return []graph.Type{x, {DType: tensor.Bool, Shape: x.Shape, HasShape: x.HasShape}}, nil
}
