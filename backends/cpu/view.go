package cpu

import (
	"math"
	"unsafe"

	"github.com/lightiam/lightos/engine/tensor"
)

// number is every element type with Go arithmetic.
type number interface {
	~float32 | ~float64 | ~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

// integer is every Go integer element type.
type integer interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

// float is the two Go floating-point types.
type float interface{ ~float32 | ~float64 }

// word is an unsigned type of each element size, for kernels that only move elements.
type word interface {
	~uint8 | ~uint16 | ~uint32 | ~uint64
}

// raw views a tensor's bytes as []T without checking its dtype (the caller picked T
// from the dtype, or wants the bits of elements of T's size).
func raw[T any](t *tensor.Tensor) []T {
	b := t.Bytes()
	if len(b) == 0 {
		return nil
	}
	var z T
	return unsafe.Slice((*T)(unsafe.Pointer(&b[0])), len(b)/int(unsafe.Sizeof(z)))
}

// isHalf reports whether dt is stored as 16-bit floats computed through float32.
func isHalf(dt tensor.DType) bool { return dt == tensor.Float16 || dt == tensor.BFloat16 }

// widen returns a float32 copy of a float16 or bfloat16 tensor.
func widen(t *tensor.Tensor) *tensor.Tensor {
	w := tensor.New(tensor.Float32, t.Shape())
	dst, src := w.Float32s(), t.Halfs()
	if t.DType() == tensor.BFloat16 {
		for i, h := range src {
			dst[i] = math.Float32frombits(uint32(h) << 16)
		}
	} else {
		halfToFloat(dst, src)
	}
	return w
}

// narrowInto rounds float32 values into the float16 or bfloat16 tensor dst.
func narrowInto(dst *tensor.Tensor, src []float32) {
	out := dst.Halfs()
	if dst.DType() == tensor.BFloat16 {
		for i, f := range src {
			out[i] = tensor.Float32ToBFloat16(f)
		}
	} else {
		floatToHalf(out, src)
	}
}

// widenAll replaces half-precision tensors in ts by float32 copies.
func widenAll(ts []*tensor.Tensor) []*tensor.Tensor {
	out := make([]*tensor.Tensor, len(ts))
	for i, t := range ts {
		if t != nil && isHalf(t.DType()) {
			out[i] = widen(t)
		} else {
			out[i] = t
		}
	}
	return out
}

// asHalfRun wraps a float32 kernel body so that it runs on half-precision tensors:
// half inputs are widened, half outputs computed in float32 and rounded back.
func asHalfRun(run func(in, out []*tensor.Tensor) error) func(in, out []*tensor.Tensor) error {
	return func(in, out []*tensor.Tensor) error {
		win := widenAll(in)
		wout := make([]*tensor.Tensor, len(out))
		for i, t := range out {
			if t != nil && isHalf(t.DType()) {
				wout[i] = tensor.New(tensor.Float32, t.Shape())
			} else {
				wout[i] = t
			}
		}
		if err := run(win, wout); err != nil {
			return err
		}
		for i, t := range out {
			if t != nil && wout[i] != t {
				narrowInto(t, wout[i].Float32s())
			}
		}
		return nil
	}
}

// toFloat64s converts any numeric or bool tensor to a new []float64.
func toFloat64s(t *tensor.Tensor) []float64 {
	out := make([]float64, t.Len())
	switch t.DType() {
	case tensor.Float32:
		convert(out, raw[float32](t))
	case tensor.Float64:
		copy(out, raw[float64](t))
	case tensor.Int8:
		convert(out, raw[int8](t))
	case tensor.Int16:
		convert(out, raw[int16](t))
	case tensor.Int32:
		convert(out, raw[int32](t))
	case tensor.Int64:
		convert(out, raw[int64](t))
	case tensor.Uint8, tensor.Bool:
		convert(out, raw[uint8](t))
	case tensor.Uint16:
		convert(out, raw[uint16](t))
	case tensor.Uint32:
		convert(out, raw[uint32](t))
	case tensor.Uint64:
		convert(out, raw[uint64](t))
	case tensor.Float16, tensor.BFloat16:
		convert(out, widen(t).Float32s())
	}
	return out
}

// fromFloat64s stores values into t, converting to its dtype.
func fromFloat64s(t *tensor.Tensor, v []float64) {
	switch t.DType() {
	case tensor.Float32:
		convert(raw[float32](t), v)
	case tensor.Float64:
		copy(raw[float64](t), v)
	case tensor.Int8:
		convertInt(raw[int8](t), v)
	case tensor.Int16:
		convertInt(raw[int16](t), v)
	case tensor.Int32:
		convertInt(raw[int32](t), v)
	case tensor.Int64:
		convertInt(raw[int64](t), v)
	case tensor.Uint8:
		convertInt(raw[uint8](t), v)
	case tensor.Uint16:
		convertInt(raw[uint16](t), v)
	case tensor.Uint32:
		convertInt(raw[uint32](t), v)
	case tensor.Uint64:
		convertInt(raw[uint64](t), v)
	case tensor.Bool:
		b := raw[uint8](t)
		for i, x := range v {
			b[i] = 0
			if x != 0 {
				b[i] = 1
			}
		}
	case tensor.Float16, tensor.BFloat16:
		f := make([]float32, len(v))
		convert(f, v)
		narrowInto(t, f)
	}
}

// convert copies src into dst with Go's numeric conversion.
func convert[D, S number](dst []D, src []S) {
	dst = dst[:len(src)]
	for i, x := range src {
		dst[i] = D(x)
	}
}

// convertInt converts floats to an integer type, NaN to 0 and out-of-range values
// saturated, so that the result never depends on the platform.
func convertInt[D integer](dst []D, src []float64) {
	lo, hi := intRange[D]()
	for i, x := range src {
		switch {
		case x != x:
			dst[i] = 0
		case x <= lo:
			dst[i] = D(lo)
		case x >= hi:
			dst[i] = maxOf[D]()
		default:
			dst[i] = D(x)
		}
	}
}

// intRange returns the smallest value of D and 2^bits (or 2^(bits-1)) as float64.
func intRange[D integer]() (lo, hi float64) {
	var z D
	bits := int(unsafe.Sizeof(z)) * 8
	if D(0)-1 > 0 { // unsigned
		return 0, math.Ldexp(1, bits)
	}
	return -math.Ldexp(1, bits-1), math.Ldexp(1, bits-1)
}

func maxOf[D integer]() D {
	var z D
	bits := uint(unsafe.Sizeof(z)) * 8
	if D(0)-1 > 0 {
		return ^D(0)
	}
	return D(uint64(1)<<(bits-1) - 1)
}

// asFloat64Tensor returns t converted to a new float64 tensor of the same shape.
func asFloat64Tensor(t *tensor.Tensor) *tensor.Tensor {
	out := tensor.New(tensor.Float64, t.Shape())
	copy(out.Float64s(), toFloat64s(t))
	return out
}
