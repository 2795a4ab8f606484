package tensor

import "fmt"

// DType is the element type of a tensor. The numbering follows ONNX's
// TensorProto.DataType so that loaders can convert with a plain cast.
type DType int32

// The element types the engine knows. String tensors are not supported.
const (
	Invalid  DType = 0
	Float32  DType = 1
	Uint8    DType = 2
	Int8     DType = 3
	Uint16   DType = 4
	Int16    DType = 5
	Int32    DType = 6
	Int64    DType = 7
	Bool     DType = 9
	Float16  DType = 10
	Float64  DType = 11
	Uint32   DType = 12
	Uint64   DType = 13
	BFloat16 DType = 16
)

var dtypeInfo = map[DType]struct {
	name string
	size int
}{
	Float32: {"float32", 4}, Uint8: {"uint8", 1}, Int8: {"int8", 1}, Uint16: {"uint16", 2},
	Int16: {"int16", 2}, Int32: {"int32", 4}, Int64: {"int64", 8}, Bool: {"bool", 1},
	Float16: {"float16", 2}, Float64: {"float64", 8}, Uint32: {"uint32", 4},
	Uint64: {"uint64", 8}, BFloat16: {"bfloat16", 2},
}

// Size is the number of bytes one element occupies, or 0 for an unknown type.
func (d DType) Size() int { return dtypeInfo[d].size }

// Valid reports whether d is one of the element types the engine knows.
func (d DType) Valid() bool { _, ok := dtypeInfo[d]; return ok }

// String is the NumPy-style name of the type ("float32", "int64", ...).
func (d DType) String() string {
	if info, ok := dtypeInfo[d]; ok {
		return info.name
	}
	return fmt.Sprintf("dtype(%d)", int32(d))
}

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool {
	return d == Float32 || d == Float64 || d == Float16 || d == BFloat16
}

// IsInteger reports whether d is a signed or unsigned integer type (not bool).
func (d DType) IsInteger() bool {
	switch d {
	case Uint8, Int8, Uint16, Int16, Int32, Int64, Uint32, Uint64:
		return true
	}
	return false
}

// ParseDType returns the type named by s ("float32", "int64", "bool", ...).
func ParseDType(s string) (DType, error) {
	for d, info := range dtypeInfo {
		if info.name == s {
			return d, nil
		}
	}
	switch s {
	case "float", "f32":
		return Float32, nil
	case "double", "f64":
		return Float64, nil
	case "half", "f16":
		return Float16, nil
	case "bf16":
		return BFloat16, nil
	}
	return Invalid, fmt.Errorf("tensor: unknown dtype %q", s)
}
