//go:build amd64 && !purego

#include "textflag.h"

// func maxWindowAVX2(z, x *float32, n, k, step, count, xstride int)
//
// For each j < count: z[j*n + i] = max over t in [0, k) of x[j*xstride + t*step + i],
// i < n (n a multiple of 8, k >= 1).
// The maximum runs through VMAXPS; a separate mask ORs in the lanes where a tap is
// NaN (VCMPPS unordered), and those lanes are stored as NaN (all bits set), as the
// Go twin maxWindowGo gives NaN there. Four vectors per pass while 32 lanes remain.
TEXT ·maxWindowAVX2(SB), NOSPLIT, $0-56
	MOVQ z+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ k+24(FP), R8
	MOVQ step+32(FP), R9
	SHLQ $2, R9
	MOVQ count+40(FP), R12
	MOVQ xstride+48(FP), R13
	SHLQ $2, R13

pixel:
	TESTQ R12, R12
	JZ    done
	MOVQ  n+16(FP), CX
	MOVQ  SI, R14

loop32:
	CMPQ CX, $32
	JLT  loop8
	MOVQ SI, R10
	VMOVUPS (R10), Y0
	VMOVUPS 32(R10), Y1
	VMOVUPS 64(R10), Y2
	VMOVUPS 96(R10), Y3
	VCMPPS $3, Y0, Y0, Y4
	VCMPPS $3, Y1, Y1, Y5
	VCMPPS $3, Y2, Y2, Y6
	VCMPPS $3, Y3, Y3, Y7
	MOVQ R8, R11

taps32:
	DECQ R11
	JZ   store32
	ADDQ R9, R10
	VMOVUPS (R10), Y8
	VMOVUPS 32(R10), Y9
	VMOVUPS 64(R10), Y10
	VMOVUPS 96(R10), Y11
	VCMPPS $3, Y8, Y8, Y12
	VCMPPS $3, Y9, Y9, Y13
	VCMPPS $3, Y10, Y10, Y14
	VCMPPS $3, Y11, Y11, Y15
	VORPS  Y12, Y4, Y4
	VORPS  Y13, Y5, Y5
	VORPS  Y14, Y6, Y6
	VORPS  Y15, Y7, Y7
	VMAXPS Y8, Y0, Y0
	VMAXPS Y9, Y1, Y1
	VMAXPS Y10, Y2, Y2
	VMAXPS Y11, Y3, Y3
	JMP    taps32

store32:
	VORPS   Y4, Y0, Y0
	VORPS   Y5, Y1, Y1
	VORPS   Y6, Y2, Y2
	VORPS   Y7, Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	SUBQ    $32, CX
	JMP     loop32

loop8:
	CMPQ CX, $8
	JLT  next
	MOVQ SI, R10
	VMOVUPS (R10), Y0
	VCMPPS $3, Y0, Y0, Y4
	MOVQ R8, R11

taps8:
	DECQ R11
	JZ   store8
	ADDQ R9, R10
	VMOVUPS (R10), Y8
	VCMPPS $3, Y8, Y8, Y12
	VORPS  Y12, Y4, Y4
	VMAXPS Y8, Y0, Y0
	JMP    taps8

store8:
	VORPS   Y4, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     loop8

next:
	LEAQ (R14)(R13*1), SI
	DECQ R12
	JMP  pixel

done:
	VZEROUPPER
	RET
