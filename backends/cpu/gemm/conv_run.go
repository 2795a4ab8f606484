package gemm

// convScratch is a Context's reusable convolution scratch and the state the
// parallel loops read (kept here, not in closures, so a call does not
// allocate).
type convScratch struct {
	p      Conv2DParams // the call being run
	xpad   []float32    // zero-padded input planes of one group
	ct     []float32    // GEMM output with junk columns, before compaction
	rowOff []int
	colOff []int
	cb     convB

	x, y           []float32 // current group's input planes and output
	hp, wp, ldc    int
	oh, ow, cg, mg int
}

// forKind names the parallel loops of the convolution code.
type forKind int

const (
	forNone      forKind = iota
	forPad               // pad input planes [lo, hi)
	forCompact           // copy output rows [lo, hi) out of the junk-column buffer
	forDepthwise         // depthwise output planes [lo, hi)
)

// parallelFor runs c.forRange(kind, ...) over [0, n) split across up to
// parts workers (one when the work, in elements, is too small to share).
func (c *Context) parallelFor(kind forKind, parts, n, work int) {
	if parts <= 1 || n < 2 || work < 1<<15 {
		c.forRange(kind, 0, n)
		return
	}
	c.cur = job{parts: min(parts, n), forN: n, forKind: kind}
	c.runJob()
}

func (c *Context) forRange(kind forKind, lo, hi int) {
	sc := &c.conv
	s := &sc.p.Conv2DShape
	switch kind {
	case forPad:
		plane, inPlane := sc.hp*sc.wp, s.H*s.W
		padPlanes(sc.xpad[lo*plane:hi*plane], sc.x[lo*inPlane:hi*inPlane], hi-lo, s, sc.hp, sc.wp)
	case forCompact:
		outPlane := sc.oh * sc.ow
		for r := lo; r < hi; r++ {
			for oy := 0; oy < sc.oh; oy++ {
				copy(sc.y[r*outPlane+oy*sc.ow:r*outPlane+(oy+1)*sc.ow], sc.ct[r*sc.ldc+oy*sc.wp:])
			}
		}
	case forDepthwise:
		for i := lo; i < hi; i++ {
			depthwisePlane(&sc.p, i)
		}
	}
}

func growInts(s []int, n int) []int {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]int, n)
}

// convGemm runs a grouped convolution as one implicit GEMM per image and
// group: C[mg × pixels] = W_g[mg × cg·KH·KW] · B, B gathered from the
// (zero-padded) input planes.
//
// With unit strides, B's rows are contiguous runs of the padded planes if the
// output is computed on the padded width wp (the KW-1 extra columns per row
// are junk, dropped when copying to Y); then packing B is plain copies. With
// other strides the columns are gathered through an offset table.
func (c *Context) convGemm(p *Conv2DParams, parts int) {
	s := &p.Conv2DShape
	oh, ow := s.OutH(), s.OutW()
	cg, mg := s.C/s.Group, s.M/s.Group
	kg := cg * s.KH * s.KW
	hp, wp := s.H+s.PadTop+s.PadBottom, s.W+s.PadLeft+s.PadRight
	plane := hp * wp
	padded := s.PadTop+s.PadBottom+s.PadLeft+s.PadRight > 0
	contiguous := s.StrideH == 1 && s.StrideW == 1
	junk := 0
	if contiguous {
		junk = wp - ow // = (KW-1)·DilationW
	}
	sc := &c.conv

	sc.rowOff = growInts(sc.rowOff, kg)
	for ch := 0; ch < cg; ch++ {
		for ky := 0; ky < s.KH; ky++ {
			for kx := 0; kx < s.KW; kx++ {
				sc.rowOff[(ch*s.KH+ky)*s.KW+kx] = ch*plane + ky*s.DilationH*wp + kx*s.DilationW
			}
		}
	}
	ncols, ldc := oh*ow, oh*ow
	if contiguous {
		ncols, ldc = (oh-1)*wp+ow, oh*wp
		sc.colOff = nil
	} else {
		sc.colOff = growInts(sc.colOff, oh*ow)
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				sc.colOff[oy*ow+ox] = oy*s.StrideH*wp + ox*s.StrideW
			}
		}
	}
	// ncols and the offsets are such that B never reads past the cg planes.
	if padded {
		sc.xpad = grow(sc.xpad, cg*plane)
	}
	if junk > 0 {
		sc.ct = grow(sc.ct, mg*ldc)
	}
	inPlane, outPlane := s.H*s.W, oh*ow
	for n := 0; n < s.N; n++ {
		for g := 0; g < s.Group; g++ {
			x := p.X[(n*s.C+g*cg)*inPlane : (n*s.C+(g+1)*cg)*inPlane]
			src := x
			if padded {
				sc.x, sc.hp, sc.wp = x, hp, wp
				c.parallelFor(forPad, parts, cg, cg*plane)
				src = sc.xpad
			}
			sc.cb = convB{data: src, rowOff: sc.rowOff[:kg], colOff: sc.colOff}
			y := p.Y[(n*s.M+g*mg)*outPlane : (n*s.M+(g+1)*mg)*outPlane]
			out := y
			if junk > 0 {
				out = sc.ct
			}
			prob := problem{m: mg, n: ncols, k: kg, pa: p.W.groups[g], cb: &sc.cb, c: out, ldc: ldc, act: p.Act}
			if p.Bias != nil {
				prob.rowBias = p.Bias[g*mg : (g+1)*mg]
			}
			c.dispatch(prob, parts, Strided{})
			if junk > 0 {
				sc.y, sc.oh, sc.ow, sc.ldc, sc.wp = y, oh, ow, ldc, wp
				c.parallelFor(forCompact, parts, mg, mg*outPlane)
			}
		}
	}
}

// padPlanes copies cg planes of x (H×W each) into dst as zero-padded hp×wp
// planes.
func padPlanes(dst, x []float32, cg int, s *Conv2DShape, hp, wp int) {
	plane := hp * wp
	for ch := 0; ch < cg; ch++ {
		d := dst[ch*plane : (ch+1)*plane]
		clear(d[:s.PadTop*wp])
		clear(d[(s.PadTop+s.H)*wp:])
		for iy := 0; iy < s.H; iy++ {
			row := d[(s.PadTop+iy)*wp : (s.PadTop+iy+1)*wp]
			clear(row[:s.PadLeft])
			copy(row[s.PadLeft:], x[(ch*s.H+iy)*s.W:(ch*s.H+iy+1)*s.W])
			clear(row[s.PadLeft+s.W:])
		}
	}
}

// depthwise runs a convolution in which output channel m reads only input
// channel m: a direct loop per channel, channels split across the workers.
func (c *Context) depthwise(p *Conv2DParams, parts int) {
	s := &p.Conv2DShape
	total := s.N * s.C
	if total*s.OutH()*s.OutW()*s.KH*s.KW < parallelMin {
		parts = 1
	}
	c.parallelFor(forDepthwise, parts, total, parallelMin)
}

// depthwisePlane computes output plane i (image i/C, channel i%C).
func depthwisePlane(p *Conv2DParams, i int) {
	s := &p.Conv2DShape
	oh, ow := s.OutH(), s.OutW()
	ch := i % s.C
	x := p.X[i*s.H*s.W : (i+1)*s.H*s.W]
	y := p.Y[i*oh*ow : (i+1)*oh*ow]
	w := p.W.dw[ch*s.KH*s.KW : (ch+1)*s.KH*s.KW]
	b := float32(0)
	if p.Bias != nil {
		b = p.Bias[ch]
	}
	for oy := 0; oy < oh; oy++ {
		yr := y[oy*ow : (oy+1)*ow]
		for ox := range yr {
			yr[ox] = b
		}
		for ky := 0; ky < s.KH; ky++ {
			iy := oy*s.StrideH - s.PadTop + ky*s.DilationH
			if iy < 0 || iy >= s.H {
				continue
			}
			xr := x[iy*s.W : (iy+1)*s.W]
			for kx := 0; kx < s.KW; kx++ {
				wv := w[ky*s.KW+kx]
				off := kx*s.DilationW - s.PadLeft // ix = ox*stride + off
				lo, hi := validRange(off, s.StrideW, s.W, ow)
				if s.StrideW == 1 {
					if lo < hi {
						axpy(wv, &xr[lo+off], &yr[lo], hi-lo)
					}
					continue
				}
				for ox := lo; ox < hi; ox++ {
					yr[ox] += wv * xr[ox*s.StrideW+off]
				}
			}
		}
		if p.Act == ActReLU {
			biasAct(&yr[0], nil, 0, len(yr), flagReLU)
		} else if p.Act != ActNone {
			applyAct(p.Act, yr)
		}
	}
}

// validRange returns the ox range [lo, hi) within [0, ow) for which
// 0 <= ox*stride+off < w.
func validRange(off, stride, w, ow int) (lo, hi int) {
	if off < 0 {
		lo = (-off + stride - 1) / stride
	}
	hi = ow
	if last := w - 1 - off; last < 0 {
		hi = 0
	} else {
		hi = min(hi, last/stride+1)
	}
	return lo, max(lo, hi)
}
