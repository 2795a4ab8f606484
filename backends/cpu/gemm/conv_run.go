package gemm

// convScratch is a Context's reusable convolution scratch and the state the
// parallel loops read (kept here, not in closures, so a call does not
// allocate).
type convScratch struct {
	p      Conv2DParams // the call being run
	xpad   []float32    // zero-padded input planes of one group
	ct     []float32    // GEMM output with junk columns, before compaction
	rowOff []int
	cb     convB

	x, y           []float32 // current group's input planes and output
	hp, wp, hq, wq int
	oh, ow, ldc    int
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
		c.forRange(0, kind, 0, n)
		return
	}
	c.cur = job{parts: min(parts, n), forN: n, forKind: kind}
	c.runJob()
}

// forRange runs items [lo, hi) of a parallel loop on worker w.
func (c *Context) forRange(w int, kind forKind, lo, hi int) {
	sc := &c.conv
	s := &sc.p.Conv2DShape
	switch kind {
	case forPad:
		inPlane := s.H * s.W
		if s.StrideH == 1 && s.StrideW == 1 {
			plane := sc.hp * sc.wp
			padPlanes(sc.xpad[lo*plane:hi*plane], sc.x[lo*inPlane:hi*inPlane], hi-lo, s, sc.hp, sc.wp)
		} else {
			planes := s.StrideH * s.StrideW * sc.hq * sc.wq
			phasePlanes(sc.xpad[lo*planes:hi*planes], sc.x[lo*inPlane:hi*inPlane], hi-lo, s, sc.hq, sc.wq)
		}
	case forCompact:
		outPlane := sc.oh * sc.ow
		for r := lo; r < hi; r++ {
			for oy := 0; oy < sc.oh; oy++ {
				copy(sc.y[r*outPlane+oy*sc.ow:r*outPlane+(oy+1)*sc.ow], sc.ct[r*sc.ldc+oy*sc.wq:])
			}
		}
	case forDepthwise:
		ws := &c.ws[w]
		for i := lo; i < hi; i++ {
			depthwisePlane(&sc.p, i, ws)
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
// group: C[mg × pixels] = W_g[mg × cg·KH·KW] · B, B read from the input.
//
// B's rows are made contiguous runs of memory, so that packing B is plain
// vector copies: the input planes are zero-padded and, for strides sh×sw > 1,
// split into sh·sw phase planes (phase (py, px) holds padded pixels
// (i·sh+py, j·sw+px)), each hq×wq. Kernel tap (ky, kx) then reads phase
// ((ky·dh) mod sh, (kx·dw) mod sw) from offset ((ky·dh)/sh, (kx·dw)/sw) with
// unit stride. The output is computed on the phase-plane width wq; the wq-OW
// extra columns per row are junk, dropped when copying to Y. An unpadded
// unit-stride input (1x1 convolutions, valid convolutions) is read in place.
func (c *Context) convGemm(p *Conv2DParams, parts int) {
	s := &p.Conv2DShape
	oh, ow := s.OutH(), s.OutW()
	cg, mg := s.C/s.Group, s.M/s.Group
	kg := cg * s.KH * s.KW
	sh, sw := s.StrideH, s.StrideW
	hp, wp := s.H+s.PadTop+s.PadBottom, s.W+s.PadLeft+s.PadRight
	hq, wq := (hp+sh-1)/sh, (wp+sw-1)/sw
	phases := sh * sw
	planeQ := hq * wq // one phase plane
	copied := s.PadTop+s.PadBottom+s.PadLeft+s.PadRight > 0 || phases > 1
	junk := wq - ow
	sc := &c.conv

	sc.rowOff = growInts(sc.rowOff, kg)
	for ch := 0; ch < cg; ch++ {
		for ky := 0; ky < s.KH; ky++ {
			for kx := 0; kx < s.KW; kx++ {
				y0, x0 := ky*s.DilationH, kx*s.DilationW
				phase := (y0%sh)*sw + x0%sw
				sc.rowOff[(ch*s.KH+ky)*s.KW+kx] = (ch*phases+phase)*planeQ + (y0/sh)*wq + x0/sw
			}
		}
	}
	// With these offsets and ncols, B never reads past the cg·phases planes.
	ncols, ldc := (oh-1)*wq+ow, oh*wq
	if copied {
		sc.xpad = grow(sc.xpad, cg*phases*planeQ)
	}
	if junk > 0 {
		sc.ct = grow(sc.ct, mg*ldc)
	}
	sc.hp, sc.wp, sc.hq, sc.wq = hp, wp, hq, wq
	inPlane, outPlane := s.H*s.W, oh*ow
	for n := 0; n < s.N; n++ {
		for g := 0; g < s.Group; g++ {
			x := p.X[(n*s.C+g*cg)*inPlane : (n*s.C+(g+1)*cg)*inPlane]
			src := x
			if copied {
				sc.x = x
				c.parallelFor(forPad, parts, cg, cg*phases*planeQ)
				src = sc.xpad
			}
			sc.cb = convB{data: src, rowOff: sc.rowOff[:kg]}
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
				sc.y, sc.oh, sc.ow, sc.ldc = y, oh, ow, ldc
				c.parallelFor(forCompact, parts, mg, mg*outPlane)
			}
		}
	}
}

// phasePlanes writes cg input planes (H×W each) into dst as zero-padded,
// phase-split planes: channel c, phase (py, px), row i, column j holds padded
// pixel (i·sh+py, j·sw+px).
func phasePlanes(dst, x []float32, cg int, s *Conv2DShape, hq, wq int) {
	sh, sw := s.StrideH, s.StrideW
	planeQ := hq * wq
	clear(dst[:cg*sh*sw*planeQ])
	for ch := 0; ch < cg; ch++ {
		base := dst[ch*sh*sw*planeQ : (ch+1)*sh*sw*planeQ]
		for iy := 0; iy < s.H; iy++ {
			py := iy + s.PadTop
			row := x[(ch*s.H+iy)*s.W : (ch*s.H+iy+1)*s.W]
			for px := 0; px < sw; px++ {
				// Input columns ix with (ix+PadLeft) mod sw == px, in order.
				ix0 := ((px-s.PadLeft)%sw + sw) % sw
				if ix0 >= s.W {
					continue
				}
				d := base[((py%sh)*sw+px)*planeQ+(py/sh)*wq+(ix0+s.PadLeft)/sw:]
				for ix, j := ix0, 0; ix < s.W; ix, j = ix+sw, j+1 {
					d[j] = row[ix]
				}
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

// depthwisePlane computes output plane i (image i/C, channel i%C) with the
// layout convGemm uses: the input plane zero-padded (and split into
// stride-phase planes when strided), so that every kernel tap is one long
// unit-stride axpy over the output computed on the padded width; the junk
// columns are dropped when copying to Y. Scratch comes from ws.
func depthwisePlane(p *Conv2DParams, i int, ws *workspace) {
	s := &p.Conv2DShape
	oh, ow := s.OutH(), s.OutW()
	ch := i % s.C
	sh, sw := s.StrideH, s.StrideW
	hp, wp := s.H+s.PadTop+s.PadBottom, s.W+s.PadLeft+s.PadRight
	hq, wq := (hp+sh-1)/sh, (wp+sw-1)/sw
	planeQ := hq * wq
	x := p.X[i*s.H*s.W : (i+1)*s.H*s.W]
	y := p.Y[i*oh*ow : (i+1)*oh*ow]
	w := p.W.dw[ch*s.KH*s.KW : (ch+1)*s.KH*s.KW]
	b := float32(0)
	if p.Bias != nil {
		b = p.Bias[ch]
	}
	ws.bbuf = grow(ws.bbuf, sh*sw*planeQ)
	xq := ws.bbuf
	if sh == 1 && sw == 1 {
		padPlanes(xq, x, 1, s, hp, wp)
	} else {
		phasePlanes(xq, x, 1, s, hq, wq)
	}
	n := (oh-1)*wq + ow
	ws.abuf = grow(ws.abuf, n)
	acc := ws.abuf
	for j := range acc {
		acc[j] = b
	}
	for ky := 0; ky < s.KH; ky++ {
		for kx := 0; kx < s.KW; kx++ {
			y0, x0 := ky*s.DilationH, kx*s.DilationW
			off := ((y0%sh)*sw+x0%sw)*planeQ + (y0/sh)*wq + x0/sw
			axpy(w[ky*s.KW+kx], &xq[off], &acc[0], n)
		}
	}
	for oy := 0; oy < oh; oy++ {
		yr := y[oy*ow : (oy+1)*ow]
		copy(yr, acc[oy*wq:])
		if p.Act == ActReLU {
			biasAct(&yr[0], nil, 0, len(yr), flagReLU)
		} else if p.Act != ActNone {
			applyAct(p.Act, yr)
		}
	}
}
