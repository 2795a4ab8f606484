package gemm

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/klauspost/cpuid/v2"
)

// ErrUnsupported is wrapped by errors for valid arguments that a function
// does not handle (ConvNHWC's grouped convolutions other than depthwise).
var ErrUnsupported = errors.New("gemm: unsupported")

// PackedNHWCWeights holds convolution weights packed for ConvNHWC.
//
// Ungrouped weights are split into column panels of the kernel's width nr
// (output channels), zero-padded in the last one to a whole number of
// vectors, and each panel into K blocks of input channels: panel q, block
// [c0, c1) holds W[q·nr+j][c][kh][kw] at ((kh·KW+kw)·(c1-c0) + c-c0)·width + j,
// the blocks one after another, so the micro-kernel streams each block
// contiguously. Depthwise weights are stored tap-major, KH·KW rows of C.
type PackedNHWCWeights struct {
	m, c, kh, kw, group int
	kern                *nhwcKernel
	cb                  int       // input channels per K block (the last block may be shorter)
	data                []float32 // group 1: the panels; depthwise: the taps×C weights
}

// panelWidth returns the stored width of panel q (a multiple of the vector).
func (pw *PackedNHWCWeights) panelWidth(q int) int {
	nr := pw.kern.nr
	return min(nr, roundUp(pw.m-q*nr, pw.kern.lanes))
}

// nhwcWeightBudget bounds one panel's K block, in floats: 128 K floats
// (512 KB) for a 64-wide panel, half of Zen 4's L2, so that the block stays
// there while the pixels stream past it.
const nhwcWeightBudget = 1 << 17

// nhwcTileOuterMax is the most weights (floats, 512 KB) for which the
// threads split only the pixels, each chunk of pixels run through every
// panel, whatever the plane (large planes do so with any weights not split
// into K blocks; see nhwcConv).
const nhwcTileOuterMax = 1 << 17

// PackConvNHWCWeights packs w, given as ONNX gives it (M×(C/Group)×KH×KW,
// OIHW), for ConvNHWC calls of shape s on ctx (nil: default kernel). Only the
// weight dimensions of s matter (M, C, KH, KW, Group). Group must be 1 or
// depthwise (Group == C == M); other groupings return an error wrapping
// ErrUnsupported.
func PackConvNHWCWeights(ctx *Context, s Conv2DShape, w []float32) (*PackedNHWCWeights, error) {
	t := s
	t.N, t.H, t.W = 0, max(s.H, s.KH), max(s.W, s.KW) // only weight dimensions matter here
	t.PadTop, t.PadBottom, t.PadLeft, t.PadRight = 0, 0, 0, 0
	t.DilationH, t.DilationW, t.StrideH, t.StrideW = 1, 1, 1, 1
	t, err := t.checked()
	if err != nil {
		return nil, err
	}
	if t.Group != 1 && !t.depthwise() {
		return nil, fmt.Errorf("gemm: ConvNHWC: %v: group %d is neither 1 nor depthwise: %w", t, t.Group, ErrUnsupported)
	}
	cg := t.C / t.Group
	taps := t.KH * t.KW
	if len(w) != t.M*cg*taps {
		return nil, fmt.Errorf("gemm: ConvNHWC: weights have %d elements, want %d×%d×%d×%d = %d: %w",
			len(w), t.M, cg, t.KH, t.KW, t.M*cg*taps, ErrInvalid)
	}
	return packConvNHWC(nhwcKernelFor(ctx), t, w), nil
}

// packConvNHWC packs the checked weights w of shape t for kern.
func packConvNHWC(kern *nhwcKernel, t Conv2DShape, w []float32) *PackedNHWCWeights {
	taps := t.KH * t.KW
	pw := &PackedNHWCWeights{m: t.M, c: t.C, kh: t.KH, kw: t.KW, group: t.Group, kern: kern}
	if t.Group > 1 { // depthwise: data[tap·C + c] = w[c][tap]
		pw.data = make([]float32, taps*t.C)
		for c := 0; c < t.C; c++ {
			for tap := 0; tap < taps; tap++ {
				pw.data[tap*t.C+c] = w[c*taps+tap]
			}
		}
		return pw
	}
	nr := pw.kern.nr
	pw.cb = t.C
	if taps*t.C*nr > nhwcWeightBudget {
		blocks := ceilDiv(taps*t.C*nr, nhwcWeightBudget)
		pw.cb = ceilDiv(t.C, blocks)
	}
	panels := ceilDiv(t.M, nr)
	total := 0
	for q := 0; q < panels; q++ {
		total += pw.panelWidth(q) * taps * t.C
	}
	pw.data = alignedFloats(total)
	d := pw.data
	for q := 0; q < panels; q++ {
		width := pw.panelWidth(q)
		cols := min(nr, t.M-q*nr)
		for c0 := 0; c0 < t.C; c0 += pw.cb {
			c1 := min(t.C, c0+pw.cb)
			for tap := 0; tap < taps; tap++ {
				for c := c0; c < c1; c++ {
					row := d[:width]
					for j := 0; j < cols; j++ {
						row[j] = w[((q*nr+j)*t.C+c)*taps+tap]
					}
					d = d[width:]
				}
			}
		}
	}
	return pw
}

// ConvNHWCParams is one convolution over channels-last tensors:
// Y = Act(conv(X, W) + Bias + Residual).
type ConvNHWCParams struct {
	Conv2DShape           // same meaning as for Conv2D (sizes, pads, strides, dilations, group)
	X           []float32 // N×H×W×C
	W           *PackedNHWCWeights
	Bias        []float32 // M values, or nil
	// Residual is N×OH×OW×M or nil. It may be Y itself (the same slice: the
	// sum lands in the residual's buffer, which saves a stream through memory;
	// every kernel reads a residual element before it writes that element of Y)
	// but must not overlap Y otherwise.
	Residual []float32
	Act      Activation
	Y        []float32 // N×OH×OW×M, overwritten
	// MaxThreads caps the workers used, as in Params.
	MaxThreads int
}

// nhwcScratch is a Context's ConvNHWC state: the call being run and the
// reusable buffers the parallel loops read (kept here, not in closures, so a
// warm call does not allocate).
type nhwcScratch struct {
	p      ConvNHWCParams
	in     []float32 // what the kernels read: X, or xpad
	xpad   []float32 // zero-padded input, N×Hp×Wp×C
	hp, wp int       // the dimensions of in
	oh, ow int
	// pix[w] is worker w's pixel offsets of a tile (at most 8), padded to
	// two cache lines so that no two workers write the same line.
	pix [][16]int
	// taps[w] is worker w's tap table for a depthwise border pixel (pairs
	// of input and weight offsets), in its own padded allocation.
	taps [][]int
	// pixBuf[w] is worker w's pixel offsets of its share's tiles, in its
	// own padded allocation.
	pixBuf [][]int
	// Output rows [oy0, oy1) and columns [ox0, ox1) read no padding
	// (depthwise).
	oy0, oy1, ox0, ox1 int
	// The tap table of a K block: ntaps offsets into in (from a pixel's
	// first input), each the start of kl contiguous floats.
	toff      []int
	ntaps, kl int
	// The split of the work: share i is pixel chunk i/pgroups, panel group
	// i%pgroups; pixel chunk r is tiles [r·tiles/chunks, (r+1)·tiles/chunks),
	// panel group g panels [g·panels/pgroups, (g+1)·panels/pgroups).
	tiles, chunks, panels, pgroups int
	// stream: the kernels store Y with non-temporal stores (flagStream).
	stream bool
	// noStream turns streaming off (a measurement hook for benchmarks);
	// streamMin, if positive, replaces nhwcStreamMin (for tests).
	noStream  bool
	streamMin int
	// noPrefetchX turns the input prefetch off (a measurement hook);
	// prefetchXMin, if positive, replaces nhwcPrefetchXMin (for tests).
	noPrefetchX  bool
	prefetchXMin int
	// warmRes: each share reads its Residual rows into the caches before
	// its first panel (nhwcWarmMin).
	warmRes bool
	// resInY: Residual is Y (in place). The kernels then accumulate into Y
	// from the first K block on (flagAccum) instead of adding the residual in
	// the last block's epilogue, which would read what the first block wrote.
	resInY bool
	// prefetchX: the kernels prefetch the next tile's inputs
	// (flagPrefetchX) in a share's first panel (nhwcPrefetchXMin).
	prefetchX bool
	// sink[16·w] keeps worker w's touchLines result (a cache line each).
	sink []float32
}

// nhwcStreamMin is the smallest output (bytes) that ConvNHWC stores with
// non-temporal stores (nhwcStreamMinFor this CPU's L3). An output that does
// not fit in half of the L3 would not stay in the caches for the next layer
// anyway; written past them, each line is not read before its write, and the
// layer's inputs stay cached. At batch 8 on one Zen 4 core (32 MB of L3) this
// made the 1x1 64->256 layers at 56x56 (25.7 MB outputs) 7-19% faster. Where
// the L3 holds such an output the next layer should find it there: on a Xeon
// reporting 300 MB of L3, ResNet-50's 1x1 256->64 layers at 56x56 (batch 8),
// which read such an output, took 4.9 ms after a streamed one and 3.95 ms
// after a cached one (ORT 2.65).
var nhwcStreamMin = nhwcStreamMinFor(int64(cpuid.CPU.Cache.L3))

// nhwcStreamMinFor is half of an L3 of l3 bytes, at least 16 MB (16 MB where
// the size is unknown).
func nhwcStreamMinFor(l3 int64) int {
	const floor = 16 << 20
	if l3 <= 0 {
		return floor
	}
	return max(floor, int(l3/2))
}

// nhwcWarmMin is the smallest Residual (bytes) whose rows a share of
// several panels reads into the caches, one load per line, before its first
// panel. Run panel by panel, the kernels read a quarter of each row of a
// 256-channel Residual per panel, a pattern the hardware prefetchers follow
// poorly; read whole rows in order, the lines then wait in L2 for every
// panel. At batch 8 on a Zen 4 core (thread CPU time) 1x1 64->256 at 56x56
// with residual ran 1.13x faster on one thread, 1.06x on two, 128->512 at
// 28x28 1.03x. Smaller residuals (batch 1: 3.2 MB at most) stay in cache
// between the layer that wrote them and this one.
const nhwcWarmMin = 8 << 20

// nhwcPrefetchMin is the smallest Residual (bytes) whose rows the kernels
// prefetch a tile ahead where they are not read ahead whole (nhwcWarmMin):
// at batch 8 on a Zen 4 core, 1x1 256->1024 at 14x14 with residual (each
// share one panel, a quarter of a 4 KB row per pixel) 1.01-1.03x, 512->2048
// at 7x7 1.00-1.02x; with the rows read ahead it cost 1-4%. Batch 1 (3.2 MB
// at most) is left as it was.
const nhwcPrefetchMin = 4 << 20

// nhwcPrefetchXMin is the smallest input (bytes; the padded copy where
// there is one), and nhwcPrefetchXMaxC the most input channels, for which
// the kernels prefetch the next tile's input rows, in the first panel of
// each share (the later panels find them in L2). The hardware prefetchers
// follow a tile's rows poorly: rows pixels' runs of channels, a cache line of
// each in turn. On the Xeon, BenchmarkConvNHWCPrefetchX (2 threads, the pair
// of layer and next layer, without/with): batch 8 1x1 256->64 at 56x56 1.19,
// 256->128 1.14, 64->256 with residual 1.12, 3x3 stride 2 1.06, 28x28 1x1
// 1.00-1.02; and in ResNet-50 at batch 8 (sums of per-node minima) the 1x1
// 256->64 layers at 56x56 went from 4.54 to 2.98 ms (ORT 2.87). Inputs that
// the caches hold (batch 1 from 28x28 on, 14x14 and 7x7 at batch 8) ran 2-10%
// slower with it, as did the layers of 1024 and 2048 channels at batch 8
// (0.94-0.96: a tile's rows are then 24-48 KB, as much as L1 holds).
const (
	nhwcPrefetchXMin  = 2 << 20
	nhwcPrefetchXMaxC = 512
)

// touchLines reads one value per 64-byte line of x, which pulls x into the
// caches, and returns their sum (so that the loads are kept).
func touchLines(x []float32) float32 {
	var s float32
	for i := 0; i < len(x); i += 16 {
		s += x[i]
	}
	return s
}

// nhwcChunkTiles bounds the tiles of a pixel chunk (a share of the work)
// where the pixels are split. A chunk's inputs and Residual rows stay in L2
// while it runs through the panels, so each is read from memory once (a
// whole batch-8 plane run panel by panel read them again for every panel),
// and a thread that falls one chunk behind holds the other back little (4
// chunks per thread made a chunk of a 56x56 layer at batch 8 523 tiles, an
// eighth of the layer). 64 tiles (384 pixels) keep the 8 chunks of 56x56 at
// batch 1 on 2 threads. At batch 8 on one Zen 4 core (thread CPU time)
// chunks of 16-128 tiles all measured alike: 1x1 64->256 at 56x56 1.11-1.34x
// the whole plane, 256->128 1.09x, 128->512 with residual at 28x28 1.07x,
// one-panel layers equal; on 2 threads (loaded) 0-9% faster than 4 chunks
// per thread, none slower.
const nhwcChunkTiles = 64

// The parallel loops of ConvNHWC (see Context.runPart): kinds from
// forNHWCFirst on are run by nhwcRange.
const (
	forNHWCFirst forKind = 100 + iota
	forNHWCPad           = forNHWCFirst     // copy input rows [lo, hi) (image·H + row) into xpad
	forNHWCTiles         = forNHWCFirst + 1 // shares [lo, hi) of the direct convolution
	forNHWCDepth         = forNHWCFirst + 2 // depthwise output rows [lo, hi) (image·OH + row)
)

// ConvNHWC runs p on ctx's workers (nil: the calling goroutine only).
//
// Ungrouped convolutions run as an implicit GEMM whose A operand is the
// input read in place: output pixels are rows, taps×C the K dimension and
// output channels the columns. A micro-kernel computes a tile of mr pixels
// (which may span output rows) by one weight panel, with one input pointer
// per pixel and a table of tap offsets; where a kernel row's taps are one
// contiguous run of the input (undilated columns, unblocked channels) the
// taps of a row merge into one run of KW·C floats. Padded inputs are first
// copied once into a zero-bordered buffer, so the kernel needs no bounds
// checks. Depthwise convolutions run the same way with a kernel vectorized
// over channels (a few pixels at a time, each tap one multiply-add per
// vector of channels).
func ConvNHWC(ctx *Context, p ConvNHWCParams) error {
	s, err := p.Conv2DShape.checked()
	if err != nil {
		return err
	}
	p.Conv2DShape = s
	oh, ow := s.OutH(), s.OutW()
	switch w := p.W; {
	case w == nil:
		return fmt.Errorf("gemm: ConvNHWC: %v: nil weights: %w", s, ErrInvalid)
	case w.m != s.M || w.c != s.C || w.kh != s.KH || w.kw != s.KW || w.group != s.Group:
		return fmt.Errorf("gemm: ConvNHWC: %v: weights were packed for M %d, C %d, kernel %dx%d, group %d: %w",
			s, w.m, w.c, w.kh, w.kw, w.group, ErrInvalid)
	}
	if err := checkConvBuffers("gemm: ConvNHWC", s, p.X, p.Y, p.Residual, p.Bias, p.Act, p.MaxThreads, true); err != nil {
		return err
	}
	if s.N == 0 {
		return nil
	}
	if ctx == nil {
		ctx = &Context{kern: kernels[0], threads: 1, ws: make([]workspace, 1)}
	}
	ctx.mu.Lock()
	defer ctx.mu.Unlock()
	if ctx.closed {
		return ErrClosed
	}
	parts := ctx.threads
	if p.MaxThreads > 0 {
		parts = min(parts, p.MaxThreads)
	}
	sc := &ctx.nhwc
	sc.p, sc.oh, sc.ow = p, oh, ow
	defer func() { sc.p, sc.in = ConvNHWCParams{}, nil }() // drop the caller's slices
	work := s.N * oh * ow * s.M * s.C / s.Group * s.KH * s.KW
	if work < parallelMin {
		parts = 1
	}
	ctx.nhwcConv(parts)
	return nil
}

// nhwcFor runs nhwcRange(kind) over [0, n) in shares shares on up to parts
// threads.
func (c *Context) nhwcFor(kind forKind, parts, n, shares int) {
	shares = max(1, min(n, shares))
	if parts <= 1 || shares == 1 {
		c.nhwcRange(0, kind, 0, n)
		return
	}
	c.cur = job{parts: shares, threads: parts, forN: n, forKind: kind}
	c.runJob()
}

// nhwcConv runs the ungrouped convolution in c.nhwc.p on up to parts threads.
func (c *Context) nhwcConv(parts int) {
	sc := &c.nhwc
	p := &sc.p
	s := &p.Conv2DShape
	pw := p.W
	kern := pw.kern
	sc.in, sc.hp, sc.wp = p.X, s.H, s.W
	if len(sc.pix) < c.threads {
		sc.pix = make([][16]int, c.threads)
		sc.pixBuf = make([][]int, c.threads)
	}
	if s.Group > 1 {
		c.nhwcDepthwiseSetup(parts)
		return
	}
	if s.PadTop+s.PadBottom+s.PadLeft+s.PadRight > 0 {
		sc.hp, sc.wp = s.H+s.PadTop+s.PadBottom, s.W+s.PadLeft+s.PadRight
		sc.xpad = grow(sc.xpad, s.N*sc.hp*sc.wp*s.C)
		sc.in = sc.xpad
		c.nhwcFor(forNHWCPad, parts, s.N*s.H, 4*parts)
	}
	// The tap table (the same for every K block: a block's kernel reads
	// from in[c0:]).
	if pw.cb == s.C && s.DilationW == 1 {
		sc.ntaps, sc.kl = s.KH, s.KW*s.C
		sc.toff = growInts(sc.toff, s.KH)
		for ky := 0; ky < s.KH; ky++ {
			sc.toff[ky] = ky * s.DilationH * sc.wp * s.C
		}
	} else {
		sc.ntaps, sc.kl = s.KH*s.KW, pw.cb
		sc.toff = growInts(sc.toff, s.KH*s.KW)
		for ky := 0; ky < s.KH; ky++ {
			for kx := 0; kx < s.KW; kx++ {
				sc.toff[ky*s.KW+kx] = (ky*s.DilationH*sc.wp + kx*s.DilationW) * s.C
			}
		}
	}
	streamMin := nhwcStreamMin
	if sc.streamMin > 0 {
		streamMin = sc.streamMin
	}
	sc.stream = !sc.noStream && 4*len(p.Y) >= streamMin && kern != nhwcKernelGo &&
		s.M%kern.lanes == 0 && uintptr(unsafe.Pointer(&p.Y[0]))%uintptr(4*kern.lanes) == 0
	sc.warmRes = 4*len(p.Residual) >= nhwcWarmMin
	prefetchXMin := nhwcPrefetchXMin
	if sc.prefetchXMin > 0 {
		prefetchXMin = sc.prefetchXMin
	}
	sc.prefetchX = !sc.noPrefetchX && 4*len(sc.in) >= prefetchXMin && s.C <= nhwcPrefetchXMaxC
	sc.resInY = len(p.Y) > 0 && p.Residual != nil && &p.Residual[0] == &p.Y[0]
	if len(sc.sink) < 16*c.threads {
		sc.sink = make([]float32, 16*c.threads)
	}
	sc.tiles = ceilDiv(s.N*sc.oh*sc.ow, kern.mr)
	sc.panels = ceilDiv(s.M, kern.nr)
	sc.chunks, sc.pgroups = 1, sc.panels
	switch {
	case pw.cb == s.C && (s.M*s.C*s.KH*s.KW <= nhwcTileOuterMax || sc.tiles >= 2*parts*nhwcChunkTiles):
		// Weights that fit in L2, or a large plane (a batch): each
		// share runs all panels for a chunk of pixels of about
		// nhwcChunkTiles tiles or fewer (its inputs and Residual rows
		// stay in L2 across the panels), at least 4 chunks per thread.
		// On a large plane the weights, read again for each chunk, cost
		// less than the inputs read again for each panel: at batch 8 on
		// Zen 4, 3x3 128 stride 2 at 56x56 (590 KB) 1.01-1.03x, 1x1
		// 256->1024 at 14x14 with residual 1.02-1.05x, 1024->256
		// 1.01-1.04x, 512->1024 stride 2 at 28x28 1.03-1.07x, 3x3 128 at
		// 28x28 equal.
		sc.chunks, sc.pgroups = max(1, sc.tiles/nhwcChunkTiles), 1
		if parts > 1 {
			sc.chunks = max(sc.chunks, min(sc.tiles, 4*parts))
		}
	case parts == 1:
	case sc.panels < 2*parts && !(sc.panels >= parts && sc.tiles < 4*parts):
		// Few panels: split the pixels too, as above.
		sc.chunks = max(min(sc.tiles, 4*parts), sc.tiles/nhwcChunkTiles)
	}
	c.nhwcFor(forNHWCTiles, parts, sc.chunks*sc.pgroups, sc.chunks*sc.pgroups)
}

// nhwcRange runs items [lo, hi) of a ConvNHWC parallel loop on worker w.
func (c *Context) nhwcRange(w int, kind forKind, lo, hi int) {
	sc := &c.nhwc
	switch kind {
	case forNHWCPad:
		nhwcPadRows(sc, lo, hi)
	case forNHWCTiles:
		for i := lo; i < hi; i++ {
			r, g := i/sc.pgroups, i%sc.pgroups
			c.nhwcShare(w, r*sc.tiles/sc.chunks, (r+1)*sc.tiles/sc.chunks,
				g*sc.panels/sc.pgroups, (g+1)*sc.panels/sc.pgroups)
		}
	case forNHWCDepth:
		c.nhwcDepthwiseRows(w, lo, hi)
	}
}

// nhwcPadRows copies input rows [lo, hi) (image·H + row) into the padded
// buffer, zeroing the padding next to them (and, for each image's first and
// last row, the padding rows above and below).
func nhwcPadRows(sc *nhwcScratch, lo, hi int) {
	s := &sc.p.Conv2DShape
	c, wp := s.C, sc.wp
	rowLen := wp * c
	for r := lo; r < hi; r++ {
		n, iy := r/s.H, r%s.H
		img := sc.xpad[n*sc.hp*rowLen : (n+1)*sc.hp*rowLen]
		if iy == 0 {
			clear(img[:s.PadTop*rowLen])
		}
		if iy == s.H-1 {
			clear(img[(s.PadTop+s.H)*rowLen:])
		}
		dst := img[(s.PadTop+iy)*rowLen : (s.PadTop+iy+1)*rowLen]
		clear(dst[:s.PadLeft*c])
		copy(dst[s.PadLeft*c:], sc.p.X[r*s.W*c:(r+1)*s.W*c])
		clear(dst[(s.PadLeft+s.W)*c:])
	}
}

// nhwcShare computes tiles [t0, t1) (mr pixels each) of output panels
// [q0, q1) on worker w: panel by panel, K block by K block, each block over
// every tile (the block stays in L1 or L2 while the pixels stream past),
// accumulating into Y after the first block. Bias, residual and ReLU come in
// the last block's epilogue. (Running each tile through every panel instead,
// its inputs kept in L1, measured 0.83x on 1x1 64->256 at 56x56: four 16 KB
// panels no longer fit in L1.) The tiles' pixel offsets are computed once,
// and one kernel call runs all full tiles of a block.
func (c *Context) nhwcShare(w, t0, t1, q0, q1 int) {
	sc := &c.nhwc
	p := &sc.p
	s := &p.Conv2DShape
	pw := p.W
	mr := pw.kern.mr
	npix := s.N * sc.oh * sc.ow
	p0, p1 := t0*mr, min(npix, t1*mr)
	// A tile kernel reads the next tile's first offset (flagPrefetchX) even
	// after the last tile: mr ints past the share's are kept in the slice's
	// capacity, and 64 bytes more clear of its neighbours on each side.
	if cap(sc.pixBuf[w]) < p1-p0+mr {
		sc.pixBuf[w] = make([]int, p1-p0+mr+16)[8:8]
	}
	pix := sc.pixBuf[w][:p1-p0]
	sc.pixOffsets(pix, p0)
	full := (p1 - p0) / mr // the last tile may be short
	// Large Residual rows are read ahead: whole rows here when several
	// panels will read them, else a tile ahead by the kernel.
	warm := sc.warmRes && q1-q0 > 1
	if warm {
		sc.sink[w*16] = touchLines(p.Residual[p0*s.M : p1*s.M])
	}
	prefetch := !warm && 4*len(p.Residual) >= nhwcPrefetchMin
	for q := q0; q < q1; q++ {
		xflags := 0
		if sc.prefetchX && q == q0 {
			xflags = flagPrefetchX
		}
		for c0 := 0; c0 < s.C; c0 += pw.cb {
			c1 := min(s.C, c0+pw.cb)
			if full > 0 {
				sc.runTiles(pix, p0, mr, full, q, c0, c1, prefetch, xflags)
			}
			if rows := p1 - p0 - full*mr; rows > 0 {
				sc.runTiles(pix[full*mr:], p0+full*mr, rows, 1, q, c0, c1, prefetch, xflags)
			}
		}
	}
}

// runTiles runs the micro-kernel for n tiles of rows output pixels from p0 on
// (input offsets in pix), panel q, input channels [c0, c1), with the
// epilogue of the last K block (prefetching the next tile's Residual rows if
// prefetch), and applies the activations the kernel does not. xflags are
// added to the kernel's flags (flagPrefetchX).
func (sc *nhwcScratch) runTiles(pix []int, p0, rows, n, q, c0, c1 int, prefetch bool, xflags int) {
	p := &sc.p
	s := &p.Conv2DShape
	pw := p.W
	kern := pw.kern
	nr := kern.nr
	width := pw.panelWidth(q)
	cols := min(nr, s.M-q*nr)
	kl := sc.kl
	if sc.ntaps == s.KH*s.KW {
		kl = c1 - c0
	}
	// Panels before q are full (nr wide); a K block holds taps×(c1-c0) rows.
	wk := &pw.data[(q*nr*s.C+c0*width)*s.KH*s.KW]
	flags := xflags
	var bias, res *float32
	if c0 > 0 || sc.resInY {
		flags |= flagAccum
	}
	last := c1 == s.C
	if last {
		if p.Bias != nil {
			flags |= flagColBias
			bias = &p.Bias[q*nr]
		}
		if p.Residual != nil {
			if !sc.resInY {
				flags |= flagResidual
			}
			res = &p.Residual[p0*s.M+q*nr] // read (or prefetched) a tile ahead
			if prefetch {
				flags |= flagPrefetch
			}
		}
		if p.Act == ActReLU {
			flags |= flagReLU
		}
		if sc.stream && cols == width {
			flags |= flagStream
		}
	}
	at := p0*s.M + q*nr
	kern.tile[rows][width/kern.lanes](&sc.in[c0], &pix[0], &sc.toff[0], sc.ntaps, kl, wk, &p.Y[at], s.M, bias, res, flags, cols, n)
	if last && p.Act != ActNone && p.Act != ActReLU {
		for i := 0; i < n*rows; i++ {
			applyAct(p.Act, p.Y[at+i*s.M:][:cols])
		}
	}
}

// pixOffsets sets off[i] to the offset in sc.in of the first input (tap 0,
// channel 0) of output pixel p0+i (pixels numbered image by image, row by
// row).
func (sc *nhwcScratch) pixOffsets(off []int, p0 int) {
	s := &sc.p.Conv2DShape
	plane := sc.oh * sc.ow
	n, r := p0/plane, p0%plane
	oy, ox := r/sc.ow, r%sc.ow
	for i := range off {
		off[i] = ((n*sc.hp+oy*s.StrideH)*sc.wp + ox*s.StrideW) * s.C
		if ox++; ox == sc.ow {
			ox = 0
			if oy++; oy == sc.oh {
				oy = 0
				n++
			}
		}
	}
}

// nhwcDepthwiseSetup runs the depthwise convolution in c.nhwc on up to
// parts threads, reading X in place: pixels whose taps all fall inside the
// input run nhwcDWRows at a time with one tap table, the others (next to the
// padding) one at a time with a table of their valid taps only. (Copying the
// input into a zero-bordered buffer first, as the ungrouped path does, took
// half of the time of MobileNetV2's strided depthwise layers.)
func (c *Context) nhwcDepthwiseSetup(parts int) {
	sc := &c.nhwc
	s := &sc.p.Conv2DShape
	taps := s.KH * s.KW
	sc.toff = growInts(sc.toff, 2*taps)
	for ky := 0; ky < s.KH; ky++ {
		for kx := 0; kx < s.KW; kx++ {
			t := ky*s.KW + kx
			sc.toff[2*t] = (ky*s.DilationH*s.W + kx*s.DilationW) * s.C
			sc.toff[2*t+1] = t * s.C
		}
	}
	if len(sc.taps) < c.threads || len(sc.taps[0]) < 2*taps {
		sc.taps = make([][]int, c.threads)
		for w := range sc.taps {
			sc.taps[w] = make([]int, 2*taps+16)[8 : 8+2*taps] // 64 bytes clear of its neighbours
		}
	}
	interior := func(pad, stride, dil, k, in, out int) (lo, hi int) {
		lo = min(out, ceilDiv(pad, stride))
		if last := in - 1 + pad - (k-1)*dil; last >= 0 {
			hi = min(out, last/stride+1)
		}
		return lo, max(lo, hi)
	}
	sc.oy0, sc.oy1 = interior(s.PadTop, s.StrideH, s.DilationH, s.KH, s.H, sc.oh)
	sc.ox0, sc.ox1 = interior(s.PadLeft, s.StrideW, s.DilationW, s.KW, s.W, sc.ow)
	c.nhwcFor(forNHWCDepth, parts, s.N*sc.oh, 4*parts)
}

// nhwcDepthwiseRows computes output rows [lo, hi) (image·OH + row) of the
// depthwise convolution in c.nhwc on worker w.
func (c *Context) nhwcDepthwiseRows(w, lo, hi int) {
	sc := &c.nhwc
	p := &sc.p
	s := &p.Conv2DShape
	ch := s.C
	kern := p.W.kern
	pix, taps := &sc.pix[w], sc.taps[w]
	flags := 0
	var bias, res *float32
	if p.Bias != nil {
		flags |= flagColBias
		bias = &p.Bias[0]
	}
	if p.Act == ActReLU {
		flags |= flagReLU
	}
	if p.Residual != nil {
		flags |= flagResidual
	}
	for r := lo; r < hi; r++ {
		n, oy := r/sc.oh, r%sc.oh
		iy0 := oy*s.StrideH - s.PadTop
		inner := oy >= sc.oy0 && oy < sc.oy1
		for ox := 0; ox < sc.ow; {
			at := (r*sc.ow + ox) * ch
			if p.Residual != nil {
				res = &p.Residual[at]
			}
			if inner && ox >= sc.ox0 && ox < sc.ox1 {
				rows := min(nhwcDWRows, sc.ox1-ox)
				base := ((n*s.H+iy0)*s.W + ox*s.StrideW - s.PadLeft) * ch
				for i := 0; i < rows; i++ {
					pix[i] = base + i*s.StrideW*ch
				}
				kern.dw[rows](&p.X[0], &pix[0], &sc.toff[0], s.KH*s.KW, ch, &p.W.data[0], &p.Y[at], bias, res, flags)
				ox += rows
				continue
			}
			// A pixel next to the padding: its valid taps, at absolute offsets.
			nt := 0
			for ky := 0; ky < s.KH; ky++ {
				iy := iy0 + ky*s.DilationH
				if iy < 0 || iy >= s.H {
					continue
				}
				for kx := 0; kx < s.KW; kx++ {
					ix := ox*s.StrideW - s.PadLeft + kx*s.DilationW
					if ix < 0 || ix >= s.W {
						continue
					}
					taps[2*nt], taps[2*nt+1] = ((n*s.H+iy)*s.W+ix)*ch, (ky*s.KW+kx)*ch
					nt++
				}
			}
			pix[0] = 0
			fn := kern.dw[1]
			if nt == 0 {
				fn = nhwcKernelGo.dw[1] // the assembly needs a tap
			}
			fn(&p.X[0], &pix[0], &taps[0], nt, ch, &p.W.data[0], &p.Y[at], bias, res, flags)
			ox++
		}
		if p.Act != ActNone && p.Act != ActReLU {
			applyAct(p.Act, p.Y[r*sc.ow*ch:(r+1)*sc.ow*ch])
		}
	}
}
