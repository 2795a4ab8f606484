package cpu

import (
	"fmt"
	"math"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

func init() {
	registerExtra("", "Unique", xSimple(xRunUnique))
	registerExtra("", "AffineGrid", xSimple(xRunAffineGrid))
}

func xRunUnique(n *graph.Node, in, out []*tensor.Tensor) error {
	x := in[0]
	r, err := ops.UniqueOf(n, x)
	if err != nil {
		return xExtraErr(n, "%v", err)
	}
	y := out[0]
	elem := x.DType().Size()
	src, dst := x.Bytes(), y.Bytes()
	if r.Axis < 0 {
		for i, f := range r.First {
			copy(dst[i*elem:(i+1)*elem], src[f*elem:(f+1)*elem])
		}
	} else {
		s := x.Shape()
		outer, dim, inner := xProd(s[:r.Axis]), s[r.Axis], xProd(s[r.Axis+1:])
		k := len(r.First)
		for o := 0; o < outer; o++ {
			for i, f := range r.First {
				to, from := ((o*k+i)*inner)*elem, ((o*dim+f)*inner)*elem
				copy(dst[to:to+inner*elem], src[from:from+inner*elem])
			}
		}
	}
	put := func(i int, vals []int) {
		if i < len(out) && out[i] != nil {
			v := out[i].Int64s()
			for j, x := range vals {
				v[j] = int64(x)
			}
		}
	}
	put(1, r.First)
	put(2, r.Inverse)
	put(3, r.Counts)
	return nil
}

func xRunAffineGrid(n *graph.Node, in, out []*tensor.Tensor) error {
	theta, y := in[0], out[0]
	sz := in[1].AsInt64s()
	nd := len(sz) - 2
	align := n.Attrs.GetInt("align_corners", 0) != 0
	ts := theta.Shape()
	if len(ts) != 3 || ts[1] != nd || ts[2] != nd+1 {
		return xExtraErr(n, "theta %v does not fit size %v", ts, sz)
	}
	dims := make([]int, nd)
	for i := range dims {
		dims[i] = int(sz[i+2])
	}
	coord := func(i, d int) float64 {
		if align {
			if d == 1 {
				return -1
			}
			return -1 + float64(i)*2/float64(d-1)
		}
		return -1 + float64(2*i+1)/float64(d)
	}
	tv := toFloat64s(theta)
	pts := xProd(dims)
	st := xStridesOf(dims)
	yv := make([]float64, y.Len())
	homo := make([]float64, nd+1)
	for b := 0; b < int(sz[0]); b++ {
		th := tv[b*nd*(nd+1) : (b+1)*nd*(nd+1)]
		for p := 0; p < pts; p++ {
			// homogeneous [x (last axis), y, z..., 1]
			for d := 0; d < nd; d++ {
				homo[nd-1-d] = coord(p/st[d]%dims[d], dims[d])
			}
			homo[nd] = 1
			for k := 0; k < nd; k++ {
				var s float64
				for j := 0; j <= nd; j++ {
					s += th[k*(nd+1)+j] * homo[j]
				}
				yv[(b*pts+p)*nd+k] = s
			}
		}
	}
	fromFloat64s(y, yv)
	return nil
}

func init() {
	registerExtra("", "CausalConvWithState", xSimple(xRunCausalConv))
}

// xRunCausalConv follows onnx/reference/ops/op_causal_conv_with_state.py.
func xRunCausalConv(n *graph.Node, in, out []*tensor.Tensor) error {
	x, w := in[0], in[1]
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 3 || len(ws) != 3 || ws[0] != xs[1] || ws[1] != 1 {
		return xExtraErr(n, "input %v and weight %v: expected [B, C, L] and [C, 1, k]", xs, ws)
	}
	B, C, L, K := xs[0], xs[1], xs[2], ws[2]
	xv, wv := toFloat64s(x), toFloat64s(w)
	var bias, past []float64
	if len(in) > 2 && in[2] != nil {
		bias = toFloat64s(in[2])
	}
	if len(in) > 3 && in[3] != nil {
		past = toFloat64s(in[3])
	}
	act := n.Attrs.GetString("activation", "none")
	P := L + K - 1
	padded := make([]float64, P)
	y := make([]float64, B*C*L)
	state := make([]float64, B*C*(K-1))
	for b := 0; b < B; b++ {
		for c := 0; c < C; c++ {
			for i := 0; i < K-1; i++ {
				padded[i] = 0
				if past != nil {
					padded[i] = past[(b*C+c)*(K-1)+i]
				}
			}
			copy(padded[K-1:], xv[(b*C+c)*L:(b*C+c+1)*L])
			for t := 0; t < L; t++ {
				var s float64
				if bias != nil {
					s = bias[c]
				}
				for j := 0; j < K; j++ {
					s += wv[c*K+j] * padded[t+j]
				}
				if act == "silu" || act == "swish" {
					s = s / (1 + math.Exp(-s))
				}
				y[(b*C+c)*L+t] = s
			}
			copy(state[(b*C+c)*(K-1):], padded[P-(K-1):])
		}
	}
	fromFloat64s(out[0], y)
	if len(out) > 1 && out[1] != nil {
		fromFloat64s(out[1], state)
	}
	return nil
}

func init() {
	registerExtra("", "LinearAttention", xSimple(xRunLinearAttention))
}

// xRunLinearAttention follows onnx/reference/ops/op_linear_attention.py, in float64.
func xRunLinearAttention(n *graph.Node, in, out []*tensor.Tensor) error {
	opt := func(i int) *tensor.Tensor {
		if i < len(in) && in[i] != nil {
			return in[i]
		}
		return nil
	}
	rule := n.Attrs.GetString("update_rule", "gated_delta")
	gating := rule == "gated" || rule == "gated_delta"
	delta := rule == "delta" || rule == "gated_delta"
	hq, hkv := int(n.Attrs.GetInt("q_num_heads", 0)), int(n.Attrs.GetInt("kv_num_heads", 0))
	q, k, v := in[0], in[1], in[2]
	qs := q.Shape()
	B, T := qs[0], qs[1]
	dk, dv := k.Shape()[2]/hkv, v.Shape()[2]/hkv
	decay, beta := opt(4), opt(5)
	if gating != (decay != nil) || delta != (beta != nil) {
		return xExtraErr(n, "update_rule %q needs decay %v and beta %v", rule, gating, delta)
	}
	qv, kv, vv := toFloat64s(q), toFloat64s(k), toFloat64s(v)
	var dec, bet []float64
	decayLast, betaLast := 0, 0
	if decay != nil {
		dec, decayLast = toFloat64s(decay), decay.Shape()[2]
	}
	if beta != nil {
		bet, betaLast = toFloat64s(beta), beta.Shape()[2]
	}
	state := make([]float64, B*hkv*dk*dv)
	if p := opt(3); p != nil {
		if p.Len() != len(state) {
			return xExtraErr(n, "past_state has %d elements, expected %d", p.Len(), len(state))
		}
		state = toFloat64s(p)
	}
	scale := float64(n.Attrs.GetFloat("scale", 0))
	if scale == 0 {
		scale = 1 / math.Sqrt(float64(dk))
	}
	group := hq / hkv
	y := make([]float64, B*T*hq*dv)
	vt := make([]float64, dv)
	for b := 0; b < B; b++ {
		for t := 0; t < T; t++ {
			for h := 0; h < hkv; h++ {
				S := state[(b*hkv+h)*dk*dv : (b*hkv+h+1)*dk*dv]
				kt := kv[(b*T+t)*hkv*dk+h*dk : (b*T+t)*hkv*dk+(h+1)*dk]
				copy(vt, vv[(b*T+t)*hkv*dv+h*dv:(b*T+t)*hkv*dv+(h+1)*dv])
				if gating {
					for d := 0; d < dk; d++ {
						g := dec[(b*T+t)*decayLast+h]
						if decayLast != hkv {
							g = dec[(b*T+t)*decayLast+h*dk+d]
						}
						e := math.Exp(g)
						for m := 0; m < dv; m++ {
							S[d*dv+m] *= e
						}
					}
				}
				if delta {
					bh := h
					if betaLast == 1 {
						bh = 0
					}
					bt := bet[(b*T+t)*betaLast+bh]
					for m := 0; m < dv; m++ {
						var r float64
						for d := 0; d < dk; d++ {
							r += S[d*dv+m] * kt[d]
						}
						vt[m] = bt * (vt[m] - r)
					}
				}
				for d := 0; d < dk; d++ {
					for m := 0; m < dv; m++ {
						S[d*dv+m] += kt[d] * vt[m]
					}
				}
				for g := 0; g < group; g++ {
					hh := h*group + g
					qt := qv[(b*T+t)*hq*dk+hh*dk : (b*T+t)*hq*dk+(hh+1)*dk]
					for m := 0; m < dv; m++ {
						var s float64
						for d := 0; d < dk; d++ {
							s += qt[d] * S[d*dv+m]
						}
						y[(b*T+t)*hq*dv+hh*dv+m] = scale * s
					}
				}
			}
		}
	}
	fromFloat64s(out[0], y)
	if len(out) > 1 && out[1] != nil {
		fromFloat64s(out[1], state)
	}
	return nil
}

func init() {
	registerExtra("", "DFT", xSimple(xRunDFT))
}

// xRunDFT is a direct O(n^2) transform in float64 (numpy.fft semantics: zero padding
// or truncation to dft_length; irfft for inverse one-sided input).
func xRunDFT(n *graph.Node, in, out []*tensor.Tensor) error {
	x, y := in[0], out[0]
	xs, ys := x.Shape(), y.Shape()
	axis, L, inverse, onesided, err := ops.DFTParams(n, xs, in)
	if err != nil {
		return xExtraErr(n, "%v", err)
	}
	cIn, cOut := xs[len(xs)-1], ys[len(ys)-1]
	outer := xProd(xs[:axis])
	innerX := xProd(xs[axis+1 : len(xs)-1])
	nIn, nOut := xs[axis], ys[axis]
	xv := toFloat64s(x)
	yv := make([]float64, y.Len())
	re, im := make([]float64, L), make([]float64, L)
	for o := 0; o < outer; o++ {
		for j := 0; j < innerX; j++ {
			for k := range re {
				re[k], im[k] = 0, 0
			}
			for k := 0; k < min(nIn, L); k++ {
				base := ((o*nIn+k)*innerX + j) * cIn
				re[k] = xv[base]
				if cIn == 2 {
					im[k] = xv[base+1]
				}
			}
			if inverse && onesided { // Hermitian extension of the one-sided spectrum
				for k := 0; k < L; k++ {
					switch {
					case k <= L/2 && k < nIn:
					case k > L/2 && L-k < nIn:
						re[k], im[k] = re[L-k], -im[L-k]
					default:
						re[k], im[k] = 0, 0
					}
				}
				im[0] = 0
				if L%2 == 0 {
					im[L/2] = 0
				}
			}
			sign := -1.0
			if inverse {
				sign = 1
			}
			for f := 0; f < nOut; f++ {
				var sr, si float64
				for k := 0; k < L; k++ {
					ang := sign * 2 * math.Pi * float64(f) * float64(k) / float64(L)
					c, s := math.Cos(ang), math.Sin(ang)
					sr += re[k]*c - im[k]*s
					si += re[k]*s + im[k]*c
				}
				if inverse {
					sr, si = sr/float64(L), si/float64(L)
				}
				base := ((o*nOut+f)*innerX + j) * cOut
				yv[base] = sr
				if cOut == 2 {
					yv[base+1] = si
				}
			}
		}
	}
	fromFloat64s(y, yv)
	return nil
}

func init() {
	registerExtra("", "STFT", xSimple(xRunSTFT))
	registerExtra("", "Col2Im", xSimple(xRunCol2Im))
}

func xRunSTFT(n *graph.Node, in, out []*tensor.Tensor) error {
	x := in[0]
	xs := x.Shape()
	L, step, frames, bins, err := ops.STFTParams(n, xs, in)
	if err != nil {
		return xExtraErr(n, "%v", err)
	}
	var win []float64
	if len(in) > 2 && in[2] != nil {
		win = toFloat64s(in[2])
	}
	cIn := xs[2]
	xv := toFloat64s(x)
	y := make([]float64, out[0].Len())
	re, im := make([]float64, L), make([]float64, L)
	for b := 0; b < xs[0]; b++ {
		for f := 0; f < frames; f++ {
			for k := 0; k < L; k++ {
				w := 1.0
				if win != nil {
					w = win[k]
				}
				base := (b*xs[1] + f*step + k) * cIn
				re[k], im[k] = xv[base]*w, 0
				if cIn == 2 {
					im[k] = xv[base+1] * w
				}
			}
			for q := 0; q < bins; q++ {
				var sr, si float64
				for k := 0; k < L; k++ {
					ang := -2 * math.Pi * float64(q) * float64(k) / float64(L)
					c, s := math.Cos(ang), math.Sin(ang)
					sr += re[k]*c - im[k]*s
					si += re[k]*s + im[k]*c
				}
				o := ((b*frames+f)*bins + q) * 2
				y[o], y[o+1] = sr, si
			}
		}
	}
	fromFloat64s(out[0], y)
	return nil
}

func xRunCol2Im(n *graph.Node, in, out []*tensor.Tensor) error {
	x, y := in[0], out[0]
	img, blk := in[1].AsInt64s(), in[2].AsInt64s()
	nd := len(img)
	if len(blk) != nd {
		return xExtraErr(n, "image_shape %v and block_shape %v differ in rank", img, blk)
	}
	attr := func(name string, def int64, n2 int) []int {
		v := n.Attrs.GetInts(name, nil)
		out := make([]int, n2)
		for i := range out {
			out[i] = int(def)
			if i < len(v) {
				out[i] = int(v[i])
			}
		}
		return out
	}
	dil, strides, pads := attr("dilations", 1, nd), attr("strides", 1, nd), attr("pads", 0, 2*nd)
	image, block := make([]int, nd), make([]int, nd)
	nblocks := make([]int, nd)
	for d := 0; d < nd; d++ {
		image[d], block[d] = int(img[d]), int(blk[d])
		nblocks[d] = (image[d]+pads[d]+pads[nd+d]-dil[d]*(block[d]-1)-1)/strides[d] + 1
	}
	xs := x.Shape()
	K, L := xProd(block), xProd(nblocks)
	if xs[2] != L || xs[1]%K != 0 {
		return xExtraErr(n, "input %v does not fit %v blocks of %v", xs, nblocks, block)
	}
	C := xs[1] / K
	xv := toFloat64s(x)
	yv := make([]float64, y.Len())
	kst, bst, ist := xStridesOf(block), xStridesOf(nblocks), xStridesOf(image)
	P := xProd(image)
	for b := 0; b < xs[0]; b++ {
		for c := 0; c < C; c++ {
			for k := 0; k < K; k++ {
				for l := 0; l < L; l++ {
					off, ok := 0, true
					for d := 0; d < nd; d++ {
						pos := (l/bst[d]%nblocks[d])*strides[d] - pads[d] + (k/kst[d]%block[d])*dil[d]
						if pos < 0 || pos >= image[d] {
							ok = false
							break
						}
						off += pos * ist[d]
					}
					if ok {
						yv[(b*C+c)*P+off] += xv[((b*xs[1])+c*K+k)*L+l]
					}
				}
			}
		}
	}
	fromFloat64s(y, yv)
	return nil
}

func init() {
	registerExtra("", "RoiAlign", xSimple(xRunRoiAlign))
}

// xRunRoiAlign follows onnx/reference/ops/op_roi_align.py.
func xRunRoiAlign(n *graph.Node, in, out []*tensor.Tensor) error {
	x, rois, bidx, y := in[0], in[1], in[2], out[0]
	xs := x.Shape()
	C, H, W := xs[1], xs[2], xs[3]
	ys := y.Shape()
	R, PH, PW := ys[0], ys[2], ys[3]
	scale := float64(n.Attrs.GetFloat("spatial_scale", 1))
	ratio := int(n.Attrs.GetInt("sampling_ratio", 0))
	maxMode := n.Attrs.GetString("mode", "avg") == "max"
	halfPixel := n.Attrs.GetString("coordinate_transformation_mode", "half_pixel") == "half_pixel"
	xv, rv := toFloat64s(x), toFloat64s(rois)
	yv := make([]float64, y.Len())
	cols := rois.Shape()[1]
	type pre struct {
		pos [4]int
		w   [4]float64
	}
	for r := 0; r < R; r++ {
		b := int(bidx.Int64At(r))
		if b < 0 || b >= xs[0] {
			return xExtraErr(n, "batch index %d is out of range", b)
		}
		off := 0.0
		if halfPixel {
			off = 0.5
		}
		sw, sh := rv[r*cols]*scale-off, rv[r*cols+1]*scale-off
		ew, eh := rv[r*cols+2]*scale-off, rv[r*cols+3]*scale-off
		rw, rh := ew-sw, eh-sh
		if !halfPixel {
			rw, rh = math.Max(rw, 1), math.Max(rh, 1)
		}
		bh, bw := rh/float64(PH), rw/float64(PW)
		gh, gw := ratio, ratio
		if ratio <= 0 {
			gh, gw = int(math.Ceil(rh/float64(PH))), int(math.Ceil(rw/float64(PW)))
		}
		count := float64(max(gh*gw, 1))
		pcs := make([]pre, 0, PH*PW*gh*gw)
		for ph := 0; ph < PH; ph++ {
			for pw := 0; pw < PW; pw++ {
				for iy := 0; iy < gh; iy++ {
					yy := sh + float64(ph)*bh + (float64(iy)+0.5)*bh/float64(gh)
					for ix := 0; ix < gw; ix++ {
						xx := sw + float64(pw)*bw + (float64(ix)+0.5)*bw/float64(gw)
						if yy < -1 || yy > float64(H) || xx < -1 || xx > float64(W) {
							pcs = append(pcs, pre{})
							continue
						}
						py, px := math.Max(yy, 0), math.Max(xx, 0)
						yl, xl := int(py), int(px)
						var yh, xh int
						if yl >= H-1 {
							yl, yh, py = H-1, H-1, float64(H-1)
						} else {
							yh = yl + 1
						}
						if xl >= W-1 {
							xl, xh, px = W-1, W-1, float64(W-1)
						} else {
							xh = xl + 1
						}
						ly, lx := py-float64(yl), px-float64(xl)
						hy, hx := 1-ly, 1-lx
						pcs = append(pcs, pre{[4]int{yl*W + xl, yl*W + xh, yh*W + xl, yh*W + xh}, [4]float64{hy * hx, hy * lx, ly * hx, ly * lx}})
					}
				}
			}
		}
		for c := 0; c < C; c++ {
			data := xv[(b*C+c)*H*W:]
			i := 0
			for ph := 0; ph < PH; ph++ {
				for pw := 0; pw < PW; pw++ {
					var v float64
					first := true
					for k := 0; k < gh*gw; k++ {
						p := pcs[i]
						i++
						if maxMode {
							m := math.Max(math.Max(p.w[0]*data[p.pos[0]], p.w[1]*data[p.pos[1]]), math.Max(p.w[2]*data[p.pos[2]], p.w[3]*data[p.pos[3]]))
							if first || m > v {
								v, first = m, false
							}
						} else {
							v += p.w[0]*data[p.pos[0]] + p.w[1]*data[p.pos[1]] + p.w[2]*data[p.pos[2]] + p.w[3]*data[p.pos[3]]
						}
					}
					if !maxMode {
						v /= count
					}
					yv[((r*C+c)*PH+ph)*PW+pw] = v
				}
			}
		}
	}
	fromFloat64s(y, yv)
	return nil
}

func init() {
	registerExtra("", "BitCast", xSimple(func(n *graph.Node, in, out []*tensor.Tensor) error {
		copy(out[0].Bytes(), in[0].Bytes())
		return nil
	}))
	registerExtra("", "CenterCropPad", xSimple(xRunCenterCropPad))
}

// xRunCenterCropPad follows onnx/reference/ops/op_center_crop_pad.py: per axis, the
// centered window of the smaller of input and output is copied (odd margins put the
// extra element at the end).
func xRunCenterCropPad(n *graph.Node, in, out []*tensor.Tensor) error {
	x, y := in[0], out[0]
	xs, ys := x.Shape(), y.Shape()
	r := len(xs)
	srcStart, dstStart, span := make([]int, r), make([]int, r), append([]int(nil), xs...)
	for d := 0; d < r; d++ {
		switch {
		case ys[d] < xs[d]:
			srcStart[d], span[d] = (xs[d]-ys[d])/2, ys[d]
		case ys[d] > xs[d]:
			dstStart[d] = (ys[d] - xs[d]) / 2
		}
	}
	e := x.DType().Size()
	xst, yst := xStridesOf(xs), xStridesOf(ys)
	src, dst := x.Bytes(), y.Bytes()
	clear(dst)
	total, sst := xProd(span), xStridesOf(span)
	for i := 0; i < total; i++ {
		so, do := 0, 0
		for d := 0; d < r; d++ {
			c := i / sst[d] % span[d]
			so += (c + srcStart[d]) * xst[d]
			do += (c + dstStart[d]) * yst[d]
		}
		copy(dst[do*e:(do+1)*e], src[so*e:(so+1)*e])
	}
	return nil
}

func init() {
	registerExtra("", "TfIdfVectorizer", xSimple(xRunTfIdf))
}

// xRunTfIdf follows onnx/reference/ops/op_tfidf_vectorizer.py: n-grams of the pool
// (sizes min_gram_length..max_gram_length) are counted in each row for every skip
// distance 1..max_skip_count+1; unigrams only once (at skip 1).
func xRunTfIdf(n *graph.Node, in, out []*tensor.Tensor) error {
	a := n.Attrs
	pool := a.GetInts("pool_int64s", nil)
	counts := a.GetInts("ngram_counts", nil)
	indexes := a.GetInts("ngram_indexes", nil)
	minN, maxN := int(a.GetInt("min_gram_length", 1)), int(a.GetInt("max_gram_length", 1))
	maxSkip := int(a.GetInt("max_skip_count", 0))
	weights := a.GetFloats("weights", nil)
	mode := a.GetString("mode", "TF")
	outSize := 0
	for _, i := range indexes {
		outSize = max(outSize, int(i)+1)
	}
	// n-gram (as a key string of its ints) -> position in ngram_indexes
	ids := map[string]int{}
	key := func(v []int64) string { return fmt.Sprint(v) }
	id := 0
	for i := range counts {
		start, end := int(counts[i]), len(pool)
		if i+1 < len(counts) {
			end = int(counts[i+1])
		}
		size := i + 1
		if start < 0 || end > len(pool) || start > end {
			return xExtraErr(n, "ngram_counts %v do not fit a pool of %d", counts, len(pool))
		}
		for p := start; p+size <= end; p += size {
			if size >= minN && size <= maxN {
				ids[key(pool[p:p+size])] = id
			}
			id++
		}
	}
	if id > len(indexes) {
		return xExtraErr(n, "%d n-grams for %d ngram_indexes", id, len(indexes))
	}
	x := in[0]
	rows, cols := 1, x.Len()
	if x.Rank() == 2 {
		rows, cols = x.Shape()[0], x.Shape()[1]
	}
	xv := x.AsInt64s()
	freq := make([]float64, rows*outSize)
	gram := make([]int64, 0, maxN)
	for r := 0; r < rows; r++ {
		row := xv[r*cols : (r+1)*cols]
		startN := minN
		for skip := 1; skip <= maxSkip+1; skip++ {
			for s := 0; s < cols; s++ {
				if s+skip*(startN-1) >= cols {
					break
				}
				gram = gram[:0]
				for size, p := 1, s; size <= maxN && p < cols; size, p = size+1, p+skip {
					gram = append(gram, row[p])
					if size < startN {
						continue
					}
					if g, ok := ids[key(gram)]; ok {
						freq[r*outSize+int(indexes[g])]++
					}
				}
			}
			if startN == 1 {
				startN = 2
				if startN > maxN {
					break
				}
			}
		}
	}
	for i, f := range freq {
		w := 1.0
		if len(weights) > 0 {
			w = float64(weights[i%outSize])
		}
		switch mode {
		case "IDF":
			if f > 0 {
				freq[i] = w
			}
		case "TFIDF":
			freq[i] = w * f
		}
	}
	fromFloat64s(out[0], freq)
	return nil
}

func init() {
	registerExtra("", "MelWeightMatrix", xSimple(xRunMelWeightMatrix))
}

// xRunMelWeightMatrix builds the triangular mel filter bank as the ONNX reference
// does: num_mel_bins+2 points equally spaced on the mel scale between the edge
// frequencies, mapped to spectrogram bins by floor((dft_length+1)·hz/sample_rate);
// filter i rises from point i to i+1 and falls to i+2.
func xRunMelWeightMatrix(n *graph.Node, in, out []*tensor.Tensor) error {
	for i, t := range in[:5] {
		if t == nil || t.Len() != 1 {
			return xExtraErr(n, "input %d must be a scalar", i)
		}
	}
	mels, dft, rate := int(in[0].Int64At(0)), int(in[1].Int64At(0)), in[2].Float64At(0)
	lo, hi := in[3].Float64At(0), in[4].Float64At(0)
	bins := dft/2 + 1
	if mels < 1 || dft < 1 || rate <= 0 || lo < 0 || hi < lo {
		return xExtraErr(n, "num_mel_bins %d, dft_length %d, sample_rate %v and edges %v..%v Hz are not a valid filter bank", mels, dft, rate, lo, hi)
	}
	if out[0].Len() != bins*mels {
		return xExtraErr(n, "output %v, expected [%d %d]", out[0], bins, mels)
	}
	toMel := func(hz float64) float64 { return 2595 * math.Log1p(hz/700) / math.Ln10 }
	loMel, hiMel := toMel(lo), toMel(hi)
	step := (hiMel - loMel) / float64(mels+2)
	points := make([]int, mels+2)
	for i := range points {
		hz := 700 * math.Expm1((float64(i)*step+loMel)/2595*math.Ln10)
		points[i] = int(math.Floor(float64(dft+1) * hz / rate))
	}
	w := make([]float64, bins*mels)
	set := func(j, i int, v float64) error {
		if j < 0 || j >= bins {
			return xExtraErr(n, "filter %d reaches bin %d of %d (upper_edge_hertz above the Nyquist frequency?)", i, j, bins)
		}
		w[j*mels+i] = v
		return nil
	}
	for i := 0; i < mels; i++ {
		left, center, right := points[i], points[i+1], points[i+2]
		if up := center - left; up == 0 {
			if err := set(center, i, 1); err != nil {
				return err
			}
		} else {
			for j := left; j <= center; j++ {
				if err := set(j, i, float64(j-left)/float64(up)); err != nil {
					return err
				}
			}
		}
		if down := right - center; down > 0 {
			for j := center; j < right; j++ {
				if err := set(j, i, float64(right-j)/float64(down)); err != nil {
					return err
				}
			}
		}
	}
	fromFloat64s(out[0], w)
	return nil
}
