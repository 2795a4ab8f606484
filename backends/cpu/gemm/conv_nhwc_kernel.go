package gemm

import "unsafe"

// flagResidual (a ConvNHWC micro-kernel flag, beside kernel.go's) adds
// res[i*ldy+j] before ReLU.
const flagResidual = 16

// flagStream (a ConvNHWC micro-kernel flag) stores Y with non-temporal
// stores, which skip the read of each line before it is written and do not
// evict the caches' contents for it. It changes no result, but the kernel
// may then store whole vectors only: cols must be the panel's width, and y
// and ldy aligned to a vector (64 bytes with AVX-512, 32 with AVX2).
const flagStream = 32

// flagPrefetch (a ConvNHWC micro-kernel flag, with flagResidual) prefetches
// the next tile's Residual rows; it changes no result.
const flagPrefetch = 64

// flagPrefetchX (a ConvNHWC micro-kernel flag) prefetches the next tile's
// input rows, a cache line of each per 16 K steps, at the offsets of this
// tile's rows plus the distance from this tile's first pixel to the next
// one's; it changes no result.
const flagPrefetchX = 128

// nhwcTileFunc is the signature of the ConvNHWC micro-kernels. Each computes
// ntiles tiles of rows output pixels by width = nvec·lanes output channels
// (the kernel's variant), of which the first cols are stored; tile t reads
// the pixel offsets pix[t*rows:] and writes y[t*rows*ldy:] (and reads
// res[t*rows*ldy:]). For tile t, with pix, y and res so offset:
//
//	for i < rows, j < cols:
//		s := 0
//		for t < ntaps, k < kl: s += x[pix[i] + toff[t] + k] * w[(t*kl + k)*width + j]
//		if flags&flagAccum    { s += y[i*ldy+j] }
//		if flags&flagColBias  { s += bias[j] }
//		if flags&flagResidual { s += res[i*ldy+j] }
//		if flags&flagReLU     { s = max(s, 0) }
//		y[i*ldy+j] = s
//
// pix, toff and ldy count floats; ntaps, kl and ntiles are positive.
// nhwcTileGo is the Go twin of exactly this loop; the assembly fuses each
// multiply-add and the twin may not, so they agree to rounding.
type nhwcTileFunc func(x *float32, pix, toff *int, ntaps, kl int, w, y *float32, ldy int, bias, res *float32, flags, cols, ntiles int)

// nhwcDepthwiseFunc is the signature of the depthwise ConvNHWC kernels. Each
// computes rows output pixels (the kernel's variant) of c channels:
//
//	for i < rows, ch < c:
//		s := 0
//		if flags&flagColBias { s = bias[ch] }
//		for t < ntaps: s += x[pix[i] + toff[2*t] + ch] * w[toff[2*t+1] + ch]
//		if flags&flagResidual { s += res[i*c+ch] }
//		if flags&flagReLU     { s = max(s, 0) }
//		y[i*c+ch] = s
//
// (in any order of summation; res[i*c+ch] is read before y[i*c+ch] is written,
// so res may be y).
//
// toff holds ntaps pairs (input offset, weight offset); pix and toff count
// floats; ntaps and c are positive. nhwcDepthwiseGo is the Go twin.
type nhwcDepthwiseFunc func(x *float32, pix, toff *int, ntaps, c int, w, y, bias, res *float32, flags int)

// nhwcDWRows is the most pixels a depthwise kernel computes at a time.
const nhwcDWRows = 4

// nhwcKernel is a set of ConvNHWC micro-kernels: tile[rows][nvec] for
// 1 <= rows <= mr and 1 <= nvec <= nr/lanes, and dw[rows] for 1 <= rows <=
// nhwcDWRows.
type nhwcKernel struct {
	name   string
	mr, nr int // pixels per tile, widest panel (output channels)
	lanes  int // floats per vector: panels are zero-padded to a multiple of it
	tile   [][]nhwcTileFunc
	dw     []nhwcDepthwiseFunc
}

// nhwcKernelGo is the pure-Go kernel set, with the shape of the AVX-512 one.
var nhwcKernelGo = newNHWCKernelGo("go-6x64", 6, 64, 16)

func newNHWCKernelGo(name string, mr, nr, lanes int) *nhwcKernel {
	k := &nhwcKernel{name: name, mr: mr, nr: nr, lanes: lanes, tile: make([][]nhwcTileFunc, mr+1)}
	for rows := 1; rows <= mr; rows++ {
		k.tile[rows] = make([]nhwcTileFunc, nr/lanes+1)
		for nvec := 1; nvec <= nr/lanes; nvec++ {
			k.tile[rows][nvec] = nhwcTileGo(rows, nvec*lanes)
		}
	}
	k.dw = make([]nhwcDepthwiseFunc, nhwcDWRows+1)
	for rows := 1; rows <= nhwcDWRows; rows++ {
		k.dw[rows] = nhwcDepthwiseGo(rows)
	}
	return k
}

// nhwcDepthwiseGo returns the Go twin of the rows-pixel depthwise kernel.
func nhwcDepthwiseGo(rows int) nhwcDepthwiseFunc {
	return func(xp *float32, pixp, toffp *int, ntaps, c int, wp, yp, biasp, resp *float32, flags int) {
		pix := unsafe.Slice(pixp, rows)
		toff := unsafe.Slice(toffp, 2*ntaps)
		y := unsafe.Slice(yp, rows*c)
		for i := 0; i < rows; i++ {
			yr := y[i*c : (i+1)*c]
			// The residual first: it may be y itself (read before written).
			switch {
			case flags&flagResidual != 0:
				copy(yr, unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(resp), 4*i*c)), c))
			default:
				clear(yr)
			}
			if flags&flagColBias != 0 {
				for ch, b := range unsafe.Slice(biasp, c) {
					yr[ch] += b
				}
			}
			for t := 0; t < ntaps; t++ {
				x := unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(xp), 4*(pix[i]+toff[2*t]))), c)
				wt := unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(wp), 4*toff[2*t+1])), c)
				for ch, xv := range x {
					yr[ch] += xv * wt[ch]
				}
			}
			if flags&flagReLU != 0 {
				for ch, v := range yr {
					if v < 0 {
						yr[ch] = 0
					}
				}
			}
		}
	}
}

// nhwcKernelFor returns the ConvNHWC kernel set for ctx: the Go twin on a
// Context that runs the Go GEMM kernel, else the assembly one that matches its
// instruction set (the fastest one on a default Context).
func nhwcKernelFor(ctx *Context) *nhwcKernel {
	switch {
	case ctx == nil || ctx.kern == kernels[0]:
		return nhwcKernels[0]
	case ctx.kern == kernelGo:
		return nhwcKernelGo
	}
	return nhwcKernelMatching(ctx.kern)
}

// nhwcTileGo returns the Go twin of the rows×width micro-kernel.
func nhwcTileGo(rows, width int) nhwcTileFunc {
	one := nhwcTileGoOne(rows, width)
	return func(xp *float32, pixp, toffp *int, ntaps, kl int, wp, yp *float32, ldy int, biasp, resp *float32, flags, cols, ntiles int) {
		for t := 0; t < ntiles; t++ {
			if t > 0 {
				// The next tile's rows. (Advanced after the last tile, the
				// pointers would leave their allocations, which the garbage
				// collector and -race's checkptr reject.)
				pixp = (*int)(unsafe.Add(unsafe.Pointer(pixp), 8*rows))
				yp = (*float32)(unsafe.Add(unsafe.Pointer(yp), 4*rows*ldy))
				if resp != nil {
					resp = (*float32)(unsafe.Add(unsafe.Pointer(resp), 4*rows*ldy))
				}
			}
			one(xp, pixp, toffp, ntaps, kl, wp, yp, ldy, biasp, resp, flags, cols)
		}
	}
}

// nhwcTileGoOne computes one tile of nhwcTileGo.
func nhwcTileGoOne(rows, width int) func(xp *float32, pixp, toffp *int, ntaps, kl int, wp, yp *float32, ldy int, biasp, resp *float32, flags, cols int) {
	return func(xp *float32, pixp, toffp *int, ntaps, kl int, wp, yp *float32, ldy int, biasp, resp *float32, flags, cols int) {
		pix := unsafe.Slice(pixp, rows)
		toff := unsafe.Slice(toffp, ntaps)
		w := unsafe.Slice(wp, ntaps*kl*width)
		var acc [6 * 64]float32 // rows <= 6, width <= 64
		for i := 0; i < rows; i++ {
			t := acc[i*width : (i+1)*width]
			for tap, off := range toff {
				x := unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(xp), 4*(pix[i]+off))), kl)
				for k, xv := range x {
					wk := w[(tap*kl+k)*width : (tap*kl+k+1)*width]
					for j, wv := range wk {
						t[j] += xv * wv
					}
				}
			}
		}
		y := unsafe.Slice(yp, (rows-1)*ldy+cols)
		var bias, res []float32
		if flags&flagColBias != 0 {
			bias = unsafe.Slice(biasp, cols)
		}
		if flags&flagResidual != 0 {
			res = unsafe.Slice(resp, (rows-1)*ldy+cols)
		}
		for i := 0; i < rows; i++ {
			for j := 0; j < cols; j++ {
				s := acc[i*width+j]
				if flags&flagAccum != 0 {
					s += y[i*ldy+j]
				}
				if flags&flagColBias != 0 {
					s += bias[j]
				}
				if flags&flagResidual != 0 {
					s += res[i*ldy+j]
				}
				if flags&flagReLU != 0 && s < 0 {
					s = 0
				}
				y[i*ldy+j] = s
			}
		}
	}
}
