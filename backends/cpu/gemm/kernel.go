package gemm

import "unsafe"

// Micro-kernel flags (the flags argument of every micro-kernel).
const (
	flagAccum   = 1 << iota // add the existing C tile
	flagColBias             // add bias[j] (nr values) to column j
	flagRowBias             // add bias[i] (mr values) to row i
	flagReLU                // max(x, 0), NaN kept
)

// kernelFunc is the signature shared by every micro-kernel. It computes one
// mr×nr tile:
//
//	for i < mr, j < nr:
//		s := 0
//		for k < kc: s += a[k*mr+i] * b[k*nr+j]   (k ascending)
//		if flags&flagAccum   { s += c[i*ldc+j] }
//		if flags&flagColBias { s += bias[j] }
//		if flags&flagRowBias { s += bias[i] }
//		if flags&flagReLU    { s = max(s, 0) }
//		c[i*ldc+j] = s
//
// a is an mr-row packed panel, b an nr-column packed panel; kc may be 0.
// kernelGeneric is the Go implementation of exactly this loop. The assembly
// fuses each multiply-add and the Go twin may not, so they agree to rounding.
type kernelFunc func(kc int, a, b, c *float32, ldc, flags int, bias *float32)

// kernel describes a micro-kernel and the block sizes tuned for it.
type kernel struct {
	name       string
	mr, nr     int
	kc, mc, nc int // cache blocking: KC, MC (multiple of mr), NC (multiple of nr)
	fn         kernelFunc
	// rows[r] (1 <= r <= mr) computes only the first r rows of the tile from
	// the same mr-row packed panels; rows[mr] is fn.
	rows []kernelFunc
	// gemv computes one-row products over B panels packed for this kernel
	// (see gemvFunc).
	gemv gemvFunc
}

// gemvFunc is the signature of the one-row (GEMV) kernels. For each of panels
// consecutive k×nr packed B panels (panel p at b[p*k*nr:]) it computes
//
//	for j < nr:
//		s := Σ_k x[k] * b[p*k*nr + k*nr + j]   (any order of summation)
//		then flagAccum, flagColBias (bias[p*nr+j]) and flagReLU as kernelFunc
//		c[p*nr+j] = s
//
// k must be positive. gemvGeneric is the Go twin.
type gemvFunc func(k int, x, b *float32, panels int, c *float32, flags int, bias *float32)

// kernelGo is the pure-Go kernel, used where no assembly kernel applies.
var kernelGo = genericKernel("go-6x16", 6, 16)

func genericKernel(name string, mr, nr int) *kernel {
	k := &kernel{name: name, mr: mr, nr: nr, kc: 256, mc: 144, nc: 4080, fn: kernelGeneric(mr, nr), gemv: gemvGeneric(nr)}
	k.rows = make([]kernelFunc, mr+1)
	for r := 1; r <= mr; r++ {
		k.rows[r] = kernelGenericRows(mr, r, nr)
	}
	return k
}

// kernelGeneric is the pure-Go twin of the assembly kernels, for any mr, nr.
func kernelGeneric(mr, nr int) kernelFunc { return kernelGenericRows(mr, mr, nr) }

// kernelGenericRows is the twin of the edge kernels: rows×nr from A panels
// packed for stride rows.
func kernelGenericRows(stride, mr, nr int) kernelFunc {
	return func(kc int, ap, bp, cp *float32, ldc, flags int, biasp *float32) {
		var acc [32 * 16]float32 // large enough for every shape used here
		t := acc[:mr*nr]
		a := unsafe.Slice(ap, kc*stride)
		b := unsafe.Slice(bp, kc*nr)
		for k := 0; k < kc; k++ {
			ak := a[k*stride : k*stride+mr]
			bk := b[k*nr : k*nr+nr]
			for i, av := range ak {
				row := t[i*nr : i*nr+nr]
				for j, bv := range bk {
					row[j] += av * bv
				}
			}
		}
		c := unsafe.Slice(cp, (mr-1)*ldc+nr)
		var bias []float32
		switch {
		case flags&flagColBias != 0:
			bias = unsafe.Slice(biasp, nr)
		case flags&flagRowBias != 0:
			bias = unsafe.Slice(biasp, mr)
		}
		for i := 0; i < mr; i++ {
			crow := c[i*ldc : i*ldc+nr]
			for j := range crow {
				s := t[i*nr+j]
				if flags&flagAccum != 0 {
					s += crow[j]
				}
				if flags&flagColBias != 0 {
					s += bias[j]
				}
				if flags&flagRowBias != 0 {
					s += bias[i]
				}
				if flags&flagReLU != 0 && s < 0 {
					s = 0
				}
				crow[j] = s
			}
		}
	}
}

// gemvVariant is one GEMV kernel with the panel width it was made for
// (gemvVariants lists them, for tests and benchmarks).
type gemvVariant struct {
	name string
	nr   int
	fn   gemvFunc
}

// gemvGeneric is the Go twin of the assembly GEMV kernels for nr-column panels.
// Like them it sums k in several independent chains (k modulo 4), so that the
// row of C stays in registers and the additions overlap.
func gemvGeneric(nr int) gemvFunc {
	return func(k int, xp, bp *float32, panels int, cp *float32, flags int, biasp *float32) {
		x := unsafe.Slice(xp, k)
		b := unsafe.Slice(bp, panels*k*nr)
		c := unsafe.Slice(cp, panels*nr)
		var bias []float32
		if flags&flagColBias != 0 {
			bias = unsafe.Slice(biasp, panels*nr)
		}
		var acc [4][32]float32 // nr <= 32
		for p := 0; p < panels; p++ {
			panel := b[p*k*nr : (p+1)*k*nr]
			for ch := range acc {
				clear(acc[ch][:nr])
			}
			for kk, xv := range x {
				row := panel[kk*nr : kk*nr+nr]
				a := acc[kk%4][:nr]
				for j, bv := range row {
					a[j] += xv * bv
				}
			}
			out := c[p*nr : p*nr+nr]
			for j := range out {
				s := (acc[0][j] + acc[2][j]) + (acc[1][j] + acc[3][j])
				if flags&flagAccum != 0 {
					s += out[j]
				}
				if flags&flagColBias != 0 {
					s += bias[p*nr+j]
				}
				if flags&flagReLU != 0 && s < 0 {
					s = 0
				}
				out[j] = s
			}
		}
	}
}
