// Command convnhwc generates the gemm package's ConvNHWC micro-kernels for
// amd64 with avo (see nhwcTileFunc in ../../conv_nhwc_kernel.go for the
// contract every kernel implements).
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
	flagAccum    = 1
	flagColBias  = 2
	flagReLU     = 8
	flagResidual = 16
)

const maxRows = 6

func main() {
	// No Package(): the signatures use only built-in types, and loading the
	// package would need the stubs this writes (go:generate passes -pkg).
	ConstraintExpr("amd64,!purego")
	for rows := 1; rows <= maxRows; rows++ {
		for nvec := 1; nvec <= 4; nvec++ {
			genAVX512(rows, nvec)
		}
	}
	Generate()
}

var zmm = []reg.VecPhysical{
	reg.Z0, reg.Z1, reg.Z2, reg.Z3, reg.Z4, reg.Z5, reg.Z6, reg.Z7,
	reg.Z8, reg.Z9, reg.Z10, reg.Z11, reg.Z12, reg.Z13, reg.Z14, reg.Z15,
	reg.Z16, reg.Z17, reg.Z18, reg.Z19, reg.Z20, reg.Z21, reg.Z22, reg.Z23,
	reg.Z24, reg.Z25, reg.Z26, reg.Z27, reg.Z28, reg.Z29, reg.Z30, reg.Z31}

// genAVX512 emits the rows×(nvec·16) AVX-512 kernel: rows·nvec accumulators
// (at most 24), the k-th weight row in nvec registers, and each pixel's
// input broadcast into one of two alternating registers. The last vector's
// loads and stores of Y, Bias and Residual are masked to the cols columns.
func genAVX512(rows, nvec int) {
	name := fmt.Sprintf("nhwcAVX512x%dx%d", rows, nvec*16)
	TEXT(name, NOSPLIT, "func(x *float32, pix, toff *int, ntaps, kl int, w, y *float32, ldy int, bias, res *float32, flags, cols int)")
	Doc(fmt.Sprintf("%s computes a %d-pixel × %d-channel ConvNHWC tile; see nhwcTileFunc.", name, rows, nvec*16))
	acc := func(i, j int) reg.VecPhysical { return zmm[i*nvec+j] }
	wr := func(j int) reg.VecPhysical { return zmm[24+j] }
	bc := func(i int) reg.VecPhysical { return zmm[28+i%2] }
	tmp := zmm[30]

	// The mask of the last vector: its first cols-16·(nvec-1) lanes.
	cols := Load(Param("cols"), reg.RCX)
	SUBQ(U32(16*(nvec-1)), cols)
	m := GP32()
	MOVL(U32(1), m)
	SHLL(reg.CL, m)
	DECL(m)
	KMOVW(m, reg.K1)

	x := Load(Param("x"), GP64())
	pix := Load(Param("pix"), GP64())
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
	for i := 0; i < rows*nvec; i++ {
		VPXORD(acc(i/nvec, i%nvec), acc(i/nvec, i%nvec), acc(i/nvec, i%nvec))
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
	Label(name + "_k")
	for j := 0; j < nvec; j++ {
		VMOVUPS(Mem{Base: w, Disp: 64 * j}, wr(j))
	}
	for i := 0; i < rows; i++ {
		VBROADCASTSS(Mem{Base: q[i], Index: k, Scale: 4}, bc(i))
		for j := 0; j < nvec; j++ {
			VFMADD231PS(bc(i), wr(j), acc(i, j))
		}
	}
	ADDQ(U32(64*nvec), w)
	INCQ(k)
	JNZ(LabelRef(name + "_k"))
	ADDQ(U8(8), toff)
	DECQ(taps)
	JNZ(LabelRef(name + "_tap"))

	// Epilogue.
	flags := Load(Param("flags"), GP64())
	ldy := Load(Param("ldy"), GP64())
	SHLQ(U8(2), ldy)
	load := func(m Mem, j int, dst reg.VecPhysical) {
		if j == nvec-1 {
			VMOVUPS_Z(m, reg.K1, dst)
		} else {
			VMOVUPS(m, dst)
		}
	}
	row := GP64()
	addRows := func(base Op, skip string) {
		MOVQ(base, row)
		for i := 0; i < rows; i++ {
			for j := 0; j < nvec; j++ {
				load(Mem{Base: row, Disp: 64 * j}, j, tmp)
				VADDPS(tmp, acc(i, j), acc(i, j))
			}
			if i < rows-1 {
				ADDQ(ldy, row)
			}
		}
		Label(skip)
	}
	y := Load(Param("y"), GP64())
	TESTQ(U32(flagAccum), flags)
	JZ(LabelRef(name + "_noaccum"))
	addRows(y, name+"_noaccum")

	TESTQ(U32(flagColBias), flags)
	JZ(LabelRef(name + "_nobias"))
	bias := Load(Param("bias"), GP64())
	for j := 0; j < nvec; j++ {
		load(Mem{Base: bias, Disp: 64 * j}, j, wr(j))
	}
	for i := 0; i < rows; i++ {
		for j := 0; j < nvec; j++ {
			VADDPS(wr(j), acc(i, j), acc(i, j))
		}
	}
	Label(name + "_nobias")

	TESTQ(U32(flagResidual), flags)
	JZ(LabelRef(name + "_nores"))
	res := Load(Param("res"), GP64())
	addRows(res, name+"_nores")

	TESTQ(U32(flagReLU), flags)
	JZ(LabelRef(name + "_norelu"))
	VPXORD(tmp, tmp, tmp)
	for i := 0; i < rows; i++ {
		for j := 0; j < nvec; j++ {
			// Go operand order: the first source is returned when either
			// is NaN, so NaN passes through as the Go twin's max does.
			VMAXPS(acc(i, j), tmp, acc(i, j))
		}
	}
	Label(name + "_norelu")

	MOVQ(y, row)
	for i := 0; i < rows; i++ {
		for j := 0; j < nvec; j++ {
			m := Mem{Base: row, Disp: 64 * j}
			if j == nvec-1 {
				VMOVUPS(acc(i, j), reg.K1, m)
			} else {
				VMOVUPS(acc(i, j), m)
			}
		}
		if i < rows-1 {
			ADDQ(ldy, row)
		}
	}
	VZEROUPPER()
	RET()
}
