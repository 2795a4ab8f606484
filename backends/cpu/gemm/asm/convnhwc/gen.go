// Command convnhwc generates the gemm package's ConvNHWC micro-kernels for
// amd64 with avo: the tile kernels (contract: nhwcTileFunc in
// ../../conv_nhwc_kernel.go) and the depthwise kernels (nhwcDepthwiseFunc),
// each for AVX-512 and for AVX2+FMA.
//
// Run it through go generate in the parent package:
//
//	go generate ./backends/cpu/gemm
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// Flag bits, as in ../../kernel.go and ../../conv_nhwc_kernel.go.
const (
	flagAccum     = 1
	flagColBias   = 2
	flagReLU      = 8
	flagResidual  = 16
	flagStream    = 32
	flagPrefetch  = 64
	flagPrefetchX = 128
)

// wPrefetchDist is how far ahead of its reads (bytes) a tile kernel prefetches the
// weight panel into L2, one prefetch per cache line of a K step. On small planes (7x7,
// 14x14 at batch 1) each weight is used by a few tiles only and the panels come from
// memory on every inference, and the hardware's stream prefetchers do not cross 4 KB
// pages. 8 KB is about 30 K steps of the widest kernel, longer than a memory access.
// On the Xeon it made ResNet-50's 7x7 layers at batch 1 11-12% faster per node.
const wPrefetchDist = 8192

// maxRows is the most pixels a tile kernel computes at a time (its mr).
const maxRows = 6

// dwRows is the most pixels a depthwise kernel computes at a time.
const dwRows = 4

func main() {
	// No Package(): the signatures use only built-in types, and loading the
	// package would need the stubs this writes (go:generate passes -pkg).
	ConstraintExpr("amd64,!purego")
	// Eight all-ones lanes, then eight zero ones: the AVX2 mask of the
	// first r lanes starts r lanes before the zeros.
	mask := GLOBL("nhwcMask", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		v := uint32(0)
		if i < 8 {
			v = 0xffffffff
		}
		DATA(4*i, U32(v))
	}
	for rows := 1; rows <= maxRows; rows++ {
		for nvec := 1; nvec <= avx512().maxVec; nvec++ {
			genTile(avx512(), rows, nvec, mask)
		}
	}
	for rows := 1; rows <= maxRows; rows++ {
		for nvec := 1; nvec <= avx2().maxVec; nvec++ {
			genTile(avx2(), rows, nvec, mask)
		}
	}
	for rows := 1; rows <= dwRows; rows++ {
		genDepthwise(avx512(), rows, mask)
		genDepthwise(avx2(), rows, mask)
	}
	Generate()
}

// isa is a vector instruction set the kernels are generated for.
type isa struct {
	name   string
	lanes  int
	maxVec int // vectors in the widest panel
	regs   []reg.VecPhysical
}

func avx512() isa {
	return isa{name: "AVX512", lanes: 16, maxVec: 4, regs: []reg.VecPhysical{
		reg.Z0, reg.Z1, reg.Z2, reg.Z3, reg.Z4, reg.Z5, reg.Z6, reg.Z7,
		reg.Z8, reg.Z9, reg.Z10, reg.Z11, reg.Z12, reg.Z13, reg.Z14, reg.Z15,
		reg.Z16, reg.Z17, reg.Z18, reg.Z19, reg.Z20, reg.Z21, reg.Z22, reg.Z23,
		reg.Z24, reg.Z25, reg.Z26, reg.Z27, reg.Z28, reg.Z29, reg.Z30, reg.Z31}}
}

func avx2() isa {
	return isa{name: "AVX2", lanes: 8, maxVec: 2, regs: []reg.VecPhysical{
		reg.Y0, reg.Y1, reg.Y2, reg.Y3, reg.Y4, reg.Y5, reg.Y6, reg.Y7,
		reg.Y8, reg.Y9, reg.Y10, reg.Y11, reg.Y12, reg.Y13, reg.Y14, reg.Y15}}
}

func (v isa) zero(r reg.VecPhysical) {
	if v.lanes == 16 {
		VPXORD(r, r, r)
	} else {
		VXORPS(r, r, r)
	}
}

// genTile emits the rows×(nvec·lanes) kernel: rows·nvec accumulators, the
// k-th weight row in nvec registers, and each pixel's input broadcast into
// one of two alternating registers (AVX-512: 24 + 4 + 2 of 32 registers at
// 6×4; AVX2: 12 + 2 + 2 of 16 at 6×2). The last vector's loads and stores of
// Y, Bias and Residual are masked to the cols columns (AVX-512: K1; AVX2:
// VMASKMOVPS with a mask read from nhwcMask), except with flagStream, which
// stores whole vectors with non-temporal stores (VMOVNTPS) and ends the call
// with an SFENCE.
func genTile(v isa, rows, nvec int, maskTable Mem) {
	vb := 4 * v.lanes // bytes per vector
	name := fmt.Sprintf("nhwc%sx%dx%d", v.name, rows, nvec*v.lanes)
	TEXT(name, NOSPLIT, "func(x *float32, pix, toff *int, ntaps, kl int, w, y *float32, ldy int, bias, res *float32, flags, cols, ntiles int)")
	Doc(fmt.Sprintf("%s computes ntiles %d-pixel × %d-channel ConvNHWC tiles; see nhwcTileFunc.", name, rows, nvec*v.lanes))
	acc := func(i, j int) reg.VecPhysical { return v.regs[i*nvec+j] }
	// The weight and broadcast registers follow the largest tile's
	// accumulators: maxRows·maxVec of them.
	maxVec := v.maxVec
	wr := func(j int) reg.VecPhysical { return v.regs[maxRows*maxVec+j] }
	bc := func(i int) reg.VecPhysical { return v.regs[maxRows*maxVec+maxVec+i%2] }

	// The tile loop's state lives in the frame (every register is taken
	// inside it): the current tile's pixel offsets, Y and Residual rows, and
	// the tiles left.
	frame := AllocLocal(40)
	lpix, ly, lres, lcnt := frame, frame.Offset(8), frame.Offset(16), frame.Offset(24)
	// ldelta: the bytes from the current tile's first pixel to the next
	// tile's (flagPrefetchX).
	ldelta := frame.Offset(32)
	for _, c := range []struct {
		param string
		local Mem
	}{{"pix", lpix}, {"y", ly}, {"res", lres}, {"ntiles", lcnt}} {
		r := Load(Param(c.param), GP64())
		MOVQ(r, c.local)
	}

	Label(name + "_tile")
	{
		// flagPrefetch: the next tile's Residual rows, a tile of
		// multiply-adds before its epilogue reads them.
		fl := Load(Param("flags"), GP64())
		TESTQ(U32(flagPrefetch), fl)
		JZ(LabelRef(name + "_nopf"))
		ld := Load(Param("ldy"), GP64())
		SHLQ(U8(2), ld)
		r := GP64()
		IMUL3Q(U32(rows), ld, r)
		ADDQ(lres, r)
		for i := 0; i < rows; i++ {
			for off := 0; off < vb*nvec; off += 64 {
				PREFETCHT0(Mem{Base: r, Disp: off})
			}
			if i < rows-1 {
				ADDQ(ld, r)
			}
		}
		Label(name + "_nopf")
	}
	x := Load(Param("x"), GP64())
	pix := GP64()
	MOVQ(lpix, pix)
	{
		// The next tile's pixels are about as far from this tile's as its
		// first pixel is from this tile's first (past the last tile, pix
		// has room for a tile of offsets that are not used but to prefetch).
		dn := GP64()
		MOVQ(Mem{Base: pix, Disp: 8 * rows}, dn)
		SUBQ(Mem{Base: pix}, dn)
		SHLQ(U8(2), dn)
		MOVQ(dn, ldelta)
	}
	q := make([]reg.GPVirtual, rows) // pixel i's input pointer, advanced tap by tap
	for i := range q {
		q[i] = GP64()
		MOVQ(Mem{Base: pix, Disp: 8 * i}, q[i])
		LEAQ(Mem{Base: x, Index: q[i], Scale: 4}, q[i])
	}
	toff := Load(Param("toff"), GP64())
	taps := Load(Param("ntaps"), GP64())
	negkl := Load(Param("kl"), GP64())
	NEGQ(negkl)
	prev := GP64() // the offset q[i] points at, less kl (the k index runs from -kl to 0)
	MOVQ(negkl, prev)
	w := Load(Param("w"), GP64())
	for i := 0; i < rows; i++ {
		for j := 0; j < nvec; j++ {
			v.zero(acc(i, j))
		}
	}

	Label(name + "_tap")
	d := GP64()
	MOVQ(Mem{Base: toff}, d)
	SUBQ(prev, d)
	ADDQ(d, prev)
	SHLQ(U8(2), d)
	for i := range q {
		ADDQ(d, q[i])
	}
	k := GP64()
	MOVQ(negkl, k)
	// flagPrefetchX: the k loop that also prefetches the next tile's inputs
	// (d is free until the next tap).
	Load(Param("flags"), d)
	TESTQ(U32(flagPrefetchX), d)
	JNZ(LabelRef(name + "_kp"))
	kloop := func(label string, prefetch bool) {
		Label(label)
		for j := 0; j < nvec; j++ {
			VMOVUPS(Mem{Base: w, Disp: vb * j}, wr(j))
		}
		// The weights wPrefetchDist bytes ahead, into L2 (see wPrefetchDist).
		for off := 0; off < vb*nvec; off += 64 {
			PREFETCHT1(Mem{Base: w, Disp: wPrefetchDist + off})
		}
		if prefetch {
			// Once per cache line of the rows (k a multiple of 16), the
			// same line of the next tile's rows.
			TESTQ(U32(15), k)
			JNZ(LabelRef(label + "_nopf"))
			for i := 0; i < rows; i++ {
				LEAQ(Mem{Base: q[i], Index: k, Scale: 4}, d)
				ADDQ(ldelta, d)
				PREFETCHT0(Mem{Base: d})
			}
			Label(label + "_nopf")
		}
		for i := 0; i < rows; i++ {
			VBROADCASTSS(Mem{Base: q[i], Index: k, Scale: 4}, bc(i))
			for j := 0; j < nvec; j++ {
				VFMADD231PS(bc(i), wr(j), acc(i, j))
			}
		}
		ADDQ(U32(vb*nvec), w)
		INCQ(k)
		JNZ(LabelRef(label))
	}
	kloop(name+"_k", false)
	JMP(LabelRef(name + "_tapdone"))
	kloop(name+"_kp", true)
	Label(name + "_tapdone")
	ADDQ(U8(8), toff)
	DECQ(taps)
	JNZ(LabelRef(name + "_tap"))

	// Epilogue. The mask of the last vector: its first
	// rem = cols-lanes·(nvec-1) lanes.
	rem := Load(Param("cols"), GP64())
	SUBQ(U32(v.lanes*(nvec-1)), rem)
	tmp := bc(0)
	mask := bc(1) // AVX2: the mask vector
	if v.lanes == 16 {
		MOVQ(rem, reg.RCX)
		m := GP32()
		MOVL(U32(1), m)
		SHLL(reg.CL, m)
		DECL(m)
		KMOVW(m, reg.K1)
	} else {
		tbl := GP64()
		LEAQ(maskTable, tbl)
		NEGQ(rem)
		VMOVUPS(Mem{Base: tbl, Index: rem, Scale: 4, Disp: 32}, mask)
	}
	load := func(m Mem, j int, dst reg.VecPhysical) {
		switch {
		case j < nvec-1:
			VMOVUPS(m, dst)
		case v.lanes == 16:
			VMOVUPS_Z(m, reg.K1, dst)
		default:
			VMASKMOVPS(m, mask, dst)
		}
	}
	store := func(src reg.VecPhysical, m Mem, j int) {
		switch {
		case j < nvec-1:
			VMOVUPS(src, m)
		case v.lanes == 16:
			VMOVUPS(src, reg.K1, m)
		default:
			VMASKMOVPS(src, mask, m)
		}
	}
	flags := Load(Param("flags"), GP64())
	ldy := Load(Param("ldy"), GP64())
	SHLQ(U8(2), ldy)
	row := GP64()
	addRows := func(base Op, skip string) {
		MOVQ(base, row)
		for i := 0; i < rows; i++ {
			for j := 0; j < nvec; j++ {
				load(Mem{Base: row, Disp: vb * j}, j, tmp)
				VADDPS(tmp, acc(i, j), acc(i, j))
			}
			if i < rows-1 {
				ADDQ(ldy, row)
			}
		}
		Label(skip)
	}
	y := GP64()
	MOVQ(ly, y)
	TESTQ(U32(flagAccum), flags)
	JZ(LabelRef(name + "_noaccum"))
	addRows(y, name+"_noaccum")

	TESTQ(U32(flagColBias), flags)
	JZ(LabelRef(name + "_nobias"))
	bias := Load(Param("bias"), GP64())
	for j := 0; j < nvec; j++ {
		load(Mem{Base: bias, Disp: vb * j}, j, wr(j))
	}
	for i := 0; i < rows; i++ {
		for j := 0; j < nvec; j++ {
			VADDPS(wr(j), acc(i, j), acc(i, j))
		}
	}
	Label(name + "_nobias")

	TESTQ(U32(flagResidual), flags)
	JZ(LabelRef(name + "_nores"))
	addRows(lres, name+"_nores")

	TESTQ(U32(flagReLU), flags)
	JZ(LabelRef(name + "_norelu"))
	v.zero(tmp)
	for i := 0; i < rows; i++ {
		for j := 0; j < nvec; j++ {
			// Go operand order: the first source is returned when either
			// is NaN, so NaN passes through as the Go twin's max does.
			VMAXPS(acc(i, j), tmp, acc(i, j))
		}
	}
	Label(name + "_norelu")

	MOVQ(y, row)
	TESTQ(U32(flagStream), flags)
	JNZ(LabelRef(name + "_stream"))
	for i := 0; i < rows; i++ {
		for j := 0; j < nvec; j++ {
			store(acc(i, j), Mem{Base: row, Disp: vb * j}, j)
		}
		ADDQ(ldy, row)
	}
	JMP(LabelRef(name + "_stored"))
	// flagStream: whole vectors (cols is the panel's width) to aligned
	// rows, past the caches.
	Label(name + "_stream")
	for i := 0; i < rows; i++ {
		for j := 0; j < nvec; j++ {
			VMOVNTPS(acc(i, j), Mem{Base: row, Disp: vb * j})
		}
		ADDQ(ldy, row)
	}
	Label(name + "_stored")
	// The next tile: rows pixels on.
	MOVQ(row, ly)
	step := GP64()
	IMUL3Q(U32(rows), ldy, step)
	ADDQ(step, lres)
	ADDQ(U32(8*rows), lpix)
	DECQ(lcnt)
	JNZ(LabelRef(name + "_tile"))
	// Order the streamed stores before whatever follows (the thread that
	// reads Y next may be another).
	fl := Load(Param("flags"), GP64())
	TESTQ(U32(flagStream), fl)
	JZ(LabelRef(name + "_done"))
	SFENCE()
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// genDepthwise emits the depthwise kernel for rows pixels (see
// nhwcDepthwiseFunc in ../../conv_nhwc_kernel.go): for each vector of
// channels (the last one masked), rows accumulators, one weight load and
// rows input loads per tap.
func genDepthwise(v isa, rows int, maskTable Mem) {
	vb := 4 * v.lanes
	name := fmt.Sprintf("nhwcDW%sx%d", v.name, rows)
	TEXT(name, NOSPLIT, "func(x *float32, pix, toff *int, ntaps, c int, w, y, bias, res *float32, flags int)")
	Doc(fmt.Sprintf("%s computes %d pixels of a depthwise ConvNHWC; see nhwcDepthwiseFunc.", name, rows))
	acc := func(i int) reg.VecPhysical { return v.regs[i] }
	in := func(i int) reg.VecPhysical { return v.regs[dwRows+i] }
	wv, tmp, mask := v.regs[2*dwRows], v.regs[2*dwRows+1], v.regs[2*dwRows+2]

	x := Load(Param("x"), GP64())
	pix := Load(Param("pix"), GP64())
	q := make([]reg.GPVirtual, rows)
	for i := range q {
		q[i] = GP64()
		MOVQ(Mem{Base: pix, Disp: 8 * i}, q[i])
		LEAQ(Mem{Base: x, Index: q[i], Scale: 4}, q[i])
	}
	c4 := Load(Param("c"), GP64())
	SHLQ(U8(2), c4) // bytes per pixel
	cb := GP64()    // byte offset of the current channel vector
	XORQ(cb, cb)
	flags := Load(Param("flags"), GP64())

	// Whole chunks of maxVec vectors of channels first, unmasked: rows ×
	// maxVec accumulators, maxVec weight vectors per tap, the inputs read
	// by the multiply-adds.
	nv := v.maxVec
	cacc := func(i, j int) reg.VecPhysical { return v.regs[i*nv+j] }
	cw := func(j int) reg.VecPhysical { return v.regs[dwRows*nv+j] }
	ctmp := v.regs[dwRows*nv+nv]
	Label(name + "_chunk")
	{
		end := GP64()
		MOVQ(cb, end)
		ADDQ(U32(vb*nv), end)
		CMPQ(end, c4)
		JG(LabelRef(name + "_vectors"))
	}
	TESTQ(U32(flagColBias), flags)
	JZ(LabelRef(name + "_czero"))
	{
		bias := Load(Param("bias"), GP64())
		for j := 0; j < nv; j++ {
			VMOVUPS(Mem{Base: bias, Index: cb, Scale: 1, Disp: vb * j}, cacc(0, j))
			for i := 1; i < rows; i++ {
				VMOVUPS(cacc(0, j), cacc(i, j))
			}
		}
		JMP(LabelRef(name + "_ctaps"))
	}
	Label(name + "_czero")
	for i := 0; i < rows; i++ {
		for j := 0; j < nv; j++ {
			v.zero(cacc(i, j))
		}
	}
	Label(name + "_ctaps")
	{
		toff := Load(Param("toff"), GP64())
		taps := Load(Param("ntaps"), GP64())
		w := Load(Param("w"), GP64())
		ADDQ(cb, w)
		Label(name + "_ct")
		a := GP64()
		MOVQ(Mem{Base: toff}, a)
		SHLQ(U8(2), a)
		ADDQ(cb, a)
		wo := GP64()
		MOVQ(Mem{Base: toff, Disp: 8}, wo)
		for j := 0; j < nv; j++ {
			VMOVUPS(Mem{Base: w, Index: wo, Scale: 4, Disp: vb * j}, cw(j))
		}
		for i := 0; i < rows; i++ {
			for j := 0; j < nv; j++ {
				VFMADD231PS(Mem{Base: q[i], Index: a, Scale: 1, Disp: vb * j}, cw(j), cacc(i, j))
			}
		}
		ADDQ(U8(16), toff)
		DECQ(taps)
		JNZ(LabelRef(name + "_ct"))
	}
	{
		TESTQ(U32(flagResidual), flags)
		JZ(LabelRef(name + "_cnores"))
		res := Load(Param("res"), GP64())
		ADDQ(cb, res)
		for i := 0; i < rows; i++ {
			for j := 0; j < nv; j++ {
				VADDPS(Mem{Base: res, Disp: vb * j}, cacc(i, j), cacc(i, j))
			}
			if i < rows-1 {
				ADDQ(c4, res)
			}
		}
		Label(name + "_cnores")
		TESTQ(U32(flagReLU), flags)
		JZ(LabelRef(name + "_cnorelu"))
		v.zero(ctmp)
		for i := 0; i < rows; i++ {
			for j := 0; j < nv; j++ {
				VMAXPS(cacc(i, j), ctmp, cacc(i, j)) // NaN kept, as in genTile
			}
		}
		Label(name + "_cnorelu")
		row := Load(Param("y"), GP64())
		ADDQ(cb, row)
		for i := 0; i < rows; i++ {
			for j := 0; j < nv; j++ {
				VMOVUPS(cacc(i, j), Mem{Base: row, Disp: vb * j})
			}
			if i < rows-1 {
				ADDQ(c4, row)
			}
		}
	}
	ADDQ(U32(vb*nv), cb)
	JMP(LabelRef(name + "_chunk"))

	// Then the remaining channels one vector at a time, the last masked.
	Label(name + "_vectors")
	CMPQ(cb, c4)
	JGE(LabelRef(name + "_done"))
	Label(name + "_c")
	// The mask of this vector: min(lanes, (c4-cb)/4) channels.
	rem := GP64()
	MOVQ(c4, rem)
	SUBQ(cb, rem)
	SHRQ(U8(2), rem)
	lanes := GP64()
	MOVQ(U32(v.lanes), lanes)
	CMPQ(rem, lanes)
	CMOVQGT(lanes, rem)
	if v.lanes == 16 {
		MOVQ(rem, reg.RCX)
		m := GP32()
		MOVL(U32(1), m)
		SHLL(reg.CL, m)
		DECL(m)
		KMOVW(m, reg.K1)
	} else {
		tbl := GP64()
		LEAQ(maskTable, tbl)
		NEGQ(rem)
		VMOVUPS(Mem{Base: tbl, Index: rem, Scale: 4, Disp: 32}, mask)
	}
	load := func(m Mem, dst reg.VecPhysical) {
		if v.lanes == 16 {
			VMOVUPS_Z(m, reg.K1, dst)
		} else {
			VMASKMOVPS(m, mask, dst)
		}
	}
	TESTQ(U32(flagColBias), flags)
	JZ(LabelRef(name + "_zero"))
	bias := Load(Param("bias"), GP64())
	load(Mem{Base: bias, Index: cb, Scale: 1}, acc(0))
	for i := 1; i < rows; i++ {
		VMOVUPS(acc(0), acc(i))
	}
	JMP(LabelRef(name + "_taps"))
	Label(name + "_zero")
	for i := 0; i < rows; i++ {
		v.zero(acc(i))
	}
	Label(name + "_taps")
	toff := Load(Param("toff"), GP64())
	taps := Load(Param("ntaps"), GP64())
	w := Load(Param("w"), GP64())
	ADDQ(cb, w)
	Label(name + "_t")
	a := GP64()
	MOVQ(Mem{Base: toff}, a)
	SHLQ(U8(2), a)
	ADDQ(cb, a)
	wo := GP64()
	MOVQ(Mem{Base: toff, Disp: 8}, wo)
	load(Mem{Base: w, Index: wo, Scale: 4}, wv)
	for i := 0; i < rows; i++ {
		load(Mem{Base: q[i], Index: a, Scale: 1}, in(i))
		VFMADD231PS(in(i), wv, acc(i))
	}
	ADDQ(U8(16), toff)
	DECQ(taps)
	JNZ(LabelRef(name + "_t"))

	row := GP64()
	TESTQ(U32(flagResidual), flags)
	JZ(LabelRef(name + "_nores"))
	res := Load(Param("res"), GP64())
	ADDQ(cb, res)
	for i := 0; i < rows; i++ {
		load(Mem{Base: res}, tmp)
		VADDPS(tmp, acc(i), acc(i))
		if i < rows-1 {
			ADDQ(c4, res)
		}
	}
	Label(name + "_nores")
	TESTQ(U32(flagReLU), flags)
	JZ(LabelRef(name + "_norelu"))
	v.zero(tmp)
	for i := 0; i < rows; i++ {
		VMAXPS(acc(i), tmp, acc(i)) // NaN kept, as in genTile
	}
	Label(name + "_norelu")
	y := Load(Param("y"), GP64())
	MOVQ(y, row)
	ADDQ(cb, row)
	for i := 0; i < rows; i++ {
		if v.lanes == 16 {
			VMOVUPS(acc(i), reg.K1, Mem{Base: row})
		} else {
			VMASKMOVPS(acc(i), mask, Mem{Base: row})
		}
		if i < rows-1 {
			ADDQ(c4, row)
		}
	}
	ADDQ(U32(vb), cb)
	CMPQ(cb, c4)
	JL(LabelRef(name + "_c"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}
