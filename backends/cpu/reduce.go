package cpu

import (
	"fmt"
	"math"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// redKind is how a reduction accumulates; the finishing step is separate.
type redKind int

const (
	rSum redKind = iota // Sum, Mean, LogSum
	rSq                 // SumSquare, L2
	rAbs                // L1
	rProd
	rMax
	rMin
	rLSE // LogSumExp: sum of exp(x - max), the max found in a first pass
)

var reduceKinds = map[string]redKind{
	"ReduceSum": rSum, "ReduceMean": rSum, "ReduceLogSum": rSum, "ReduceSumSquare": rSq, "ReduceL2": rSq,
	"ReduceL1": rAbs, "ReduceProd": rProd, "ReduceMax": rMax, "ReduceMin": rMin, "ReduceLogSumExp": rLSE,
}

func init() {
	for name := range reduceKinds {
		register("", name, newReduce)
	}
	register("", "ArgMax", newArg)
	register("", "ArgMin", newArg)
}

// reduceLayout is a reduction arranged as outer × r × inner over a contiguous input:
// each output element (o, i) combines the r inputs (o, 0..r-1, i).
type reduceLayout struct{ outer, r, inner int }

// planReduce arranges the reduction of axes of x. When the reduced axes, after
// merging neighbours and dropping size-1 axes, form one contiguous block it reads x
// in place; otherwise it returns a transposed copy with the reduced axes last.
func planReduce(env *Env, x *tensor.Tensor, axes []int) (*tensor.Tensor, reduceLayout, error) {
	shape := x.Shape()
	red := make([]bool, len(shape))
	for _, a := range axes {
		red[a] = true
	}
	// Group consecutive non-trivial axes by whether they are reduced.
	type group struct {
		size int
		red  bool
	}
	var gs []group
	for d, n := range shape {
		if n == 1 {
			continue
		}
		if len(gs) > 0 && gs[len(gs)-1].red == red[d] {
			gs[len(gs)-1].size *= n
			continue
		}
		gs = append(gs, group{n, red[d]})
	}
	nred := 0
	for _, g := range gs {
		if g.red {
			nred++
		}
	}
	if nred <= 1 {
		l := reduceLayout{1, 1, 1}
		seen := false
		for _, g := range gs {
			switch {
			case g.red:
				l.r, seen = g.size, true
			case seen:
				l.inner *= g.size
			default:
				l.outer *= g.size
			}
		}
		if tensor.NumElements(shape) == 0 {
			l = zeroLayout(shape, red)
		}
		return x, l, nil
	}
	// Several separate reduced blocks: move the reduced axes to the end.
	var perm []int
	for d := range shape {
		if !red[d] {
			perm = append(perm, d)
		}
	}
	for d := range shape {
		if red[d] {
			perm = append(perm, d)
		}
	}
	st := contiguousStrides(shape)
	tshape, tstrides := make([]int, len(perm)), make([]int, len(perm))
	l := reduceLayout{1, 1, 1}
	for i, p := range perm {
		tshape[i], tstrides[i] = shape[p], st[p]
		if red[p] {
			l.r *= shape[p]
		} else {
			l.outer *= shape[p]
		}
	}
	t := tensor.New(x.DType(), tshape)
	if err := moveStrided(env, t, x, tshape, 0, tstrides); err != nil {
		return nil, l, err
	}
	return t, l, nil
}

// zeroLayout describes an empty input: r is 0 when a reduced axis is empty (every
// output takes the reduction's identity), else the output is empty too.
func zeroLayout(shape []int, red []bool) reduceLayout {
	l := reduceLayout{1, 1, 1}
	for d, n := range shape {
		if red[d] {
			l.r *= n
		} else {
			l.outer *= n
		}
	}
	return l
}

func newReduce(n *graph.Node, env *Env) (backends.Kernel, error) {
	kind := reduceKinds[n.Op]
	op := n.Op
	dt := n.Inputs[0].DType
	var run func(env *Env, x, y *tensor.Tensor, l reduceLayout)
	switch {
	case dt == tensor.Float32:
		run = func(env *Env, x, y *tensor.Tensor, l reduceLayout) {
			reduceFloat(env, kind, op, raw[float32](x), raw[float32](y), l)
		}
	case dt == tensor.Float64:
		run = func(env *Env, x, y *tensor.Tensor, l reduceLayout) {
			reduceFloat(env, kind, op, raw[float64](x), raw[float64](y), l)
		}
	case isHalf(dt) || dt.IsInteger() || dt == tensor.Bool:
		intExact := dt.IsInteger() && (kind == rSum || kind == rProd || kind == rMax || kind == rMin) && op != "ReduceLogSum"
		if intExact {
			run = intReduce(dt, kind, op == "ReduceMean")
			break
		}
		// Through float64: half types, bool Max/Min, and integer L1/L2/logs.
		run = func(env *Env, x, y *tensor.Tensor, l reduceLayout) {
			xf := asFloat64Tensor(x)
			yf := tensor.New(tensor.Float64, y.Shape())
			reduceFloat(env, kind, op, xf.Float64s(), yf.Float64s(), l)
			fromFloat64s(y, yf.Float64s())
		}
	default:
		return nil, unsupported(n, "dtype %v", dt)
	}
	return wrap(n, func(in, out []*tensor.Tensor) error {
		x, y := in[0], out[0]
		axes, noop, _, err := ops.ReduceAxes(inferCtx(n, in), x.Rank())
		if err != nil {
			return err
		}
		if noop {
			axes = nil // reduce nothing: every output element sees one input
		}
		xt, l, err := planReduce(env, x, axes)
		if err != nil {
			return err
		}
		if y.Len() != l.outer*l.inner {
			return fmt.Errorf("output %v does not hold the %d results", y, l.outer*l.inner)
		}
		run(env, xt, y, l)
		return nil
	}), nil
}

// reduceFloat reduces floating-point x into y, accumulating in float64.
func reduceFloat[X float](env *Env, kind redKind, op string, x, y []X, l reduceLayout) {
	finish := func(acc, m float64) float64 {
		switch op {
		case "ReduceMean":
			return acc / float64(l.r)
		case "ReduceL2":
			return math.Sqrt(acc)
		case "ReduceLogSum":
			return math.Log(acc)
		case "ReduceLogSumExp":
			if math.IsInf(m, 0) || math.IsNaN(m) {
				return m
			}
			return m + math.Log(acc)
		}
		return acc
	}
	init := 0.0
	switch kind {
	case rProd:
		init = 1
	case rMax:
		init = math.Inf(-1)
	case rMin:
		init = math.Inf(1)
	}
	// Split (outer, inner) into tasks: whole outer rows, or pieces of inner when the
	// outer count is too small to keep the threads busy.
	pieces := 1
	if threads := max(1, env.Threads); l.outer < 4*threads && l.inner >= 128 {
		pieces = min((l.inner+63)/64, 4*threads) // keep every thread busy on wide columns
	}
	chunk := (l.inner + pieces - 1) / pieces
	work := max(1, l.r*chunk)
	env.Parallel(l.outer*pieces, max(1, 65536/work), func(lo, hi int) {
		var acc, mx []float64
		for t := lo; t < hi; t++ {
			o, p := t/pieces, t%pieces
			i0, i1 := p*chunk, min((p+1)*chunk, l.inner)
			if l.inner == 1 {
				row := x[o*l.r : (o+1)*l.r]
				m := 0.0
				if kind == rLSE {
					m = reduceRun(rMax, math.Inf(-1), row, 0)
				}
				y[o] = X(finish(reduceRun(kind, init, row, m), m))
				continue
			}
			w := i1 - i0
			if cap(acc) < w {
				acc, mx = make([]float64, w), make([]float64, w)
			}
			acc, mx = acc[:w], mx[:w]
			if kind == rLSE {
				fillSlice(mx, math.Inf(-1))
				for r := 0; r < l.r; r++ {
					base := (o*l.r+r)*l.inner + i0
					accumRow(rMax, mx, x[base:base+w], nil)
				}
			}
			fillSlice(acc, init)
			for r := 0; r < l.r; r++ {
				base := (o*l.r+r)*l.inner + i0
				accumRow(kind, acc, x[base:base+w], mx)
			}
			out := y[o*l.inner+i0 : o*l.inner+i1]
			for i := range out {
				out[i] = X(finish(acc[i], mx[i]))
			}
		}
	})
}

// reduceRun reduces a contiguous run from init (m is LogSumExp's maximum).
func reduceRun[X float](kind redKind, init float64, x []X, m float64) float64 {
	acc := init
	switch kind {
	case rSum, rSq:
		if xf, ok := any(x).([]float32); ok {
			v, done := sumF32(xf, kind == rSq)
			acc += v
			x = x[done:]
		}
		// Four partial sums break the add latency chain.
		var s0, s1, s2, s3 float64
		n := len(x) &^ 3
		if kind == rSum {
			for i := 0; i < n; i += 4 {
				s0 += float64(x[i])
				s1 += float64(x[i+1])
				s2 += float64(x[i+2])
				s3 += float64(x[i+3])
			}
			for _, v := range x[n:] {
				s0 += float64(v)
			}
		} else {
			for i := 0; i < n; i += 4 {
				a, b, c, d := float64(x[i]), float64(x[i+1]), float64(x[i+2]), float64(x[i+3])
				s0 += a * a
				s1 += b * b
				s2 += c * c
				s3 += d * d
			}
			for _, v := range x[n:] {
				s0 += float64(v) * float64(v)
			}
		}
		acc += (s0 + s1) + (s2 + s3)
	case rAbs:
		for _, v := range x {
			acc += math.Abs(float64(v))
		}
	case rProd:
		for _, v := range x {
			acc *= float64(v)
		}
	case rMax:
		for _, v := range x {
			acc = max(acc, float64(v))
		}
	case rMin:
		for _, v := range x {
			acc = min(acc, float64(v))
		}
	case rLSE:
		if math.IsInf(m, 0) || math.IsNaN(m) {
			return 0
		}
		for _, v := range x {
			acc += math.Exp(float64(v) - m)
		}
	}
	return acc
}

// accumRow combines a row of x into acc elementwise (m holds LogSumExp's maxima).
func accumRow[X float](kind redKind, acc []float64, x []X, m []float64) {
	x = x[:len(acc)]
	if kind == rSum || kind == rSq {
		if xf, ok := any(x).([]float32); ok {
			done := accumF32(acc, xf, kind == rSq)
			acc, x = acc[done:], x[done:]
		}
	}
	switch kind {
	case rSum:
		for i, v := range x {
			acc[i] += float64(v)
		}
	case rSq:
		for i, v := range x {
			acc[i] += float64(v) * float64(v)
		}
	case rAbs:
		for i, v := range x {
			acc[i] += math.Abs(float64(v))
		}
	case rProd:
		for i, v := range x {
			acc[i] *= float64(v)
		}
	case rMax:
		for i, v := range x {
			acc[i] = max(acc[i], float64(v))
		}
	case rMin:
		for i, v := range x {
			acc[i] = min(acc[i], float64(v))
		}
	case rLSE:
		for i, v := range x {
			if !math.IsInf(m[i], 0) {
				acc[i] += math.Exp(float64(v) - m[i])
			}
		}
	}
}

// intReduce is the exact integer Sum, Prod, Max, Min and Mean (truncating) in the
// input's own type, wrapping on overflow as NumPy does.
func intReduce(dt tensor.DType, kind redKind, mean bool) func(env *Env, x, y *tensor.Tensor, l reduceLayout) {
	switch dt {
	case tensor.Int8:
		return intReduceT[int8](kind, mean)
	case tensor.Int16:
		return intReduceT[int16](kind, mean)
	case tensor.Int32:
		return intReduceT[int32](kind, mean)
	case tensor.Int64:
		return intReduceT[int64](kind, mean)
	case tensor.Uint8:
		return intReduceT[uint8](kind, mean)
	case tensor.Uint16:
		return intReduceT[uint16](kind, mean)
	case tensor.Uint32:
		return intReduceT[uint32](kind, mean)
	}
	return intReduceT[uint64](kind, mean)
}

func intReduceT[T integer](kind redKind, mean bool) func(env *Env, x, y *tensor.Tensor, l reduceLayout) {
	return func(env *Env, xt, yt *tensor.Tensor, l reduceLayout) {
		x, y := raw[T](xt), raw[T](yt)
		lo, hi := minOf[T](), maxOf[T]()
		env.Parallel(l.outer*l.inner, max(1, 65536/max(1, l.r)), func(s, e int) {
			for t := s; t < e; t++ {
				o, i := t/l.inner, t%l.inner
				var acc T
				switch kind {
				case rProd:
					acc = 1
				case rMax:
					acc = lo
				case rMin:
					acc = hi
				}
				for r := 0; r < l.r; r++ {
					v := x[(o*l.r+r)*l.inner+i]
					switch kind {
					case rSum:
						acc += v
					case rProd:
						acc *= v
					case rMax:
						acc = max(acc, v)
					case rMin:
						acc = min(acc, v)
					}
				}
				if mean && l.r > 0 {
					acc /= T(l.r)
				}
				y[t] = acc
			}
		})
	}
}

func minOf[T integer]() T {
	if T(0)-1 > 0 {
		return 0
	}
	return ^maxOf[T]()
}

func newArg(n *graph.Node, env *Env) (backends.Kernel, error) {
	dt := n.Inputs[0].DType
	isMax := n.Op == "ArgMax"
	last := n.Attrs.GetInt("select_last_index", 0) != 0
	var run func(x *tensor.Tensor, y []int64, l reduceLayout)
	switch {
	case dt == tensor.Float32:
		run = func(x *tensor.Tensor, y []int64, l reduceLayout) { argReduce(env, raw[float32](x), y, l, isMax, last) }
	case dt == tensor.Float64:
		run = func(x *tensor.Tensor, y []int64, l reduceLayout) { argReduce(env, raw[float64](x), y, l, isMax, last) }
	case isHalf(dt):
		run = func(x *tensor.Tensor, y []int64, l reduceLayout) {
			argReduce(env, widen(x).Float32s(), y, l, isMax, last)
		}
	case dt == tensor.Int64:
		run = func(x *tensor.Tensor, y []int64, l reduceLayout) { argReduce(env, raw[int64](x), y, l, isMax, last) }
	case dt == tensor.Int32:
		run = func(x *tensor.Tensor, y []int64, l reduceLayout) { argReduce(env, raw[int32](x), y, l, isMax, last) }
	case dt == tensor.Uint64:
		run = func(x *tensor.Tensor, y []int64, l reduceLayout) { argReduce(env, raw[uint64](x), y, l, isMax, last) }
	case dt.IsInteger():
		run = func(x *tensor.Tensor, y []int64, l reduceLayout) { argReduce(env, toFloat64s(x), y, l, isMax, last) }
	default:
		return nil, unsupported(n, "dtype %v", dt)
	}
	return wrap(n, func(in, out []*tensor.Tensor) error {
		x := in[0]
		axis, err := ops.NormAxis(n.Attrs.GetInt("axis", 0), x.Rank())
		if err != nil {
			return err
		}
		l := reduceLayout{1, x.Shape()[axis], 1}
		for _, d := range x.Shape()[:axis] {
			l.outer *= d
		}
		for _, d := range x.Shape()[axis+1:] {
			l.inner *= d
		}
		if l.r == 0 && l.outer*l.inner > 0 {
			return fmt.Errorf("%s over an empty axis %d", n.Op, axis)
		}
		if out[0].Len() != l.outer*l.inner {
			return fmt.Errorf("output %v does not hold the %d results", out[0], l.outer*l.inner)
		}
		run(x, out[0].Int64s(), l)
		return nil
	}), nil
}

// argReduce finds the index of the largest (or smallest) value along r; ties go to
// the first index, or the last with last set. A NaN wins over numbers.
func argReduce[T number](env *Env, x []T, y []int64, l reduceLayout, isMax, last bool) {
	env.Parallel(l.outer*l.inner, max(1, 65536/max(1, l.r)), func(s, e int) {
		for t := s; t < e; t++ {
			o, i := t/l.inner, t%l.inner
			base := o*l.r*l.inner + i
			best, bi := x[base], 0
			for r := 1; r < l.r; r++ {
				v := x[base+r*l.inner]
				if best != best { // NaN already chosen
					break
				}
				better := v != v || (isMax && v > best) || (!isMax && v < best) || (last && v == best)
				if better {
					best, bi = v, r
				}
			}
			y[t] = int64(bi)
		}
	})
}
