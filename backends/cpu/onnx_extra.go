package cpu

import (
	"context"
	"fmt"
	"math"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// Kernels for the operators of engine/ops/onnx_extra.go. Data-movement kernels copy
// elements as bytes (any dtype); arithmetic ones compute in float64, which is exact
// for every float32 input and for integers below 2^53. They favour clarity over speed:
// these operators are rare in inference graphs and small where they occur.

// registerExtra adds a kernel to the extras table, which core kernels override.
func registerExtra(domain, op string, f Factory) {
	extraFactories[opKey{domain, op}] = f
}

func init() {
	registerExtra("", "DepthToSpace", xSimple(xRunDepthToSpace))
	registerExtra("", "SpaceToDepth", xSimple(xRunSpaceToDepth))
	registerExtra("", "GatherND", xSimple(xRunGatherND))
	registerExtra("", "ScatterND", xSimple(xRunScatterND))
	registerExtra("", "ScatterElements", xSimple(xRunScatterElements))
	registerExtra("", "Scatter", xSimple(xRunScatterElements))
	registerExtra("", "OneHot", xSimple(xRunOneHot))
	registerExtra("", "Compress", xSimple(xRunCompress))
	registerExtra("", "EyeLike", xSimple(xRunEyeLike))
	registerExtra("", "ReverseSequence", xSimple(xRunReverseSequence))
	registerExtra("", "Det", xSimple(xRunDet))
	registerExtra("", "RMSNormalization", xSimple(xRunRMSNorm))
	registerExtra("", "LpNormalization", xSimple(xRunLpNorm))
	registerExtra("", "MeanVarianceNormalization", xSimple(xRunMVN))
	registerExtra("", "NegativeLogLikelihoodLoss", xSimple(xRunNLL))
	registerExtra("", "SoftmaxCrossEntropyLoss", xSimple(xRunSCE))
	registerExtra("", "HannWindow", xSimple(xRunWindow))
	registerExtra("", "HammingWindow", xSimple(xRunWindow))
	registerExtra("", "BlackmanWindow", xSimple(xRunWindow))
}

// xSimpleRun is a kernel body that sees its node.
type xSimpleRun func(n *graph.Node, in, out []*tensor.Tensor) error

// xSimple makes a Factory from a kernel body that needs no preparation.
func xSimple(run xSimpleRun) Factory {
	return func(n *graph.Node, env *Env) (backends.Kernel, error) {
		return backends.KernelFunc(func(_ context.Context, in, out []*tensor.Tensor) error {
			return run(n, in, out)
		}), nil
	}
}

func xExtraErr(n *graph.Node, format string, args ...any) error {
	return fmt.Errorf("cpu: node %q (%s): %s", n.Name, n.Op, fmt.Sprintf(format, args...))
}

func xStridesOf(shape []int) []int {
	s := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}

func xProd(xs []int) int {
	p := 1
	for _, x := range xs {
		p *= x
	}
	return p
}

// xPermuteBytes writes the transpose of src (shape, elements of elem bytes) by perm
// into dst: dst's axis i is src's axis perm[i].
func xPermuteBytes(dst, src []byte, elem int, shape, perm []int) {
	r := len(shape)
	st := xStridesOf(shape)
	outShape := make([]int, r)
	for i, p := range perm {
		outShape[i] = shape[p]
	}
	idx := make([]int, r)
	n := xProd(outShape)
	for o := 0; o < n; o++ {
		off := 0
		for i := 0; i < r; i++ {
			off += idx[i] * st[perm[i]]
		}
		copy(dst[o*elem:(o+1)*elem], src[off*elem:(off+1)*elem])
		for i := r - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < outShape[i] {
				break
			}
			idx[i] = 0
		}
	}
}

func xRunDepthToSpace(n *graph.Node, in, out []*tensor.Tensor) error {
	x := in[0]
	s := x.Shape()
	b := int(n.Attrs.GetInt("blocksize", 0))
	N, C, H, W := s[0], s[1], s[2], s[3]
	var shape, perm []int
	if n.Attrs.GetString("mode", "DCR") == "CRD" {
		shape, perm = []int{N, C / (b * b), b, b, H, W}, []int{0, 1, 4, 2, 5, 3}
	} else {
		shape, perm = []int{N, b, b, C / (b * b), H, W}, []int{0, 3, 4, 1, 5, 2}
	}
	xPermuteBytes(out[0].Bytes(), x.Bytes(), x.DType().Size(), shape, perm)
	return nil
}

func xRunSpaceToDepth(n *graph.Node, in, out []*tensor.Tensor) error {
	x := in[0]
	s := x.Shape()
	b := int(n.Attrs.GetInt("blocksize", 0))
	shape := []int{s[0], s[1], s[2] / b, b, s[3] / b, b}
	xPermuteBytes(out[0].Bytes(), x.Bytes(), x.DType().Size(), shape, []int{0, 3, 5, 1, 2, 4})
	return nil
}

// xWrapIndex turns a possibly negative index into [0, dim) or fails.
func xWrapIndex(n *graph.Node, v int64, dim int) (int, error) {
	if v < 0 {
		v += int64(dim)
	}
	if v < 0 || v >= int64(dim) {
		return 0, xExtraErr(n, "index %d is out of range for a dimension of %d", v, dim)
	}
	return int(v), nil
}

func xRunGatherND(n *graph.Node, in, out []*tensor.Tensor) error {
	data, idx := in[0], in[1]
	ds, is := data.Shape(), idx.Shape()
	bd := int(n.Attrs.GetInt("batch_dims", 0))
	k := is[len(is)-1]
	batches := xProd(ds[:bd])
	tuples := xProd(is[bd : len(is)-1])
	slice := xProd(ds[bd+k:])
	elem := data.DType().Size()
	dataBatch := xProd(ds[bd:])
	st := xStridesOf(ds[bd:])
	iv := idx.Int64s()
	src, dst := data.Bytes(), out[0].Bytes()
	o := 0
	for b := 0; b < batches; b++ {
		for t := 0; t < tuples; t++ {
			tuple := iv[(b*tuples+t)*k : (b*tuples+t+1)*k]
			off := b * dataBatch
			for j, v := range tuple {
				p, err := xWrapIndex(n, v, ds[bd+j])
				if err != nil {
					return err
				}
				off += p * st[j]
			}
			copy(dst[o*elem:(o+slice)*elem], src[off*elem:(off+slice)*elem])
			o += slice
		}
	}
	return nil
}

// xReducer combines an existing value with an update for the scatter reductions.
func xReducer(n *graph.Node) (func(a, b float64) float64, error) {
	switch r := n.Attrs.GetString("reduction", "none"); r {
	case "none":
		return nil, nil
	case "add":
		return func(a, b float64) float64 { return a + b }, nil
	case "mul":
		return func(a, b float64) float64 { return a * b }, nil
	case "max":
		return math.Max, nil
	case "min":
		return math.Min, nil
	default:
		return nil, xExtraErr(n, "unknown reduction %q", r)
	}
}

func xRunScatterND(n *graph.Node, in, out []*tensor.Tensor) error {
	data, idx, upd := in[0], in[1], in[2]
	red, err := xReducer(n)
	if err != nil {
		return err
	}
	ds, is := data.Shape(), idx.Shape()
	k := is[len(is)-1]
	if k > len(ds) {
		return xExtraErr(n, "index tuples of length %d for data of rank %d", k, len(ds))
	}
	tuples := xProd(is[:len(is)-1])
	slice := xProd(ds[k:])
	if upd.Len() != tuples*slice {
		return xExtraErr(n, "updates have %d elements, expected %d", upd.Len(), tuples*slice)
	}
	st := xStridesOf(ds)
	elem := data.DType().Size()
	y := out[0]
	copy(y.Bytes(), data.Bytes())
	iv := idx.Int64s()
	var yv, uv []float64
	if red != nil {
		yv, uv = toFloat64s(y), toFloat64s(upd)
	}
	for t := 0; t < tuples; t++ {
		off := 0
		for j, v := range iv[t*k : (t+1)*k] {
			p, err := xWrapIndex(n, v, ds[j])
			if err != nil {
				return err
			}
			off += p * st[j]
		}
		if red == nil {
			copy(y.Bytes()[off*elem:(off+slice)*elem], upd.Bytes()[t*slice*elem:(t+1)*slice*elem])
			continue
		}
		for e := 0; e < slice; e++ {
			yv[off+e] = red(yv[off+e], uv[t*slice+e])
		}
	}
	if red != nil {
		fromFloat64s(y, yv)
	}
	return nil
}

func xRunScatterElements(n *graph.Node, in, out []*tensor.Tensor) error {
	data, idx, upd := in[0], in[1], in[2]
	red, err := xReducer(n)
	if err != nil {
		return err
	}
	ds, is := data.Shape(), idx.Shape()
	axis := int(n.Attrs.GetInt("axis", 0))
	if axis < 0 {
		axis += len(ds)
	}
	if axis < 0 || axis >= len(ds) || len(is) != len(ds) || upd.Len() != idx.Len() {
		return xExtraErr(n, "indices %v, updates %v and axis %d do not fit data %v", is, upd.Shape(), axis, ds)
	}
	y := out[0]
	copy(y.Bytes(), data.Bytes())
	dst := xStridesOf(ds)
	elem := data.DType().Size()
	coords := make([]int, len(is))
	var yv, uv []float64
	if red != nil {
		yv, uv = toFloat64s(y), toFloat64s(upd)
	}
	for i := 0; i < idx.Len(); i++ {
		off := 0
		for d, c := range coords {
			if d == axis {
				p, err := xWrapIndex(n, idx.Int64At(i), ds[axis])
				if err != nil {
					return err
				}
				c = p
			}
			off += c * dst[d]
		}
		if red == nil {
			copy(y.Bytes()[off*elem:(off+1)*elem], upd.Bytes()[i*elem:(i+1)*elem])
		} else {
			yv[off] = red(yv[off], uv[i])
		}
		for d := len(coords) - 1; d >= 0; d-- {
			coords[d]++
			if coords[d] < is[d] {
				break
			}
			coords[d] = 0
		}
	}
	if red != nil {
		fromFloat64s(y, yv)
	}
	return nil
}

func xRunOneHot(n *graph.Node, in, out []*tensor.Tensor) error {
	idx, depthT, vals := in[0], in[1], in[2]
	if vals.Len() != 2 {
		return xExtraErr(n, "values has %d elements, expected [off, on]", vals.Len())
	}
	depth := int(depthT.Float64At(0))
	y := out[0]
	rank := idx.Rank() + 1
	axis := int(n.Attrs.GetInt("axis", -1))
	if axis < 0 {
		axis += rank
	}
	outer := xProd(idx.Shape()[:axis])
	inner := xProd(idx.Shape()[axis:])
	off, on := vals.Float64At(0), vals.Float64At(1)
	yv := make([]float64, y.Len())
	for i := range yv {
		yv[i] = off
	}
	iv := toFloat64s(idx)
	for o := 0; o < outer; o++ {
		for j := 0; j < inner; j++ {
			v := int(iv[o*inner+j])
			if v < 0 {
				v += depth
			}
			if v >= 0 && v < depth {
				yv[(o*depth+v)*inner+j] = on
			}
		}
	}
	fromFloat64s(y, yv)
	return nil
}

func xRunCompress(n *graph.Node, in, out []*tensor.Tensor) error {
	x, cond := in[0], in[1].Bools()
	elem := x.DType().Size()
	src, dst := x.Bytes(), out[0].Bytes()
	outer, dim, inner := 1, x.Len(), 1
	if n.Attrs.Has("axis") {
		s := x.Shape()
		axis := int(n.Attrs.GetInt("axis", 0))
		if axis < 0 {
			axis += len(s)
		}
		outer, dim, inner = xProd(s[:axis]), s[axis], xProd(s[axis+1:])
	}
	if len(cond) > dim {
		return xExtraErr(n, "condition has %d entries for a dimension of %d", len(cond), dim)
	}
	o := 0
	for a := 0; a < outer; a++ {
		for i := 0; i < len(cond); i++ {
			if cond[i] {
				off := (a*dim + i) * inner
				copy(dst[o*elem:(o+inner)*elem], src[off*elem:(off+inner)*elem])
				o += inner
			}
		}
	}
	if o*elem != len(dst) {
		return xExtraErr(n, "selected %d elements for an output of %d", o, len(dst)/max(elem, 1))
	}
	return nil
}

func xRunEyeLike(n *graph.Node, in, out []*tensor.Tensor) error {
	y := out[0]
	s := y.Shape()
	k := int(n.Attrs.GetInt("k", 0))
	v := make([]float64, y.Len())
	for i := 0; i < s[0]; i++ {
		if j := i + k; j >= 0 && j < s[1] {
			v[i*s[1]+j] = 1
		}
	}
	fromFloat64s(y, v)
	return nil
}

func xRunReverseSequence(n *graph.Node, in, out []*tensor.Tensor) error {
	x, lens := in[0], in[1]
	s := x.Shape()
	if len(s) < 2 {
		return xExtraErr(n, "input has rank %d, expected at least 2", len(s))
	}
	ta, ba := int(n.Attrs.GetInt("time_axis", 0)), int(n.Attrs.GetInt("batch_axis", 1))
	if ta == ba || ta < 0 || ta > 1 || ba < 0 || ba > 1 {
		return xExtraErr(n, "time_axis %d and batch_axis %d must be 0 and 1", ta, ba)
	}
	st := xStridesOf(s)
	inner := xProd(s[2:])
	elem := x.DType().Size()
	src, dst := x.Bytes(), out[0].Bytes()
	copy(dst, src)
	if lens.Len() != s[ba] {
		return xExtraErr(n, "sequence_lens has %d entries for a batch of %d", lens.Len(), s[ba])
	}
	for b := 0; b < s[ba]; b++ {
		L := int(lens.Int64At(b))
		if L < 0 || L > s[ta] {
			return xExtraErr(n, "sequence length %d is out of range [0, %d]", L, s[ta])
		}
		for t := 0; t < L; t++ {
			from := (b*st[ba] + (L-1-t)*st[ta]) * elem
			to := (b*st[ba] + t*st[ta]) * elem
			copy(dst[to:to+inner*elem], src[from:from+inner*elem])
		}
	}
	return nil
}

func xRunDet(n *graph.Node, in, out []*tensor.Tensor) error {
	x := in[0]
	s := x.Shape()
	m := s[len(s)-1]
	if s[len(s)-2] != m {
		return xExtraErr(n, "matrices of shape %v are not square", s[len(s)-2:])
	}
	xv := toFloat64s(x)
	res := make([]float64, out[0].Len())
	a := make([]float64, m*m)
	for b := range res {
		copy(a, xv[b*m*m:(b+1)*m*m])
		det := 1.0
		for c := 0; c < m; c++ {
			p := c
			for r := c + 1; r < m; r++ {
				if math.Abs(a[r*m+c]) > math.Abs(a[p*m+c]) {
					p = r
				}
			}
			if a[p*m+c] == 0 {
				det = 0
				break
			}
			if p != c {
				for j := 0; j < m; j++ {
					a[c*m+j], a[p*m+j] = a[p*m+j], a[c*m+j]
				}
				det = -det
			}
			det *= a[c*m+c]
			for r := c + 1; r < m; r++ {
				f := a[r*m+c] / a[c*m+c]
				for j := c; j < m; j++ {
					a[r*m+j] -= f * a[c*m+j]
				}
			}
		}
		res[b] = det
	}
	fromFloat64s(out[0], res)
	return nil
}

// xBroadcastIndex maps a flat index of shape `full` to the flat index of a tensor of
// shape `part` broadcast (right-aligned) against it.
func xBroadcastIndex(i int, full, part []int) int {
	off, stride := 0, 1
	for d := 1; d <= len(full); d++ {
		c := i % full[len(full)-d]
		i /= full[len(full)-d]
		if d <= len(part) {
			pd := part[len(part)-d]
			if pd != 1 {
				off += c * stride
			}
			stride *= pd
		}
	}
	return off
}

func xRunRMSNorm(n *graph.Node, in, out []*tensor.Tensor) error {
	x, scale := in[0], in[1]
	s := x.Shape()
	axis := int(n.Attrs.GetInt("axis", -1))
	if axis < 0 {
		axis += len(s)
	}
	if axis < 0 || axis > len(s) {
		return xExtraErr(n, "axis %d is out of range for rank %d", n.Attrs.GetInt("axis", -1), len(s))
	}
	eps := float64(n.Attrs.GetFloat("epsilon", 1e-5))
	inner := xProd(s[axis:])
	outer := x.Len() / max(inner, 1)
	xv, sv := toFloat64s(x), toFloat64s(scale)
	y := make([]float64, len(xv))
	for o := 0; o < outer; o++ {
		row := xv[o*inner : (o+1)*inner]
		var ss float64
		for _, v := range row {
			ss += v * v
		}
		inv := 1 / math.Sqrt(ss/float64(inner)+eps)
		for i, v := range row {
			y[o*inner+i] = v * inv * sv[xBroadcastIndex(i, s[axis:], scale.Shape())]
		}
	}
	fromFloat64s(out[0], y)
	return nil
}

func xRunLpNorm(n *graph.Node, in, out []*tensor.Tensor) error {
	x := in[0]
	s := x.Shape()
	axis := int(n.Attrs.GetInt("axis", -1))
	if axis < 0 {
		axis += len(s)
	}
	if axis < 0 || axis >= len(s) {
		return xExtraErr(n, "axis %d is out of range for rank %d", n.Attrs.GetInt("axis", -1), len(s))
	}
	p := n.Attrs.GetInt("p", 2)
	if p != 1 && p != 2 {
		return xExtraErr(n, "p = %d, expected 1 or 2", p)
	}
	outer, dim, inner := xProd(s[:axis]), s[axis], xProd(s[axis+1:])
	xv := toFloat64s(x)
	y := make([]float64, len(xv))
	for o := 0; o < outer; o++ {
		for j := 0; j < inner; j++ {
			var norm float64
			for i := 0; i < dim; i++ {
				v := xv[(o*dim+i)*inner+j]
				if p == 1 {
					norm += math.Abs(v)
				} else {
					norm += v * v
				}
			}
			if p == 2 {
				norm = math.Sqrt(norm)
			}
			for i := 0; i < dim; i++ {
				k := (o*dim+i)*inner + j
				if norm != 0 {
					y[k] = xv[k] / norm
				}
			}
		}
	}
	fromFloat64s(out[0], y)
	return nil
}

func xRunMVN(n *graph.Node, in, out []*tensor.Tensor) error {
	x := in[0]
	s := x.Shape()
	axes := n.Attrs.GetInts("axes", []int64{0, 2, 3})
	reduced := make([]bool, len(s))
	for _, a := range axes {
		if a < 0 {
			a += int64(len(s))
		}
		if a < 0 || int(a) >= len(s) {
			return xExtraErr(n, "axis %d is out of range for rank %d", a, len(s))
		}
		reduced[a] = true
	}
	// key maps each element to its group (the coordinates of the kept axes).
	key := make([]int, x.Len())
	groups := 1
	for d := range s {
		if !reduced[d] {
			groups *= s[d]
		}
	}
	coords := make([]int, len(s))
	for i := range key {
		k := 0
		for d := range s {
			if !reduced[d] {
				k = k*s[d] + coords[d]
			}
		}
		key[i] = k
		for d := len(s) - 1; d >= 0; d-- {
			coords[d]++
			if coords[d] < s[d] {
				break
			}
			coords[d] = 0
		}
	}
	xv := toFloat64s(x)
	sum, sq, cnt := make([]float64, groups), make([]float64, groups), make([]float64, groups)
	for i, v := range xv {
		sum[key[i]] += v
		sq[key[i]] += v * v
		cnt[key[i]]++
	}
	y := make([]float64, len(xv))
	for i, v := range xv {
		g := key[i]
		mean := sum[g] / cnt[g]
		variance := sq[g]/cnt[g] - mean*mean
		y[i] = (v - mean) / (math.Sqrt(math.Max(variance, 0)) + 1e-9)
	}
	fromFloat64s(out[0], y)
	return nil
}

// xNllLoss computes NegativeLogLikelihoodLoss over logp [N, C, d...] (as float64).
func xNllLoss(n *graph.Node, logp []float64, shape []int, target, weight *tensor.Tensor, y *tensor.Tensor) error {
	N, C := shape[0], shape[1]
	inner := xProd(shape[2:])
	if target.Len() != N*inner {
		return xExtraErr(n, "target has %d elements, expected %d", target.Len(), N*inner)
	}
	var w []float64
	if weight != nil {
		w = toFloat64s(weight)
	}
	ignore, hasIgnore := n.Attrs.GetInt("ignore_index", 0), n.Attrs.Has("ignore_index")
	loss := make([]float64, N*inner)
	var total, wsum float64
	for b := 0; b < N; b++ {
		for j := 0; j < inner; j++ {
			t := target.Int64At(b*inner + j)
			if hasIgnore && t == ignore {
				continue
			}
			if t < 0 || t >= int64(C) {
				return xExtraErr(n, "target %d is out of range for %d classes", t, C)
			}
			wt := 1.0
			if w != nil {
				wt = w[t]
			}
			l := -logp[(b*C+int(t))*inner+j] * wt
			loss[b*inner+j] = l
			total += l
			wsum += wt
		}
	}
	switch r := n.Attrs.GetString("reduction", "mean"); r {
	case "none":
		fromFloat64s(y, loss)
	case "sum":
		fromFloat64s(y, []float64{total})
	case "mean":
		fromFloat64s(y, []float64{total / wsum})
	default:
		return xExtraErr(n, "unknown reduction %q", r)
	}
	return nil
}

func xRunNLL(n *graph.Node, in, out []*tensor.Tensor) error {
	var weight *tensor.Tensor
	if len(in) > 2 {
		weight = in[2]
	}
	return xNllLoss(n, toFloat64s(in[0]), in[0].Shape(), in[1], weight, out[0])
}

func xRunSCE(n *graph.Node, in, out []*tensor.Tensor) error {
	x := in[0]
	s := x.Shape()
	if len(s) < 2 {
		return xExtraErr(n, "scores have rank %d, expected at least 2", len(s))
	}
	N, C, inner := s[0], s[1], xProd(s[2:])
	xv := toFloat64s(x)
	logp := make([]float64, len(xv))
	for b := 0; b < N; b++ {
		for j := 0; j < inner; j++ {
			m := math.Inf(-1)
			for c := 0; c < C; c++ {
				m = math.Max(m, xv[(b*C+c)*inner+j])
			}
			var sum float64
			for c := 0; c < C; c++ {
				sum += math.Exp(xv[(b*C+c)*inner+j] - m)
			}
			lse := m + math.Log(sum)
			for c := 0; c < C; c++ {
				k := (b*C+c)*inner + j
				logp[k] = xv[k] - lse
			}
		}
	}
	if len(out) > 1 && out[1] != nil {
		fromFloat64s(out[1], logp)
	}
	var weight *tensor.Tensor
	if len(in) > 2 {
		weight = in[2]
	}
	return xNllLoss(n, logp, s, in[1], weight, out[0])
}

func xRunWindow(n *graph.Node, in, out []*tensor.Tensor) error {
	size := out[0].Len()
	periodic := n.Attrs.GetInt("periodic", 1) == 1
	den := float64(size)
	if !periodic {
		den = float64(size - 1)
	}
	v := make([]float64, size)
	for i := range v {
		x := 2 * math.Pi * float64(i) / den
		switch n.Op {
		case "HannWindow":
			v[i] = 0.5 - 0.5*math.Cos(x)
		case "HammingWindow":
			v[i] = 25.0/46 - 21.0/46*math.Cos(x)
		default:
			v[i] = 0.42 - 0.5*math.Cos(x) + 0.08*math.Cos(2*x)
		}
	}
	fromFloat64s(out[0], v)
	return nil
}
