package ops

import (
	"sort"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

func init() {
	xRegisterExtra(Schema{Name: "Unique", Doc: "unique elements (or slices along axis), sorted or in order of first occurrence, with indices, inverse indices and counts",
		Inputs: Arity{1, 1}, Outputs: Arity{1, 4}, Infer: xInferUnique})
	xRegisterExtra(Schema{Name: "AffineGrid", Doc: "sampling grid [N, H, W, 2] or [N, D, H, W, 3] from affine matrices theta",
		Inputs: Arity{2, 2}, Outputs: Arity{1, 1}, Infer: xInferAffineGrid})
}

// UniqueResult is what Unique computes: for each unique slice, the index of its first
// occurrence (in output order) and its count; for each input slice, its output index.
type UniqueResult struct {
	Axis    int // -1 when the input is flattened
	First   []int
	Counts  []int
	Inverse []int
}

// UniqueOf runs Unique on x for node n (attributes axis, sorted).
func UniqueOf(n *graph.Node, x *tensor.Tensor) (*UniqueResult, error) {
	s := x.Shape()
	r := &UniqueResult{Axis: -1}
	outer, dim, inner := 1, x.Len(), 1
	if n.Attrs.Has("axis") {
		a, err := NormAxis(n.Attrs.GetInt("axis", 0), len(s))
		if err != nil {
			return nil, err
		}
		r.Axis = a
		outer, dim, inner = 1, s[a], 1
		for _, d := range s[:a] {
			outer *= d
		}
		for _, d := range s[a+1:] {
			inner *= d
		}
	}
	v := x.AsFloat64s()
	slice := func(i int) []float64 {
		out := make([]float64, 0, outer*inner)
		for o := 0; o < outer; o++ {
			out = append(out, v[(o*dim+i)*inner:(o*dim+i+1)*inner]...)
		}
		return out
	}
	keys := make([][]float64, dim)
	for i := range keys {
		keys[i] = slice(i)
	}
	less := func(a, b []float64) int {
		for k := range a {
			if a[k] < b[k] {
				return -1
			}
			if a[k] > b[k] {
				return 1
			}
		}
		return 0
	}
	var uniq []int // index of first occurrence of each unique slice, in first-seen order
	owner := make([]int, dim)
	for i := 0; i < dim; i++ {
		owner[i] = -1
		for u, f := range uniq {
			if less(keys[i], keys[f]) == 0 {
				owner[i] = u
				break
			}
		}
		if owner[i] < 0 {
			owner[i] = len(uniq)
			uniq = append(uniq, i)
		}
	}
	order := make([]int, len(uniq)) // output position -> unique id
	for i := range order {
		order[i] = i
	}
	if n.Attrs.GetInt("sorted", 1) != 0 {
		sort.SliceStable(order, func(a, b int) bool { return less(keys[uniq[order[a]]], keys[uniq[order[b]]]) < 0 })
	}
	pos := make([]int, len(uniq))
	for p, u := range order {
		pos[u] = p
		r.First = append(r.First, uniq[u])
	}
	r.Counts = make([]int, len(uniq))
	r.Inverse = make([]int, dim)
	for i := 0; i < dim; i++ {
		r.Inverse[i] = pos[owner[i]]
		r.Counts[pos[owner[i]]]++
	}
	return r, nil
}

func xInferUnique(c *InferContext) ([]graph.Type, error) {
	x := c.In[0]
	unk := graph.Dim{Size: -1}
	if t := c.Const(0); t != nil {
		r, err := UniqueOf(c.Node, t)
		if err != nil {
			return nil, c.Errorf("%v", err)
		}
		k := int64(len(r.First))
		y := graph.Shape{{Size: k}}
		if r.Axis >= 0 {
			y = graph.ShapeOf(t.Shape()...)
			y[r.Axis] = graph.Dim{Size: k}
		}
		return []graph.Type{Typed(x.DType, y), Typed(tensor.Int64, graph.Shape{{Size: k}}),
			Typed(tensor.Int64, graph.Shape{{Size: int64(len(r.Inverse))}}), Typed(tensor.Int64, graph.Shape{{Size: k}})}, nil
	}
	y := Unranked(x.DType)
	if c.Attrs().Has("axis") && x.HasShape {
		y = Typed(x.DType, xResizeUnknown(len(x.Shape)))
	} else if !c.Attrs().Has("axis") {
		y = Typed(x.DType, graph.Shape{unk})
	}
	v := Typed(tensor.Int64, graph.Shape{unk})
	return []graph.Type{y, v, v, v}, nil
}

func xInferAffineGrid(c *InferContext) ([]graph.Type, error) {
	theta := c.In[0]
	size := c.Const(1)
	if size == nil {
		return []graph.Type{Unranked(theta.DType)}, nil
	}
	sz := size.AsInt64s()
	if len(sz) != 4 && len(sz) != 5 {
		return nil, c.Errorf("size %v: expected [N, C, H, W] or [N, C, D, H, W]", sz)
	}
	out := graph.Shape{{Size: sz[0]}}
	for _, d := range sz[2:] {
		out = append(out, graph.Dim{Size: d})
	}
	out = append(out, graph.Dim{Size: int64(len(sz) - 2)})
	return []graph.Type{Typed(theta.DType, out)}, nil
}
