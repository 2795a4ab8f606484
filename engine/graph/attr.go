package graph

import (
	"fmt"
	"sort"
	"strings"

	"github.com/lightiam/lightos/engine/tensor"
)

// AttrKind tells which field of an Attr is set.
type AttrKind int

// The attribute kinds, mirroring ONNX's.
const (
	AttrInt AttrKind = iota + 1
	AttrFloat
	AttrString
	AttrInts
	AttrFloats
	AttrStrings
	AttrTensor
	AttrGraph
)

// Attr is one typed attribute of a node.
type Attr struct {
	Kind    AttrKind
	Int     int64
	Float   float32
	String  string
	Ints    []int64
	Floats  []float32
	Strings []string
	Tensor  *tensor.Tensor
	Graph   *Graph
}

// Int makes an integer attribute.
func Int(v int64) Attr { return Attr{Kind: AttrInt, Int: v} }

// Float makes a float attribute.
func Float(v float32) Attr { return Attr{Kind: AttrFloat, Float: v} }

// String makes a string attribute.
func String(v string) Attr { return Attr{Kind: AttrString, String: v} }

// Ints makes an integer-list attribute.
func Ints(v ...int64) Attr { return Attr{Kind: AttrInts, Ints: v} }

// Floats makes a float-list attribute.
func Floats(v ...float32) Attr { return Attr{Kind: AttrFloats, Floats: v} }

// Strings makes a string-list attribute.
func Strings(v ...string) Attr { return Attr{Kind: AttrStrings, Strings: v} }

// TensorAttr makes a tensor attribute.
func TensorAttr(t *tensor.Tensor) Attr { return Attr{Kind: AttrTensor, Tensor: t} }

func (a Attr) text() string {
	switch a.Kind {
	case AttrInt:
		return fmt.Sprint(a.Int)
	case AttrFloat:
		return fmt.Sprint(a.Float)
	case AttrString:
		return fmt.Sprintf("%q", a.String)
	case AttrInts:
		return fmt.Sprint(a.Ints)
	case AttrFloats:
		return fmt.Sprint(a.Floats)
	case AttrStrings:
		return fmt.Sprintf("%q", a.Strings)
	case AttrTensor:
		if a.Tensor == nil {
			return "tensor(nil)"
		}
		return "tensor(" + a.Tensor.String() + ")"
	case AttrGraph:
		if a.Graph == nil {
			return "graph(nil)"
		}
		return "graph(" + a.Graph.Name + ")"
	}
	return "?"
}

// Attrs is a node's attributes by name.
type Attrs map[string]Attr

// GetInt returns the integer attribute name, or def when it is absent.
func (a Attrs) GetInt(name string, def int64) int64 {
	if v, ok := a[name]; ok && v.Kind == AttrInt {
		return v.Int
	}
	return def
}

// GetFloat returns the float attribute name, or def when it is absent.
func (a Attrs) GetFloat(name string, def float32) float32 {
	if v, ok := a[name]; ok && v.Kind == AttrFloat {
		return v.Float
	}
	return def
}

// GetString returns the string attribute name, or def when it is absent.
func (a Attrs) GetString(name string, def string) string {
	if v, ok := a[name]; ok && v.Kind == AttrString {
		return v.String
	}
	return def
}

// GetInts returns the integer-list attribute name, or def when it is absent.
func (a Attrs) GetInts(name string, def []int64) []int64 {
	if v, ok := a[name]; ok && v.Kind == AttrInts {
		return v.Ints
	}
	return def
}

// GetFloats returns the float-list attribute name, or def when it is absent.
func (a Attrs) GetFloats(name string, def []float32) []float32 {
	if v, ok := a[name]; ok && v.Kind == AttrFloats {
		return v.Floats
	}
	return def
}

// Has reports whether the attribute is present.
func (a Attrs) Has(name string) bool { _, ok := a[name]; return ok }

// text renders the attributes sorted by name, for the stable text form.
func (a Attrs) text() string {
	if len(a) == 0 {
		return ""
	}
	names := make([]string, 0, len(a))
	for n := range a {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + a[n].text()
	}
	return " {" + strings.Join(parts, ", ") + "}"
}

// Clone returns a shallow copy of the map (attribute payloads are shared).
func (a Attrs) Clone() Attrs {
	c := make(Attrs, len(a))
	for k, v := range a {
		c[k] = v
	}
	return c
}
