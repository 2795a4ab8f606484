package server

import (
	"math"
	"unsafe"

	"google.golang.org/grpc/codes"

	"github.com/lightiam/lightos/engine/tensor"
)

// tensorFromRaw makes a tensor over raw little-endian bytes, without copying when the
// bytes are suitably aligned.
func tensorFromRaw(name, datatype string, shape []int64, raw []byte) (*tensor.Tensor, error) {
	dt, err := DTypeOf(datatype)
	if err != nil {
		return nil, errorf(codes.InvalidArgument, "input %q: %v", name, err)
	}
	dims, err := intShape(name, shape)
	if err != nil {
		return nil, err
	}
	want := tensor.NumElements(dims) * dt.Size()
	if len(raw) != want {
		return nil, errorf(codes.InvalidArgument, "input %q: %s%v needs %d bytes, got %d", name, datatype, shape, want, len(raw))
	}
	if len(raw) > 0 && uintptr(unsafe.Pointer(&raw[0]))%uintptr(dt.Size()) != 0 {
		raw = append([]byte(nil), raw...) // unaligned: one copy
		t := tensor.New(dt, dims)
		copy(t.Bytes(), raw)
		return t, nil
	}
	return tensor.FromBytes(dt, dims, raw)
}

func intShape(name string, shape []int64) ([]int, error) {
	dims := make([]int, len(shape))
	n := int64(1)
	for i, d := range shape {
		if d < 0 || (d > 0 && n > math.MaxInt32*int64(64)/d) {
			return nil, errorf(codes.InvalidArgument, "input %q: bad shape %v", name, shape)
		}
		n *= d
		dims[i] = int(d)
	}
	return dims, nil
}

// typedValues is the protocol's typed contents, flattened for conversion.
type typedValues struct {
	bools   []bool
	ints    []int32
	int64s  []int64
	uints   []uint32
	uint64s []uint64
	fp32    []float32
	fp64    []float64
}

// tensorFromTyped builds a tensor from typed contents, checking the count.
func tensorFromTyped(name, datatype string, shape []int64, v typedValues) (*tensor.Tensor, error) {
	dt, err := DTypeOf(datatype)
	if err != nil {
		return nil, errorf(codes.InvalidArgument, "input %q: %v", name, err)
	}
	dims, err := intShape(name, shape)
	if err != nil {
		return nil, err
	}
	n := tensor.NumElements(dims)
	t := tensor.New(dt, dims)
	var count int
	var at func(i int) float64
	switch dt {
	case tensor.Bool:
		count, at = len(v.bools), func(i int) float64 { return b2f(v.bools[i]) }
	case tensor.Int8, tensor.Int16, tensor.Int32:
		count, at = len(v.ints), func(i int) float64 { return float64(v.ints[i]) }
	case tensor.Int64:
		count = len(v.int64s)
		if count == n {
			copy(t.Int64s(), v.int64s)
			return t, nil
		}
	case tensor.Uint8, tensor.Uint16, tensor.Uint32:
		count, at = len(v.uints), func(i int) float64 { return float64(v.uints[i]) }
	case tensor.Uint64:
		count, at = len(v.uint64s), func(i int) float64 { return float64(v.uint64s[i]) }
	case tensor.Float32:
		count = len(v.fp32)
		if count == n {
			copy(t.Float32s(), v.fp32)
			return t, nil
		}
	case tensor.Float64:
		count, at = len(v.fp64), func(i int) float64 { return v.fp64[i] }
	default:
		return nil, errorf(codes.InvalidArgument, "input %q: datatype %s needs raw contents", name, datatype)
	}
	if count != n {
		return nil, errorf(codes.InvalidArgument, "input %q: %s%v needs %d values, got %d", name, datatype, shape, n, count)
	}
	for i := 0; i < n; i++ {
		t.SetFloat64At(i, at(i))
	}
	return t, nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// shape64 converts a tensor shape for the protocol.
func shape64(t *tensor.Tensor) []int64 {
	out := make([]int64, t.Rank())
	for i, d := range t.Shape() {
		out[i] = int64(d)
	}
	return out
}
