package graph

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/lightiam/lightos/engine/tensor"
)

// Dim is one dimension of a shape: a known size, or a symbolic name with Size -1.
type Dim struct {
	Size  int64  // the size, or -1 when unknown
	Param string // the symbolic name ("batch") when Size is -1; may be empty
}

// Known reports whether the dimension has a concrete size.
func (d Dim) Known() bool { return d.Size >= 0 }

func (d Dim) String() string {
	if d.Known() {
		return strconv.FormatInt(d.Size, 10)
	}
	if d.Param != "" {
		return d.Param
	}
	return "?"
}

// Shape is a list of dimensions. A nil Shape in a Value with HasShape false means the
// rank is unknown.
type Shape []Dim

// ShapeOf makes a fully known Shape from sizes.
func ShapeOf(sizes ...int) Shape {
	s := make(Shape, len(sizes))
	for i, v := range sizes {
		s[i] = Dim{Size: int64(v)}
	}
	return s
}

// Known reports whether every dimension has a concrete size.
func (s Shape) Known() bool {
	for _, d := range s {
		if !d.Known() {
			return false
		}
	}
	return true
}

// Ints returns the sizes as ints; unknown dimensions are -1.
func (s Shape) Ints() []int {
	out := make([]int, len(s))
	for i, d := range s {
		out[i] = int(d.Size)
	}
	return out
}

func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = d.String()
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// Equal reports whether two shapes have the same dimensions (symbolic names included).
// Permute returns s with its dimensions reordered by perm: out[i] = s[perm[i]]
// (a Transpose's output shape).
func (s Shape) Permute(perm []int) Shape {
	out := make(Shape, len(perm))
	for i, p := range perm {
		out[i] = s[p]
	}
	return out
}

func (s Shape) Equal(o Shape) bool {
	if len(s) != len(o) {
		return false
	}
	for i := range s {
		if s[i] != o[i] {
			return false
		}
	}
	return true
}

// Type is what inference knows about a value: its element type and shape.
type Type struct {
	DType    tensor.DType
	Shape    Shape
	HasShape bool // false when even the rank is unknown
}

func (t Type) String() string {
	if t.DType == tensor.Invalid && !t.HasShape {
		return "?"
	}
	if !t.HasShape {
		return t.DType.String() + "[?]"
	}
	return t.DType.String() + t.Shape.String()
}

// Value is an SSA value: written once, by its producer, or given from outside as a
// graph input or an initializer.
type Value struct {
	Name string
	Type
	// Const holds the data of an initializer or a folded constant; nil otherwise.
	Const *tensor.Tensor
	// Producer is the node that writes the value; nil for inputs and initializers.
	Producer *Node
}

// IsConst reports whether the value carries constant data.
func (v *Value) IsConst() bool { return v != nil && v.Const != nil }

func (v *Value) String() string { return fmt.Sprintf("%%%s: %v", v.Name, v.Type) }
