// Command asm generates the gemm package's amd64 micro-kernels with avo.
//
// Run it through go generate in the parent directory:
//
//	go generate ./backends/cpu/gemm
package main

import (
	"fmt"

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

	genKernel("kernAVX2x6x16", 6, 16, avx2Regs())
	genKernel("kernAVX512x12x32", 12, 32, avx512Regs())
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

// genKernel emits an mr×nr micro-kernel, nr = 2 vectors. See kernelFunc in
// ../kernel.go for the contract.
func genKernel(name string, mr, nr int, v vecRegs) {
	TEXT(name, NOSPLIT, "func(kc int, a, b, c *float32, ldc, flags int, bias *float32)")
	Doc(fmt.Sprintf("%s computes one %dx%d tile; see kernelFunc.", name, mr, nr))
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
			m := Mem{Base: a, Disp: (u*mr + i) * 4}
			if v.bits == 512 {
				VFMADD231PS_BCST(m, b0, acc(i, 0))
				VFMADD231PS_BCST(m, b1, acc(i, 1))
			} else {
				VBROADCASTSS(m, t)
				VFMADD231PS(t, b0, acc(i, 0))
				VFMADD231PS(t, b1, acc(i, 1))
			}
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
	ADDQ(U32(unroll*mr*4), a)
	ADDQ(U32(unroll*nr*4), b)
	DECQ(cnt)
	JNZ(LabelRef(name + "_loop4"))

	Label(name + "_tail")
	ANDQ(U8(unroll-1), kc)
	JZ(LabelRef(name + "_epilogue"))
	Label(name + "_loop1")
	step(0)
	ADDQ(U32(mr*4), a)
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
