package cpu

import (
	"fmt"
	"math"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/cpu/gemm"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// unaryFn is one elementwise function: f64 defines it; f32, when set, is a faster
// float32 version with the same results to float32 rounding.
type unaryFn struct {
	f64 func(float64) float64
	f32 func(float32) float32
}

// unaryOps makes each floating-point unary operator's function from the node's
// attributes (defaults as in ONNX).
var unaryOps = map[string]func(a graph.Attrs) unaryFn{
	"Relu": func(graph.Attrs) unaryFn {
		return unaryFn{func(x float64) float64 { return max(x, 0) }, func(x float32) float32 { return max(x, 0) }}
	},
	"LeakyRelu": func(a graph.Attrs) unaryFn {
		alpha := a.GetFloat("alpha", 0.01)
		al := float64(alpha)
		return unaryFn{func(x float64) float64 {
			if x < 0 {
				return al * x
			}
			return x
		}, func(x float32) float32 {
			if x < 0 {
				return alpha * x
			}
			return x
		}}
	},
	"Gelu": func(a graph.Attrs) unaryFn {
		if a.GetString("approximate", "none") == "tanh" {
			return unaryFn{func(x float64) float64 {
				return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
			}, geluTanhf}
		}
		return unaryFn{func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }, geluf}
	},
	"Sigmoid": func(graph.Attrs) unaryFn { return unaryFn{sigmoid, sigmoidf} },
	"Tanh":    func(graph.Attrs) unaryFn { return unaryFn{math.Tanh, tanhf} },
	"Erf":     func(graph.Attrs) unaryFn { return unaryFn{math.Erf, erff} },
	"Exp":     func(graph.Attrs) unaryFn { return unaryFn{math.Exp, expf} },
	"Log":     func(graph.Attrs) unaryFn { return unaryFn{f64: math.Log} },
	"Sqrt":    func(graph.Attrs) unaryFn { return unaryFn{f64: math.Sqrt} },
	"Neg": func(graph.Attrs) unaryFn {
		return unaryFn{func(x float64) float64 { return -x }, func(x float32) float32 { return -x }}
	},
	"Abs": func(graph.Attrs) unaryFn { return unaryFn{f64: math.Abs} },
	"Reciprocal": func(graph.Attrs) unaryFn {
		return unaryFn{func(x float64) float64 { return 1 / x }, func(x float32) float32 { return 1 / x }}
	},
	"Floor": func(graph.Attrs) unaryFn { return unaryFn{f64: math.Floor} },
	"Ceil":  func(graph.Attrs) unaryFn { return unaryFn{f64: math.Ceil} },
	"Round": func(graph.Attrs) unaryFn { return unaryFn{f64: math.RoundToEven} },
	"Sign": func(graph.Attrs) unaryFn {
		return unaryFn{f64: func(x float64) float64 {
			switch {
			case x > 0:
				return 1
			case x < 0:
				return -1
			}
			return x // 0, -0 and NaN
		}}
	},
	"Sin":   func(graph.Attrs) unaryFn { return unaryFn{f64: math.Sin} },
	"Cos":   func(graph.Attrs) unaryFn { return unaryFn{f64: math.Cos} },
	"Tan":   func(graph.Attrs) unaryFn { return unaryFn{f64: math.Tan} },
	"Asin":  func(graph.Attrs) unaryFn { return unaryFn{f64: math.Asin} },
	"Acos":  func(graph.Attrs) unaryFn { return unaryFn{f64: math.Acos} },
	"Atan":  func(graph.Attrs) unaryFn { return unaryFn{f64: math.Atan} },
	"Sinh":  func(graph.Attrs) unaryFn { return unaryFn{f64: math.Sinh} },
	"Cosh":  func(graph.Attrs) unaryFn { return unaryFn{f64: math.Cosh} },
	"Asinh": func(graph.Attrs) unaryFn { return unaryFn{f64: math.Asinh} },
	"Acosh": func(graph.Attrs) unaryFn { return unaryFn{f64: math.Acosh} },
	"Atanh": func(graph.Attrs) unaryFn { return unaryFn{f64: math.Atanh} },
	"Softplus": func(graph.Attrs) unaryFn {
		return unaryFn{f64: softplus}
	},
	"Softsign": func(graph.Attrs) unaryFn {
		return unaryFn{f64: func(x float64) float64 { return x / (1 + math.Abs(x)) }}
	},
	"Elu": func(a graph.Attrs) unaryFn {
		alpha := float64(a.GetFloat("alpha", 1))
		return unaryFn{f64: func(x float64) float64 {
			if x < 0 {
				return alpha * math.Expm1(x)
			}
			return x
		}}
	},
	"Selu": func(a graph.Attrs) unaryFn {
		alpha := float64(a.GetFloat("alpha", 1.67326319217681884765625))
		gamma := float64(a.GetFloat("gamma", 1.05070102214813232421875))
		return unaryFn{f64: func(x float64) float64 {
			if x <= 0 {
				return gamma * (alpha*math.Exp(x) - alpha)
			}
			return gamma * x
		}}
	},
	"Celu": func(a graph.Attrs) unaryFn {
		alpha := float64(a.GetFloat("alpha", 1))
		return unaryFn{f64: func(x float64) float64 { return max(0, x) + min(0, alpha*math.Expm1(x/alpha)) }}
	},
	"HardSigmoid": func(a graph.Attrs) unaryFn {
		alpha, beta := float64(a.GetFloat("alpha", 0.2)), float64(a.GetFloat("beta", 0.5))
		return unaryFn{f64: func(x float64) float64 { return max(0, min(1, alpha*x+beta)) }}
	},
	"HardSwish": func(graph.Attrs) unaryFn {
		return unaryFn{f64: func(x float64) float64 { return x * max(0, min(1, x/6+0.5)) }}
	},
	"Mish": func(graph.Attrs) unaryFn {
		return unaryFn{f64: func(x float64) float64 { return x * math.Tanh(softplus(x)) }}
	},
	"ThresholdedRelu": func(a graph.Attrs) unaryFn {
		alpha := float64(a.GetFloat("alpha", 1))
		return unaryFn{f64: func(x float64) float64 {
			if x > alpha {
				return x
			}
			return 0
		}}
	},
	"Silu": func(graph.Attrs) unaryFn { return unaryFn{func(x float64) float64 { return x * sigmoid(x) }, siluf} },
	"Shrink": func(a graph.Attrs) unaryFn {
		lambd, bias := float64(a.GetFloat("lambd", 0.5)), float64(a.GetFloat("bias", 0))
		return unaryFn{f64: func(x float64) float64 {
			switch {
			case x < -lambd:
				return x + bias
			case x > lambd:
				return x - bias
			}
			return 0
		}}
	},
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

func init() {
	for name := range unaryOps {
		register("", name, newUnary)
	}
	register("", "Identity", newIdentity)
	register("", "Not", newNot)
	register("", "BitwiseNot", newBitwiseNot)
	register("", "IsNaN", newIsX)
	register("", "IsInf", newIsX)
}

func newUnary(n *graph.Node, env *Env) (backends.Kernel, error) {
	fn := unaryOps[n.Op](n.Attrs)
	f32 := fn.f32
	if f32 == nil {
		f64 := fn.f64
		f32 = func(x float32) float32 { return float32(f64(float64(x))) }
	}
	dt := n.Inputs[0].DType
	var body kernelBody
	switch {
	case n.Op == "Relu" && (dt == tensor.Float32 || dt == tensor.Float64 || dt.IsInteger()):
		body = byNumeric(dt, reluBody[float32](env), reluBody[float64](env), func(dt tensor.DType) kernelBody {
			return intBodies(dt, func() (_, _, _, _, _, _, _, _ kernelBody) {
				return reluBody[int8](env), reluBody[int16](env), reluBody[int32](env), reluBody[int64](env),
					reluBody[uint8](env), reluBody[uint16](env), reluBody[uint32](env), reluBody[uint64](env)
			})
		})
	case n.Op == "Gelu" && dt == tensor.Float32:
		// The GEMM epilogue's vectorized GELU (AVX2 where present), applied in place.
		act := gemm.ActGELU
		if n.Attrs.GetString("approximate", "none") == "tanh" {
			act = gemm.ActGELUTanh
		}
		body = func(in, out []*tensor.Tensor) error {
			x, y := in[0].Float32s(), out[0].Float32s()
			if len(x) != len(y) {
				return fmt.Errorf("input %v and output %v differ in size", in[0], out[0])
			}
			env.Parallel(len(y), 16384, func(lo, hi int) {
				copy(y[lo:hi], x[lo:hi])
				gemm.AddBiasAct(y[lo:hi], nil, act)
			})
			return nil
		}
	case dt == tensor.Float32 && n.Op == "LeakyRelu":
		alpha := n.Attrs.GetFloat("alpha", 0.01)
		body = func(in, out []*tensor.Tensor) error {
			x, y := in[0].Float32s(), out[0].Float32s()
			if len(x) != len(y) {
				return fmt.Errorf("input %v and output %v differ in size", in[0], out[0])
			}
			env.Parallel(len(y), 32768, func(lo, hi int) { leakyReluF32(y[lo:hi], x[lo:hi], alpha) })
			return nil
		}
	case dt == tensor.Float32 && (n.Op == "HardSigmoid" || n.Op == "HardSwish"):
		a, b, mulx := n.Attrs.GetFloat("alpha", 0.2), n.Attrs.GetFloat("beta", 0.5), false
		if n.Op == "HardSwish" {
			a, b, mulx = 1.0/6, 0.5, true
		}
		body = func(in, out []*tensor.Tensor) error {
			x, y := in[0].Float32s(), out[0].Float32s()
			if len(x) != len(y) {
				return fmt.Errorf("input %v and output %v differ in size", in[0], out[0])
			}
			env.Parallel(len(y), 32768, func(lo, hi int) { clampAffineF32(y[lo:hi], x[lo:hi], a, b, 0, 1, mulx) })
			return nil
		}
	case dt == tensor.Float32 && vecUnaryF32(n.Op) != nil:
		vec := vecUnaryF32(n.Op)
		body = func(in, out []*tensor.Tensor) error {
			x, y := in[0].Float32s(), out[0].Float32s()
			if len(x) != len(y) {
				return fmt.Errorf("input %v and output %v differ in size", in[0], out[0])
			}
			env.Parallel(len(y), 16384, func(lo, hi int) { vec(y[lo:hi], x[lo:hi]) })
			return nil
		}
	case dt == tensor.Float32:
		body = unaryBody(env, f32)
	case dt == tensor.Float64:
		body = unaryBody(env, fn.f64)
	case isHalf(dt):
		body = asHalfRun(unaryBody(env, f32))
	case dt.IsInteger():
		op := n.Op
		switch op {
		case "Relu", "Abs", "Neg", "Sign":
		default:
			return nil, unsupported(n, "dtype %v", dt)
		}
		body = intBodies(dt, func() (_, _, _, _, _, _, _, _ kernelBody) {
			return intUnaryBody[int8](env, op), intUnaryBody[int16](env, op), intUnaryBody[int32](env, op), intUnaryBody[int64](env, op),
				intUnaryBody[uint8](env, op), intUnaryBody[uint16](env, op), intUnaryBody[uint32](env, op), intUnaryBody[uint64](env, op)
		})
	default:
		return nil, unsupported(n, "dtype %v", dt)
	}
	return wrap(n, body), nil
}

// unaryBody applies f elementwise, split across threads.
func unaryBody[T any](env *Env, f func(T) T) kernelBody {
	return func(in, out []*tensor.Tensor) error {
		x, y := raw[T](in[0]), raw[T](out[0])
		if len(x) != len(y) {
			return fmt.Errorf("input %v and output %v differ in size", in[0], out[0])
		}
		env.Parallel(len(y), 16384, func(lo, hi int) {
			xs, ys := x[lo:hi], y[lo:hi]
			for i := range ys {
				ys[i] = f(xs[i])
			}
		})
		return nil
	}
}

func intUnaryBody[T integer](env *Env, op string) kernelBody {
	var f func(T) T
	switch op {
	case "Relu":
		f = func(x T) T { return max(x, 0) }
	case "Abs":
		f = func(x T) T {
			if x < 0 {
				return -x
			}
			return x
		}
	case "Neg":
		f = func(x T) T { return -x }
	default: // Sign
		f = func(x T) T {
			switch {
			case x > 0:
				return 1
			case x < 0:
				z := T(0)
				return z - 1
			}
			return 0
		}
	}
	return unaryBody(env, f)
}

func newIdentity(n *graph.Node, env *Env) (backends.Kernel, error) {
	return wrap(n, copyBody), nil
}

// copyBody copies input 0 to output 0 byte for byte (Identity, Reshape and friends).
func copyBody(in, out []*tensor.Tensor) error {
	if len(in[0].Bytes()) != len(out[0].Bytes()) {
		return fmt.Errorf("input %v and output %v differ in size", in[0], out[0])
	}
	copy(out[0].Bytes(), in[0].Bytes())
	return nil
}

func newNot(n *graph.Node, env *Env) (backends.Kernel, error) {
	if n.Inputs[0].DType != tensor.Bool {
		return nil, unsupported(n, "dtype %v", n.Inputs[0].DType)
	}
	return wrap(n, unaryBody(env, func(x uint8) uint8 { return x ^ 1 })), nil
}

func newBitwiseNot(n *graph.Node, env *Env) (backends.Kernel, error) {
	switch n.Inputs[0].DType.Size() {
	case 1:
		return wrap(n, unaryBody(env, func(x uint8) uint8 { return ^x })), nil
	case 2:
		return wrap(n, unaryBody(env, func(x uint16) uint16 { return ^x })), nil
	case 4:
		return wrap(n, unaryBody(env, func(x uint32) uint32 { return ^x })), nil
	case 8:
		return wrap(n, unaryBody(env, func(x uint64) uint64 { return ^x })), nil
	}
	return nil, unsupported(n, "dtype %v", n.Inputs[0].DType)
}

func newIsX(n *graph.Node, env *Env) (backends.Kernel, error) {
	var test func(float64) bool
	if n.Op == "IsNaN" {
		test = math.IsNaN
	} else {
		neg, pos := n.Attrs.GetInt("detect_negative", 1) != 0, n.Attrs.GetInt("detect_positive", 1) != 0
		test = func(x float64) bool { return (pos && math.IsInf(x, 1)) || (neg && math.IsInf(x, -1)) }
	}
	dt := n.Inputs[0].DType
	if !dt.IsFloat() {
		return nil, unsupported(n, "dtype %v", dt)
	}
	return wrap(n, func(in, out []*tensor.Tensor) error {
		y := out[0].Bools()
		switch dt {
		case tensor.Float32:
			for i, x := range in[0].Float32s() {
				y[i] = test(float64(x))
			}
		case tensor.Float64:
			for i, x := range in[0].Float64s() {
				y[i] = test(x)
			}
		default:
			for i, x := range widen(in[0]).Float32s() {
				y[i] = test(float64(x))
			}
		}
		return nil
	}), nil
}

func init() { register("", "Clip", newClip) }

// newClip clamps to [min, max], taken from inputs 1 and 2 (opset 11+; an omitted or
// empty input means no bound) or from the min and max attributes of older opsets.
func newClip(n *graph.Node, env *Env) (backends.Kernel, error) {
	dt := n.Inputs[0].DType
	if dt == tensor.Float32 {
		return wrap(n, clipF32Body(env, n.Attrs)), nil
	}
	body := byNumeric(dt, clipBody[float32](env, n.Attrs), clipBody[float64](env, n.Attrs), func(dt tensor.DType) kernelBody {
		return intBodies(dt, func() (_, _, _, _, _, _, _, _ kernelBody) {
			return clipBody[int8](env, n.Attrs), clipBody[int16](env, n.Attrs), clipBody[int32](env, n.Attrs), clipBody[int64](env, n.Attrs),
				clipBody[uint8](env, n.Attrs), clipBody[uint16](env, n.Attrs), clipBody[uint32](env, n.Attrs), clipBody[uint64](env, n.Attrs)
		})
	})
	if body == nil {
		return nil, unsupported(n, "dtype %v", dt)
	}
	return wrap(n, body), nil
}

func clipBody[T number](env *Env, a graph.Attrs) kernelBody {
	return func(in, out []*tensor.Tensor) error {
		var lo, hi T
		hasLo, hasHi := a.Has("min"), a.Has("max")
		if hasLo {
			lo = T(a.GetFloat("min", 0))
		}
		if hasHi {
			hi = T(a.GetFloat("max", 0))
		}
		if len(in) > 1 && in[1] != nil && in[1].Len() > 0 {
			lo, hasLo = raw[T](in[1])[0], true
		}
		if len(in) > 2 && in[2] != nil && in[2].Len() > 0 {
			hi, hasHi = raw[T](in[2])[0], true
		}
		x, y := raw[T](in[0]), raw[T](out[0])
		env.Parallel(len(y), 32768, func(s, e int) {
			xs, ys := x[s:e], y[s:e]
			switch {
			case hasLo && hasHi:
				for i, v := range xs {
					ys[i] = min(max(v, lo), hi)
				}
			case hasLo:
				for i, v := range xs {
					ys[i] = max(v, lo)
				}
			case hasHi:
				for i, v := range xs {
					ys[i] = min(v, hi)
				}
			default:
				copy(ys, xs)
			}
		})
		return nil
	}
}

// reluBody is max(x, 0) in a direct loop (the commonest activation gets no call per
// element).
func reluBody[T number](env *Env) kernelBody {
	return func(in, out []*tensor.Tensor) error {
		x, y := raw[T](in[0]), raw[T](out[0])
		if len(x) != len(y) {
			return fmt.Errorf("input %v and output %v differ in size", in[0], out[0])
		}
		_, f32 := any(y).([]float32)
		env.Parallel(len(y), 32768, func(lo, hi int) {
			xs, ys := x[lo:hi], y[lo:hi]
			if f32 {
				reluF32(asF32(ys), asF32(xs))
				return
			}
			for i, v := range xs {
				ys[i] = max(v, 0)
			}
		})
		return nil
	}
}

// clipF32Body is Clip for float32 through the vectorized clamp (a missing bound is
// an infinity).
func clipF32Body(env *Env, a graph.Attrs) kernelBody {
	return func(in, out []*tensor.Tensor) error {
		lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
		if a.Has("min") {
			lo = a.GetFloat("min", 0)
		}
		if a.Has("max") {
			hi = a.GetFloat("max", 0)
		}
		if len(in) > 1 && in[1] != nil && in[1].Len() > 0 {
			lo = in[1].Float32s()[0]
		}
		if len(in) > 2 && in[2] != nil && in[2].Len() > 0 {
			hi = in[2].Float32s()[0]
		}
		x, y := in[0].Float32s(), out[0].Float32s()
		if len(x) != len(y) {
			return fmt.Errorf("input %v and output %v differ in size", in[0], out[0])
		}
		env.Parallel(len(y), 32768, func(s, e int) { clampAffineF32(y[s:e], x[s:e], 1, 0, lo, hi, false) })
		return nil
	}
}
