// Command asm generates the gemm package's amd64 micro-kernels with avo.
//
// Run it through go generate in the parent directory:
//
//	go generate ./backends/cpu/gemm
package main

import (
	"fmt"
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// Flag bits, as in ../kernel.go.
const (
	flagAccum   = 1
	flagColBias = 2
	flagRowBias = 4
	flagReLU    = 8
)

const unroll = 4

func main() {
	Package("github.com/lightiam/lightos/backends/cpu/gemm")
	ConstraintExpr("amd64,!purego")

	// One kernel per row count: the full tile, and edge kernels that use the
	// first rows of the same packed A panel (stride mr) so that row edges need
	// no scratch tile.
	for rows := 6; rows >= 1; rows-- {
		genKernel(fmt.Sprintf("kernAVX2x%dx16", rows), 6, rows, 16, avx2Regs())
	}
	for rows := 12; rows >= 1; rows-- {
		genKernel(fmt.Sprintf("kernAVX512x%dx32", rows), 12, rows, 32, avx512Regs())
	}
	for _, nr := range []int{16, 32} {
		genPackRows(fmt.Sprintf("packStrided%d", nr), nr, false)
		genPackRows(fmt.Sprintf("packOffsets%d", nr), nr, true)
	}
	genPackA12()
	genPackA6()
	genPackT(16)
	genPackT(32)
	genGemv("gemvAVX2x16", 16, 4, avx2Regs())
	genGemv("gemvAVX512x16", 16, 8, avx512Regs())
	genGemv("gemvAVX512x32", 32, 4, avx512Regs())
	genRowHelpers()
	genAxpy("axpyAVX2")
	genBiasAct("biasActAVX2")
	genPeak("fmaLoopAVX2", avx2Regs(), false)
	genPeak("fmaLoopAVX512", avx512Regs(), true)
	Generate()
}

type vecRegs struct {
	bits  int
	regs  []reg.VecPhysical
	lanes int
}

func avx2Regs() vecRegs {
	return vecRegs{bits: 256, lanes: 8, regs: []reg.VecPhysical{
		reg.Y0, reg.Y1, reg.Y2, reg.Y3, reg.Y4, reg.Y5, reg.Y6, reg.Y7,
		reg.Y8, reg.Y9, reg.Y10, reg.Y11, reg.Y12, reg.Y13, reg.Y14, reg.Y15}}
}

func avx512Regs() vecRegs {
	return vecRegs{bits: 512, lanes: 16, regs: []reg.VecPhysical{
		reg.Z0, reg.Z1, reg.Z2, reg.Z3, reg.Z4, reg.Z5, reg.Z6, reg.Z7,
		reg.Z8, reg.Z9, reg.Z10, reg.Z11, reg.Z12, reg.Z13, reg.Z14, reg.Z15,
		reg.Z16, reg.Z17, reg.Z18, reg.Z19, reg.Z20, reg.Z21, reg.Z22, reg.Z23,
		reg.Z24, reg.Z25, reg.Z26, reg.Z27, reg.Z28, reg.Z29, reg.Z30, reg.Z31}}
}

func (v vecRegs) zero(r reg.VecPhysical) {
	if v.bits == 512 {
		VPXORD(r, r, r)
	} else {
		VXORPS(r, r, r)
	}
}

// bPrefetchDist is how far ahead of its reads (bytes) a micro-kernel prefetches the
// packed B panel into L2, one prefetch per cache line of the unrolled K steps. Products
// of few rows against large packed weights (BERT's layers at batch 1: 72 MB of weights)
// read each panel from memory once, and the hardware's stream prefetchers do not
// cross 4 KB pages; where the panel is already cached the prefetches hit. On the Xeon
// it made BERT batch 1 5-6% faster (sums of per-node minima); neutral on Zen 4.
const bPrefetchDist = 8192

// genKernel emits a rows×nr micro-kernel (nr = 2 vectors) reading A panels
// packed for mr rows. See kernelFunc in ../kernel.go for the contract.
func genKernel(name string, stride, mr, nr int, v vecRegs) {
	TEXT(name, NOSPLIT, "func(kc int, a, b, c *float32, ldc, flags int, bias *float32)")
	Doc(fmt.Sprintf("%s computes one %dx%d tile from A panels packed for %d rows; see kernelFunc.", name, mr, nr, stride))
	vb := v.bits / 8 // bytes per vector
	acc := func(i, j int) reg.VecPhysical { return v.regs[2*i+j] }
	b0, b1, t := v.regs[2*mr], v.regs[2*mr+1], v.regs[2*mr+2]

	kc := Load(Param("kc"), GP64())
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc)

	// Prefetch the C tile while the products run.
	row := GP64()
	MOVQ(c, row)
	for i := 0; i < mr; i++ {
		for off := 0; off < nr*4; off += 64 {
			PREFETCHT0(Mem{Base: row, Disp: off})
		}
		PREFETCHT0(Mem{Base: row, Disp: nr*4 - 1})
		if i < mr-1 {
			ADDQ(ldc, row)
		}
	}
	for i := 0; i < 2*mr; i++ {
		v.zero(v.regs[i])
	}

	step := func(u int) {
		VMOVUPS(Mem{Base: b, Disp: u * nr * 4}, b0)
		VMOVUPS(Mem{Base: b, Disp: u*nr*4 + vb}, b1)
		for i := 0; i < mr; i++ {
			m := Mem{Base: a, Disp: (u*stride + i) * 4}
			// One broadcast load per row feeds both FMAs (an embedded
			// broadcast on each FMA would double the loads per FMA).
			VBROADCASTSS(m, t)
			VFMADD231PS(t, b0, acc(i, 0))
			VFMADD231PS(t, b1, acc(i, 1))
		}
	}

	cnt := GP64()
	MOVQ(kc, cnt)
	SHRQ(U8(2), cnt)
	JZ(LabelRef(name + "_tail"))
	Label(name + "_loop4")
	for u := 0; u < unroll; u++ {
		step(u)
	}
	// The B panel bPrefetchDist bytes ahead, into L2 (see bPrefetchDist).
	for off := 0; off < unroll*nr*4; off += 64 {
		PREFETCHT1(Mem{Base: b, Disp: bPrefetchDist + off})
	}
	ADDQ(U32(unroll*stride*4), a)
	ADDQ(U32(unroll*nr*4), b)
	DECQ(cnt)
	JNZ(LabelRef(name + "_loop4"))

	Label(name + "_tail")
	ANDQ(U8(unroll-1), kc)
	JZ(LabelRef(name + "_epilogue"))
	Label(name + "_loop1")
	step(0)
	ADDQ(U32(stride*4), a)
	ADDQ(U32(nr*4), b)
	DECQ(kc)
	JNZ(LabelRef(name + "_loop1"))

	Label(name + "_epilogue")
	flags := Load(Param("flags"), GP64())
	bias := Load(Param("bias"), GP64())

	TESTQ(U32(flagAccum), flags)
	JZ(LabelRef(name + "_noaccum"))
	MOVQ(c, row)
	for i := 0; i < mr; i++ {
		VADDPS(Mem{Base: row}, acc(i, 0), acc(i, 0))
		VADDPS(Mem{Base: row, Disp: vb}, acc(i, 1), acc(i, 1))
		if i < mr-1 {
			ADDQ(ldc, row)
		}
	}
	Label(name + "_noaccum")

	TESTQ(U32(flagColBias), flags)
	JZ(LabelRef(name + "_nocolbias"))
	VMOVUPS(Mem{Base: bias}, b0)
	VMOVUPS(Mem{Base: bias, Disp: vb}, b1)
	for i := 0; i < mr; i++ {
		VADDPS(b0, acc(i, 0), acc(i, 0))
		VADDPS(b1, acc(i, 1), acc(i, 1))
	}
	Label(name + "_nocolbias")

	TESTQ(U32(flagRowBias), flags)
	JZ(LabelRef(name + "_norowbias"))
	for i := 0; i < mr; i++ {
		VBROADCASTSS(Mem{Base: bias, Disp: 4 * i}, t)
		VADDPS(t, acc(i, 0), acc(i, 0))
		VADDPS(t, acc(i, 1), acc(i, 1))
	}
	Label(name + "_norowbias")

	TESTQ(U32(flagReLU), flags)
	JZ(LabelRef(name + "_norelu"))
	v.zero(t)
	for i := 0; i < mr; i++ {
		// Go operand order: the first source is returned when either is
		// NaN, so NaN passes through as the reference max does.
		VMAXPS(acc(i, 0), t, acc(i, 0))
		VMAXPS(acc(i, 1), t, acc(i, 1))
	}
	Label(name + "_norelu")

	MOVQ(c, row)
	for i := 0; i < mr; i++ {
		VMOVUPS(acc(i, 0), Mem{Base: row})
		VMOVUPS(acc(i, 1), Mem{Base: row, Disp: vb})
		if i < mr-1 {
			ADDQ(ldc, row)
		}
	}
	VZEROUPPER()
	RET()
}

// genGemv emits a one-row product over B panels packed for an nr-column
// micro-kernel (see PackedB): for each of panels consecutive panels (each
// k×nr, contiguous) it computes c[j] = Σ_k x[k]·b[k*nr+j] and then applies the
// accum, column-bias and ReLU flags as the micro-kernels do. The products of
// one panel are split over chains accumulators (k modulo chains), so that the
// FMAs do not wait on each other, and summed at the end; the row of C stays in
// registers for the whole K loop.
func genGemv(name string, nr, chains int, v vecRegs) {
	TEXT(name, NOSPLIT, "func(k int, x, b *float32, panels int, c *float32, flags int, bias *float32)")
	Doc(fmt.Sprintf("%s computes c[p*%d+j] = flags(Σ_k x[k]·b[(p*k+k)*%d+j]) for panels p of B packed %d columns wide; see gemvGo.", name, nr, nr, nr))
	vb := v.bits / 8
	nv := nr * 4 / vb // vectors per packed row
	acc := func(ch, j int) reg.VecPhysical { return v.regs[ch*nv+j] }
	t := v.regs[chains*nv]
	shift := 0
	for 1<<shift < chains {
		shift++
	}

	k := Load(Param("k"), GP64())
	x := Load(Param("x"), GP64())
	b := Load(Param("b"), GP64())
	panels := Load(Param("panels"), GP64())
	c := Load(Param("c"), GP64())
	flags := Load(Param("flags"), GP64())
	bias := Load(Param("bias"), GP64())
	xp, cnt := GP64(), GP64()
	TESTQ(panels, panels)
	JZ(LabelRef(name + "_done"))

	Label(name + "_panel")
	for ch := 0; ch < chains; ch++ {
		for j := 0; j < nv; j++ {
			v.zero(acc(ch, j))
		}
	}
	MOVQ(x, xp)
	MOVQ(k, cnt)
	SHRQ(U8(shift), cnt)
	JZ(LabelRef(name + "_tail"))
	Label(name + "_loop")
	// No software prefetch: B streams sequentially, which the hardware
	// prefetchers follow; PREFETCHT0 every line measured 25-40% slower on
	// Zen 4 (784x512: 18.6-20 us without, 24-34 us with, distances 0.5-4 KB).
	for u := 0; u < chains; u++ {
		VBROADCASTSS(Mem{Base: xp, Disp: 4 * u}, t)
		for j := 0; j < nv; j++ {
			VFMADD231PS(Mem{Base: b, Disp: u*nr*4 + j*vb}, t, acc(u, j))
		}
	}
	ADDQ(U32(chains*4), xp)
	ADDQ(U32(chains*nr*4), b)
	DECQ(cnt)
	JNZ(LabelRef(name + "_loop"))

	Label(name + "_tail")
	MOVQ(k, cnt)
	ANDQ(U8(chains-1), cnt)
	JZ(LabelRef(name + "_sum"))
	Label(name + "_loop1")
	VBROADCASTSS(Mem{Base: xp}, t)
	for j := 0; j < nv; j++ {
		VFMADD231PS(Mem{Base: b, Disp: j * vb}, t, acc(0, j))
	}
	ADDQ(U8(4), xp)
	ADDQ(U32(nr*4), b)
	DECQ(cnt)
	JNZ(LabelRef(name + "_loop1"))

	Label(name + "_sum")
	for step := chains / 2; step >= 1; step /= 2 {
		for ch := 0; ch < step; ch++ {
			for j := 0; j < nv; j++ {
				VADDPS(acc(ch+step, j), acc(ch, j), acc(ch, j))
			}
		}
	}
	TESTQ(U32(flagAccum), flags)
	JZ(LabelRef(name + "_noaccum"))
	for j := 0; j < nv; j++ {
		VADDPS(Mem{Base: c, Disp: j * vb}, acc(0, j), acc(0, j))
	}
	Label(name + "_noaccum")
	TESTQ(U32(flagColBias), flags)
	JZ(LabelRef(name + "_nobias"))
	for j := 0; j < nv; j++ {
		VADDPS(Mem{Base: bias, Disp: j * vb}, acc(0, j), acc(0, j))
	}
	Label(name + "_nobias")
	TESTQ(U32(flagReLU), flags)
	JZ(LabelRef(name + "_norelu"))
	v.zero(t)
	for j := 0; j < nv; j++ {
		VMAXPS(acc(0, j), t, acc(0, j)) // NaN kept, as in genKernel
	}
	Label(name + "_norelu")
	for j := 0; j < nv; j++ {
		VMOVUPS(acc(0, j), Mem{Base: c, Disp: j * vb})
	}
	ADDQ(U32(nr*4), c)
	ADDQ(U32(nr*4), bias)
	DECQ(panels)
	JNZ(LabelRef(name + "_panel"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// genPeak emits a loop of n iterations of 12 independent vector FMAs, to
// measure the machine's peak FMA throughput.
func genPeak(name string, v vecRegs, _ bool) {
	TEXT(name, NOSPLIT, "func(n int)")
	Doc(name + " runs n iterations of 12 independent FMAs (peak probe).")
	n := Load(Param("n"), GP64())
	x, y := v.regs[12], v.regs[13]
	for i := 0; i < 14; i++ {
		v.zero(v.regs[i])
	}
	TESTQ(n, n)
	JZ(LabelRef(name + "_done"))
	Label(name + "_loop")
	for i := 0; i < 12; i++ {
		VFMADD231PS(x, y, v.regs[i])
	}
	DECQ(n)
	JNZ(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// genAxpy emits y[i] += alpha*x[i] for i < n (AVX2+FMA).
func genAxpy(name string) {
	TEXT(name, NOSPLIT, "func(alpha float32, x, y *float32, n int)")
	Doc(name + " computes y[i] += alpha*x[i] for i < n.")
	x := Load(Param("x"), GP64())
	y := Load(Param("y"), GP64())
	n := Load(Param("n"), GP64())
	al := reg.Y15
	VBROADCASTSS(NewParamAddr("alpha", 0), al)
	Label(name + "_loop32")
	CMPQ(n, U8(32))
	JL(LabelRef(name + "_loop8"))
	for u := 0; u < 4; u++ {
		r := v8(u)
		VMOVUPS(Mem{Base: y, Disp: 32 * u}, r)
		VFMADD231PS(Mem{Base: x, Disp: 32 * u}, al, r)
		VMOVUPS(r, Mem{Base: y, Disp: 32 * u})
	}
	ADDQ(U8(128), x)
	ADDQ(U8(128), y)
	SUBQ(U8(32), n)
	JMP(LabelRef(name + "_loop32"))
	Label(name + "_loop8")
	CMPQ(n, U8(8))
	JL(LabelRef(name + "_tail"))
	VMOVUPS(Mem{Base: y}, reg.Y0)
	VFMADD231PS(Mem{Base: x}, al, reg.Y0)
	VMOVUPS(reg.Y0, Mem{Base: y})
	ADDQ(U8(32), x)
	ADDQ(U8(32), y)
	SUBQ(U8(8), n)
	JMP(LabelRef(name + "_loop8"))
	Label(name + "_tail")
	TESTQ(n, n)
	JZ(LabelRef(name + "_done"))
	VMOVSS(Mem{Base: y}, reg.X0)
	VFMADD231SS(Mem{Base: x}, reg.X15, reg.X0)
	VMOVSS(reg.X0, Mem{Base: y})
	ADDQ(U8(4), x)
	ADDQ(U8(4), y)
	DECQ(n)
	JMP(LabelRef(name + "_tail"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

func v8(i int) reg.VecPhysical { return avx2Regs().regs[i] }

// genBiasAct emits x[i] = x[i] + bias[i] (flagColBias), or x[i] + s
// (flagRowBias: one scalar), then max(x, 0) with flagReLU, for i < n.
func genBiasAct(name string) {
	TEXT(name, NOSPLIT, "func(x, bias *float32, s float32, n, flags int)")
	Doc(name + " adds bias[i] (flagColBias) or s (flagRowBias) to x[i], then applies ReLU (flagReLU), for i < n.")
	x := Load(Param("x"), GP64())
	bias := Load(Param("bias"), GP64())
	n := Load(Param("n"), GP64())
	flags := Load(Param("flags"), GP64())
	zero, sv := reg.Y14, reg.Y15
	VXORPS(zero, zero, zero)
	VBROADCASTSS(NewParamAddr("s", 16), sv)
	// Separate loops per mode keep the hot loop branch-free.
	TESTQ(U32(flagColBias), flags)
	JNZ(LabelRef(name + "_vec"))
	TESTQ(U32(flagRowBias), flags)
	JZ(LabelRef(name + "_noadd"))
	TESTQ(U32(flagReLU), flags)
	JZ(LabelRef(name + "_scalaronly"))
	loop := func(tag string, op func(r reg.VecPhysical, xr reg.VecPhysical, m Mem, scalar bool)) {
		Label(name + "_" + tag)
		CMPQ(n, U8(8))
		JL(LabelRef(name + "_" + tag + "_tail"))
		VMOVUPS(Mem{Base: x}, reg.Y0)
		op(reg.Y0, reg.Y0, Mem{Base: bias}, false)
		VMOVUPS(reg.Y0, Mem{Base: x})
		ADDQ(U8(32), x)
		ADDQ(U8(32), bias)
		SUBQ(U8(8), n)
		JMP(LabelRef(name + "_" + tag))
		Label(name + "_" + tag + "_tail")
		TESTQ(n, n)
		JZ(LabelRef(name + "_done"))
		VMOVSS(Mem{Base: x}, reg.X0)
		op(reg.Y0, reg.Y0, Mem{Base: bias}, true)
		VMOVSS(reg.X0, Mem{Base: x})
		ADDQ(U8(4), x)
		ADDQ(U8(4), bias)
		DECQ(n)
		JMP(LabelRef(name + "_" + tag + "_tail"))
	}
	x0 := func(r reg.VecPhysical) reg.VecPhysical { return reg.X0 }
	_ = x0
	// scalar + relu
	loop("scalarrelu", func(r, _ reg.VecPhysical, _ Mem, scalar bool) {
		if scalar {
			VADDSS(reg.X15, reg.X0, reg.X0)
			VMAXSS(reg.X0, reg.X14, reg.X0)
			return
		}
		VADDPS(sv, r, r)
		VMAXPS(r, zero, r)
	})
	loop("scalaronly", func(r, _ reg.VecPhysical, _ Mem, scalar bool) {
		if scalar {
			VADDSS(reg.X15, reg.X0, reg.X0)
			return
		}
		VADDPS(sv, r, r)
	})
	Label(name + "_vec")
	TESTQ(U32(flagReLU), flags)
	JZ(LabelRef(name + "_veconly"))
	loop("vecrelu", func(r, _ reg.VecPhysical, m Mem, scalar bool) {
		if scalar {
			VADDSS(m, reg.X0, reg.X0)
			VMAXSS(reg.X0, reg.X14, reg.X0)
			return
		}
		VADDPS(m, r, r)
		VMAXPS(r, zero, r)
	})
	loop("veconly", func(r, _ reg.VecPhysical, m Mem, scalar bool) {
		if scalar {
			VADDSS(m, reg.X0, reg.X0)
			return
		}
		VADDPS(m, r, r)
	})
	Label(name + "_noadd")
	TESTQ(U32(flagReLU), flags)
	JZ(LabelRef(name + "_done"))
	loop("reluonly", func(r, _ reg.VecPhysical, _ Mem, scalar bool) {
		if scalar {
			VMAXSS(reg.X0, reg.X14, reg.X0)
			return
		}
		VMAXPS(r, zero, r)
	})
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// genPackRows emits a B-panel copy of kc rows of nr floats: row k comes from
// src + k*ld (strided) or src + offs[k] (offsets, in elements) and goes to
// dst + k*nr. AVX only.
func genPackRows(name string, nr int, offsets bool) {
	if offsets {
		TEXT(name, NOSPLIT, "func(dst, src *float32, offs *int, kc int)")
		Doc(fmt.Sprintf("%s copies kc rows of %d floats, row k from src[offs[k]:], to dst[k*%d:].", name, nr, nr))
	} else {
		TEXT(name, NOSPLIT, "func(dst, src *float32, ld, kc int)")
		Doc(fmt.Sprintf("%s copies kc rows of %d floats, row k from src[k*ld:], to dst[k*%d:].", name, nr, nr))
	}
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	var offs, ld reg.Register
	if offsets {
		offs = Load(Param("offs"), GP64())
	} else {
		ld = Load(Param("ld"), GP64())
		SHLQ(U8(2), ld)
	}
	kc := Load(Param("kc"), GP64())
	TESTQ(kc, kc)
	JZ(LabelRef(name + "_done"))
	row := GP64()
	Label(name + "_loop")
	if offsets {
		MOVQ(Mem{Base: offs}, row)
		for c := 0; c < nr/8; c++ {
			VMOVUPS(Mem{Base: src, Index: row, Scale: 4, Disp: 32 * c}, v8(c))
		}
		ADDQ(U8(8), offs)
	} else {
		for c := 0; c < nr/8; c++ {
			VMOVUPS(Mem{Base: src, Disp: 32 * c}, v8(c))
		}
		ADDQ(ld, src)
	}
	for c := 0; c < nr/8; c++ {
		VMOVUPS(v8(c), Mem{Base: dst, Disp: 32 * c})
	}
	ADDQ(U32(nr*4), dst)
	DECQ(kc)
	JNZ(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// genPackA12 generates packA12, which packs 12 rows of A for the 12-row
// kernel 8 k values at a time: rows 0-7 through an 8x8 transpose (unpack,
// shuffle, lane permute) and rows 8-11 through two 4x4 transposes per
// 128-bit lane, each k's 12 values stored as one run of 48 bytes.
func genPackA12() {
	TEXT("packA12", NOSPLIT, "func(dst, src *float32, lda, blocks int)")
	Doc("packA12 writes dst[k*12+r] = src[r*lda+k] for r < 12 and k < 8*blocks (AVX).")
	dst := Load(Param("dst"), GP64())
	p0 := Load(Param("src"), GP64())
	ld := Load(Param("lda"), GP64())
	n := Load(Param("blocks"), GP64())
	SHLQ(U8(2), ld)
	ld3 := GP64()
	LEAQ(Mem{Base: ld, Index: ld, Scale: 2}, ld3)
	p4, p8 := GP64(), GP64()
	LEAQ(Mem{Base: p0, Index: ld, Scale: 4}, p4)
	LEAQ(Mem{Base: p4, Index: ld, Scale: 4}, p8)
	TESTQ(n, n)
	JZ(LabelRef("packA12_done"))
	Label("packA12_loop")
	rowMem := func(base reg.Register, r int) Mem {
		switch r {
		case 0:
			return Mem{Base: base}
		case 1:
			return Mem{Base: base, Index: ld, Scale: 1}
		case 2:
			return Mem{Base: base, Index: ld, Scale: 2}
		}
		return Mem{Base: base, Index: ld3, Scale: 1}
	}
	// quad transposes the 4 rows at base: out[i] holds rows 0-3 at k = i in
	// its low lane and at k = i+4 in its high lane.
	quad := func(base reg.Register) [4]reg.VecVirtual {
		var r [4]reg.VecVirtual
		for i := range r {
			r[i] = YMM()
			VMOVUPS(rowMem(base, i), r[i])
		}
		t0, t1, t2, t3 := YMM(), YMM(), YMM(), YMM()
		VUNPCKLPS(r[1], r[0], t0) // r0k0 r1k0 r0k1 r1k1 | k4 k5
		VUNPCKHPS(r[1], r[0], t1) // k2 k3 | k6 k7
		VUNPCKLPS(r[3], r[2], t2)
		VUNPCKHPS(r[3], r[2], t3)
		var s [4]reg.VecVirtual
		for i := range s {
			s[i] = YMM()
		}
		VSHUFPS(U8(0x44), t2, t0, s[0]) // rows 0-3 at k0 | k4
		VSHUFPS(U8(0xEE), t2, t0, s[1]) // k1 | k5
		VSHUFPS(U8(0x44), t3, t1, s[2]) // k2 | k6
		VSHUFPS(U8(0xEE), t3, t1, s[3]) // k3 | k7
		return s
	}
	lo, hi := quad(p0), quad(p4)
	for i := 0; i < 4; i++ {
		o := YMM()
		VPERM2F128(U8(0x20), hi[i], lo[i], o)
		VMOVUPS(o, Mem{Base: dst, Disp: 48 * i})
		VPERM2F128(U8(0x31), hi[i], lo[i], o)
		VMOVUPS(o, Mem{Base: dst, Disp: 48 * (i + 4)})
	}
	tail := quad(p8)
	for i := 0; i < 4; i++ {
		VMOVUPS(tail[i].AsX(), Mem{Base: dst, Disp: 48*i + 32})
		VEXTRACTF128(U8(1), tail[i], Mem{Base: dst, Disp: 48*(i+4) + 32})
	}
	ADDQ(U8(32), p0)
	ADDQ(U8(32), p4)
	ADDQ(U8(32), p8)
	ADDQ(U32(8*48), dst)
	DECQ(n)
	JNZ(LabelRef("packA12_loop"))
	Label("packA12_done")
	VZEROUPPER()
	RET()
}

// genPackT generates packT16 and packT32, which pack nr rows of a matrix
// stored transposed (B stored N×K for a TransB product: a B panel's nr
// columns are nr rows of the stored matrix) 8 k values at a time: each group
// of 8 rows through an 8x8 transpose (two 4x4 transposes per 128-bit lane,
// as in packA12, and a lane permute), each k's nr values stored as one run.
func genPackT(nr int) {
	name := fmt.Sprintf("packT%d", nr)
	TEXT(name, NOSPLIT, "func(dst, src *float32, ld, blocks int)")
	Doc(fmt.Sprintf("%s writes dst[k*%d+j] = src[j*ld+k] for j < %d and k < 8*blocks (AVX).", name, nr, nr))
	dst := Load(Param("dst"), GP64())
	p0 := Load(Param("src"), GP64())
	ld := Load(Param("ld"), GP64())
	n := Load(Param("blocks"), GP64())
	SHLQ(U8(2), ld)
	ld3 := GP64()
	LEAQ(Mem{Base: ld, Index: ld, Scale: 2}, ld3)
	// ptr[i] points at row 4i.
	ptr := []reg.Register{p0}
	for i := 1; i < nr/4; i++ {
		q := GP64()
		LEAQ(Mem{Base: ptr[i-1], Index: ld, Scale: 4}, q)
		ptr = append(ptr, q)
	}
	TESTQ(n, n)
	JZ(LabelRef(name + "_done"))
	Label(name + "_loop")
	rowMem := func(base reg.Register, r int) Mem {
		switch r {
		case 0:
			return Mem{Base: base}
		case 1:
			return Mem{Base: base, Index: ld, Scale: 1}
		case 2:
			return Mem{Base: base, Index: ld, Scale: 2}
		}
		return Mem{Base: base, Index: ld3, Scale: 1}
	}
	quad := func(base reg.Register) [4]reg.VecVirtual {
		var r [4]reg.VecVirtual
		for i := range r {
			r[i] = YMM()
			VMOVUPS(rowMem(base, i), r[i])
		}
		t0, t1, t2, t3 := YMM(), YMM(), YMM(), YMM()
		VUNPCKLPS(r[1], r[0], t0)
		VUNPCKHPS(r[1], r[0], t1)
		VUNPCKLPS(r[3], r[2], t2)
		VUNPCKHPS(r[3], r[2], t3)
		var s [4]reg.VecVirtual
		for i := range s {
			s[i] = YMM()
		}
		VSHUFPS(U8(0x44), t2, t0, s[0]) // rows 0-3 at k0 | k4
		VSHUFPS(U8(0xEE), t2, t0, s[1]) // k1 | k5
		VSHUFPS(U8(0x44), t3, t1, s[2]) // k2 | k6
		VSHUFPS(U8(0xEE), t3, t1, s[3]) // k3 | k7
		return s
	}
	for g := 0; g < nr/8; g++ {
		lo, hi := quad(ptr[2*g]), quad(ptr[2*g+1])
		for i := 0; i < 4; i++ {
			o := YMM()
			VPERM2F128(U8(0x20), hi[i], lo[i], o)
			VMOVUPS(o, Mem{Base: dst, Disp: 4 * (i*nr + 8*g)})
			VPERM2F128(U8(0x31), hi[i], lo[i], o)
			VMOVUPS(o, Mem{Base: dst, Disp: 4 * ((i+4)*nr + 8*g)})
		}
	}
	for _, q := range ptr {
		ADDQ(U8(32), q)
	}
	ADDQ(U32(8*nr*4), dst)
	DECQ(n)
	JNZ(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// genPackA6 generates packA6, packA12's twin for the 6-row kernel: rows 0-3
// through 4x4 transposes per 128-bit lane, rows 4-5 interleaved in pairs,
// each k's 6 values stored as 16 + 8 bytes.
func genPackA6() {
	TEXT("packA6", NOSPLIT, "func(dst, src *float32, lda, blocks int)")
	Doc("packA6 writes dst[k*6+r] = src[r*lda+k] for r < 6 and k < 8*blocks (AVX).")
	dst := Load(Param("dst"), GP64())
	p0 := Load(Param("src"), GP64())
	ld := Load(Param("lda"), GP64())
	n := Load(Param("blocks"), GP64())
	SHLQ(U8(2), ld)
	ld3 := GP64()
	LEAQ(Mem{Base: ld, Index: ld, Scale: 2}, ld3)
	p4 := GP64()
	LEAQ(Mem{Base: p0, Index: ld, Scale: 4}, p4)
	TESTQ(n, n)
	JZ(LabelRef("packA6_done"))
	Label("packA6_loop")
	var r [4]reg.VecVirtual
	for i := range r {
		r[i] = YMM()
	}
	VMOVUPS(Mem{Base: p0}, r[0])
	VMOVUPS(Mem{Base: p0, Index: ld, Scale: 1}, r[1])
	VMOVUPS(Mem{Base: p0, Index: ld, Scale: 2}, r[2])
	VMOVUPS(Mem{Base: p0, Index: ld3, Scale: 1}, r[3])
	t0, t1, t2, t3 := YMM(), YMM(), YMM(), YMM()
	VUNPCKLPS(r[1], r[0], t0)
	VUNPCKHPS(r[1], r[0], t1)
	VUNPCKLPS(r[3], r[2], t2)
	VUNPCKHPS(r[3], r[2], t3)
	var s [4]reg.VecVirtual
	for i := range s {
		s[i] = YMM()
	}
	VSHUFPS(U8(0x44), t2, t0, s[0]) // rows 0-3 at k0 | k4
	VSHUFPS(U8(0xEE), t2, t0, s[1]) // k1 | k5
	VSHUFPS(U8(0x44), t3, t1, s[2]) // k2 | k6
	VSHUFPS(U8(0xEE), t3, t1, s[3]) // k3 | k7
	for i := 0; i < 4; i++ {
		VMOVUPS(s[i].AsX(), Mem{Base: dst, Disp: 24 * i})
		VEXTRACTF128(U8(1), s[i], Mem{Base: dst, Disp: 24 * (i + 4)})
	}
	r4, r5 := YMM(), YMM()
	VMOVUPS(Mem{Base: p4}, r4)
	VMOVUPS(Mem{Base: p4, Index: ld, Scale: 1}, r5)
	lo, hi := YMM(), YMM()
	VUNPCKLPS(r5, r4, lo) // r4k0 r5k0 r4k1 r5k1 | k4 k5
	VUNPCKHPS(r5, r4, hi) // k2 k3 | k6 k7
	x := XMM()
	for _, q := range []struct {
		v reg.VecVirtual
		k int
	}{{lo, 0}, {hi, 2}} {
		VMOVLPS(q.v.AsX(), Mem{Base: dst, Disp: 24*q.k + 16})
		VMOVHPS(q.v.AsX(), Mem{Base: dst, Disp: 24*(q.k+1) + 16})
		VEXTRACTF128(U8(1), q.v, x)
		VMOVLPS(x, Mem{Base: dst, Disp: 24*(q.k+4) + 16})
		VMOVHPS(x, Mem{Base: dst, Disp: 24*(q.k+5) + 16})
	}
	ADDQ(U8(32), p0)
	ADDQ(U8(32), p4)
	ADDQ(U32(8*24), dst)
	DECQ(n)
	JNZ(LabelRef("packA6_loop"))
	Label("packA6_done")
	VZEROUPPER()
	RET()
}

// Constants of the Cephes-style expf used by expSumAVX2 (and by expf32 in
// ../rowops.go, its Go twin).
var expConsts = []struct {
	name string
	v    float32
}{
	{"hi", 88.3762626647949}, {"lo", -87.3365447504019}, {"log2e", 1.44269504088896341},
	{"c1", 0.693359375}, {"c2", -2.12194440e-4},
	{"p0", 1.9875691500e-4}, {"p1", 1.3981999507e-3}, {"p2", 8.3334519073e-3},
	{"p3", 4.1665795894e-2}, {"p4", 1.6666665459e-1}, {"p5", 5.0000001201e-1}, {"one", 1},
	// GELU: erfc(u) ≈ t·(a1+t·(a2+t·(a3+t·(a4+t·a5))))·exp(-u²), t = 1/(1+p·u)
	// (Abramowitz and Stegun 7.1.26); the tanh form's constants.
	{"erfp", 0.3275911}, {"a1", 0.254829592}, {"a2", -0.284496736}, {"a3", 1.421413741},
	{"a4", -1.453152027}, {"a5", 1.061405429}, {"rsqrt2", 0.70710678118654752}, {"two", 2},
	{"half", 0.5}, {"absmask", math.Float32frombits(0x7fffffff)},
	{"tanhk", -2 * 0.7978845608028654}, {"tanhc", 0.044715},
	{"bias127", math.Float32frombits(127 << 23)},
	// GELU's u = |x|/√2 is capped at 9: exp(-81)·t·poly stays a normal
	// float (beyond about 9.3 it would be subnormal, and subnormal
	// multiplies take a microcode assist: GELU on outputs of magnitude 20
	// ran at 1.85 ns per element against 0.85 at magnitude 1).
	{"umax", 9},
	// The tanh form's exponent w is kept above -80 for the same reason
	// (its exp: large positive x; negative x give |x|/exp(w) ≥ 1e-37).
	{"wmin", -80},
}

func genRowHelpers() {
	tbl := GLOBL("expconsts", RODATA|NOPTR)
	for i, c := range expConsts {
		for l := 0; l < 8; l++ {
			// Bit patterns: avo prints F32(1) as $(1), which the Go
			// assembler reads as the integer 1.
			DATA(32*i+4*l, U32(math.Float32bits(c.v)))
		}
	}
	k := func(name string) Mem {
		for i, c := range expConsts {
			if c.name == name {
				return tbl.Offset(32 * i)
			}
		}
		panic(name)
	}

	// expInto emits out = exp(v) (v is clobbered), using Y8-Y12 and the
	// clamp constants in Y6 (hi) and Y7 (lo).
	expInto := func(v, out reg.VecPhysical) {
		fx, z, t := reg.Y8, reg.Y9, reg.Y10
		VMINPS(v, reg.Y6, v)
		VMAXPS(v, reg.Y7, v)
		VMULPS(k("log2e"), v, fx)
		VROUNDPS(U8(0), fx, fx)
		VFNMADD231PS(k("c1"), fx, v)
		VFNMADD231PS(k("c2"), fx, v)
		VMULPS(v, v, z)
		VMOVUPS(k("p0"), out)
		VFMADD213PS(k("p1"), v, out)
		VFMADD213PS(k("p2"), v, out)
		VFMADD213PS(k("p3"), v, out)
		VFMADD213PS(k("p4"), v, out)
		VFMADD213PS(k("p5"), v, out)
		VFMADD213PS(v, z, out)
		VADDPS(k("one"), out, out)
		VCVTPS2DQ(fx, t)
		VPSLLD(U8(23), t, t)
		VPADDD(k("bias127"), t, t)
		VMULPS(t, out, out)
	}

	TEXT("geluAVX2", NOSPLIT, "func(x *float32, n int, tanh bool)")
	Doc("geluAVX2 applies GELU in place to x[:n], n a multiple of 8: the erf form, or the tanh form if tanh.")
	{
		x := Load(Param("x"), GP64())
		n := Load(Param("n"), GP64())
		th := Load(Param("tanh"), GP8())
		VMOVUPS(k("hi"), reg.Y6)
		VMOVUPS(k("lo"), reg.Y7)
		TESTQ(n, n)
		JZ(LabelRef("gelu_done"))
		TESTB(th, th)
		JNZ(LabelRef("gelu_tanh"))
		Label("gelu_erf")
		{
			xv, u, t, q, e := reg.Y0, reg.Y1, reg.Y2, reg.Y3, reg.Y4
			VMOVUPS(Mem{Base: x}, xv)
			VANDPS(k("absmask"), xv, u)
			VMULPS(k("rsqrt2"), u, u) // u = |x|/√2
			VMINPS(k("umax"), u, u)   // u = min(u, 9)
			VMOVUPS(k("erfp"), t)
			VFMADD213PS(k("one"), u, t) // t = 1 + p·u
			VMOVUPS(k("one"), reg.Y5)
			VDIVPS(t, reg.Y5, t) // t = 1/(1+p·u)
			VMOVUPS(k("a5"), q)
			VFMADD213PS(k("a4"), t, q)
			VFMADD213PS(k("a3"), t, q)
			VFMADD213PS(k("a2"), t, q)
			VFMADD213PS(k("a1"), t, q)
			VMULPS(t, q, q)
			VMULPS(u, u, u)
			VXORPS(reg.Y5, reg.Y5, reg.Y5)
			VSUBPS(u, reg.Y5, u) // -u²
			expInto(u, e)
			VMULPS(e, q, q) // q = erfc(|x|/√2)
			VMOVUPS(k("two"), reg.Y5)
			VSUBPS(q, reg.Y5, reg.Y5)   // 2 - q = 1 + erf(|x|/√2)
			VBLENDVPS(xv, q, reg.Y5, q) // x < 0: q, else 2 - q
			VMULPS(k("half"), xv, xv)
			VMULPS(q, xv, xv)
			VMOVUPS(xv, Mem{Base: x})
			ADDQ(U8(32), x)
			SUBQ(U8(8), n)
			JNZ(LabelRef("gelu_erf"))
			JMP(LabelRef("gelu_done"))
		}
		Label("gelu_tanh")
		{
			xv, w, e := reg.Y0, reg.Y1, reg.Y4
			VMOVUPS(Mem{Base: x}, xv)
			VMULPS(xv, xv, w)
			VMULPS(k("tanhc"), w, w)
			VFMADD213PS(xv, xv, w)   // w = x + c·x³
			VMULPS(k("tanhk"), w, w) // w = -2·√(2/π)·(x + c·x³)
			VMAXPS(k("wmin"), w, w)  // w ≥ -80
			expInto(w, e)
			VADDPS(k("one"), e, e)
			VDIVPS(e, xv, xv) // x / (1 + exp(w))
			VMOVUPS(xv, Mem{Base: x})
			ADDQ(U8(32), x)
			SUBQ(U8(8), n)
			JNZ(LabelRef("gelu_tanh"))
		}
		Label("gelu_done")
		VZEROUPPER()
		RET()
	}

	// expSumAVX2: x[i] = exp(x[i]-sub), returns the sum; n a multiple of 8.
	TEXT("expSumAVX2", NOSPLIT, "func(x *float32, n int, sub float32) float32")
	Doc("expSumAVX2 sets x[i] = exp(x[i]-sub) for i < n (a multiple of 8) and returns their sum.")
	{
		x := Load(Param("x"), GP64())
		n := Load(Param("n"), GP64())
		sub, sum := reg.Y15, reg.Y14
		VBROADCASTSS(NewParamAddr("sub", 16), sub)
		VXORPS(sum, sum, sum)
		one := reg.Y13
		VMOVUPS(k("one"), one)
		VMOVUPS(k("hi"), reg.Y6)
		VMOVUPS(k("lo"), reg.Y7)
		TESTQ(n, n)
		JZ(LabelRef("expsum_done"))
		Label("expsum_loop")
		v, fx, z, y, t := reg.Y0, reg.Y1, reg.Y2, reg.Y3, reg.Y4
		VMOVUPS(Mem{Base: x}, v)
		VSUBPS(sub, v, v)
		// Register operands first, so that a NaN input is kept (the
		// first Go operand is returned when either is NaN).
		VMINPS(v, reg.Y6, v)
		VMAXPS(v, reg.Y7, v)
		VMULPS(k("log2e"), v, fx)
		VROUNDPS(U8(0), fx, fx)      // nearest
		VFNMADD231PS(k("c1"), fx, v) // v -= fx*c1
		VFNMADD231PS(k("c2"), fx, v) // v -= fx*c2
		VMULPS(v, v, z)
		VMOVUPS(k("p0"), y)
		VFMADD213PS(k("p1"), v, y) // y = y*v + p1
		VFMADD213PS(k("p2"), v, y)
		VFMADD213PS(k("p3"), v, y)
		VFMADD213PS(k("p4"), v, y)
		VFMADD213PS(k("p5"), v, y)
		VFMADD213PS(v, z, y) // y = y*z + v
		VADDPS(one, y, y)
		VCVTPS2DQ(fx, t)
		tmp := GP32()
		MOVL(U32(127), tmp)
		VMOVD(tmp, reg.X5)
		VPBROADCASTD(reg.X5, reg.Y5)
		VPADDD(reg.Y5, t, t)
		VPSLLD(U8(23), t, t)
		VMULPS(t, y, y)
		VMOVUPS(y, Mem{Base: x})
		VADDPS(y, sum, sum)
		ADDQ(U8(32), x)
		SUBQ(U8(8), n)
		JNZ(LabelRef("expsum_loop"))
		Label("expsum_done")
		hsum(sum)
		storeResultVEX(reg.X14)
		VZEROUPPER()
		RET()
	}

	// reduce emits a loop over n (a multiple of 8, > 0 for max) floats.
	TEXT("maxAVX2", NOSPLIT, "func(x *float32, n int) float32")
	Doc("maxAVX2 returns the largest of x[:n], n a positive multiple of 8 (NaN handling as VMAXPS).")
	{
		x := Load(Param("x"), GP64())
		n := Load(Param("n"), GP64())
		m := reg.Y14
		VMOVUPS(Mem{Base: x}, m)
		Label("max_loop")
		VMAXPS(Mem{Base: x}, m, m)
		ADDQ(U8(32), x)
		SUBQ(U8(8), n)
		JNZ(LabelRef("max_loop"))
		VEXTRACTF128(U8(1), m, reg.X0)
		VMAXPS(reg.X0, reg.X14, reg.X14)
		VPERMILPS(U8(0x4e), reg.X14, reg.X0)
		VMAXPS(reg.X0, reg.X14, reg.X14)
		VPERMILPS(U8(0xb1), reg.X14, reg.X0)
		VMAXPS(reg.X0, reg.X14, reg.X14)
		storeResultVEX(reg.X14)
		VZEROUPPER()
		RET()
	}

	TEXT("sumDevAVX2", NOSPLIT, "func(x *float32, n int, mean float32, square bool) float32")
	Doc("sumDevAVX2 returns the sum of x[i]-mean (or of its square), n a multiple of 8.")
	{
		x := Load(Param("x"), GP64())
		n := Load(Param("n"), GP64())
		sq := Load(Param("square"), GP8())
		mean, s0, s1 := reg.Y15, reg.Y14, reg.Y13
		VBROADCASTSS(NewParamAddr("mean", 16), mean)
		VXORPS(s0, s0, s0)
		VXORPS(s1, s1, s1)
		TESTQ(n, n)
		JZ(LabelRef("sumdev_done"))
		TESTB(sq, sq)
		JNZ(LabelRef("sumdev_sq"))
		Label("sumdev_loop")
		VMOVUPS(Mem{Base: x}, reg.Y0)
		VSUBPS(mean, reg.Y0, reg.Y0)
		VADDPS(reg.Y0, s0, s0)
		ADDQ(U8(32), x)
		SUBQ(U8(8), n)
		JNZ(LabelRef("sumdev_loop"))
		JMP(LabelRef("sumdev_done"))
		Label("sumdev_sq")
		VMOVUPS(Mem{Base: x}, reg.Y0)
		VSUBPS(mean, reg.Y0, reg.Y0)
		VFMADD231PS(reg.Y0, reg.Y0, s0)
		ADDQ(U8(32), x)
		SUBQ(U8(8), n)
		JNZ(LabelRef("sumdev_sq"))
		Label("sumdev_done")
		VADDPS(s1, s0, s0)
		hsum(s0)
		storeResultVEX(reg.X14)
		VZEROUPPER()
		RET()
	}

	TEXT("normAVX2", NOSPLIT, "func(y, x, gamma, beta *float32, n int, mean, rstd float32)")
	Doc("normAVX2 sets y[i] = (x[i]-mean)*rstd*gamma[i] + beta[i] for i < n, a multiple of 8.")
	{
		y := Load(Param("y"), GP64())
		x := Load(Param("x"), GP64())
		g := Load(Param("gamma"), GP64())
		b := Load(Param("beta"), GP64())
		n := Load(Param("n"), GP64())
		mean, rstd := reg.Y15, reg.Y14
		VBROADCASTSS(NewParamAddr("mean", 40), mean)
		VBROADCASTSS(NewParamAddr("rstd", 44), rstd)
		TESTQ(n, n)
		JZ(LabelRef("norm_done"))
		Label("norm_loop")
		VMOVUPS(Mem{Base: x}, reg.Y0)
		VSUBPS(mean, reg.Y0, reg.Y0)
		VMULPS(rstd, reg.Y0, reg.Y0)
		VMOVUPS(Mem{Base: b}, reg.Y1)
		VFMADD231PS(Mem{Base: g}, reg.Y0, reg.Y1)
		VMOVUPS(reg.Y1, Mem{Base: y})
		ADDQ(U8(32), x)
		ADDQ(U8(32), y)
		ADDQ(U8(32), g)
		ADDQ(U8(32), b)
		SUBQ(U8(8), n)
		JNZ(LabelRef("norm_loop"))
		Label("norm_done")
		VZEROUPPER()
		RET()
	}

	TEXT("scaleAVX2", NOSPLIT, "func(x *float32, n int, s float32)")
	Doc("scaleAVX2 sets x[i] *= s for i < n, a multiple of 8.")
	{
		x := Load(Param("x"), GP64())
		n := Load(Param("n"), GP64())
		sv := reg.Y15
		VBROADCASTSS(NewParamAddr("s", 16), sv)
		TESTQ(n, n)
		JZ(LabelRef("scale_done"))
		Label("scale_loop")
		VMULPS(Mem{Base: x}, sv, reg.Y0)
		VMOVUPS(reg.Y0, Mem{Base: x})
		ADDQ(U8(32), x)
		SUBQ(U8(8), n)
		JNZ(LabelRef("scale_loop"))
		Label("scale_done")
		VZEROUPPER()
		RET()
	}
}

// hsum leaves the horizontal sum of the 8 lanes of y (Y14) in X14's lane 0.
func hsum(y reg.VecPhysical) {
	VEXTRACTF128(U8(1), y, reg.X0)
	VADDPS(reg.X0, reg.X14, reg.X14)
	VHADDPS(reg.X14, reg.X14, reg.X14)
	VHADDPS(reg.X14, reg.X14, reg.X14)
}

// storeResultVEX writes the float32 in x to the function's first result with
// VMOVSS: avo's Store emits the legacy-SSE MOVSS, and one legacy-SSE instruction
// per call among AVX code made the F(4x4) transforms (backends/cpu/
// winograd4_amd64.s) 2.3x slower on the device pool's Xeons.
func storeResultVEX(x reg.Register) {
	b, err := ReturnIndex(0).Resolve()
	if err != nil {
		panic(err)
	}
	VMOVSS(x, b.Addr)
}
