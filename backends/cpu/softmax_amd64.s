//go:build amd64 && !purego

#include "textflag.h"

// Eight copies of each constant of expNeg32 (softmax_vec.go).
#define CONST8(name, bits) \
	DATA name<>+0(SB)/4, $bits; DATA name<>+4(SB)/4, $bits; DATA name<>+8(SB)/4, $bits; DATA name<>+12(SB)/4, $bits; \
	DATA name<>+16(SB)/4, $bits; DATA name<>+20(SB)/4, $bits; DATA name<>+24(SB)/4, $bits; DATA name<>+28(SB)/4, $bits; \
	GLOBL name<>(SB), RODATA|NOPTR, $32

CONST8(expmin, 0xc2ae999a)   // -87.3
CONST8(log2e, 0x3fb8aa3b)    // 1.44269504
CONST8(magic, 0x4b400000)    // 12582912.0
CONST8(ln2hi, 0x3f318000)    // 0.693359375
CONST8(ln2lo, 0xb95e8083)    // -2.12194440e-4
CONST8(p0, 0x39506967)       // 1.9875691500e-4
CONST8(p1, 0x3ab743ce)       // 1.3981999507e-3
CONST8(p2, 0x3c088908)       // 8.3334519073e-3
CONST8(p3, 0x3d2aa9c1)       // 4.1665795894e-2
CONST8(p4, 0x3e2aaaaa)       // 1.6666665459e-1
CONST8(p5, 0x3f000000)       // 5.0000001201e-1
CONST8(one, 0x3f800000)      // 1.0
CONST8(expbias, 0x4b3fff81)  // 0x4B400000 - 127: bits(t) - expbias = k + 127

// func expShiftSumAVX2(x, y *float32, n int, m float32) float32
TEXT ·expShiftSumAVX2(SB), NOSPLIT, $0-36
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DI
	MOVQ n+16(FP), CX
	VBROADCASTSS m+24(FP), Y15
	VXORPS Y14, Y14, Y14
	VMOVUPS expmin<>(SB), Y13
	VMOVUPS log2e<>(SB), Y12
	VMOVUPS magic<>(SB), Y11

loop:
	CMPQ CX, $8
	JLT done
	VMOVUPS (SI), Y0
	VSUBPS Y15, Y0, Y0              // v = x - m
	VMAXPS Y0, Y13, Y0              // v = max(expmin, v); a NaN v is kept
	VMOVAPS Y11, Y1
	VFMADD231PS Y12, Y0, Y1         // t = v*log2e + magic
	VSUBPS Y11, Y1, Y2              // kf = t - magic
	VPSUBD expbias<>(SB), Y1, Y3    // k + 127
	VPSLLD $23, Y3, Y3              // 2^k
	VMOVAPS Y0, Y4
	VFNMADD231PS ln2hi<>(SB), Y2, Y4 // r = v - kf*ln2hi
	VFNMADD231PS ln2lo<>(SB), Y2, Y4 // r -= kf*ln2lo
	VMOVUPS p0<>(SB), Y5
	VFMADD213PS p1<>(SB), Y4, Y5    // p = p*r + p1
	VFMADD213PS p2<>(SB), Y4, Y5
	VFMADD213PS p3<>(SB), Y4, Y5
	VFMADD213PS p4<>(SB), Y4, Y5
	VFMADD213PS p5<>(SB), Y4, Y5
	VMULPS Y4, Y4, Y6               // r²
	VFMADD213PS Y4, Y6, Y5          // p = p*r² + r
	VADDPS one<>(SB), Y5, Y5        // + 1
	VMULPS Y3, Y5, Y5               // · 2^k
	VMOVUPS Y5, (DI)
	VADDPS Y5, Y14, Y14
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP loop

done:
	VEXTRACTF128 $1, Y14, X0
	VADDPS X0, X14, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	VMOVSS X0, ret+32(FP)
	RET

// func scaleAVX2(y *float32, n int, s float32)
TEXT ·scaleAVX2(SB), NOSPLIT, $0-20
	MOVQ y+0(FP), DI
	MOVQ n+8(FP), CX
	VBROADCASTSS s+16(FP), Y15

sloop:
	CMPQ CX, $8
	JLT sdone
	VMULPS (DI), Y15, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	SUBQ $8, CX
	JMP sloop

sdone:
	VZEROUPPER
	RET

// Horizontal sum of Y0+Y1+Y2+Y3 into X0 (clobbers X1..X3 upper halves).
#define HSUM4 \
	VADDPS Y1, Y0, Y0; \
	VADDPS Y3, Y2, Y2; \
	VADDPS Y2, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	VADDPS X1, X0, X0; \
	VHADDPS X0, X0, X0; \
	VHADDPS X0, X0, X0

// func sumAVX2(x *float32, n int) float32
TEXT ·sumAVX2(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

sum32:
	CMPQ CX, $32
	JLT sum8
	VADDPS (SI), Y0, Y0
	VADDPS 32(SI), Y1, Y1
	VADDPS 64(SI), Y2, Y2
	VADDPS 96(SI), Y3, Y3
	ADDQ $128, SI
	SUBQ $32, CX
	JMP sum32

sum8:
	CMPQ CX, $8
	JLT sumdone
	VADDPS (SI), Y0, Y0
	ADDQ $32, SI
	SUBQ $8, CX
	JMP sum8

sumdone:
	HSUM4
	VZEROUPPER
	VMOVSS X0, ret+16(FP)
	RET

// func sqDiffSumAVX2(x *float32, n int, m float32) float32
TEXT ·sqDiffSumAVX2(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS m+16(FP), Y15
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

sq16:
	CMPQ CX, $16
	JLT sq8
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VSUBPS Y15, Y4, Y4
	VSUBPS Y15, Y5, Y5
	VFMADD231PS Y4, Y4, Y0
	VFMADD231PS Y5, Y5, Y1
	ADDQ $64, SI
	SUBQ $16, CX
	JMP sq16

sq8:
	CMPQ CX, $8
	JLT sqdone
	VMOVUPS (SI), Y4
	VSUBPS Y15, Y4, Y4
	VFMADD231PS Y4, Y4, Y2
	ADDQ $32, SI
	SUBQ $8, CX
	JMP sq8

sqdone:
	HSUM4
	VZEROUPPER
	VMOVSS X0, ret+24(FP)
	RET

// func normAffineAVX2(x, y, gamma, beta *float32, n int, m, inv float32)
TEXT ·normAffineAVX2(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DI
	MOVQ gamma+16(FP), R8
	MOVQ beta+24(FP), R9
	MOVQ n+32(FP), CX
	VBROADCASTSS m+40(FP), Y15
	VBROADCASTSS inv+44(FP), Y14

naloop:
	CMPQ CX, $8
	JLT nadone
	VMOVUPS (SI), Y0
	VSUBPS Y15, Y0, Y0          // x - m
	VMULPS Y14, Y0, Y0          // · inv
	VMOVUPS (R9), Y1
	VFMADD231PS (R8), Y0, Y1    // b + (x-m)·inv·g
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, R8
	ADDQ $32, R9
	SUBQ $8, CX
	JMP naloop

nadone:
	VZEROUPPER
	RET

// func rowMaxAVX2(x *float32, n int) float32
TEXT ·rowMaxAVX2(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VMOVUPS (SI), Y0
	VMOVAPS Y0, Y1
	VMOVAPS Y0, Y2
	VMOVAPS Y0, Y3
	ADDQ $32, SI
	SUBQ $8, CX

max32:
	CMPQ CX, $32
	JLT max8
	VMAXPS (SI), Y0, Y0
	VMAXPS 32(SI), Y1, Y1
	VMAXPS 64(SI), Y2, Y2
	VMAXPS 96(SI), Y3, Y3
	ADDQ $128, SI
	SUBQ $32, CX
	JMP max32

max8:
	CMPQ CX, $8
	JLT maxdone
	VMAXPS (SI), Y0, Y0
	ADDQ $32, SI
	SUBQ $8, CX
	JMP max8

maxdone:
	VMAXPS Y1, Y0, Y0
	VMAXPS Y3, Y2, Y2
	VMAXPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0x4e, X0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0xb1, X0, X1
	VMAXPS X1, X0, X0
	VZEROUPPER
	VMOVSS X0, ret+16(FP)
	RET

// func scaleShiftAVX2(x, y *float32, n int, a, b float32)
TEXT ·scaleShiftAVX2(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DI
	MOVQ n+16(FP), CX
	VBROADCASTSS a+24(FP), Y15
	VBROADCASTSS b+28(FP), Y14

ss16:
	CMPQ CX, $16
	JLT ss8
	VMOVAPS Y14, Y0
	VMOVAPS Y14, Y1
	VFMADD231PS (SI), Y15, Y0   // b + a*x
	VFMADD231PS 32(SI), Y15, Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP ss16

ss8:
	CMPQ CX, $8
	JLT ssdone
	VMOVAPS Y14, Y0
	VFMADD231PS (SI), Y15, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP ss8

ssdone:
	VZEROUPPER
	RET
