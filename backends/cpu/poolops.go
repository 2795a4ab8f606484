package cpu

import (
	"context"
	"fmt"
	"math"
	"unsafe"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

func init() {
	register("", "MaxPool", viaFloat32Int8(poolFactory(poolMax)))
	register("", "AveragePool", viaFloat32(poolFactory(poolAvg)))
	register("", "LpPool", viaFloat32(poolFactory(poolLp)))
	register("", "GlobalAveragePool", viaFloat32(globalPoolFactory(poolAvg)))
	register("", "GlobalMaxPool", viaFloat32(globalPoolFactory(poolMax)))
	register("", "GlobalLpPool", viaFloat32(globalPoolFactory(poolLp)))
}

type poolKind int

const (
	poolMax poolKind = iota
	poolAvg
	poolLp
)

// poolParams is what one pooling run needs besides the geometry.
type poolParams struct {
	kind         poolKind
	includePad   bool    // AveragePool count_include_pad
	p            float64 // LpPool p
	colMajor     bool    // MaxPool storage_order 1 (indices column-major per plane)
	wantIndices  bool
	planes, inSz int
	// generic turns off the float32 max fast path (maxPlaneRowsF32), so tests and
	// benchmarks can compare it with the general loops in the same run.
	generic bool
}

// poolFactory prepares MaxPool, AveragePool or LpPool (1 to 3 spatial axes): each
// (image, channel) plane is pooled independently, planes split across threads.
func poolFactory(kind poolKind) Factory {
	return func(n *graph.Node, env *Env) (backends.Kernel, error) {
		dt := n.Inputs[0].DType
		if dt != tensor.Float32 && dt != tensor.Float64 {
			return nil, unsupported(n, "dtype %v", dt)
		}
		pp := poolParams{kind: kind, includePad: n.Attrs.GetInt("count_include_pad", 0) != 0,
			p: float64(n.Attrs.GetInt("p", 2)), colMajor: n.Attrs.GetInt("storage_order", 0) != 0}
		name, attrs, op := n.Name, n.Attrs, n.Op
		return backends.KernelFunc(func(_ context.Context, in, out []*tensor.Tensor) error {
			x, y := in[0], out[0]
			xs := x.Shape()
			if len(xs) < 3 || len(xs) > 5 {
				return fmt.Errorf("cpu: node %q (%s): X %v must have 1 to 3 spatial axes", name, op, xs)
			}
			g, err := ops.PoolGeometry(attrs, xs[2:])
			if err != nil {
				return fmt.Errorf("cpu: node %q (%s): %w", name, op, err)
			}
			want := append([]int{xs[0], xs[1]}, g.Out...)
			if fmt.Sprint(y.Shape()) != fmt.Sprint(want) {
				return fmt.Errorf("cpu: node %q (%s): output %v, expected %v", name, op, y, want)
			}
			q := pp
			if q.colMajor && len(xs) != 4 {
				return fmt.Errorf("cpu: node %q (%s): storage_order 1 needs 2-D pooling", name, op)
			}
			var idx []int64
			if len(out) > 1 && out[1] != nil {
				idx = out[1].Int64s()
				q.wantIndices = true
			}
			q.planes, q.inSz = xs[0]*xs[1], tensor.NumElements(xs[2:])
			g3 := toGeo3(g)
			if dt == tensor.Float32 {
				poolRun(env, &g3, q, x.Float32s(), y.Float32s(), idx)
			} else {
				poolRun(env, &g3, q, x.Float64s(), y.Float64s(), idx)
			}
			return nil
		}), nil
	}
}

func poolRun[T float32 | float64](env *Env, g *geo3, q poolParams, x, y []T, idx []int64) {
	inSz, outSz := g.inSize(), g.outSize()
	var taps [3][]tapRange
	for a := 0; a < 3; a++ {
		taps[a] = axisTaps(g.in[a], g.out[a], g.k[a], g.s[a], g.d[a], g.pb[a], g.pe[a])
	}
	rows := g.in[0] == 1 && g.k[0] == 1 && !q.wantIndices && q.kind != poolLp
	_, f32 := any(x).([]float32)
	keys := rows && f32 && q.kind == poolMax && g.d[1] == 1 && g.d[2] == 1 && !q.generic
	env.Parallel(q.planes, max(1, 8192/max(1, outSz*g.kernelSize())), func(lo, hi int) {
		var tmp []T
		var ktmp []uint32
		switch {
		case keys:
			ktmp = make([]uint32, g.in[1]*g.out[2])
		case rows:
			tmp = make([]T, max(g.in[2]+g.pb[2]+g.pe[2], (g.out[2]-1)*g.s[2]+(g.k[2]-1)*g.d[2]+1))
		}
		for pl := lo; pl < hi; pl++ {
			if keys {
				maxPlaneRowsF32(g, &taps, f32Bits(x[pl*inSz:(pl+1)*inSz]), f32Bits(y[pl*outSz:(pl+1)*outSz]), ktmp)
				continue
			}
			if rows {
				poolPlaneRows(g, q, &taps, x[pl*inSz:(pl+1)*inSz], y[pl*outSz:(pl+1)*outSz], tmp)
				continue
			}
			xp := x[pl*inSz : (pl+1)*inSz]
			yp := y[pl*outSz : (pl+1)*outSz]
			var ip []int64
			if q.wantIndices {
				ip = idx[pl*outSz : (pl+1)*outSz]
			}
			poolPlane(g, q, &taps, xp, yp, ip, int64(pl*inSz))
		}
	})
}

// poolPlaneRows is max and average pooling of a 1-D or 2-D plane in two separable
// passes per output row: reduce the window's input rows into a padded scratch row
// (contiguous loops), then reduce along the row for each output column. It costs
// O(KH·W + OW·KW) per output row instead of O(OW·KH·KW) with per-tap overhead.
func poolPlaneRows[T float32 | float64](g *geo3, q poolParams, taps *[3][]tapRange, x, y, tmp []T) {
	w, pw := g.in[2], g.pb[2]
	fill := T(0)
	if q.kind == poolMax {
		fill = T(math.Inf(-1))
	}
	for i := range tmp[:pw] {
		tmp[i] = fill
	}
	for i := range tmp[pw+w:] {
		tmp[pw+w+i] = fill
	}
	mid := tmp[pw : pw+w]
	s2, d2, k2 := g.s[2], g.d[2], g.k[2]
	for oh := 0; oh < g.out[1]; oh++ {
		th := taps[1][oh]
		sh := oh*g.s[1] - g.pb[1]
		if th.lo == th.hi {
			for i := range mid {
				mid[i] = fill
			}
		}
		for kh := th.lo; kh < th.hi; kh++ {
			row := x[(sh+kh*g.d[1])*w : (sh+kh*g.d[1]+1)*w]
			switch {
			case kh == th.lo:
				copy(mid, row)
			case q.kind == poolMax:
				mid := mid[:len(row)]
				for i, v := range row {
					mid[i] = max(mid[i], v) // branch-free: random data defeats prediction
				}
			default:
				for i, v := range row {
					mid[i] += v
				}
			}
		}
		out := y[oh*g.out[2] : (oh+1)*g.out[2]]
		if q.kind == poolMax {
			for ow := range out {
				win := tmp[ow*s2 : ow*s2+(k2-1)*d2+1]
				best := win[0]
				for kw := d2; kw < len(win); kw += d2 {
					best = max(best, win[kw])
				}
				out[ow] = best
			}
			continue
		}
		rowsIn := th.hi - th.lo
		for ow := range out {
			win := tmp[ow*s2 : ow*s2+(k2-1)*d2+1]
			var sum T
			for kw := 0; kw < len(win); kw += d2 {
				sum += win[kw]
			}
			tw := taps[2][ow]
			div := rowsIn * (tw.hi - tw.lo)
			if q.includePad {
				div = th.pad * tw.pad
			}
			out[ow] = sum / T(max(div, 1))
		}
	}
}

// f32Bits views float32 data as its IEEE bit patterns (the same memory); it is
// only called on []float32 (T is float32 where maxPlaneRowsF32 runs).
func f32Bits[T float32 | float64](x []T) []uint32 {
	if len(x) == 0 {
		return nil
	}
	return unsafe.Slice((*uint32)(unsafe.Pointer(&x[0])), len(x)*int(unsafe.Sizeof(x[0]))/4)
}

// maxKey maps a float32 bit pattern to an unsigned key whose order is the float
// order with every NaN (either sign) above +Inf, and -Inf at 0. An integer max of
// keys is then a float max that propagates NaN (as NumPy's max and PyTorch's
// max_pool do): a compare and a conditional move per pair instead of Go's
// eight-instruction float max, plus four instructions to key each input once; 0 is
// the padding. Go does not vectorize either, so this stays a scalar loop.
func maxKey(b uint32) uint32 {
	return (b ^ uint32(int32(b)>>31)&0x7fffffff) + 0x7f800001
}

// maxUnkey inverts maxKey.
func maxUnkey(k uint32) uint32 {
	k -= 0x7f800001
	return k ^ uint32(int32(k)>>31)&0x7fffffff
}

// maxPlaneRowsF32 is poolPlaneRows for float32 MaxPool without dilation, in maxKey
// space and in the other order: first each input row's max over every output
// column's window (loops specialized for the common kernel/stride pairs key each
// input once) into h, one row of h per input row, then each output row's
// max over its window's rows of h. x and y are the plane's float32 bits; h holds
// in[1]·out[2] keys.
func maxPlaneRowsF32(g *geo3, taps *[3][]tapRange, x, y, h []uint32) {
	w, ow := g.in[2], g.out[2]
	// [oLo, oHi): output columns whose window lies inside the row.
	oLo := min((g.pb[2]+g.s[2]-1)/g.s[2], ow)
	oHi := oLo
	if w+g.pb[2] >= g.k[2] {
		oHi = max(oLo, min(ow, (w+g.pb[2]-g.k[2])/g.s[2]+1))
	}
	for r := 0; r < g.in[1]; r++ {
		row, hr := x[r*w:(r+1)*w], h[r*ow:(r+1)*ow]
		if oLo < oHi {
			maxRowInterior(row[oLo*g.s[2]-g.pb[2]:], hr[oLo:oHi], g.k[2], g.s[2])
		}
		for o := 0; o < oLo; o++ {
			hr[o] = maxEdgeKey(row, taps[2][o], o*g.s[2]-g.pb[2])
		}
		for o := oHi; o < ow; o++ {
			hr[o] = maxEdgeKey(row, taps[2][o], o*g.s[2]-g.pb[2])
		}
	}
	for oh := 0; oh < g.out[1]; oh++ {
		th := taps[1][oh]
		at := (oh*g.s[1] - g.pb[1] + th.lo) * ow
		out := y[oh*ow : (oh+1)*ow]
		switch th.hi - th.lo {
		case 0:
			for i := range out {
				out[i] = maxUnkey(0)
			}
		case 1:
			for i, v := range h[at : at+ow] {
				out[i] = maxUnkey(v)
			}
		case 2:
			h0, h1 := h[at:at+ow], h[at+ow:at+2*ow]
			h1, out = h1[:len(h0)], out[:len(h0)]
			for i, v := range h0 {
				out[i] = maxUnkey(max(v, h1[i]))
			}
		default:
			h0, h1, h2 := h[at:at+ow], h[at+ow:at+2*ow], h[at+2*ow:at+3*ow]
			h1, h2, out = h1[:len(h0)], h2[:len(h0)], out[:len(h0)]
			if th.hi-th.lo == 3 {
				for i, v := range h0 {
					out[i] = maxUnkey(max(v, h1[i], h2[i]))
				}
				continue
			}
			for i, v := range h0 {
				out[i] = max(v, h1[i], h2[i])
			}
			for kh := 3; kh < th.hi-th.lo; kh++ {
				for i, v := range h[at+kh*ow : at+(kh+1)*ow] {
					out[i] = max(out[i], v)
				}
			}
			for i, v := range out {
				out[i] = maxUnkey(v)
			}
		}
	}
}

// pairs views x (of even length) as consecutive pairs, the same memory, so that
// stride-2 loops index it without bounds checks.
func pairs(x []uint32) [][2]uint32 {
	if len(x) < 2 {
		return nil
	}
	return unsafe.Slice((*[2]uint32)(unsafe.Pointer(&x[0])), len(x)/2)
}

// maxEdgeKey is the max key of a window that starts at column at and reaches into
// the padding: the taps t of row.
func maxEdgeKey(row []uint32, t tapRange, at int) uint32 {
	m := uint32(0)
	for kw := t.lo; kw < t.hi; kw++ {
		m = max(m, maxKey(row[at+kw]))
	}
	return m
}

// maxRowInterior sets hr[o] to the max key of row[o*s : o*s+k], windows that lie
// inside row.
func maxRowInterior(row, hr []uint32, k, s int) {
	switch {
	case k == 3 && s == 2:
		// taps 2o, 2o+1, 2o+2: the last is the next window's first, keyed once
		row = row[:2*len(hr)+1]
		prev := maxKey(row[0])
		ps := pairs(row[1:])
		hr = hr[:len(ps)]
		for o := range ps {
			a, b := maxKey(ps[o][0]), maxKey(ps[o][1])
			hr[o] = max(prev, a, b)
			prev = b
		}
	case k == 3 && s == 1:
		row = row[:len(hr)+2]
		hr = hr[:len(row)-2]
		p0, p1 := maxKey(row[0]), maxKey(row[1])
		for o, v := range row[2:] {
			p2 := maxKey(v)
			hr[o] = max(p0, p1, p2)
			p0, p1 = p1, p2
		}
	case k == 2 && s == 2:
		ps := pairs(row[:2*len(hr)])
		hr = hr[:len(ps)]
		for o := range ps {
			hr[o] = max(maxKey(ps[o][0]), maxKey(ps[o][1]))
		}
	default:
		for o := range hr {
			m := uint32(0)
			for _, v := range row[o*s : o*s+k] {
				m = max(m, maxKey(v))
			}
			hr[o] = m
		}
	}
}

// tapRange is, for one output coordinate on one axis, the kernel taps [lo, hi) that
// fall inside the input, and pad, the number of taps inside the padded input (never
// beyond the end padding that ceil_mode may add), for count_include_pad.
type tapRange struct{ lo, hi, pad int }

// axisTaps computes the tap ranges of every output coordinate of one axis.
func axisTaps(in, out, k, s, d, pb, pe int) []tapRange {
	r := make([]tapRange, out)
	for o := range r {
		start := o*s - pb
		t := tapRange{lo: k, hi: 0}
		for kk := 0; kk < k; kk++ {
			i := start + kk*d
			if i >= in+pe {
				break
			}
			t.pad++
			if i >= 0 && i < in {
				t.lo, t.hi = min(t.lo, kk), kk+1
			}
		}
		if t.lo >= t.hi {
			t.lo, t.hi = 0, 0
		}
		r[o] = t
	}
	return r
}

// poolPlane pools one plane. Windows start at o*stride - padBegin and take kernel
// taps dilation apart; taps in the padding are skipped (max, Lp) or counted as zeros
// when count_include_pad asks. Tap ranges are precomputed per axis, so the inner
// loops carry no bounds tests.
func poolPlane[T float32 | float64](g *geo3, q poolParams, taps *[3][]tapRange, x, y []T, idx []int64, base int64) {
	o := 0
	negInf := T(math.Inf(-1))
	for od := 0; od < g.out[0]; od++ {
		td := taps[0][od]
		sd := od*g.s[0] - g.pb[0]
		for oh := 0; oh < g.out[1]; oh++ {
			th := taps[1][oh]
			sh := oh*g.s[1] - g.pb[1]
			for ow := 0; ow < g.out[2]; ow++ {
				tw := taps[2][ow]
				sw := ow*g.s[2] - g.pb[2]
				switch q.kind {
				case poolMax:
					best, bestAt := negInf, -1
					for kd := td.lo; kd < td.hi; kd++ {
						for kh := th.lo; kh < th.hi; kh++ {
							rowAt := ((sd+kd*g.d[0])*g.in[1] + sh + kh*g.d[1]) * g.in[2]
							row := x[rowAt : rowAt+g.in[2]]
							for kw := tw.lo; kw < tw.hi; kw++ {
								iw := sw + kw*g.d[2]
								if v := row[iw]; v > best || (v != v && best == best) {
									best, bestAt = v, rowAt+iw
								}
							}
						}
					}
					y[o] = best
					if idx != nil {
						bestAt = max(bestAt, 0)
						if q.colMajor {
							h, w := bestAt/g.in[2], bestAt%g.in[2]
							bestAt = w*g.in[1] + h
						}
						idx[o] = base + int64(bestAt)
					}
				default:
					sum := 0.0
					for kd := td.lo; kd < td.hi; kd++ {
						for kh := th.lo; kh < th.hi; kh++ {
							rowAt := ((sd+kd*g.d[0])*g.in[1] + sh + kh*g.d[1]) * g.in[2]
							row := x[rowAt : rowAt+g.in[2]]
							if q.kind == poolLp {
								for kw := tw.lo; kw < tw.hi; kw++ {
									sum += math.Pow(math.Abs(float64(row[sw+kw*g.d[2]])), q.p)
								}
								continue
							}
							var s T
							for kw := tw.lo; kw < tw.hi; kw++ {
								s += row[sw+kw*g.d[2]]
							}
							sum += float64(s)
						}
					}
					if q.kind == poolLp {
						y[o] = T(math.Pow(sum, 1/q.p))
						break
					}
					div := (td.hi - td.lo) * (th.hi - th.lo) * (tw.hi - tw.lo)
					if q.includePad {
						div = td.pad * th.pad * tw.pad
					}
					y[o] = T(sum / float64(max(div, 1)))
				}
				o++
			}
		}
	}
}

// globalPoolFactory prepares GlobalAveragePool, GlobalMaxPool and GlobalLpPool: one
// value per (image, channel) plane.
func globalPoolFactory(kind poolKind) Factory {
	return func(n *graph.Node, env *Env) (backends.Kernel, error) {
		dt := n.Inputs[0].DType
		if dt != tensor.Float32 && dt != tensor.Float64 {
			return nil, unsupported(n, "dtype %v", dt)
		}
		p := float64(n.Attrs.GetInt("p", 2))
		name, op := n.Name, n.Op
		return backends.KernelFunc(func(_ context.Context, in, out []*tensor.Tensor) error {
			xs := in[0].Shape()
			if len(xs) < 2 {
				return fmt.Errorf("cpu: node %q (%s): X %v has no channel axis", name, op, xs)
			}
			planes := xs[0] * xs[1]
			if out[0].Len() != planes {
				return fmt.Errorf("cpu: node %q (%s): output %v, expected %d values", name, op, out[0], planes)
			}
			if dt == tensor.Float32 {
				globalPool(env, kind, p, in[0].Float32s(), out[0].Float32s(), planes)
			} else {
				globalPool(env, kind, p, in[0].Float64s(), out[0].Float64s(), planes)
			}
			return nil
		}), nil
	}
}

func globalPool[T float32 | float64](env *Env, kind poolKind, p float64, x, y []T, planes int) {
	if planes == 0 {
		return
	}
	sz := len(x) / planes
	env.Parallel(planes, max(1, 16384/max(1, sz)), func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			xp := x[pl*sz : (pl+1)*sz]
			switch kind {
			case poolMax:
				best := math.Inf(-1)
				for _, v := range xp {
					if f := float64(v); f > best || math.IsNaN(f) {
						best = f
						if math.IsNaN(f) {
							break
						}
					}
				}
				y[pl] = T(best)
			case poolAvg:
				if x32, ok := any(xp).([]float32); ok {
					y[pl] = T(float64(sum(x32)) / float64(max(sz, 1)))
					continue
				}
				// four partial sums: faster than one dependent chain
				var s0, s1, s2, s3 float64
				i := 0
				for ; i+4 <= len(xp); i += 4 {
					s0 += float64(xp[i])
					s1 += float64(xp[i+1])
					s2 += float64(xp[i+2])
					s3 += float64(xp[i+3])
				}
				for ; i < len(xp); i++ {
					s0 += float64(xp[i])
				}
				y[pl] = T((s0 + s1 + s2 + s3) / float64(max(sz, 1)))
			case poolLp:
				s := 0.0
				for _, v := range xp {
					s += math.Pow(math.Abs(float64(v)), p)
				}
				y[pl] = T(math.Pow(s, 1/p))
			}
		}
	})
}
