package cpu

import (
	"math"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// Kernels of engine/ops/onnx_extra2.go, following the ONNX reference implementations
// (onnx/reference/ops): the quantizers divide in float32 and round half to even.

func init() {
	registerExtra("", "QuantizeLinear", xSimple(xRunQuantize))
	registerExtra("", "DequantizeLinear", xSimple(xRunDequantize))
	registerExtra("", "DynamicQuantizeLinear", xSimple(xRunDynQuant))
	registerExtra("", "Swish", xSimple(xRunSwish))
	registerExtra("", "SwiGLU", xSimple(xRunSwish))
	registerExtra("", "CumProd", xSimple(xRunCumProd))
	registerExtra("", "TensorScatter", xSimple(xRunTensorScatter))
	registerExtra("", "MaxUnpool", xSimple(xRunMaxUnpool))
}

// xQuantParam maps each element of x to the index of its scale or zero point: one
// value, one per slice along axis, or one per block of block_size along axis.
func xQuantParam(n *graph.Node, xs []int, p *tensor.Tensor) (func(i int) int, error) {
	if p.Len() == 1 {
		return func(int) int { return 0 }, nil
	}
	axis := int(n.Attrs.GetInt("axis", 1))
	if axis < 0 {
		axis += len(xs)
	}
	if axis < 0 || axis >= len(xs) {
		return nil, xExtraErr(n, "axis %d is out of range for rank %d", n.Attrs.GetInt("axis", 1), len(xs))
	}
	inner := xProd(xs[axis+1:])
	block := int(n.Attrs.GetInt("block_size", 0))
	if block <= 0 {
		if p.Rank() != 1 || p.Len() != xs[axis] {
			return nil, xExtraErr(n, "scale of shape %v does not fit axis %d of %v", p.Shape(), axis, xs)
		}
		return func(i int) int { return i / inner % xs[axis] }, nil
	}
	ps := p.Shape()
	if len(ps) != len(xs) {
		return nil, xExtraErr(n, "blocked scale of shape %v does not fit %v", ps, xs)
	}
	pst := xStridesOf(ps)
	xst := xStridesOf(xs)
	return func(i int) int {
		off := 0
		for d := range xs {
			c := i / xst[d] % xs[d]
			if d == axis {
				c /= block
			}
			off += c * pst[d]
		}
		return off
	}, nil
}

func xQuantRange(dt tensor.DType) (float64, float64) {
	switch dt {
	case tensor.Int8:
		return -128, 127
	case tensor.Uint16:
		return 0, 65535
	case tensor.Int16:
		return -32768, 32767
	}
	return 0, 255
}

func xRunQuantize(n *graph.Node, in, out []*tensor.Tensor) error {
	x, scale := in[0], in[1]
	var zp *tensor.Tensor
	if len(in) > 2 {
		zp = in[2]
	}
	idx, err := xQuantParam(n, x.Shape(), scale)
	if err != nil {
		return err
	}
	xv, sv := toFloat64s(x), toFloat64s(scale)
	var zv []float64
	if zp != nil {
		zv = toFloat64s(zp)
	}
	half := x.DType() == tensor.Float16
	lo, hi := xQuantRange(out[0].DType())
	y := make([]float64, len(xv))
	for i, v := range xv {
		j := idx(i)
		q := float32(v) / float32(sv[j])
		if half {
			q = tensor.Float16ToFloat32(tensor.Float32ToFloat16(q))
		}
		r := math.RoundToEven(float64(q))
		if zv != nil {
			r += zv[j]
		}
		y[i] = math.Min(math.Max(r, lo), hi)
	}
	fromFloat64s(out[0], y)
	return nil
}

func xRunDequantize(n *graph.Node, in, out []*tensor.Tensor) error {
	x, scale := in[0], in[1]
	idx, err := xQuantParam(n, x.Shape(), scale)
	if err != nil {
		return err
	}
	xv, sv := toFloat64s(x), toFloat64s(scale)
	var zv []float64
	if len(in) > 2 && in[2] != nil {
		zv = toFloat64s(in[2])
	}
	y := make([]float64, len(xv))
	for i, v := range xv {
		j := idx(i)
		d := float32(v)
		if zv != nil {
			d -= float32(zv[j])
		}
		y[i] = float64(d * float32(sv[j]))
	}
	fromFloat64s(out[0], y)
	return nil
}

func xRunDynQuant(n *graph.Node, in, out []*tensor.Tensor) error {
	xv := toFloat64s(in[0])
	var maxx, minx float32
	for _, v := range xv {
		maxx, minx = max(maxx, float32(v)), min(minx, float32(v))
	}
	scale := float32(1)
	if maxx != minx {
		scale = maxx - minx
	}
	scale /= 255
	zp := float32(math.RoundToEven(float64(min(max(0-minx/scale, 0), 255))))
	y := make([]float64, len(xv))
	for i, v := range xv {
		y[i] = math.Min(math.Max(math.RoundToEven(float64(float32(v)/scale))+float64(zp), 0), 255)
	}
	fromFloat64s(out[0], y)
	fromFloat64s(out[1], []float64{float64(scale)})
	fromFloat64s(out[2], []float64{float64(zp)})
	return nil
}

func xRunSwish(n *graph.Node, in, out []*tensor.Tensor) error {
	alpha := float64(n.Attrs.GetFloat("alpha", 1))
	a := toFloat64s(in[0])
	var b []float64
	if n.Op == "SwiGLU" {
		if in[1].Len() != len(a) {
			return xExtraErr(n, "A has %d elements and B %d; they must match", len(a), in[1].Len())
		}
		b = toFloat64s(in[1])
	}
	for i, v := range a {
		a[i] = v / (1 + math.Exp(-alpha*v))
		if b != nil {
			a[i] *= b[i]
		}
	}
	fromFloat64s(out[0], a)
	return nil
}

func xRunCumProd(n *graph.Node, in, out []*tensor.Tensor) error {
	x := in[0]
	s := x.Shape()
	axis := int(in[1].Int64At(0))
	if axis < 0 {
		axis += len(s)
	}
	if axis < 0 || axis >= len(s) {
		return xExtraErr(n, "axis %d is out of range for rank %d", in[1].Int64At(0), len(s))
	}
	excl, rev := n.Attrs.GetInt("exclusive", 0) != 0, n.Attrs.GetInt("reverse", 0) != 0
	outer, dim, inner := xProd(s[:axis]), s[axis], xProd(s[axis+1:])
	xv := toFloat64s(x)
	y := make([]float64, len(xv))
	for o := 0; o < outer; o++ {
		for j := 0; j < inner; j++ {
			acc := 1.0
			for k := 0; k < dim; k++ {
				kk := k
				if rev {
					kk = dim - 1 - k
				}
				i := (o*dim+kk)*inner + j
				if excl {
					y[i] = acc
					acc *= xv[i]
				} else {
					acc *= xv[i]
					y[i] = acc
				}
			}
		}
	}
	fromFloat64s(out[0], y)
	return nil
}

func xRunTensorScatter(n *graph.Node, in, out []*tensor.Tensor) error {
	past, upd := in[0], in[1]
	ps, us := past.Shape(), upd.Shape()
	axis := int(n.Attrs.GetInt("axis", -2))
	if axis < 0 {
		axis += len(ps)
	}
	if axis <= 0 || axis >= len(ps) || len(us) != len(ps) {
		return xExtraErr(n, "update %v and axis %d do not fit cache %v", us, n.Attrs.GetInt("axis", -2), ps)
	}
	circular := n.Attrs.GetString("mode", "linear") == "circular"
	elem := past.DType().Size()
	dst, src := out[0].Bytes(), upd.Bytes()
	copy(dst, past.Bytes())
	prefix, inner := xProd(ps[:axis]), xProd(ps[axis+1:])
	perBatch := prefix / max(ps[0], 1)
	for p := 0; p < prefix; p++ {
		w := 0
		if len(in) > 2 && in[2] != nil {
			w = int(in[2].Int64At(p / max(perBatch, 1)))
		}
		for s := 0; s < us[axis]; s++ {
			c := w + s
			if circular {
				c %= ps[axis]
			}
			if c < 0 || c >= ps[axis] {
				return xExtraErr(n, "write position %d is outside the cache of %d", c, ps[axis])
			}
			to, from := (p*ps[axis]+c)*inner*elem, (p*us[axis]+s)*inner*elem
			copy(dst[to:to+inner*elem], src[from:from+inner*elem])
		}
	}
	return nil
}

func xRunMaxUnpool(n *graph.Node, in, out []*tensor.Tensor) error {
	x, idx, y := in[0], in[1], out[0]
	xs := x.Shape()
	k := n.Attrs.GetInts("kernel_shape", nil)
	nd := len(xs) - 2
	if len(k) != nd {
		return xExtraErr(n, "kernel_shape %v does not fit input %v", k, xs)
	}
	pads := n.Attrs.GetInts("pads", make([]int64, 2*nd))
	strides := n.Attrs.GetInts("strides", nil)
	inferred := append([]int(nil), xs[:2]...)
	for d := 0; d < nd; d++ {
		s := 1
		if d < len(strides) {
			s = int(strides[d])
		}
		inferred = append(inferred, (xs[d+2]-1)*s-int(pads[d]+pads[nd+d])+int(k[d]))
	}
	total := xProd(inferred)
	elem := x.DType().Size()
	flat := make([]byte, total*elem)
	src := x.Bytes()
	for i := 0; i < x.Len(); i++ {
		j := int(idx.Int64At(i))
		if j < 0 || j >= total {
			return xExtraErr(n, "index %d is out of range [0, %d)", j, total)
		}
		copy(flat[j*elem:(j+1)*elem], src[i*elem:(i+1)*elem])
	}
	ys := y.Shape()
	if len(ys) != len(inferred) {
		return xExtraErr(n, "output shape %v does not match rank of %v", ys, inferred)
	}
	dst := y.Bytes()
	clear(dst)
	yst := xStridesOf(ys)
	ist := xStridesOf(inferred)
	for i := 0; i < total; i++ {
		off := 0
		for d := range inferred {
			c := i / ist[d] % inferred[d]
			if c >= ys[d] {
				off = -1
				break
			}
			off += c * yst[d]
		}
		if off >= 0 {
			copy(dst[off*elem:(off+1)*elem], flat[i*elem:(i+1)*elem])
		}
	}
	return nil
}

func init() {
	registerExtra("", "RotaryEmbedding", xSimple(xRunRotary))
}

// xRunRotary follows onnx/reference/ops/op_rotary_embedding.py.
func xRunRotary(n *graph.Node, in, out []*tensor.Tensor) error {
	x, cosT, sinT := in[0], in[1], in[2]
	var pos *tensor.Tensor
	if len(in) > 3 {
		pos = in[3]
	}
	s := x.Shape()
	var B, S, H, D int
	four := len(s) == 4
	switch {
	case four:
		B, H, S, D = s[0], s[1], s[2], s[3]
	case len(s) == 3:
		H = int(n.Attrs.GetInt("num_heads", 0))
		if H <= 0 || s[2]%H != 0 {
			return xExtraErr(n, "3-D input %v needs num_heads dividing its last dimension", s)
		}
		B, S, D = s[0], s[1], s[2]/H
	default:
		return xExtraErr(n, "input has shape %v; expected 3-D or 4-D", s)
	}
	rd := int(n.Attrs.GetInt("rotary_embedding_dim", 0))
	if rd == 0 {
		rd = D
	}
	half := rd / 2
	cs := cosT.Shape()
	if cs[len(cs)-1] != half || rd > D {
		return xExtraErr(n, "cos cache %v does not fit a rotary dimension of %d", cs, rd)
	}
	interleaved := n.Attrs.GetInt("interleaved", 0) != 0
	xv, cv, sv := toFloat64s(x), toFloat64s(cosT), toFloat64s(sinT)
	y := append([]float64(nil), xv...)
	at := func(b, h, t, d int) int {
		if four {
			return ((b*H+h)*S+t)*D + d
		}
		return ((b*S+t)*H+h)*D + d
	}
	for b := 0; b < B; b++ {
		for t := 0; t < S; t++ {
			row := 0
			switch {
			case pos != nil:
				row = int(pos.Int64At(b*S + t))
			case len(cs) == 3:
				row = b*S + t
			default:
				row = t
			}
			if (row+1)*half > len(cv) || row < 0 {
				return xExtraErr(n, "position %d is outside the cos cache %v", row, cs)
			}
			for h := 0; h < H; h++ {
				for k := 0; k < half; k++ {
					i1, i2 := at(b, h, t, k), at(b, h, t, k+half)
					if interleaved {
						i1, i2 = at(b, h, t, 2*k), at(b, h, t, 2*k+1)
					}
					c, sn := cv[row*half+k], sv[row*half+k]
					x1, x2 := xv[i1], xv[i2]
					y[i1] = c*x1 - sn*x2
					y[i2] = sn*x1 + c*x2
				}
			}
		}
	}
	fromFloat64s(out[0], y)
	return nil
}

func init() {
	registerExtra("", "NonMaxSuppression", xSimple(xRunNMS))
}

func xRunNMS(n *graph.Node, in, out []*tensor.Tensor) error {
	sel, err := ops.NMSSelect(n, in)
	if err != nil {
		return xExtraErr(n, "%v", err)
	}
	if out[0].Len() != 3*len(sel) {
		return xExtraErr(n, "selected %d boxes for an output of %v", len(sel), out[0].Shape())
	}
	v := out[0].Int64s()
	for i, s := range sel {
		copy(v[3*i:], s[:])
	}
	return nil
}
