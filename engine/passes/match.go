package passes

import (
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// Small pattern helpers shared by the rules.

// onnxDomain reports whether d names the default ONNX domain.
func onnxDomain(d string) bool { return d == "" || d == "ai.onnx" }

// is reports whether n is an ONNX operator named one of ops.
func is(n *graph.Node, ops ...string) bool {
	if n == nil || !onnxDomain(n.Domain) {
		return false
	}
	for _, op := range ops {
		if n.Op == op {
			return true
		}
	}
	return false
}

// producedBy returns v's producer when it is one of ops, else nil.
func producedBy(v *graph.Value, ops ...string) *graph.Node {
	if v == nil || !is(v.Producer, ops...) {
		return nil
	}
	return v.Producer
}

// out0 returns n's first output.
func out0(n *graph.Node) *graph.Value {
	if n == nil || len(n.Outputs) == 0 {
		return nil
	}
	return n.Outputs[0]
}

// other returns the input of the two-input node n that is not v (nil if v is not an
// input or both inputs are v).
func other(n *graph.Node, v *graph.Value) *graph.Value {
	if len(n.Inputs) != 2 {
		return nil
	}
	switch {
	case n.Inputs[0] == v && n.Inputs[1] != v:
		return n.Inputs[1]
	case n.Inputs[1] == v && n.Inputs[0] != v:
		return n.Inputs[0]
	}
	return nil
}

// constScalar returns the single value of a numeric constant with one element.
func constScalar(v *graph.Value) (float64, bool) {
	if v == nil || v.Const == nil || v.Const.Len() != 1 {
		return 0, false
	}
	if dt := v.Const.DType(); dt.IsFloat() || dt.IsInteger() {
		return v.Const.Float64At(0), true
	}
	return 0, false
}

// shapeOf returns v's shape when every dimension is known.
func shapeOf(v *graph.Value) ([]int, bool) {
	if v == nil || !v.HasShape || !v.Shape.Known() {
		return nil, false
	}
	return v.Shape.Ints(), true
}

// sameDim reports whether two dimensions have the same size: both known and equal, or
// both unknown under the same symbolic name (a batch dimension "N" of an exported model).
func sameDim(a, b graph.Dim) bool {
	if a.Known() || b.Known() {
		return a.Known() && b.Known() && a.Size == b.Size
	}
	return a.Param != "" && a.Param == b.Param
}

// sameShape reports whether a and b have shapes of the same rank whose dimensions are
// the same by sameDim.
func sameShape(a, b *graph.Value) bool {
	if a == nil || b == nil || !a.HasShape || !b.HasShape || len(a.Shape) != len(b.Shape) {
		return false
	}
	for i := range a.Shape {
		if !sameDim(a.Shape[i], b.Shape[i]) {
			return false
		}
	}
	return true
}

// rankOf returns v's rank, or -1 when unknown.
func rankOf(v *graph.Value) int {
	if v == nil || !v.HasShape {
		return -1
	}
	return len(v.Shape)
}

// isF32 reports whether every value is float32.
func isF32(vs ...*graph.Value) bool {
	for _, v := range vs {
		if v != nil && v.DType != tensor.Float32 {
			return false
		}
	}
	return true
}

// isBiasVector reports whether v has shape [n] or [1, ..., 1, n] with rank at most
// maxRank, so adding it to a [..., n] tensor keeps that tensor's shape.
func isBiasVector(v *graph.Value, n int, maxRank int) bool {
	s, ok := shapeOf(v)
	if !ok || len(s) == 0 || len(s) > maxRank || s[len(s)-1] != n {
		return false
	}
	for _, d := range s[:len(s)-1] {
		if d != 1 {
			return false
		}
	}
	return true
}

// int64sOf reads a constant integer tensor.
func int64sOf(v *graph.Value) ([]int64, bool) {
	if v == nil || v.Const == nil {
		return nil, false
	}
	t := v.Const
	switch t.DType() {
	case tensor.Int64, tensor.Int32:
		out := make([]int64, t.Len())
		for i := range out {
			out[i] = int64(t.Float64At(i))
		}
		return out, true
	}
	return nil, false
}

// normAxes normalizes axes for rank r; ok is false when one is out of range.
func normAxes(axes []int64, r int) ([]int, bool) {
	out := make([]int, len(axes))
	for i, a := range axes {
		if a < 0 {
			a += int64(r)
		}
		if a < 0 || a >= int64(r) {
			return nil, false
		}
		out[i] = int(a)
	}
	return out, true
}

// permOf returns a Transpose node's permutation for rank r (default: reversed).
func permOf(n *graph.Node, r int) []int {
	p := n.Attrs.GetInts("perm", nil)
	out := make([]int, r)
	if p == nil {
		for i := range out {
			out[i] = r - 1 - i
		}
		return out
	}
	if len(p) != r {
		return nil
	}
	for i, v := range p {
		out[i] = int(v)
	}
	return out
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
