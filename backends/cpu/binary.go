package cpu

import (
	"context"
	"fmt"
	"math"
	"unsafe"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// arith names the arithmetic operators with tight typed loops.
type arith int

const (
	aAdd arith = iota
	aSub
	aMul
	aDiv
	aDivInt // integer division with x/0 = 0 (ONNX leaves it undefined; Go would panic)
	aMax
	aMin
)

func init() {
	for name, op := range map[string]arith{"Add": aAdd, "Sub": aSub, "Mul": aMul, "Div": aDiv} {
		register("", name, arithFactory(op))
	}
	register("", "Pow", newPow)
	register("", "Mod", newMod)
	register("", "PRelu", newPRelu)
	register("", "BitShift", newBitShift)
	for _, name := range []string{"BitwiseAnd", "BitwiseOr", "BitwiseXor"} {
		register("", name, newBitwise)
	}
	for _, name := range []string{"And", "Or", "Xor"} {
		register("", name, newLogic)
	}
	for _, name := range []string{"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"} {
		register("", name, newCompare)
	}
	for _, name := range []string{"Sum", "Mean", "Max", "Min"} {
		register("", name, newVariadic)
	}
	register("", "Where", newWhere)
}

// kernelBody is the shape of most kernels here: compute outputs from inputs.
type kernelBody func(in, out []*tensor.Tensor) error

// wrap makes a backends.Kernel from a body, adding the node to its errors.
func wrap(n *graph.Node, body kernelBody) backends.Kernel {
	name, op := n.Name, n.Op
	return backends.KernelFunc(func(_ context.Context, in, out []*tensor.Tensor) error {
		if err := body(in, out); err != nil {
			return fmt.Errorf("cpu: node %q (%s): %w", name, op, err)
		}
		return nil
	})
}

// byNumeric picks the instantiation of a generic kernel body for dtype dt; half types
// run through float32. It returns nil for dtypes outside the numeric types.
func byNumeric(dt tensor.DType, f32 kernelBody, f64 kernelBody, ints func(tensor.DType) kernelBody) kernelBody {
	switch {
	case dt == tensor.Float32:
		return f32
	case dt == tensor.Float64:
		return f64
	case isHalf(dt):
		if f32 == nil {
			return nil
		}
		return asHalfRun(f32)
	case dt.IsInteger():
		if ints == nil {
			return nil
		}
		return ints(dt)
	}
	return nil
}

// intBody instantiates mk for integer dtype dt.
func intBody(dt tensor.DType, mk struct {
	i8, i16, i32, i64, u8, u16, u32, u64 kernelBody
}) kernelBody {
	switch dt {
	case tensor.Int8:
		return mk.i8
	case tensor.Int16:
		return mk.i16
	case tensor.Int32:
		return mk.i32
	case tensor.Int64:
		return mk.i64
	case tensor.Uint8:
		return mk.u8
	case tensor.Uint16:
		return mk.u16
	case tensor.Uint32:
		return mk.u32
	case tensor.Uint64:
		return mk.u64
	}
	return nil
}

func arithFactory(op arith) Factory {
	return func(n *graph.Node, env *Env) (backends.Kernel, error) {
		dt := n.Inputs[0].DType
		intOp := op
		if op == aDiv {
			intOp = aDivInt
		}
		body := byNumeric(dt, arithBody[float32](env, op), arithBody[float64](env, op), func(dt tensor.DType) kernelBody {
			return intBody(dt, struct{ i8, i16, i32, i64, u8, u16, u32, u64 kernelBody }{
				arithBody[int8](env, intOp), arithBody[int16](env, intOp), arithBody[int32](env, intOp), arithBody[int64](env, intOp),
				arithBody[uint8](env, intOp), arithBody[uint16](env, intOp), arithBody[uint32](env, intOp), arithBody[uint64](env, intOp)})
		})
		if body == nil {
			return nil, unsupported(n, "dtype %v", dt)
		}
		return wrap(n, body), nil
	}
}

func arithBody[T number](env *Env, op arith) kernelBody {
	return func(in, out []*tensor.Tensor) error {
		arithTensors[T](env, op, in[0], in[1], out[0])
		return nil
	}
}

// arithTensors computes o = a op b with broadcasting; o may be a itself.
func arithTensors[T number](env *Env, op arith, a, b, o *tensor.Tensor) {
	x, y, z := raw[T](a), raw[T](b), raw[T](o)
	bc := newBcast(o.Shape(), a.Shape(), b.Shape())
	sa, sb := bc.steps[0], bc.steps[1]
	_, f32 := any(z).([]float32)
	bc.run(env, func(oi int, offs []int, n int) {
		zz := z[oi : oi+n]
		ia, ib := offs[0], offs[1]
		if f32 && (sa == 1 || sb == 1) {
			xs, ys := x[ia:ia+max(1, n*sa)], y[ib:ib+max(1, n*sb)]
			if arithF32(op, asF32(zz), asF32(xs), asF32(ys), sa == 1, sb == 1) {
				return
			}
		}
		switch {
		case sa == 1 && sb == 1:
			arithVV(op, zz, x[ia:ia+n], y[ib:ib+n])
		case sa == 1:
			arithVS(op, zz, x[ia:ia+n], y[ib])
		case sb == 1:
			arithSV(op, zz, x[ia], y[ib:ib+n])
		default:
			arithVS(op, zz[:1], x[ia:ia+1], y[ib])
			for i := range zz {
				zz[i] = zz[0]
			}
		}
	})
}

// asF32 reinterprets a []T known to be []float32.
func asF32[T any](s []T) []float32 { return *(*[]float32)(unsafe.Pointer(&s)) }

func arithVV[T number](op arith, z, x, y []T) {
	x, y = x[:len(z)], y[:len(z)]
	switch op {
	case aAdd:
		for i := range z {
			z[i] = x[i] + y[i]
		}
	case aSub:
		for i := range z {
			z[i] = x[i] - y[i]
		}
	case aMul:
		for i := range z {
			z[i] = x[i] * y[i]
		}
	case aDiv:
		for i := range z {
			z[i] = x[i] / y[i]
		}
	case aDivInt:
		for i := range z {
			if y[i] == 0 {
				z[i] = 0
			} else {
				z[i] = x[i] / y[i]
			}
		}
	case aMax:
		for i := range z {
			z[i] = max(x[i], y[i])
		}
	case aMin:
		for i := range z {
			z[i] = min(x[i], y[i])
		}
	}
}

func arithVS[T number](op arith, z, x []T, y T) {
	x = x[:len(z)]
	switch op {
	case aAdd:
		for i := range z {
			z[i] = x[i] + y
		}
	case aSub:
		for i := range z {
			z[i] = x[i] - y
		}
	case aMul:
		for i := range z {
			z[i] = x[i] * y
		}
	case aDiv:
		for i := range z {
			z[i] = x[i] / y
		}
	case aDivInt:
		if y == 0 {
			clear(z)
			return
		}
		for i := range z {
			z[i] = x[i] / y
		}
	case aMax:
		for i := range z {
			z[i] = max(x[i], y)
		}
	case aMin:
		for i := range z {
			z[i] = min(x[i], y)
		}
	}
}

func arithSV[T number](op arith, z []T, x T, y []T) {
	y = y[:len(z)]
	switch op {
	case aAdd:
		for i := range z {
			z[i] = x + y[i]
		}
	case aSub:
		for i := range z {
			z[i] = x - y[i]
		}
	case aMul:
		for i := range z {
			z[i] = x * y[i]
		}
	case aDiv:
		for i := range z {
			z[i] = x / y[i]
		}
	case aDivInt:
		for i := range z {
			if y[i] == 0 {
				z[i] = 0
			} else {
				z[i] = x / y[i]
			}
		}
	case aMax:
		for i := range z {
			z[i] = max(x, y[i])
		}
	case aMin:
		for i := range z {
			z[i] = min(x, y[i])
		}
	}
}

// mapBinary computes z = f(x, y) elementwise with broadcasting from a, b to o.
func mapBinary[X, Y, Z any](env *Env, a, b, o *tensor.Tensor, f func(X, Y) Z) {
	x, y, z := raw[X](a), raw[Y](b), raw[Z](o)
	bc := newBcast(o.Shape(), a.Shape(), b.Shape())
	sa, sb := bc.steps[0], bc.steps[1]
	bc.run(env, func(oi int, offs []int, n int) {
		ia, ib := offs[0], offs[1]
		for i := range z[oi : oi+n] {
			z[oi+i] = f(x[ia], y[ib])
			ia += sa
			ib += sb
		}
	})
}

// mapBinaryBody makes a kernel body applying f of type T pairs to T outputs.
func mapBinaryBody[T any](env *Env, f func(T, T) T) kernelBody {
	return func(in, out []*tensor.Tensor) error {
		mapBinary(env, in[0], in[1], out[0], f)
		return nil
	}
}

// intBodies instantiates one generic integer kernel for every integer dtype.
func intBodies(dt tensor.DType, mk func() (i8, i16, i32, i64, u8, u16, u32, u64 kernelBody)) kernelBody {
	a, b, c, d, e, f, g, h := mk()
	return intBody(dt, struct{ i8, i16, i32, i64, u8, u16, u32, u64 kernelBody }{a, b, c, d, e, f, g, h})
}

func newPow(n *graph.Node, env *Env) (backends.Kernel, error) {
	bt, et := n.Inputs[0].DType, n.Inputs[1].DType
	if bt == tensor.Float32 && et == tensor.Float32 {
		return wrap(n, mapBinaryBody(env, func(a, b float32) float32 {
			switch b { // the exponents exporters emit most, without math.Pow
			case 2:
				return a * a
			case 1:
				return a
			case 0.5:
				if a == 0 || math.IsInf(float64(a), -1) {
					break // Pow's special cases: +0 and +Inf
				}
				return float32(math.Sqrt(float64(a)))
			case 3:
				return a * a * a
			}
			return float32(math.Pow(float64(a), float64(b)))
		})), nil
	}
	if !(bt.IsFloat() || bt.IsInteger()) || !(et.IsFloat() || et.IsInteger()) {
		return nil, unsupported(n, "dtypes %v and %v", bt, et)
	}
	intPow := bt.IsInteger() && et.IsInteger()
	// Other combinations go through float64 (integer results are exact up to 2^53).
	return wrap(n, func(in, out []*tensor.Tensor) error {
		xt, yt := asFloat64Tensor(in[0]), asFloat64Tensor(in[1])
		z := tensor.New(tensor.Float64, out[0].Shape())
		mapBinary(env, xt, yt, z, func(a, b float64) float64 {
			if intPow {
				return ipow(a, b)
			}
			return math.Pow(a, b)
		})
		fromFloat64s(out[0], z.Float64s())
		return nil
	}), nil
}

// ipow is integer exponentiation on integral float64 values (negative exponents
// truncate towards zero like integer division).
func ipow(a, b float64) float64 {
	if b < 0 {
		switch a {
		case 1:
			return 1
		case -1:
			if math.Mod(b, 2) == 0 {
				return 1
			}
			return -1
		}
		return 0
	}
	r := 1.0
	for e := int64(b); e > 0; e >>= 1 {
		if e&1 == 1 {
			r *= a
		}
		a *= a
	}
	return r
}

func newMod(n *graph.Node, env *Env) (backends.Kernel, error) {
	dt := n.Inputs[0].DType
	fmod := n.Attrs.GetInt("fmod", 0) != 0
	body := byNumeric(dt, mapBinaryBody(env, func(a, b float32) float32 { return float32(fmodF(float64(a), float64(b), fmod)) }),
		mapBinaryBody(env, func(a, b float64) float64 { return fmodF(a, b, fmod) }),
		func(dt tensor.DType) kernelBody {
			return intBodies(dt, func() (_, _, _, _, _, _, _, _ kernelBody) {
				return modBody[int8](env, fmod), modBody[int16](env, fmod), modBody[int32](env, fmod), modBody[int64](env, fmod),
					modBody[uint8](env, fmod), modBody[uint16](env, fmod), modBody[uint32](env, fmod), modBody[uint64](env, fmod)
			})
		})
	if body == nil {
		return nil, unsupported(n, "dtype %v", dt)
	}
	return wrap(n, body), nil
}

// fmodF is C's fmod when fmod is set, else the remainder with the divisor's sign.
func fmodF(a, b float64, fmod bool) float64 {
	r := math.Mod(a, b)
	if !fmod && r != 0 && (r < 0) != (b < 0) {
		r += b
	}
	return r
}

func modBody[T integer](env *Env, fmod bool) kernelBody {
	return mapBinaryBody(env, func(a, b T) T {
		if b == 0 {
			return 0
		}
		r := a % b
		if !fmod && r != 0 && (r < 0) != (b < 0) {
			r += b
		}
		return r
	})
}

func newPRelu(n *graph.Node, env *Env) (backends.Kernel, error) {
	dt := n.Inputs[0].DType
	body := byNumeric(dt, preluBody[float32](env), preluBody[float64](env), func(dt tensor.DType) kernelBody {
		return intBodies(dt, func() (_, _, _, _, _, _, _, _ kernelBody) {
			return preluBody[int8](env), preluBody[int16](env), preluBody[int32](env), preluBody[int64](env),
				preluBody[uint8](env), preluBody[uint16](env), preluBody[uint32](env), preluBody[uint64](env)
		})
	})
	if body == nil {
		return nil, unsupported(n, "dtype %v", dt)
	}
	return wrap(n, body), nil
}

func preluBody[T number](env *Env) kernelBody {
	return mapBinaryBody(env, func(x, s T) T {
		if x < 0 {
			return s * x
		}
		return x
	})
}

func newBitShift(n *graph.Node, env *Env) (backends.Kernel, error) {
	left := n.Attrs.GetString("direction", "") == "LEFT"
	var body kernelBody
	switch dt := n.Inputs[0].DType; dt {
	case tensor.Uint8:
		body = shiftBody[uint8](env, left)
	case tensor.Uint16:
		body = shiftBody[uint16](env, left)
	case tensor.Uint32:
		body = shiftBody[uint32](env, left)
	case tensor.Uint64:
		body = shiftBody[uint64](env, left)
	default:
		return nil, unsupported(n, "dtype %v (BitShift takes unsigned integers)", dt)
	}
	return wrap(n, body), nil
}

func shiftBody[T integer](env *Env, left bool) kernelBody {
	if left {
		return mapBinaryBody(env, func(a, b T) T { return a << b })
	}
	return mapBinaryBody(env, func(a, b T) T { return a >> b })
}

func newBitwise(n *graph.Node, env *Env) (backends.Kernel, error) {
	dt := n.Inputs[0].DType
	op := n.Op
	body := intBodies(dt, func() (_, _, _, _, _, _, _, _ kernelBody) {
		return bitwiseBody[int8](env, op), bitwiseBody[int16](env, op), bitwiseBody[int32](env, op), bitwiseBody[int64](env, op),
			bitwiseBody[uint8](env, op), bitwiseBody[uint16](env, op), bitwiseBody[uint32](env, op), bitwiseBody[uint64](env, op)
	})
	if body == nil {
		return nil, unsupported(n, "dtype %v", dt)
	}
	return wrap(n, body), nil
}

func bitwiseBody[T integer](env *Env, op string) kernelBody {
	switch op {
	case "BitwiseAnd":
		return mapBinaryBody(env, func(a, b T) T { return a & b })
	case "BitwiseOr":
		return mapBinaryBody(env, func(a, b T) T { return a | b })
	}
	return mapBinaryBody(env, func(a, b T) T { return a ^ b })
}

func newLogic(n *graph.Node, env *Env) (backends.Kernel, error) {
	if n.Inputs[0].DType != tensor.Bool || n.Inputs[1].DType != tensor.Bool {
		return nil, unsupported(n, "dtypes %v, %v (expected bool)", n.Inputs[0].DType, n.Inputs[1].DType)
	}
	switch n.Op {
	case "And":
		return wrap(n, mapBinaryBody(env, func(a, b uint8) uint8 { return a & b })), nil
	case "Or":
		return wrap(n, mapBinaryBody(env, func(a, b uint8) uint8 { return a | b })), nil
	}
	return wrap(n, mapBinaryBody(env, func(a, b uint8) uint8 { return a ^ b })), nil
}

func newCompare(n *graph.Node, env *Env) (backends.Kernel, error) {
	dt := n.Inputs[0].DType
	op := n.Op
	var body kernelBody
	switch dt {
	case tensor.Float32:
		body = compareBody[float32](env, op)
	case tensor.Float64:
		body = compareBody[float64](env, op)
	case tensor.Float16, tensor.BFloat16:
		body = asHalfRun(compareBody[float32](env, op))
	case tensor.Int8:
		body = compareBody[int8](env, op)
	case tensor.Int16:
		body = compareBody[int16](env, op)
	case tensor.Int32:
		body = compareBody[int32](env, op)
	case tensor.Int64:
		body = compareBody[int64](env, op)
	case tensor.Uint8, tensor.Bool:
		body = compareBody[uint8](env, op)
	case tensor.Uint16:
		body = compareBody[uint16](env, op)
	case tensor.Uint32:
		body = compareBody[uint32](env, op)
	case tensor.Uint64:
		body = compareBody[uint64](env, op)
	default:
		return nil, unsupported(n, "dtype %v", dt)
	}
	return wrap(n, body), nil
}

func compareBody[T number](env *Env, op string) kernelBody {
	return func(in, out []*tensor.Tensor) error {
		x, y, z := raw[T](in[0]), raw[T](in[1]), raw[bool](out[0])
		bc := newBcast(out[0].Shape(), in[0].Shape(), in[1].Shape())
		sa, sb := bc.steps[0], bc.steps[1]
		bc.run(env, func(oi int, offs []int, n int) {
			compareRun(op, z[oi:oi+n], x, y, offs[0], offs[1], sa, sb)
		})
		return nil
	}
}

// compareRun sets z[i] = x[ia+i·sa] op y[ib+i·sb], one loop per operator.
func compareRun[T number](op string, z []bool, x, y []T, ia, ib, sa, sb int) {
	switch op {
	case "Equal":
		for i := range z {
			z[i] = x[ia] == y[ib]
			ia, ib = ia+sa, ib+sb
		}
	case "Less":
		for i := range z {
			z[i] = x[ia] < y[ib]
			ia, ib = ia+sa, ib+sb
		}
	case "Greater":
		for i := range z {
			z[i] = x[ia] > y[ib]
			ia, ib = ia+sa, ib+sb
		}
	case "LessOrEqual":
		for i := range z {
			z[i] = x[ia] <= y[ib]
			ia, ib = ia+sa, ib+sb
		}
	default:
		for i := range z {
			z[i] = x[ia] >= y[ib]
			ia, ib = ia+sa, ib+sb
		}
	}
}

func newVariadic(n *graph.Node, env *Env) (backends.Kernel, error) {
	dt := n.Inputs[0].DType
	op := map[string]arith{"Sum": aAdd, "Mean": aAdd, "Max": aMax, "Min": aMin}[n.Op]
	mean := n.Op == "Mean"
	body := byNumeric(dt, variadicBody[float32](env, op, mean), variadicBody[float64](env, op, mean), func(dt tensor.DType) kernelBody {
		return intBodies(dt, func() (_, _, _, _, _, _, _, _ kernelBody) {
			return variadicBody[int8](env, op, mean), variadicBody[int16](env, op, mean), variadicBody[int32](env, op, mean), variadicBody[int64](env, op, mean),
				variadicBody[uint8](env, op, mean), variadicBody[uint16](env, op, mean), variadicBody[uint32](env, op, mean), variadicBody[uint64](env, op, mean)
		})
	})
	if body == nil {
		return nil, unsupported(n, "dtype %v", dt)
	}
	return wrap(n, body), nil
}

func variadicBody[T number](env *Env, op arith, mean bool) kernelBody {
	return func(in, out []*tensor.Tensor) error {
		o := out[0]
		if len(in) == 1 {
			copy(o.Bytes(), in[0].Bytes())
		} else {
			arithTensors[T](env, op, in[0], in[1], o)
			for _, t := range in[2:] {
				arithTensors[T](env, op, o, t, o)
			}
		}
		if mean {
			z := raw[T](o)
			k := T(len(in))
			for i := range z {
				z[i] /= k
			}
		}
		return nil
	}
}

func newWhere(n *graph.Node, env *Env) (backends.Kernel, error) {
	var body kernelBody
	switch size := n.Inputs[1].DType.Size(); size {
	case 1:
		body = whereBody[uint8](env)
	case 2:
		body = whereBody[uint16](env)
	case 4:
		body = whereBody[uint32](env)
	case 8:
		body = whereBody[uint64](env)
	default:
		return nil, unsupported(n, "dtype %v", n.Inputs[1].DType)
	}
	return wrap(n, body), nil
}

func whereBody[T word](env *Env) kernelBody {
	return func(in, out []*tensor.Tensor) error {
		c, x, y, z := raw[uint8](in[0]), raw[T](in[1]), raw[T](in[2]), raw[T](out[0])
		bc := newBcast(out[0].Shape(), in[0].Shape(), in[1].Shape(), in[2].Shape())
		sc, sx, sy := bc.steps[0], bc.steps[1], bc.steps[2]
		bc.run(env, func(oi int, offs []int, n int) {
			ic, ix, iy := offs[0], offs[1], offs[2]
			for i := oi; i < oi+n; i++ {
				// Branch-free select: m is all ones where the condition holds.
				m := T(0) - T(c[ic]&1)
				a, b := x[ix], y[iy]
				z[i] = b ^ ((a ^ b) & m)
				ic += sc
				ix += sx
				iy += sy
			}
		})
		return nil
	}
}
