package cpu

import (
	"math"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// ConvInteger, QLinearConv and DeformConv by direct loops in float64 (exact for the
// integer sums of 8-bit convolutions of moderate size).

func init() {
	registerExtra("", "ConvInteger", xSimple(xRunConvInteger))
	registerExtra("", "QLinearConv", xSimple(xRunQLinearConv))
	registerExtra("", "DeformConv", xSimple(xRunDeformConv))
}

// xConvDirect convolves x [N, C, in...] with w [M, C/group, k...]: y [N, M, out...].
func xConvDirect(n *graph.Node, x []float64, xs []int, w []float64, ws []int) ([]float64, []int, error) {
	g, err := ops.ConvGeometry(n.Attrs, xs[2:], ws[2:])
	if err != nil {
		return nil, nil, xExtraErr(n, "%v", err)
	}
	N, C, M := xs[0], xs[1], ws[0]
	group := int(n.Attrs.GetInt("group", 1))
	if group <= 0 || C%group != 0 || M%group != 0 || ws[1] != C/group {
		return nil, nil, xExtraErr(n, "x %v and w %v do not fit group %d", xs, ws, group)
	}
	cg, mg := C/group, M/group
	nd := len(xs) - 2
	in, out, k := xs[2:], g.Out, ws[2:]
	ist, ost, kst := xStridesOf(in), xStridesOf(out), xStridesOf(k)
	P, O, K := xProd(in), xProd(out), xProd(k)
	y := make([]float64, N*M*O)
	for b := 0; b < N; b++ {
		for m := 0; m < M; m++ {
			gr := m / mg
			for o := 0; o < O; o++ {
				var s float64
				for c := 0; c < cg; c++ {
					xc := x[(b*C+gr*cg+c)*P:]
					wc := w[(m*cg+c)*K:]
					for kk := 0; kk < K; kk++ {
						off := 0
						ok := true
						for d := 0; d < nd; d++ {
							p := (o/ost[d]%out[d])*g.Strides[d] - g.PadsBegin[d] + (kk/kst[d]%k[d])*g.Dilations[d]
							if p < 0 || p >= in[d] {
								ok = false
								break
							}
							off += p * ist[d]
						}
						if ok {
							s += xc[off] * wc[kk]
						}
					}
				}
				y[(b*M+m)*O+o] = s
			}
		}
	}
	return y, append([]int{N, M}, out...), nil
}

// xSubZeroPoint subtracts a zero point (scalar, or one per slice of axis 0 when
// perRow is the slice size) in place.
func xSubZeroPoint(v []float64, zp *tensor.Tensor, perRow int) {
	if zp == nil {
		return
	}
	z := toFloat64s(zp)
	for i := range v {
		if len(z) == 1 {
			v[i] -= z[0]
		} else {
			v[i] -= z[i/perRow]
		}
	}
}

func xOpt(in []*tensor.Tensor, i int) *tensor.Tensor {
	if i < len(in) && in[i] != nil && in[i].Len() > 0 {
		return in[i]
	}
	return nil
}

func xRunConvInteger(n *graph.Node, in, out []*tensor.Tensor) error {
	x, w := toFloat64s(in[0]), toFloat64s(in[1])
	xSubZeroPoint(x, xOpt(in, 2), len(x))
	ws := in[1].Shape()
	xSubZeroPoint(w, xOpt(in, 3), xProd(ws[1:]))
	y, _, err := xConvDirect(n, x, in[0].Shape(), w, ws)
	if err != nil {
		return err
	}
	fromFloat64s(out[0], y)
	return nil
}

func xRunQLinearConv(n *graph.Node, in, out []*tensor.Tensor) error {
	x, w := toFloat64s(in[0]), toFloat64s(in[3])
	ws := in[3].Shape()
	xSubZeroPoint(x, xOpt(in, 2), len(x))
	xSubZeroPoint(w, xOpt(in, 5), xProd(ws[1:]))
	y, ys, err := xConvDirect(n, x, in[0].Shape(), w, ws)
	if err != nil {
		return err
	}
	xsc, wsc, ysc := in[1].Float64At(0), toFloat64s(in[4]), in[6].Float64At(0)
	var bias []float64
	if b := xOpt(in, 8); b != nil {
		bias = toFloat64s(b)
	}
	var yzp float64
	if z := xOpt(in, 7); z != nil {
		yzp = z.Float64At(0)
	}
	lo, hi := xQuantRange(out[0].DType())
	O := xProd(ys[2:])
	for i := range y {
		m := i / O % ys[1]
		acc := y[i]
		if bias != nil {
			acc += bias[m]
		}
		ws := wsc[0]
		if len(wsc) > 1 {
			ws = wsc[m]
		}
		r := float64(float32(acc) * float32(xsc*ws/ysc))
		y[i] = math.RoundToEven(math.Min(math.Max(r+yzp, lo), hi))
	}
	fromFloat64s(out[0], y)
	return nil
}

// xRunDeformConv follows onnx/reference/ops/op_deform_conv.py (2-D): each kernel tap
// samples X bilinearly (zeros outside) at its offset position, scaled by the mask.
func xRunDeformConv(n *graph.Node, in, out []*tensor.Tensor) error {
	X, W, off := in[0], in[1], in[2]
	xs, ws, os := X.Shape(), W.Shape(), off.Shape()
	if len(xs) != 4 || len(ws) != 4 {
		return xExtraErr(n, "only 2-D deformable convolution is supported (X %v)", xs)
	}
	N, C, IH, IW := xs[0], xs[1], xs[2], xs[3]
	M, KH, KW := ws[0], ws[2], ws[3]
	OH, OW := os[2], os[3]
	group := int(n.Attrs.GetInt("group", 1))
	og := int(n.Attrs.GetInt("offset_group", 1))
	if group <= 0 || og <= 0 || C%og != 0 || M%group != 0 || ws[1]*group != C || os[1] != og*KH*KW*2 {
		return xExtraErr(n, "shapes X %v, W %v, offset %v do not fit group %d, offset_group %d", xs, ws, os, group, og)
	}
	get := func(name string, def int64, k int) []int {
		v := n.Attrs.GetInts(name, nil)
		r := make([]int, k)
		for i := range r {
			r[i] = int(def)
			if i < len(v) {
				r[i] = int(v[i])
			}
		}
		return r
	}
	st, dil, pads := get("strides", 1, 2), get("dilations", 1, 2), get("pads", 0, 4)
	xv, wv, ov := toFloat64s(X), toFloat64s(W), toFloat64s(off)
	var bias, mask []float64
	if b := xOpt(in, 3); b != nil {
		bias = toFloat64s(b)
	}
	if m := xOpt(in, 4); m != nil {
		mask = toFloat64s(m)
	}
	sample := func(plane []float64, h, w float64) float64 {
		h0, w0 := math.Floor(h), math.Floor(w)
		var s float64
		for dy := 0; dy < 2; dy++ {
			for dx := 0; dx < 2; dx++ {
				y, x := int(h0)+dy, int(w0)+dx
				if y < 0 || y >= IH || x < 0 || x >= IW {
					continue
				}
				wy := 1 - math.Abs(h-float64(y))
				wx := 1 - math.Abs(w-float64(x))
				s += wy * wx * plane[y*IW+x]
			}
		}
		return s
	}
	icg, ocg, icog := ws[1], M/group, C/og
	y := make([]float64, N*M*OH*OW)
	for b := 0; b < N; b++ {
		for m := 0; m < M; m++ {
			for ic := 0; ic < C; ic++ {
				if ic/icg != m/ocg {
					continue
				}
				gi := ic / icog
				plane := xv[(b*C+ic)*IH*IW:]
				for i := 0; i < OH; i++ {
					for j := 0; j < OW; j++ {
						var s float64
						for kh := 0; kh < KH; kh++ {
							for kw := 0; kw < KW; kw++ {
								kidx := kh*KW + kw
								base := ((b*og+gi)*KH*KW + kidx) * 2
								dh := ov[(base*OH+i)*OW+j]
								dw := ov[((base+1)*OH+i)*OW+j]
								h := float64(-pads[0]+st[0]*i+kh*dil[0]) + dh
								w := float64(-pads[1]+st[1]*j+kw*dil[1]) + dw
								v := sample(plane, h, w) * wv[((m*icg+ic%icg)*KH+kh)*KW+kw]
								if mask != nil {
									v *= mask[(((b*og+gi)*KH*KW+kidx)*OH+i)*OW+j]
								}
								s += v
							}
						}
						y[((b*M+m)*OH+i)*OW+j] += s
					}
				}
			}
			if bias != nil {
				for p := 0; p < OH*OW; p++ {
					y[(b*M+m)*OH*OW+p] += bias[m]
				}
			}
		}
	}
	fromFloat64s(out[0], y)
	return nil
}
