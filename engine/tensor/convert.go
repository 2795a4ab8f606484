package tensor

import "fmt"

// FromFloat32 makes a float32 tensor holding a copy of values.
func FromFloat32(shape []int, values []float32) (*Tensor, error) {
	if NumElements(shape) != len(values) {
		return nil, fmt.Errorf("tensor: shape %v needs %d values, got %d", shape, NumElements(shape), len(values))
	}
	t := New(Float32, shape)
	copy(t.Float32s(), values)
	return t, nil
}

// FromInt64 makes an int64 tensor holding a copy of values.
func FromInt64(shape []int, values []int64) (*Tensor, error) {
	if NumElements(shape) != len(values) {
		return nil, fmt.Errorf("tensor: shape %v needs %d values, got %d", shape, NumElements(shape), len(values))
	}
	t := New(Int64, shape)
	copy(t.Int64s(), values)
	return t, nil
}

// ScalarInt64 makes a rank-0 int64 tensor.
func ScalarInt64(v int64) *Tensor {
	t := New(Int64, nil)
	t.Int64s()[0] = v
	return t
}

// Float64At returns element i converted to float64, for any dtype. It is meant for
// tests, printing and small shape computations, not for kernels.
func (t *Tensor) Float64At(i int) float64 {
	switch t.dtype {
	case Float32:
		return float64(t.Float32s()[i])
	case Float64:
		return t.Float64s()[i]
	case Float16:
		return float64(Float16ToFloat32(t.Halfs()[i]))
	case BFloat16:
		return float64(BFloat16ToFloat32(t.Halfs()[i]))
	case Int8:
		return float64(t.Int8s()[i])
	case Uint8:
		return float64(t.Uint8s()[i])
	case Int16:
		return float64(t.Int16s()[i])
	case Uint16:
		return float64(t.Uint16s()[i])
	case Int32:
		return float64(t.Int32s()[i])
	case Uint32:
		return float64(t.Uint32s()[i])
	case Int64:
		return float64(t.Int64s()[i])
	case Uint64:
		return float64(t.Uint64s()[i])
	case Bool:
		if t.Bools()[i] {
			return 1
		}
		return 0
	}
	panic(fmt.Sprintf("tensor: Float64At on %v", t.dtype))
}

// Int64At returns element i converted to int64 for integer and bool tensors (and
// truncates floats). It is meant for shape computations.
func (t *Tensor) Int64At(i int) int64 {
	switch t.dtype {
	case Int64:
		return t.Int64s()[i]
	case Int32:
		return int64(t.Int32s()[i])
	case Uint64:
		return int64(t.Uint64s()[i])
	}
	return int64(t.Float64At(i))
}

// AsInt64s returns the elements of an integer tensor as a new []int64.
func (t *Tensor) AsInt64s() []int64 {
	out := make([]int64, t.Len())
	for i := range out {
		out[i] = t.Int64At(i)
	}
	return out
}

// AsFloat64s returns the elements converted to a new []float64.
func (t *Tensor) AsFloat64s() []float64 {
	out := make([]float64, t.Len())
	for i := range out {
		out[i] = t.Float64At(i)
	}
	return out
}

// SetFloat64At stores v (converted to the tensor's dtype) at element i.
func (t *Tensor) SetFloat64At(i int, v float64) {
	switch t.dtype {
	case Float32:
		t.Float32s()[i] = float32(v)
	case Float64:
		t.Float64s()[i] = v
	case Float16:
		t.Halfs()[i] = Float32ToFloat16(float32(v))
	case BFloat16:
		t.Halfs()[i] = Float32ToBFloat16(float32(v))
	case Int8:
		t.Int8s()[i] = int8(v)
	case Uint8:
		t.Uint8s()[i] = uint8(v)
	case Int16:
		t.Int16s()[i] = int16(v)
	case Uint16:
		t.Uint16s()[i] = uint16(v)
	case Int32:
		t.Int32s()[i] = int32(v)
	case Uint32:
		t.Uint32s()[i] = uint32(v)
	case Int64:
		t.Int64s()[i] = int64(v)
	case Uint64:
		t.Uint64s()[i] = uint64(v)
	case Bool:
		t.Bools()[i] = v != 0
	default:
		panic(fmt.Sprintf("tensor: SetFloat64At on %v", t.dtype))
	}
}
