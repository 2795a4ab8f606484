package gemm

// convScratch is a Context's reusable convolution scratch and the state the
// parallel loops read (kept here, not in closures, so a call does not
// allocate).
type convScratch struct {
	p      Conv2DParams // the call being run
	xpad   []float32    // zero-padded (phase-split) input planes of a chunk of images, one group
	ct     []float32    // GEMM output of a chunk, before the copy to Y
	rowOff []int
	cb     convB
	prob   problem // the current GEMM, for forConvCols
	pa     packedA // pixels-as-rows path: the input gathered as a packed P×K A operand
	// forBase is added to the items of a parallel loop (see parallelForFrom).
	forBase int

	// The current chunk (images n0..n0+nb of group g) and its layout; see convGemm.
	n0, nb, g      int
	phaseOf        []int // used phase index of stride phase (py, px) at py*sw+px, or -1
	phases         int   // used phases
	hq, wq, planeQ int   // one phase plane of one image
	oh, ow, ldc    int
}

// forKind names the parallel loops of the convolution code.
type forKind int

const (
	forNone      forKind = iota
	forPad               // pad the input channels [lo, hi) of the chunk
	forCompact           // copy output rows (channels) [lo, hi) of the chunk to Y
	forDepthwise         // depthwise output planes [lo, hi)
	forConvCols          // GEMM column panels [lo, hi) of sc.prob (nr columns each)
	forGather            // pixels-as-rows: gather B rows [lo, hi) into sc.pa's columns
	forTranspose         // pixels-as-rows: output channels [lo, hi) from the P×M product to Y
	forResidual          // Y planes [lo, hi) (image·M + channel) = Act(Y + Residual)
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

// parallelForFrom is parallelFor over items [lo, hi).
func (c *Context) parallelForFrom(kind forKind, parts, lo, hi, work int) {
	c.conv.forBase = lo
	c.parallelFor(kind, parts, hi-lo, work)
	c.conv.forBase = 0
}

// gemmAct is the activation the GEMM's epilogue applies: none when a
// residual is added afterwards (the activation follows the sum).
func gemmAct(p *Conv2DParams) Activation {
	if p.Residual != nil {
		return ActNone
	}
	return p.Act
}

// forRange runs items [lo, hi) of a parallel loop on worker w.
func (c *Context) forRange(w int, kind forKind, lo, hi int) {
	sc := &c.conv
	s := &sc.p.Conv2DShape
	lo, hi = lo+sc.forBase, hi+sc.forBase
	switch kind {
	case forPad:
		cg := s.C / s.Group
		inPlane, chStride := s.H*s.W, sc.phases*sc.nb*sc.planeQ
		for ch := lo; ch < hi; ch++ {
			for i := 0; i < sc.nb; i++ {
				x := sc.p.X[((sc.n0+i)*s.C+sc.g*cg+ch)*inPlane:][:inPlane]
				phasePlanes(sc.xpad[ch*chStride:][:chStride], x, s, sc.phaseOf, sc.nb, i, sc.hq, sc.wq)
			}
		}
	case forCompact:
		mg, outPlane, imgStride := s.M/s.Group, sc.oh*sc.ow, sc.planeQ
		for r := lo; r < hi; r++ {
			for i := 0; i < sc.nb; i++ {
				at := ((sc.n0+i)*s.M + sc.g*mg + r) * outPlane
				y := sc.p.Y[at:][:outPlane]
				src := sc.ct[r*sc.ldc+i*imgStride:]
				if sc.wq == sc.ow {
					copy(y, src[:outPlane])
				} else {
					for oy := 0; oy < sc.oh; oy++ {
						copy(y[oy*sc.ow:(oy+1)*sc.ow], src[oy*sc.wq:])
					}
				}
				if res := sc.p.Residual; res != nil {
					AddAct(y, y, res[at:][:outPlane], sc.p.Act) // y is in cache
				}
			}
		}
	case forDepthwise:
		ws := &c.ws[w]
		for i := lo; i < hi; i++ {
			depthwisePlane(&sc.p, i, ws)
		}
	case forGather:
		// Pixel j of B row k goes to A's packed panel j/mr, element (k, j%mr).
		pa := &sc.pa
		mr, step := pa.mr, pa.k*pa.mr // step: from one row panel to the next
		for k := lo; k < hi; k++ {
			d, r := pa.data[k*mr:], 0 // d: this row of the current panel
			for i := 0; i < sc.nb; i++ {
				src := sc.cb.data[sc.cb.rowOff[k]+i*sc.planeQ:]
				for oy := 0; oy < sc.oh; oy++ {
					for _, v := range src[oy*sc.wq : oy*sc.wq+sc.ow] {
						d[r] = v
						if r++; r == mr {
							d, r = d[min(step, len(d)):], 0
						}
					}
				}
			}
			if r > 0 {
				clear(d[r:mr]) // zero rows up to the panel height
			}
		}
	case forTranspose:
		mg, outPlane := s.M/s.Group, sc.oh*sc.ow
		for m := lo; m < hi; m++ {
			for i := 0; i < sc.nb; i++ {
				y := sc.p.Y[((sc.n0+i)*s.M+sc.g*mg+m)*outPlane:][:outPlane]
				src := sc.ct[i*outPlane*mg+m:]
				for j := range y {
					y[j] = src[j*mg]
				}
				if res := sc.p.Residual; res != nil {
					AddAct(y, y, res[((sc.n0+i)*s.M+sc.g*mg+m)*outPlane:][:outPlane], sc.p.Act)
				}
			}
		}
	case forResidual:
		plane := len(sc.p.Y) / (s.N * s.M)
		AddAct(sc.p.Y[lo*plane:hi*plane], sc.p.Y[lo*plane:hi*plane], sc.p.Residual[lo*plane:hi*plane], sc.p.Act)
	case forConvCols:
		nr := c.kern.nr
		c.kern.run(&c.ws[w], &sc.prob, 0, sc.prob.m, lo*nr, min(hi*nr, sc.prob.n))
	}
}

func growInts(s []int, n int) []int {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]int, n)
}

// chunkCols is the number of GEMM columns (output pixels, junk included)
// convGemm aims for when it puts several images side by side.
const chunkCols = 2048

// convGemm runs a grouped convolution as implicit GEMMs: for each group and
// chunk of images, C[mg × pixels] = W_g[mg × cg·KH·KW] · B, B read from the
// input.
//
// B's rows are made contiguous runs of memory, so that packing B is plain
// vector copies: the input planes are zero-padded and, for strides sh×sw > 1,
// split into phase planes (phase (py, px) holds padded pixels
// (i·sh+py, j·sw+px)), each hq×wq; only the phases some kernel tap reads are
// kept (one for a strided 1x1 convolution). Kernel tap (ky, kx) then reads
// phase ((ky·dh) mod sh, (kx·dw) mod sw) from offset ((ky·dh)/sh, (kx·dw)/sw)
// with unit stride. The output is computed on the phase-plane width wq; the
// wq-OW extra columns per row are junk, dropped when copying to Y.
//
// Images with tiny outputs (fewer than four column panels: ResNet's 7x7
// stage) go several to a GEMM when that fills the columns better: the buffer
// holds, per channel and phase, the chunk's images one after another (hq×wq
// each), so that a B row runs across them, the column panels are full and
// the weights are streamed once per chunk instead of once per image. (On
// 14x14 and 28x28 planes, where the
// panels are nearly full anyway, the copies in and out cost as much as this
// saved or more: ResNet-50's 1x1 128->512 at 28x28, batch 8, took 1.08-1.21x
// the time.) An unpadded unit-stride
// input of a single image (1x1 convolutions, valid convolutions) is read in
// place.
func (c *Context) convGemm(p *Conv2DParams, parts int) {
	s := &p.Conv2DShape
	sc := &c.conv
	oh, ow := s.OutH(), s.OutW()
	cg, mg := s.C/s.Group, s.M/s.Group
	kg := cg * s.KH * s.KW
	sh, sw := s.StrideH, s.StrideW
	hp, wp := s.H+s.PadTop+s.PadBottom, s.W+s.PadLeft+s.PadRight
	hq, wq := (hp+sh-1)/sh, (wp+sw-1)/sw
	planeQ := hq * wq // one phase plane of one image
	outPlane := oh * ow
	// The phases the kernel taps read, numbered in order of first use.
	sc.phases = 0
	sc.phaseOf = growInts(sc.phaseOf, sh*sw)
	for i := range sc.phaseOf {
		sc.phaseOf[i] = -1
	}
	for ky := 0; ky < s.KH; ky++ {
		for kx := 0; kx < s.KW; kx++ {
			ph := &sc.phaseOf[(ky*s.DilationH%sh)*sw+kx*s.DilationW%sw]
			if *ph < 0 {
				*ph = sc.phases
				sc.phases++
			}
		}
	}
	pads := s.PadTop+s.PadBottom+s.PadLeft+s.PadRight > 0
	nb := 1 // images per GEMM
	if per := (oh-1)*wq + ow; s.N > 1 && per < 4*c.kern.nr {
		// Side by side, each image brings its whole phase plane (padding
		// rows and columns are junk): worth it only where that wastes less
		// than one image alone (1x1 convolutions, not padded 3x3 ones).
		n := min(s.N, max(1, chunkCols/planeQ))
		useful := n * outPlane
		merged := float64(useful) / float64(roundUp((n-1)*planeQ+per, c.kern.nr))
		single := float64(outPlane) / float64(roundUp(per, c.kern.nr))
		if s.Group == 1 && s.M/s.Group >= 4*c.kern.nr { // convPixelRows's fill
			single = max(single, float64(outPlane)/float64(roundUp(outPlane, c.kern.mr)))
		}
		if merged > single {
			nb = n
		}
	}
	copied := pads || sh*sw > 1 || nb > 1
	sc.hq, sc.wq, sc.planeQ, sc.oh, sc.ow = hq, wq, planeQ, oh, ow
	inPlane := s.H * s.W
	for n0 := 0; n0 < s.N; n0 += nb {
		nbc := min(nb, s.N-n0)
		// Offsets of B's rows: channel ch, tap (ky, kx), in the chunk's buffer.
		chStride := sc.phases * nbc * planeQ
		sc.rowOff = growInts(sc.rowOff, kg)
		for ch := 0; ch < cg; ch++ {
			for ky := 0; ky < s.KH; ky++ {
				for kx := 0; kx < s.KW; kx++ {
					y0, x0 := ky*s.DilationH, kx*s.DilationW
					off := ch*inPlane + y0*s.W + x0 // in place: H×W planes
					if copied {
						ph := int(sc.phaseOf[(y0%sh)*sw+x0%sw])
						off = ch*chStride + ph*nbc*planeQ + (y0/sh)*wq + x0/sw
					}
					sc.rowOff[(ch*s.KH+ky)*s.KW+kx] = off
				}
			}
		}
		// With these offsets and ncols, B never reads past the buffer.
		ncols, ldc := (nbc-1)*planeQ+(oh-1)*wq+ow, oh*wq
		if nbc > 1 {
			ldc = nbc * planeQ // image i's output starts at column i·planeQ
		}
		if copied {
			sc.xpad = grow(sc.xpad, cg*chStride)
		}
		// Few output pixels (7x7 planes of one image): the weights fill a
		// GEMM's columns better than the pixels (49 pixels take four
		// 16-column panels, 64 columns, but nine 6-row panels, 54 rows).
		// Measured on 14x14 planes (196 pixels), this orientation was no
		// faster for 3x3 and 1.1-1.5x slower for 1x1 convolutions.
		mr, nr := c.kern.mr, c.kern.nr
		swap := s.Group == 1 && nbc*outPlane < 4*nr && mg >= 4*nr &&
			roundUp(nbc*outPlane, mr)*roundUp(mg, nr) < roundUp(mg, mr)*roundUp(ncols, nr)
		scatter := !swap && (wq != ow || nbc > 1)
		if scatter {
			sc.ct = grow(sc.ct, mg*ldc)
		}
		sc.n0, sc.nb = n0, nbc
		for g := 0; g < s.Group; g++ {
			sc.g = g
			src := p.X[(n0*s.C+g*cg)*inPlane : (n0*s.C+(g+1)*cg)*inPlane]
			if copied {
				c.parallelFor(forPad, parts, cg, cg*chStride)
				src = sc.xpad[:cg*chStride]
			}
			sc.cb = convB{data: src, rowOff: sc.rowOff[:kg]}
			out := p.Y[(n0*s.M+g*mg)*outPlane : (n0*s.M+(g+1)*mg)*outPlane]
			if scatter {
				out = sc.ct[:mg*ldc]
			}
			if swap {
				c.convPixelRows(p, parts, nbc*outPlane, kg)
				continue
			}
			prob := problem{m: mg, n: ncols, k: kg, pa: p.W.groups[g], cb: &sc.cb, c: out, ldc: ldc, act: gemmAct(p)}
			if p.Bias != nil {
				prob.rowBias = p.Bias[g*mg : (g+1)*mg]
			}
			c.convProduct(prob, parts, false)
			if !scatter && p.Residual != nil {
				first := n0*s.M + g*mg // output planes of this image and group
				c.parallelForFrom(forResidual, parts, first, first+mg, mg*outPlane)
			}
			if scatter {
				sc.ldc = ldc
				c.parallelFor(forCompact, parts, mg, mg*nbc*outPlane)
			}
		}
	}
}

// convPixelRows computes the current chunk and group (the layout convGemm
// set up) as Yᵀ[P × M] = Bᵀ · Wᵀ: the P output pixels are the GEMM's rows
// and the output channels its columns, split across the workers so that each
// streams only its share of the weights. B's pixels (no junk columns) are
// gathered straight into the packed layout of the GEMM's A operand, once for
// all workers; the product is then transposed into Y.
func (c *Context) convPixelRows(p *Conv2DParams, parts, np, kg int) {
	s := &p.Conv2DShape
	sc := &c.conv
	mg, mr := s.M/s.Group, c.kern.mr
	sc.pa.m, sc.pa.k, sc.pa.mr = np, kg, mr
	sc.pa.data = grow(sc.pa.data, roundUp(np, mr)*kg)
	c.parallelFor(forGather, parts, kg, kg*np)
	sc.ct = grow(sc.ct, np*mg)
	prob := problem{m: np, n: mg, k: kg, pa: &sc.pa, pb: p.W.transposed(), c: sc.ct, ldc: mg, act: gemmAct(p)}
	if p.Bias != nil {
		prob.colBias = p.Bias[:mg]
	}
	c.convProduct(prob, parts, true)
	c.parallelFor(forTranspose, parts, mg, np*mg)
}

// convProduct runs one GEMM of a convolution. When B (the im2col gather,
// packed on every call) is at least as wide as the weights are tall, the
// workers split the output columns (pixels), so each packs only its own
// columns of B while the pre-packed weights are shared; dispatch would split
// the rows (output channels) for these shapes, and every worker would pack all
// of B. When the weights are the larger operand (7x7 and 14x14 stages), the
// rows are split, so each worker streams only its share of them.
// With cols set, the columns are split whenever there are enough of them.
func (c *Context) convProduct(prob problem, parts int, cols bool) {
	nt := (prob.n + c.kern.nr - 1) / c.kern.nr
	if parts <= 1 || nt < 2*parts || (prob.n < prob.m && !cols) || prob.m*prob.n*max(prob.k, 1) < parallelMin {
		c.dispatch(prob, parts, Strided{})
		return
	}
	c.conv.prob = prob
	c.cur = job{parts: parts, forN: nt, forKind: forConvCols}
	c.runJob()
	c.conv.prob = problem{}
}

// phasePlanes writes image i of nb of one input channel x (H×W) into dst,
// the channel's part of the chunk buffer: for each used phase ph (of
// phaseOf), nb planes of hq×wq, image i's at dst[(ph·nb+i)·hq·wq:], where
// row r, column j holds padded pixel (r·sh+py, j·sw+px) and the padding is
// zero. A nil phaseOf keeps every phase, in order.
func phasePlanes(dst, x []float32, s *Conv2DShape, phaseOf []int, nb, i, hq, wq int) {
	sh, sw := s.StrideH, s.StrideW
	planeQ := hq * wq
	if sh == 1 && sw == 1 {
		padPlane(dst[i*planeQ:][:planeQ], x, s, wq)
		return
	}
	for py := 0; py < sh; py++ {
		for px := 0; px < sw; px++ {
			ph := py*sw + px
			if phaseOf != nil {
				if ph = phaseOf[ph]; ph < 0 {
					continue
				}
			}
			d := dst[(ph*nb+i)*planeQ:][:planeQ]
			clear(d)
			// Input rows iy with (iy+PadTop) mod sh == py, columns ix with
			// (ix+PadLeft) mod sw == px.
			iy0 := ((py-s.PadTop)%sh + sh) % sh
			ix0 := ((px-s.PadLeft)%sw + sw) % sw
			if ix0 >= s.W {
				continue
			}
			for iy := iy0; iy < s.H; iy += sh {
				row := x[iy*s.W : (iy+1)*s.W]
				dr := d[((iy+s.PadTop)/sh)*wq+(ix0+s.PadLeft)/sw:]
				if sw == 2 {
					for ix, j := ix0, 0; ix < s.W; ix, j = ix+2, j+1 {
						dr[j] = row[ix]
					}
					continue
				}
				for ix, j := ix0, 0; ix < s.W; ix, j = ix+sw, j+1 {
					dr[j] = row[ix]
				}
			}
		}
	}
}

// padPlane copies the H×W plane x into dst as a zero-padded plane of width
// wp (and height len(dst)/wp).
func padPlane(dst, x []float32, s *Conv2DShape, wp int) {
	clear(dst[:s.PadTop*wp])
	clear(dst[(s.PadTop+s.H)*wp:])
	for iy := 0; iy < s.H; iy++ {
		row := dst[(s.PadTop+iy)*wp : (s.PadTop+iy+1)*wp]
		clear(row[:s.PadLeft])
		copy(row[s.PadLeft:], x[iy*s.W:(iy+1)*s.W])
		clear(row[s.PadLeft+s.W:])
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
	phasePlanes(xq, x, s, nil, 1, 0, hq, wq)
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
		switch act := gemmAct(p); {
		case act == ActReLU:
			biasAct(&yr[0], nil, 0, len(yr), flagReLU)
		case act != ActNone:
			applyAct(act, yr)
		}
	}
}
