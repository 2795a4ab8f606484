package cpu

import (
	"errors"
	"fmt"
	"sync"

	"github.com/lightiam/lightos/backends/cpu/gemm"
	"github.com/lightiam/lightos/engine/ops"
)

// Winograd F(2x2, 3x3) for float32 3x3 stride-1 convolutions (Lavin and Gray, 2015).
//
// Each 2x2 block of output pixels (a tile) of one output channel is
//
//	Y = Aᵀ · [Σ_c (G·g_mc·Gᵀ) ⊙ (Bᵀ·d_c·B)] · A
//
// with d_c the 4x4 input patch of channel c under the tile. Element by element of the
// 4x4 transformed tile this is 16 independent GEMMs: for position ξ, the
// [tiles × C] transformed inputs V_ξ times the [C × M] transformed weights U_ξ, 16
// products of tiles·C·M against the direct convolution's 36 (2.25x fewer). The
// weights are transformed and packed once (PackB) when they are constant; tiles of
// all images of a batch form the GEMMs' rows, in chunks that keep V and the product
// in cache. Bias, residual and ReLU are applied in the output transform.

// winogradMinChannels is the smallest input and output channel count for which
// Winograd is used (unless Env.winogradMinChannels sets another): below it the
// transforms, O(tiles·(C+M)), are too large a share. Measured on ResNet-50's
// shapes (docs/onnx.md): 64 channels take 1.3 to 1.5x the implicit GEMM's time,
// 128 and more 0.6 to 0.9x.
const winogradMinChannels = 128

// winogradChunkBytes bounds the scratch of one chunk of tiles (the 16 transformed
// input matrices and the 16 products; 36 and 36 for F(4x4)), so that it stays in
// the L2 cache, unless that would make chunks of fewer than winogradMinChunk tiles
// (16/36 of it for F(4x4)): each chunk streams all the transformed weight matrices
// (16·C·M floats; 36·C·M) once.
const (
	winogradChunkBytes = 1 << 20
	winogradMinChunk   = 128
)

// Threads split a convolution's tiles between them (each streaming all of the
// transformed weights) when each gets at least winogradThreadTiles tiles and C+M
// is at most winogradThreadChannels; otherwise they split each GEMM and transform.
// F(4x4) keeps the same bound: with the tiles split from 16 per thread, 128@28x28
// at batch 1 (49 tiles) ran 1.08x slower on a Xeon of the device pool and equal on
// the Zen 4, F(2x2) at 256@14x14 1.02-1.08x slower (BenchmarkWinogradThreadSplit).
const (
	winogradThreadTiles    = 64
	winogradThreadChannels = 512
)

// winogradWeights are a convolution's transformed weights for F(size x size, 3x3)
// (size 2, or 4: winograd4.go): u[ξ] is the C×M matrix U_ξ[c][m] = (G·g_mc·Gᵀ)[ξ],
// packed as a GEMM B operand, for the (size+2)² positions ξ.
type winogradWeights struct {
	c, m, size int
	u          []*gemm.PackedB
}

// winogradPositions is the number of positions of a transformed tile (and of
// GEMMs) of F(size x size, 3x3): 16 for size 2, 36 for size 4.
func winogradPositions(size int) int { return (size + 2) * (size + 2) }

// winogradApplies reports whether a convolution of geometry g, input shape xs and
// weight shape ws with epilogue epi runs through Winograd F(2x2, 3x3).
func winogradApplies(env *Env, g *ops.Geometry, xs, ws []int, epi convEpilogue) bool {
	return winogradFits(env, g, xs, ws, epi, winogradMinChannels)
}

// winogradFits is winogradApplies with minC input and output channels at least
// (Env.winogradMinChannels, if set, instead).
func winogradFits(env *Env, g *ops.Geometry, xs, ws []int, epi convEpilogue, minC int) bool {
	if env.NoWinograd || len(xs) != 4 || g.Group != 1 {
		return false
	}
	if epi.Act != gemm.ActNone && epi.Act != gemm.ActReLU {
		return false
	}
	for i := 0; i < 2; i++ {
		if g.Kernel[i] != 3 || g.Strides[i] != 1 || g.Dilations[i] != 1 || g.PadsBegin[i] > 2 || g.PadsEnd[i] > 2 {
			return false
		}
	}
	if env.winogradMinChannels > 0 {
		minC = env.winogradMinChannels
	}
	return xs[1] >= minC && ws[0] >= minC
}

// newWinogradWeights transforms the M×C×3×3 weights w for F(size x size, 3x3) and
// packs them for ctx. The
// transform runs on ctx's threads (when ctx is free) over blocks of winogradWBlock
// output channels, so that each of the planes is written in runs of the block
// rather than one scattered value at a time: ResNet-50's 512x512 layer took 30 ms on
// one thread with the scattered writes, a share of the first run of each input shape.
func newWinogradWeights(ctx *gemm.Context, w []float32, m, c, size int) (*winogradWeights, error) {
	if len(w) != m*c*9 {
		return nil, fmt.Errorf("winograd: %d weights, want %d×%d×3×3", len(w), m, c)
	}
	transformWeight := winogradTransformWeight
	if size == 4 {
		transformWeight = wino4TransformWeight
	}
	positions := winogradPositions(size)
	u := make([]float32, positions*c*m)
	blocks := (m + winogradWBlock - 1) / winogradWBlock
	transform := func(_, lo, hi int) {
		for b := lo; b < hi; b++ {
			m0, m1 := b*winogradWBlock, min(m, (b+1)*winogradWBlock)
			for ci := 0; ci < c; ci++ {
				for mi := m0; mi < m1; mi++ {
					transformWeight(u, w[(mi*c+ci)*9:(mi*c+ci)*9+9], ci*m+mi, c*m)
				}
			}
		}
	}
	if ran, err := ctx.TryParallel(blocks, 1, transform); !ran || err != nil {
		transform(0, 0, blocks)
	}
	ww := &winogradWeights{c: c, m: m, size: size, u: make([]*gemm.PackedB, positions)}
	for xi := range ww.u {
		pb, err := gemm.PackB(ctx, c, m, u[xi*c*m:(xi+1)*c*m], m, false)
		if err != nil {
			return nil, fmt.Errorf("winograd: packing U[%d]: %w", xi, err)
		}
		ww.u[xi] = pb
	}
	return ww, nil
}

// winogradWBlock is the number of output channels newWinogradWeights transforms
// together (a cache line of each plane).
const winogradWBlock = 16

// winogradTransformWeight writes G·g·Gᵀ of one 3x3 kernel g (in float64) to
// u[ξ·plane + at] for the 16 positions ξ.
func winogradTransformWeight(u, g []float32, at, plane int) {
	// t = G·g (4×3), then t·Gᵀ (4×4).
	var t [4][3]float64
	for j := 0; j < 3; j++ {
		g0, g1, g2 := float64(g[j]), float64(g[3+j]), float64(g[6+j])
		t[0][j], t[1][j], t[2][j], t[3][j] = g0, (g0+g1+g2)/2, (g0-g1+g2)/2, g2
	}
	for i := 0; i < 4; i++ {
		t0, t1, t2 := t[i][0], t[i][1], t[i][2]
		r := [4]float64{t0, (t0 + t1 + t2) / 2, (t0 - t1 + t2) / 2, t2}
		for j, v := range r {
			u[(i*4+j)*plane+at] = float32(v)
		}
	}
}

// winogradConv is one Winograd convolution call's operands.
type winogradConv struct {
	size           int // output tile size: 2 (F(2x2, 3x3)) or 4 (F(4x4, 3x3))
	n, c, h, w, m  int // input N×C×H×W, M output channels
	oh, ow, th, tw int // output size and tiles per column and row
	pt, pl         int // top and left padding
	// nhwc: x, y and residual are channels-last (N×H×W×C, N×OH×OW×M). The
	// transforms' (tile, channel) vectors are then contiguous runs of the
	// tensors: the gather and the output are copies and vector operations.
	nhwc           bool
	x, y           []float32
	bias, residual []float32
	relu           bool
}

// runWinograd computes y = epilogue(conv(x, w)) for a convolution winogradApplies
// accepted, over NCHW tensors (xs = [N, C, H, W]) with F(2x2, 3x3). ww, if non-nil,
// are w's prepared transformed weights.
func runWinograd(env *Env, g *ops.Geometry, xs []int, x, w, y []float32, ww *winogradWeights, m int, epi convEpilogue, scratch *winogradScratches) error {
	return runWinogradLayout(env, g, xs, false, 2, x, w, y, ww, m, epi, scratch)
}

// runWinogradLayout is runWinograd over NCHW tensors, or channels-last ones if
// nhwc (xs is still [N, C, H, W]), with F(size x size, 3x3): size 2, or 4 (only
// channels-last). The residual may be y itself: each output element is written
// once, after its residual element is read.
func runWinogradLayout(env *Env, g *ops.Geometry, xs []int, nhwc bool, size int, x, w, y []float32, ww *winogradWeights, m int, epi convEpilogue, scratch *winogradScratches) error {
	if size != 2 && (size != 4 || !nhwc) {
		return fmt.Errorf("winograd: no F(%dx%d, 3x3) for this layout (nhwc %v)", size, size, nhwc)
	}
	wc := winogradConv{size: size, n: xs[0], c: xs[1], h: xs[2], w: xs[3], m: m, oh: g.Out[0], ow: g.Out[1],
		pt: g.PadsBegin[0], pl: g.PadsBegin[1], nhwc: nhwc, x: x, y: y,
		bias: tensorF32(epi.Bias), residual: tensorF32(epi.Residual), relu: epi.Act == gemm.ActReLU}
	wc.th, wc.tw = (wc.oh+size-1)/size, (wc.ow+size-1)/size
	if ww == nil || ww.c != wc.c || ww.m != m || ww.size != size {
		var err error
		if ww, err = newWinogradWeights(env.GEMM(), w, m, wc.c, size); err != nil {
			return err
		}
	}
	positions := winogradPositions(size)
	tiles := wc.n * wc.th * wc.tw
	chunk := min(tiles, max(winogradMinChunk*16/positions, winogradChunkBytes/(positions*4*(wc.c+m))))
	threads := env.GEMM().Threads()
	perThreadMin := winogradThreadTiles
	if env.winogradThreadTiles > 0 {
		perThreadMin = env.winogradThreadTiles
	}
	if threads > 1 && tiles >= threads*perThreadMin && wc.c+m <= winogradThreadChannels {
		// Enough tiles for every thread, and weights small enough for each thread
		// to stream all of them: each runs whole chunks (transforms and GEMMs) on
		// its own single-thread GEMM context, with no hand-offs. Thread w takes
		// the w-th contiguous range of tiles, through the GEMM context's workers
		// (the caller the first, a worker the last, as in the layer that follows):
		// each core then writes the rows of the output that it reads next. (On
		// new goroutines the caller's core often ran the second half, and the
		// next layer, on 2 threads of a Zen 4, ran 0.09 ms slower at 56x56 and
		// 28x28, reading its inputs from the other core's cache.)
		perThread := (tiles + threads - 1) / threads
		chunksPerThread := (perThread + chunk - 1) / chunk
		chunk = (perThread + chunksPerThread - 1) / chunksPerThread // equal chunks
		errs := make([]error, threads)
		env.ParallelW(threads, 1, func(_, lo, hi int) {
			sc := scratch.get(positions * chunk * (wc.c + m))
			defer scratch.put(sc)
			for w := lo; w < hi; w++ {
				for t0 := w * perThread; t0 < min(tiles, (w+1)*perThread) && errs[w] == nil; t0 += chunk {
					errs[w] = wc.runChunk(sc, ww, min(chunk, (w+1)*perThread-t0), t0, nil, nil)
				}
			}
		})
		return errors.Join(errs...)
	}
	sc := scratch.get(positions * chunk * (wc.c + m))
	defer scratch.put(sc)
	for t0 := 0; t0 < tiles; t0 += chunk {
		if err := wc.runChunk(sc, ww, chunk, t0, env, scratch); err != nil {
			return err
		}
	}
	return nil
}

// winogradScratch is one thread's scratch: the transformed inputs and products of
// a chunk of tiles, a single-thread GEMM context with its packing buffers, and the
// transforms' temporaries (winogradTmp).
type winogradScratch struct {
	ctx *gemm.Context
	buf []float32
	tmp []float32
}

// winogradTmp returns sc's transform temporaries for vectors of n floats.
func (sc *winogradScratch) winogradTmp(n int) []float32 {
	if len(sc.tmp) < 32*n {
		sc.tmp = make([]float32, 32*n)
	}
	return sc.tmp[:32*n]
}

// winogradScratches keeps the thread scratches of a device's Winograd calls
// between calls, as many as have run at once (Env.winoScratch). (A sync.Pool
// dropped them at garbage collections, and the next call made new buffers and
// GEMM contexts: in a model's first run, when collections are frequent and
// NhwcConv times its routes, the Winograd route then measured up to twice its
// time and lost to the direct kernel.)
type winogradScratches struct {
	mu   sync.Mutex
	free []*winogradScratch
}

// get takes a scratch of at least n floats.
func (l *winogradScratches) get(n int) *winogradScratch {
	l.mu.Lock()
	var sc *winogradScratch
	if k := len(l.free); k > 0 {
		sc, l.free = l.free[k-1], l.free[:k-1]
	}
	l.mu.Unlock()
	if sc == nil {
		sc = &winogradScratch{ctx: gemm.NewContext(1)}
	}
	if len(sc.buf) < n {
		sc.buf = make([]float32, n)
	}
	return sc
}

// put returns sc for later calls.
func (l *winogradScratches) put(sc *winogradScratch) {
	l.mu.Lock()
	l.free = append(l.free, sc)
	l.mu.Unlock()
}

// runChunk computes the output of tiles t0 ... t0+chunk-1 (fewer at the end) with
// sc's buffers: input transform, 16 (F(4x4): 36) GEMMs, output transform. Without
// env all run on the calling goroutine, the GEMMs on sc.ctx. With env the
// transforms split the tiles between env's threads and the threads share out the
// GEMMs, each running whole products on a single-thread context from pool: a chunk
// of few tiles (a small plane at batch 1) made products too small to split well
// (256@14x14: 49 rows).
func (wc *winogradConv) runChunk(sc *winogradScratch, ww *winogradWeights, chunk, t0 int, env *Env, pool *winogradScratches) error {
	nt := min(chunk, wc.n*wc.th*wc.tw-t0)
	positions := len(ww.u)
	v, prod := sc.buf[:positions*chunk*wc.c], sc.buf[positions*chunk*wc.c:positions*chunk*(wc.c+wc.m)]
	gemmOne := func(ctx *gemm.Context, xi int) error {
		err := gemm.Sgemm(ctx, gemm.Params{M: nt, N: wc.m, K: wc.c,
			A: v[xi*chunk*wc.c:], LDA: wc.c, PackedB: ww.u[xi], C: prod[xi*chunk*wc.m:], LDC: wc.m})
		if err != nil {
			return fmt.Errorf("winograd: GEMM %d: %w", xi, err)
		}
		return nil
	}
	if env == nil {
		wc.transformIn(v, chunk, t0, 0, nt, sc)
		for xi := 0; xi < positions; xi++ {
			if err := gemmOne(sc.ctx, xi); err != nil {
				return err
			}
		}
		wc.transformOut(prod, chunk, t0, 0, nt, sc)
		return nil
	}
	// The shares of each loop take their own scratch from pool (for the
	// temporaries and the single-thread context).
	share := func(n, grain int, fn func(s *winogradScratch, lo, hi int)) {
		env.Parallel(n, grain, func(lo, hi int) {
			s := pool.get(0)
			defer pool.put(s)
			fn(s, lo, hi)
		})
	}
	grain := max(1, 2048/(wc.c+wc.m))
	share(nt, grain, func(s *winogradScratch, lo, hi int) { wc.transformIn(v, chunk, t0, lo, hi, s) })
	errs := make([]error, positions)
	share(positions, 1, func(s *winogradScratch, lo, hi int) {
		for xi := lo; xi < hi; xi++ {
			errs[xi] = gemmOne(s.ctx, xi)
		}
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	share(nt, grain, func(s *winogradScratch, lo, hi int) { wc.transformOut(prod, chunk, t0, lo, hi, s) })
	return nil
}

// transformIn runs the input transform of wc's tile size for tiles t0+lo ...
// t0+hi-1 with sc's temporaries.
func (wc *winogradConv) transformIn(v []float32, chunk, t0, lo, hi int, sc *winogradScratch) {
	if wc.size == 4 {
		wc.inputTransform4(v, chunk, t0, lo, hi, sc.wino4Tmp())
		return
	}
	wc.inputTransform(v, chunk, t0, lo, hi, sc.winogradTmp(winogradGroup(wc.c)*wc.c))
}

// transformOut runs the output transform of wc's tile size for tiles t0+lo ...
// t0+hi-1 with sc's temporaries.
func (wc *winogradConv) transformOut(prod []float32, chunk, t0, lo, hi int, sc *winogradScratch) {
	if wc.size == 4 {
		wc.outputTransform4(prod, chunk, t0, lo, hi, sc.wino4Tmp())
		return
	}
	wc.outputTransform(prod, chunk, t0, lo, hi, sc.winogradTmp(winogradGroup(wc.m)*wc.m))
}

// tile returns the image and the top-left input position (before padding) of tile t.
func (wc *winogradConv) tile(t int) (img, r0, c0 int) {
	per := wc.th * wc.tw
	img, t = t/per, t%per
	return img, wc.size*(t/wc.tw) - wc.pt, wc.size*(t%wc.tw) - wc.pl
}

// vAdd is z = x + y and vSub z = x - y, element by element (AVX2 where available).
func vAdd(z, x, y []float32) {
	if !arithF32(aAdd, z, x, y, true, true) {
		arithVV(aAdd, z, x, y)
	}
}

func vSub(z, x, y []float32) {
	if !arithF32(aSub, z, x, y, true, true) {
		arithVV(aSub, z, x, y)
	}
}

// winogradGroup is how many tiles the transforms take at once: their vector
// operations run over the channels of all of them (about 1024 elements).
func winogradGroup(channels int) int { return max(1, min(16, 1024/channels)) }

// inputTransform writes v[ξ][t-t0][c] = (Bᵀ·d·B)[ξ] for the tiles t0+lo ... t0+hi-1,
// d the 4x4 patch of channel c under the tile (zero outside the input). The patches
// of a group of tiles are gathered for all channels, and the transform runs on
// vectors of (tile, channel), which is v's layout; tmp holds 32 such vectors
// (winogradScratch.winogradTmp).
func (wc *winogradConv) inputTransform(v []float32, chunk, t0, lo, hi int, tmp []float32) {
	stride := chunk * wc.c
	c := wc.c
	group := winogradGroup(c)
	gc := group * c
	var d, b [16][]float32 // d: the gathered patches; b: Bᵀ·d
	for k := range d {
		d[k], b[k] = tmp[k*gc:(k+1)*gc], tmp[(16+k)*gc:(17+k)*gc]
	}
	for tg := lo; tg < hi; tg += group {
		nq := min(group, hi-tg)
		for q := 0; q < nq; q++ {
			wc.gather(&d, q*c, t0+tg+q)
		}
		n := nq * c
		// Bᵀ·d: rows d0-d2, d1+d2, d2-d1, d1-d3.
		for j := 0; j < 4; j++ {
			vSub(b[j][:n], d[j], d[8+j])
			vAdd(b[4+j][:n], d[4+j], d[8+j])
			vSub(b[8+j][:n], d[8+j], d[4+j])
			vSub(b[12+j][:n], d[4+j], d[12+j])
		}
		// (Bᵀ·d)·B: the same on the columns, into the 16 matrices.
		for i := 0; i < 4; i++ {
			o := 4*i*stride + tg*c
			vSub(v[o:o+n], b[4*i], b[4*i+2])
			o += stride
			vAdd(v[o:o+n], b[4*i+1], b[4*i+2])
			o += stride
			vSub(v[o:o+n], b[4*i+2], b[4*i+1])
			o += stride
			vSub(v[o:o+n], b[4*i+1], b[4*i+3])
		}
	}
}

// gather writes the 4x4 input patch of tile t, channel by channel, to
// d[k][off:off+C] (k = 4·row + column of the patch).
func (wc *winogradConv) gather(d *[16][]float32, off, t int) {
	plane := wc.h * wc.w
	c := wc.c
	img, r0, c0 := wc.tile(t)
	if wc.nhwc {
		for i := 0; i < 4; i++ {
			r := r0 + i
			for j := 0; j < 4; j++ {
				dk := d[4*i+j][off : off+c]
				col := c0 + j
				if r < 0 || r >= wc.h || col < 0 || col >= wc.w {
					clear(dk)
					continue
				}
				p := ((img*wc.h+r)*wc.w + col) * c
				copy(dk, wc.x[p:p+c])
			}
		}
		return
	}
	x := wc.x[img*c*plane : (img+1)*c*plane]
	if r0 >= 0 && c0 >= 0 && r0+4 <= wc.h && c0+4 <= wc.w {
		for i := 0; i < 4; i++ {
			p := (r0+i)*wc.w + c0
			d0, d1, d2, d3 := d[4*i][off:off+c], d[4*i+1][off:off+c], d[4*i+2][off:off+c], d[4*i+3][off:off+c]
			for ci := range d0 {
				row := x[ci*plane+p : ci*plane+p+4]
				d0[ci], d1[ci], d2[ci], d3[ci] = row[0], row[1], row[2], row[3]
			}
		}
		return
	}
	for i := 0; i < 4; i++ {
		for j := 0; j < 4; j++ {
			dk := d[4*i+j][off : off+c]
			r, col := r0+i, c0+j
			if r < 0 || r >= wc.h || col < 0 || col >= wc.w {
				clear(dk)
				continue
			}
			p := r*wc.w + col
			for ci := range dk {
				dk[ci] = x[ci*plane+p]
			}
		}
	}
}

// outputTransform writes the output pixels of tiles t0+lo ... t0+hi-1:
// Aᵀ·P·A of the 4x4 products P of each output channel, plus the bias and the
// residual, through ReLU if asked. The transform runs on vectors of (tile, output
// channel) over a group of tiles, which is the products' layout; tmp holds at least
// 12 such vectors.
func (wc *winogradConv) outputTransform(prod []float32, chunk, t0, lo, hi int, tmp []float32) {
	plane := wc.oh * wc.ow
	stride := chunk * wc.m
	m := wc.m
	group := winogradGroup(m)
	gm := group * m
	var a [8][]float32 // Aᵀ·P
	var o [4][]float32 // Aᵀ·P·A
	for k := range a {
		a[k] = tmp[k*gm : (k+1)*gm]
	}
	for k := range o {
		o[k] = tmp[(8+k)*gm : (9+k)*gm]
	}
	for tg := lo; tg < hi; tg += group {
		nq := min(group, hi-tg)
		n := nq * m
		var p [16][]float32
		for k := range p {
			p[k] = prod[k*stride+tg*m : k*stride+tg*m+n]
		}
		// Aᵀ·P: rows p0+p1+p2 and p1-p2-p3.
		for j := 0; j < 4; j++ {
			vAdd(a[j][:n], p[j], p[4+j])
			vAdd(a[j][:n], a[j], p[8+j])
			vSub(a[4+j][:n], p[4+j], p[8+j])
			vSub(a[4+j][:n], a[4+j], p[12+j])
		}
		// ·A: the same on the columns.
		for i := 0; i < 2; i++ {
			vAdd(o[2*i][:n], a[4*i], a[4*i+1])
			vAdd(o[2*i][:n], o[2*i], a[4*i+2])
			vSub(o[2*i+1][:n], a[4*i+1], a[4*i+2])
			vSub(o[2*i+1][:n], o[2*i+1], a[4*i+3])
		}
		for q := 0; q < nq; q++ {
			img, r0, c0 := wc.tile(t0 + tg + q)
			r0, c0 = r0+wc.pt, c0+wc.pl // the tile's output position
			rows, cols := min(2, wc.oh-r0), min(2, wc.ow-c0)
			if wc.nhwc {
				for i := 0; i < rows; i++ {
					for j := 0; j < cols; j++ {
						ok := o[2*i+j][q*m : (q+1)*m]
						pos := ((img*wc.oh+r0+i)*wc.ow + c0 + j) * m
						y := wc.y[pos : pos+m]
						switch {
						case wc.residual != nil: // read before y is written: it may be y
							vAdd(y, ok, wc.residual[pos:pos+m])
						default:
							copy(y, ok)
						}
						if wc.bias != nil {
							vAdd(y, y, wc.bias)
						}
						if wc.relu {
							reluF32(y, y)
						}
					}
				}
				continue
			}
			for i := 0; i < rows; i++ {
				for j := 0; j < cols; j++ {
					ok := o[2*i+j][q*m : (q+1)*m]
					if wc.bias != nil {
						vAdd(ok, ok, wc.bias)
					}
					pos := img*m*plane + (r0+i)*wc.ow + c0 + j
					y := wc.y[pos:]
					if wc.residual != nil {
						res := wc.residual[pos:]
						for mi, val := range ok {
							ok[mi] = val + res[mi*plane]
						}
					}
					if wc.relu {
						for mi, val := range ok {
							if val < 0 {
								val = 0
							}
							y[mi*plane] = val
						}
					} else {
						for mi, val := range ok {
							y[mi*plane] = val
						}
					}
				}
			}
		}
	}
}
