//go:build amd64 && !purego

#include "textflag.h"

// The 1-D transforms of Winograd F(4x4, 3x3) (winograd4.go) over vectors of n
// floats, n a multiple of 8 (the Go wrappers run the rest). Each reads its six
// inputs at byte offset AX before it writes its outputs there, so an output may be
// the residual it adds.

// BT6 computes the rows of Bᵀ·d from d0-d5 in Y0-Y5 into Y6 (row 0), Y9 (1),
// Y11 (2), Y0 (3), Y2 (4) and Y7 (5), with 4, 5 and 2 in Y13, Y14 and Y15:
//	r0 = 4d0 - 5d2 + d4            r1 = (d3 + d4) - 4(d1 + d2)
//	r2 = (d4 - d3) + 4(d1 - d2)    r3 = (d4 - d2) + 2(d3 - d1)
//	r4 = (d4 - d2) - 2(d3 - d1)    r5 = 4d1 - 5d3 + d5
#define BT6 \
	VMOVAPS      Y4, Y6        \
	VFNMADD231PS Y14, Y2, Y6   \
	VFMADD231PS  Y13, Y0, Y6   \
	VMOVAPS      Y5, Y7        \
	VFNMADD231PS Y14, Y3, Y7   \
	VFMADD231PS  Y13, Y1, Y7   \
	VADDPS       Y2, Y1, Y8    \
	VADDPS       Y4, Y3, Y9    \
	VFNMADD231PS Y13, Y8, Y9   \
	VSUBPS       Y2, Y1, Y10   \
	VSUBPS       Y3, Y4, Y11   \
	VFMADD231PS  Y13, Y10, Y11 \
	VSUBPS       Y2, Y4, Y0    \
	VSUBPS       Y1, Y3, Y1    \
	VMOVAPS      Y0, Y2        \
	VFMADD231PS  Y15, Y1, Y0   \
	VFNMADD231PS Y15, Y1, Y2

// AT6 computes the rows of Aᵀ·m from m0-m5 in Y0-Y5 into Y10 (row 0), Y11 (1),
// Y6 (2) and Y7 (3), with 2, 4 and 8 in Y13, Y14 and Y15:
//	o0 = m0 + (m1 + m2) + (m3 + m4)    o1 = (m1 - m2) + 2(m3 - m4)
//	o2 = (m1 + m2) + 4(m3 + m4)        o3 = (m1 - m2) + 8(m3 - m4) + m5
#define AT6 \
	VADDPS      Y2, Y1, Y6   \
	VSUBPS      Y2, Y1, Y7   \
	VADDPS      Y4, Y3, Y8   \
	VSUBPS      Y4, Y3, Y9   \
	VADDPS      Y6, Y0, Y10  \
	VADDPS      Y8, Y10, Y10 \
	VMOVAPS     Y7, Y11      \
	VFMADD231PS Y13, Y9, Y11 \
	VFMADD231PS Y14, Y8, Y6  \
	VADDPS      Y5, Y7, Y7   \
	VFMADD231PS Y15, Y9, Y7

// LOAD6 loads the six inputs at offset AX from the pointers in R8-R13.
#define LOAD6 \
	VMOVUPS (R8)(AX*1), Y0  \
	VMOVUPS (R9)(AX*1), Y1  \
	VMOVUPS (R10)(AX*1), Y2 \
	VMOVUPS (R11)(AX*1), Y3 \
	VMOVUPS (R12)(AX*1), Y4 \
	VMOVUPS (R13)(AX*1), Y5

// SRC6 loads the six input pointers from the array at SI into R8-R13.
#define SRC6 \
	MOVQ 0(SI), R8   \
	MOVQ 8(SI), R9   \
	MOVQ 16(SI), R10 \
	MOVQ 24(SI), R11 \
	MOVQ 32(SI), R12 \
	MOVQ 40(SI), R13

// STORE writes register y to the output pointer at offset off of the array at DI.
#define STORE(off, y) \
	MOVQ    off(DI), DX \
	VMOVUPS y, (DX)(AX*1)

// wino4Consts holds the transforms' constants 4, 5, 2 and 8 (float32), loaded
// with VBROADCASTSS from memory. Moved in from a general register (MOVQ r64,
// xmm: legacy SSE among AVX code), they cost a stall per call on the device
// pool's Xeons (F(4x4) at 64@56, batch 1: 1.80 ms, now 0.79; not seen on Zen 4).
DATA wino4Consts<>+0(SB)/4, $0x40800000
DATA wino4Consts<>+4(SB)/4, $0x40a00000
DATA wino4Consts<>+8(SB)/4, $0x40000000
DATA wino4Consts<>+12(SB)/4, $0x41000000
GLOBL wino4Consts<>(SB), RODATA|NOPTR, $16

// CONST3 broadcasts the constants at offsets a, b and c of wino4Consts into Y13,
// Y14 and Y15.
#define CONST3(a, b, c) \
	VBROADCASTSS wino4Consts<>+a(SB), Y13 \
	VBROADCASTSS wino4Consts<>+b(SB), Y14 \
	VBROADCASTSS wino4Consts<>+c(SB), Y15

// func wino4InAVX2(dst, src *[6]*float32, n int)
TEXT ·wino4InAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SRC6
	CONST3(0, 4, 8) // 4, 5, 2
	SHLQ $2, CX
	XORQ AX, AX
	TESTQ CX, CX
	JZ   indone

inloop:
	LOAD6
	BT6
	STORE(0, Y6)
	STORE(8, Y9)
	STORE(16, Y11)
	STORE(24, Y0)
	STORE(32, Y2)
	STORE(40, Y7)
	ADDQ $32, AX
	CMPQ AX, CX
	JLT  inloop

indone:
	VZEROUPPER
	RET

// func wino4OutAVX2(dst *[4]*float32, src *[6]*float32, n int)
TEXT ·wino4OutAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SRC6
	CONST3(8, 0, 12) // 2, 4, 8
	SHLQ $2, CX
	XORQ AX, AX
	TESTQ CX, CX
	JZ   outdone

outloop:
	LOAD6
	AT6
	STORE(0, Y10)
	STORE(8, Y11)
	STORE(16, Y6)
	STORE(24, Y7)
	ADDQ $32, AX
	CMPQ AX, CX
	JLT  outloop

outdone:
	VZEROUPPER
	RET

// EPI adds the bias (BX) and the residual (the pointer at off of the array at R14)
// to y. Uses DX.
#define EPI(off, y) \
	VADDPS  (BX)(AX*1), y, y \
	MOVQ    off(R14), DX     \
	VADDPS  (DX)(AX*1), y, y

// func wino4OutEpiAVX2(dst *[4]*float32, src *[6]*float32, res *[4]*float32, bias *float32, n int, relu bool)
TEXT ·wino4OutEpiAVX2(SB), NOSPLIT, $0-41
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ res+16(FP), R14
	MOVQ bias+24(FP), BX
	MOVQ n+32(FP), CX
	SRC6
	CONST3(8, 0, 12) // 2, 4, 8
	VXORPS Y12, Y12, Y12
	SHLQ $2, CX
	XORQ AX, AX
	TESTQ CX, CX
	JZ   epidone

epiloop:
	LOAD6
	AT6
	EPI(0, Y10)
	EPI(8, Y11)
	EPI(16, Y6)
	EPI(24, Y7)
	CMPB relu+40(FP), $0
	JEQ  epistore
	VMAXPS Y12, Y10, Y10
	VMAXPS Y12, Y11, Y11
	VMAXPS Y12, Y6, Y6
	VMAXPS Y12, Y7, Y7

epistore:
	STORE(0, Y10)
	STORE(8, Y11)
	STORE(16, Y6)
	STORE(24, Y7)
	ADDQ $32, AX
	CMPQ AX, CX
	JLT  epiloop

epidone:
	VZEROUPPER
	RET
