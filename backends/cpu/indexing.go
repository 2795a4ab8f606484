package cpu

import (
	"fmt"
	"sort"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

func init() {
	register("", "Trilu", newTrilu)
	register("", "CumSum", newCumSum)
	register("", "TopK", newTopK)
	register("", "NonZero", newNonZero)
	register("", "ScatterElements", newScatterElements)
	register("", "Scatter", newScatterElements)
}

func newTrilu(n *graph.Node, env *Env) (backends.Kernel, error) {
	upper := n.Attrs.GetInt("upper", 1) != 0
	return wrap(n, func(in, out []*tensor.Tensor) error {
		x, o := in[0], out[0]
		k := int64(0)
		if len(in) > 1 && in[1] != nil {
			if in[1].Len() != 1 {
				return fmt.Errorf("k must be a scalar, got %v", in[1])
			}
			k = in[1].Int64At(0)
		}
		if x.Rank() < 2 {
			return fmt.Errorf("input %v needs at least 2 dimensions", x)
		}
		rows, cols := x.Shape()[x.Rank()-2], x.Shape()[x.Rank()-1]
		copy(o.Bytes(), x.Bytes())
		es := o.DType().Size()
		dst := o.Bytes()
		mats := x.Len() / max(1, rows*cols)
		if rows*cols == 0 {
			return nil
		}
		for m := 0; m < mats; m++ {
			for i := 0; i < rows; i++ {
				row := dst[((m*rows+i)*cols)*es : ((m*rows+i)*cols+cols)*es]
				// keep j - i >= k (upper) or j - i <= k (lower)
				lim := int64(i) + k
				if upper {
					z := int(max(0, min(lim, int64(cols))))
					clear(row[:z*es])
				} else {
					z := int(max(0, min(lim+1, int64(cols))))
					clear(row[z*es:])
				}
			}
		}
		return nil
	}), nil
}

func newCumSum(n *graph.Node, env *Env) (backends.Kernel, error) {
	dt := n.Inputs[0].DType
	excl, rev := n.Attrs.GetInt("exclusive", 0) != 0, n.Attrs.GetInt("reverse", 0) != 0
	mk := func(body func(x, y *tensor.Tensor, l reduceLayout)) kernelBody {
		return func(in, out []*tensor.Tensor) error {
			x := in[0]
			if in[1].Len() != 1 {
				return fmt.Errorf("axis must be a scalar, got %v", in[1])
			}
			axis, err := ops.NormAxis(in[1].Int64At(0), x.Rank())
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
			body(x, out[0], l)
			return nil
		}
	}
	var body kernelBody
	switch {
	case dt == tensor.Float32:
		body = mk(func(x, y *tensor.Tensor, l reduceLayout) { cumsum(env, raw[float32](x), raw[float32](y), l, excl, rev) })
	case dt == tensor.Float64:
		body = mk(func(x, y *tensor.Tensor, l reduceLayout) { cumsum(env, raw[float64](x), raw[float64](y), l, excl, rev) })
	case isHalf(dt):
		body = asHalfRun(mk(func(x, y *tensor.Tensor, l reduceLayout) { cumsum(env, raw[float32](x), raw[float32](y), l, excl, rev) }))
	case dt == tensor.Int32:
		body = mk(func(x, y *tensor.Tensor, l reduceLayout) { cumsum(env, raw[int32](x), raw[int32](y), l, excl, rev) })
	case dt == tensor.Int64:
		body = mk(func(x, y *tensor.Tensor, l reduceLayout) { cumsum(env, raw[int64](x), raw[int64](y), l, excl, rev) })
	case dt == tensor.Uint32:
		body = mk(func(x, y *tensor.Tensor, l reduceLayout) { cumsum(env, raw[uint32](x), raw[uint32](y), l, excl, rev) })
	case dt == tensor.Uint64:
		body = mk(func(x, y *tensor.Tensor, l reduceLayout) { cumsum(env, raw[uint64](x), raw[uint64](y), l, excl, rev) })
	case dt.IsInteger():
		body = func(in, out []*tensor.Tensor) error {
			xf, yf := asFloat64Tensor(in[0]), tensor.New(tensor.Float64, out[0].Shape())
			if err := mk(func(x, y *tensor.Tensor, l reduceLayout) { cumsum(env, raw[float64](x), raw[float64](y), l, excl, rev) })([]*tensor.Tensor{xf, in[1]}, []*tensor.Tensor{yf}); err != nil {
				return err
			}
			fromFloat64s(out[0], yf.Float64s())
			return nil
		}
	default:
		return nil, unsupported(n, "dtype %v", dt)
	}
	return wrap(n, body), nil
}

// cumsum runs the (exclusive, reversed) running sum along r for each (outer, inner).
func cumsum[T number](env *Env, x, y []T, l reduceLayout, excl, rev bool) {
	env.Parallel(l.outer, max(1, 65536/max(1, l.r*l.inner)), func(lo, hi int) {
		acc := make([]T, l.inner)
		for o := lo; o < hi; o++ {
			clear(acc)
			for s := 0; s < l.r; s++ {
				r := s
				if rev {
					r = l.r - 1 - s
				}
				base := (o*l.r + r) * l.inner
				xs, ys := x[base:base+l.inner], y[base:base+l.inner]
				if excl {
					for i, v := range xs {
						ys[i] = acc[i]
						acc[i] += v
					}
				} else {
					for i, v := range xs {
						acc[i] += v
						ys[i] = acc[i]
					}
				}
			}
		}
	})
}

func newTopK(n *graph.Node, env *Env) (backends.Kernel, error) {
	largest := n.Attrs.GetInt("largest", 1) != 0
	dt := n.Inputs[0].DType
	if !dt.IsFloat() && !dt.IsInteger() {
		return nil, unsupported(n, "dtype %v", dt)
	}
	return wrap(n, func(in, out []*tensor.Tensor) error {
		x := in[0]
		c := inferCtx(n, in)
		k, ok := ops.TopKCount(c)
		if !ok {
			return fmt.Errorf("k must be a one-element tensor")
		}
		axis, err := ops.NormAxis(n.Attrs.GetInt("axis", -1), x.Rank())
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
		if k < 0 || k > int64(l.r) {
			return fmt.Errorf("k = %d is outside [0, %d]", k, l.r)
		}
		kk := int(k)
		if out[0].Len() != l.outer*kk*l.inner || out[1].Len() != out[0].Len() {
			return fmt.Errorf("outputs %v, %v do not hold k=%d values", out[0], out[1], k)
		}
		vals := toFloat64s(x)
		idx := out[1].Int64s()
		res := make([]float64, len(idx))
		env.Parallel(l.outer*l.inner, max(1, 4096/max(1, l.r)), func(s, e int) {
			order := make([]int, l.r)
			for t := s; t < e; t++ {
				o, i := t/l.inner, t%l.inner
				at := func(j int) float64 { return vals[(o*l.r+j)*l.inner+i] }
				for j := range order {
					order[j] = j
				}
				// Ties keep the lower index first; NaN counts as the largest value.
				sort.SliceStable(order, func(a, b int) bool {
					va, vb := at(order[a]), at(order[b])
					if largest {
						return va > vb || (va != va && vb == vb)
					}
					return va < vb || (vb != vb && va == va)
				})
				for j := 0; j < kk; j++ {
					p := (o*kk+j)*l.inner + i
					idx[p] = int64(order[j])
					res[p] = at(order[j])
				}
			}
		})
		// Values are copies of inputs: the float64 round trip is exact for every float
		// type and for integers below 2^53.
		fromFloat64s(out[0], res)
		return nil
	}), nil
}

func newNonZero(n *graph.Node, env *Env) (backends.Kernel, error) {
	return wrap(n, func(in, out []*tensor.Tensor) error {
		x := in[0]
		v := toFloat64s(x)
		count := 0
		for _, e := range v {
			if e != 0 {
				count++
			}
		}
		r := x.Rank()
		o := out[0]
		if !sameInts(o.Shape(), []int{r, count}) {
			return fmt.Errorf("output %v is not [%d, %d]", o, r, count)
		}
		res := o.Int64s()
		j := 0
		for i, e := range v {
			if e == 0 {
				continue
			}
			rem := i
			for d := r - 1; d >= 0; d-- {
				res[d*count+j] = int64(rem % x.Shape()[d])
				rem /= x.Shape()[d]
			}
			j++
		}
		return nil
	}), nil
}

func newScatterElements(n *graph.Node, env *Env) (backends.Kernel, error) {
	reduction := n.Attrs.GetString("reduction", "none")
	dt := n.Inputs[0].DType
	return wrap(n, func(in, out []*tensor.Tensor) error {
		x, o := in[0], out[0]
		axis, err := ops.NormAxis(n.Attrs.GetInt("axis", 0), x.Rank())
		if err != nil {
			return err
		}
		if !sameInts(in[1].Shape(), in[2].Shape()) || in[1].Rank() != x.Rank() {
			return fmt.Errorf("indices %v and updates %v must have one shape of data's rank %d", in[1].Shape(), in[2].Shape(), x.Rank())
		}
		offs, err := elementOffsets(x.Shape(), in[1].Shape(), axis, in[1].AsInt64s())
		if err != nil {
			return err
		}
		copy(o.Bytes(), x.Bytes())
		if reduction == "none" {
			switch o.DType().Size() {
			case 1:
				put(raw[uint8](o), raw[uint8](in[2]), offs)
			case 2:
				put(raw[uint16](o), raw[uint16](in[2]), offs)
			case 4:
				put(raw[uint32](o), raw[uint32](in[2]), offs)
			case 8:
				put(raw[uint64](o), raw[uint64](in[2]), offs)
			}
			return nil
		}
		if !dt.IsFloat() && !dt.IsInteger() {
			return fmt.Errorf("reduction %s needs a numeric dtype, not %v", reduction, dt)
		}
		acc := toFloat64s(o)
		for k, u := range toFloat64s(in[2]) {
			p := offs[k]
			switch reduction {
			case "add":
				acc[p] += u
			case "mul":
				acc[p] *= u
			case "max":
				acc[p] = max(acc[p], u)
			case "min":
				acc[p] = min(acc[p], u)
			}
		}
		fromFloat64s(o, acc)
		return nil
	}), nil
}

// put sets dst[offs[k]] = src[k] in order, so later duplicates win.
func put[T any](dst, src []T, offs []int) {
	for k, o := range offs {
		dst[o] = src[k]
	}
}
