//go:build amd64 && !purego

#include "textflag.h"

// AVX2 loops for float32 elementwise arithmetic. Each processes n elements, n a
// multiple of 8; elementwise_vec.go has the Go twins (the reference loops) and runs
// the remainder. Two vectors per iteration while at least 16 elements remain.

// VV(name, OP): z[i] = x[i] OP y[i].
#define VV(name, OP) \
TEXT name(SB), NOSPLIT, $0-32 \
	MOVQ z+0(FP), DI \
	MOVQ x+8(FP), SI \
	MOVQ y+16(FP), DX \
	MOVQ n+24(FP), CX \
loop16: \
	CMPQ CX, $16 \
	JLT loop8 \
	VMOVUPS (SI), Y0 \
	VMOVUPS 32(SI), Y1 \
	OP (DX), Y0, Y0 \
	OP 32(DX), Y1, Y1 \
	VMOVUPS Y0, (DI) \
	VMOVUPS Y1, 32(DI) \
	ADDQ $64, SI \
	ADDQ $64, DX \
	ADDQ $64, DI \
	SUBQ $16, CX \
	JMP loop16 \
loop8: \
	CMPQ CX, $8 \
	JLT done \
	VMOVUPS (SI), Y0 \
	OP (DX), Y0, Y0 \
	VMOVUPS Y0, (DI) \
	ADDQ $32, SI \
	ADDQ $32, DX \
	ADDQ $32, DI \
	SUBQ $8, CX \
	JMP loop8 \
done: \
	VZEROUPPER \
	RET

// VS(name, OP): z[i] = x[i] OP s.
#define VS(name, OP) \
TEXT name(SB), NOSPLIT, $0-28 \
	MOVQ z+0(FP), DI \
	MOVQ x+8(FP), SI \
	MOVQ n+16(FP), CX \
	VBROADCASTSS s+24(FP), Y15 \
loop16: \
	CMPQ CX, $16 \
	JLT loop8 \
	VMOVUPS (SI), Y0 \
	VMOVUPS 32(SI), Y1 \
	OP Y15, Y0, Y0 \
	OP Y15, Y1, Y1 \
	VMOVUPS Y0, (DI) \
	VMOVUPS Y1, 32(DI) \
	ADDQ $64, SI \
	ADDQ $64, DI \
	SUBQ $16, CX \
	JMP loop16 \
loop8: \
	CMPQ CX, $8 \
	JLT done \
	VMOVUPS (SI), Y0 \
	OP Y15, Y0, Y0 \
	VMOVUPS Y0, (DI) \
	ADDQ $32, SI \
	ADDQ $32, DI \
	SUBQ $8, CX \
	JMP loop8 \
done: \
	VZEROUPPER \
	RET

// SV(name, OP): z[i] = s OP x[i].
#define SV(name, OP) \
TEXT name(SB), NOSPLIT, $0-28 \
	MOVQ z+0(FP), DI \
	MOVQ x+8(FP), SI \
	MOVQ n+16(FP), CX \
	VBROADCASTSS s+24(FP), Y15 \
loop16: \
	CMPQ CX, $16 \
	JLT loop8 \
	VMOVUPS (SI), Y2 \
	VMOVUPS 32(SI), Y3 \
	OP Y2, Y15, Y0 \
	OP Y3, Y15, Y1 \
	VMOVUPS Y0, (DI) \
	VMOVUPS Y1, 32(DI) \
	ADDQ $64, SI \
	ADDQ $64, DI \
	SUBQ $16, CX \
	JMP loop16 \
loop8: \
	CMPQ CX, $8 \
	JLT done \
	VMOVUPS (SI), Y2 \
	OP Y2, Y15, Y0 \
	VMOVUPS Y0, (DI) \
	ADDQ $32, SI \
	ADDQ $32, DI \
	SUBQ $8, CX \
	JMP loop8 \
done: \
	VZEROUPPER \
	RET

// func addVVAVX2(z, x, y *float32, n int)
VV(·addVVAVX2, VADDPS)
// func subVVAVX2(z, x, y *float32, n int)
VV(·subVVAVX2, VSUBPS)
// func mulVVAVX2(z, x, y *float32, n int)
VV(·mulVVAVX2, VMULPS)
// func divVVAVX2(z, x, y *float32, n int)
VV(·divVVAVX2, VDIVPS)

// func addVSAVX2(z, x *float32, n int, s float32)
VS(·addVSAVX2, VADDPS)
// func subVSAVX2(z, x *float32, n int, s float32)
VS(·subVSAVX2, VSUBPS)
// func mulVSAVX2(z, x *float32, n int, s float32)
VS(·mulVSAVX2, VMULPS)
// func divVSAVX2(z, x *float32, n int, s float32)
VS(·divVSAVX2, VDIVPS)

// func subSVAVX2(z, x *float32, n int, s float32)
SV(·subSVAVX2, VSUBPS)
// func divSVAVX2(z, x *float32, n int, s float32)
SV(·divSVAVX2, VDIVPS)

// func reluAVX2(z, x *float32, n int)
TEXT ·reluAVX2(SB), NOSPLIT, $0-24
	MOVQ z+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VXORPS Y15, Y15, Y15
loop16:
	CMPQ CX, $16
	JLT loop8
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMAXPS Y0, Y15, Y0 // max(0, x), x (a NaN) when unordered
	VMAXPS Y1, Y15, Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP loop16
loop8:
	CMPQ CX, $8
	JLT done
	VMOVUPS (SI), Y0
	VMAXPS Y0, Y15, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP loop8
done:
	VZEROUPPER
	RET

// Constants of the vectorized exp (Cephes expf: e^x = 2^k·p(r), r = x - k·ln2),
// eight copies each, and of tanh's small-argument polynomial (Cephes tanhf).
#define EWCONST8(name, bits) \
	DATA name<>+0(SB)/4, $bits; DATA name<>+4(SB)/4, $bits; DATA name<>+8(SB)/4, $bits; DATA name<>+12(SB)/4, $bits; \
	DATA name<>+16(SB)/4, $bits; DATA name<>+20(SB)/4, $bits; DATA name<>+24(SB)/4, $bits; DATA name<>+28(SB)/4, $bits; \
	GLOBL name<>(SB), RODATA|NOPTR, $32

EWCONST8(ewexpmin, 0xc2ae999a)   // -87.3
EWCONST8(ewexpmax, 0x42b0c0a5)   // 88.37626: keeps k <= 127
EWCONST8(ewlog2e, 0x3fb8aa3b)    // 1.44269504
EWCONST8(ewmagic, 0x4b400000)    // 12582912.0 = 1.5·2^23
EWCONST8(ewexpbias, 0x4b3fff81)  // 0x4B400000 - 127: bits(t) - expbias = k + 127
EWCONST8(ewln2hi, 0x3f318000)    // 0.693359375
EWCONST8(ewln2lo, 0xb95e8083)    // -2.12194440e-4
EWCONST8(ewp0, 0x39506967)       // 1.9875691500e-4
EWCONST8(ewp1, 0x3ab743ce)       // 1.3981999507e-3
EWCONST8(ewp2, 0x3c088908)       // 8.3334519073e-3
EWCONST8(ewp3, 0x3d2aa9c1)       // 4.1665795894e-2
EWCONST8(ewp4, 0x3e2aaaaa)       // 1.6666665459e-1
EWCONST8(ewp5, 0x3f000000)       // 5.0000001201e-1
EWCONST8(ewone, 0x3f800000)      // 1.0
EWCONST8(ewsigzero, 0xc2b00000)  // -88.0: sigmoid is 0 in float32 (normal range) below
EWCONST8(ewtwo, 0x40000000)      // 2.0
EWCONST8(ewabs, 0x7fffffff)      // |x| mask
EWCONST8(ewsign, 0x80000000)     // sign mask
EWCONST8(ewtsmall, 0x3f200000)   // 0.625: below it tanh uses the polynomial
EWCONST8(ewtmax, 0x41100000)     // 9.0: tanh is 1 in float32 beyond
EWCONST8(ewc0, 0xbbbaf0ea)       // -5.70498872745e-3
EWCONST8(ewc1, 0x3ca9134e)       // 2.06390887954e-2
EWCONST8(ewc2, 0xbd5c1e2d)       // -5.37397155531e-2
EWCONST8(ewc3, 0x3e088393)       // 1.33314422036e-1
EWCONST8(ewc4, 0xbeaaaa99)       // -3.33332819422e-1

// EXP(X, T1, T2, T3): X = e^X for X already clamped to [expmin, expmax].
#define EXP(X, T1, T2, T3) \
	VMOVUPS ewmagic<>(SB), T1 \
	VFMADD231PS ewlog2e<>(SB), X, T1 \
	VSUBPS ewmagic<>(SB), T1, T2 \
	VPSUBD ewexpbias<>(SB), T1, T1 \
	VPSLLD $23, T1, T1 \
	VFNMADD231PS ewln2hi<>(SB), T2, X \
	VFNMADD231PS ewln2lo<>(SB), T2, X \
	VMOVUPS ewp0<>(SB), T3 \
	VFMADD213PS ewp1<>(SB), X, T3 \
	VFMADD213PS ewp2<>(SB), X, T3 \
	VFMADD213PS ewp3<>(SB), X, T3 \
	VFMADD213PS ewp4<>(SB), X, T3 \
	VFMADD213PS ewp5<>(SB), X, T3 \
	VMULPS X, X, T2 \
	VFMADD213PS X, T2, T3 \
	VADDPS ewone<>(SB), T3, T3 \
	VMULPS T1, T3, X

// SIGMOID(X, S, T1, T2, T3): S = 1/(1+e^-X), 0 for X < -88; NaN stays NaN.
#define SIGMOID(X, S, T1, T2, T3) \
	VXORPS S, S, S \
	VSUBPS X, S, S \
	VMAXPS S, Y13, S \
	VMINPS S, Y12, S \
	EXP(S, T1, T2, T3) \
	VADDPS Y11, S, S \
	VDIVPS S, Y11, S \
	VCMPPS $1, ewsigzero<>(SB), X, T1 \
	VANDNPS S, T1, S

// func sigmoidAVX2(z, x *float32, n int)
TEXT ·sigmoidAVX2(SB), NOSPLIT, $0-24
	MOVQ z+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VMOVUPS ewexpmin<>(SB), Y13
	VMOVUPS ewexpmax<>(SB), Y12
	VMOVUPS ewone<>(SB), Y11
loop:
	CMPQ CX, $8
	JLT done
	VMOVUPS (SI), Y0
	SIGMOID(Y0, Y1, Y2, Y3, Y4)
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP loop
done:
	VZEROUPPER
	RET

// func siluAVX2(z, x *float32, n int)
TEXT ·siluAVX2(SB), NOSPLIT, $0-24
	MOVQ z+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VMOVUPS ewexpmin<>(SB), Y13
	VMOVUPS ewexpmax<>(SB), Y12
	VMOVUPS ewone<>(SB), Y11
loop:
	CMPQ CX, $8
	JLT done
	VMOVUPS (SI), Y0
	SIGMOID(Y0, Y1, Y2, Y3, Y4)
	VMULPS Y0, Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP loop
done:
	VZEROUPPER
	RET

// func tanhAVX2(z, x *float32, n int)
// tanh(x) = sign(x)·(1 - 2/(e^(2|x|)+1)) for |x| >= 0.625, else x + x·z·P(z), z = x².
TEXT ·tanhAVX2(SB), NOSPLIT, $0-24
	MOVQ z+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VMOVUPS ewone<>(SB), Y11
loop:
	CMPQ CX, $8
	JLT done
	VMOVUPS (SI), Y0
	VANDPS ewabs<>(SB), Y0, Y1     // |x|
	VMOVUPS ewtmax<>(SB), Y7
	VMINPS Y1, Y7, Y2               // min(9, |x|), NaN kept
	VADDPS Y2, Y2, Y2               // 2|x|
	EXP(Y2, Y3, Y4, Y5)
	VADDPS Y11, Y2, Y2              // e + 1
	VMOVUPS ewtwo<>(SB), Y7
	VDIVPS Y2, Y7, Y2               // 2/(e+1)
	VSUBPS Y2, Y11, Y2              // 1 - 2/(e+1)
	VANDPS ewsign<>(SB), Y0, Y5
	VORPS Y5, Y2, Y2                // copy the sign of x
	VMULPS Y0, Y0, Y3               // z = x²
	VMOVUPS ewc0<>(SB), Y4
	VFMADD213PS ewc1<>(SB), Y3, Y4
	VFMADD213PS ewc2<>(SB), Y3, Y4
	VFMADD213PS ewc3<>(SB), Y3, Y4
	VFMADD213PS ewc4<>(SB), Y3, Y4
	VMULPS Y3, Y4, Y4               // z·P(z)
	VFMADD213PS Y0, Y0, Y4          // x·z·P(z) + x
	VMOVUPS ewtsmall<>(SB), Y7
	VCMPPS $1, Y7, Y1, Y6           // |x| < 0.625
	VBLENDVPS Y6, Y4, Y2, Y0        // small ? polynomial : exp form
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP loop
done:
	VZEROUPPER
	RET

// func halfToFloatF16C(z *float32, x *uint16, n int)  (n a multiple of 8)
TEXT ·halfToFloatF16C(SB), NOSPLIT, $0-24
	MOVQ z+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
hloop:
	CMPQ CX, $8
	JLT hdone
	VCVTPH2PS (SI), Y0
	VMOVUPS Y0, (DI)
	ADDQ $16, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP hloop
hdone:
	VZEROUPPER
	RET

// func floatToHalfF16C(z *uint16, x *float32, n int)  (n a multiple of 8; round to nearest even)
TEXT ·floatToHalfF16C(SB), NOSPLIT, $0-24
	MOVQ z+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
floop:
	CMPQ CX, $8
	JLT fdone
	VMOVUPS (SI), Y0
	VCVTPS2PH $0, Y0, (DI)
	ADDQ $32, SI
	ADDQ $16, DI
	SUBQ $8, CX
	JMP floop
fdone:
	VZEROUPPER
	RET

EWCONST8(ewerfp, 0x3ea7ba05)     // 0.3275911 (Abramowitz-Stegun 7.1.26)
EWCONST8(ewa1, 0x3e827906)       // 0.254829592
EWCONST8(ewa2, 0xbe91a98e)       // -0.284496736
EWCONST8(ewa3, 0x3fb5f0e3)       // 1.421413741
EWCONST8(ewa4, 0xbfba00e3)       // -1.453152027
EWCONST8(ewa5, 0x3f87dc22)       // 1.061405429
EWCONST8(ewe0, 0x3f906ebb)       // 2/√π: erf's Taylor series, used for |x| < 0.5
EWCONST8(ewe1, 0xbec093a3)       // -2/(3√π)
EWCONST8(ewe2, 0x3de71791)       // 2/(10√π)
EWCONST8(ewe3, 0xbcdc1672)       // -2/(42√π)
EWCONST8(ewe4, 0x3bab2de7)       // 2/(216√π)
EWCONST8(ewe5, 0xba6016da)       // -2/(1320√π)
EWCONST8(ewhalf, 0x3f000000)     // 0.5

// func expAVX2(z, x *float32, n int) int
// Returns non-zero when some x fell outside [-87.3, 88.376] (the caller redoes those).
TEXT ·expAVX2(SB), NOSPLIT, $0-32
	MOVQ z+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VMOVUPS ewexpmin<>(SB), Y13
	VMOVUPS ewexpmax<>(SB), Y12
	VXORPS Y10, Y10, Y10
eloop:
	CMPQ CX, $8
	JLT edone
	VMOVUPS (SI), Y0
	VCMPPS $1, Y13, Y0, Y5          // x < min
	VCMPPS $14, Y12, Y0, Y6         // x > max
	VORPS Y5, Y10, Y10
	VORPS Y6, Y10, Y10
	VMAXPS Y0, Y13, Y0
	VMINPS Y0, Y12, Y0
	EXP(Y0, Y1, Y2, Y3)
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP eloop
edone:
	VMOVMSKPS Y10, AX
	VZEROUPPER
	MOVQ AX, ret+24(FP)
	RET

// func erfAVX2(z, x *float32, n int)
// erf(x) = sign(x)·(1 - t·P(t)·e^(-x²)), t = 1/(1 + p·|x|), |x| capped at 9.
TEXT ·erfAVX2(SB), NOSPLIT, $0-24
	MOVQ z+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VMOVUPS ewexpmin<>(SB), Y13
	VMOVUPS ewone<>(SB), Y11
rloop:
	CMPQ CX, $8
	JLT rdone
	VMOVUPS (SI), Y0
	VANDPS ewabs<>(SB), Y0, Y1      // a = |x|
	VMOVUPS ewtmax<>(SB), Y7
	VMINPS Y1, Y7, Y1               // min(9, a), NaN kept
	VMOVAPS Y11, Y2
	VFMADD231PS ewerfp<>(SB), Y1, Y2 // 1 + p·a
	VDIVPS Y2, Y11, Y2              // t
	VMOVUPS ewa5<>(SB), Y3
	VFMADD213PS ewa4<>(SB), Y2, Y3
	VFMADD213PS ewa3<>(SB), Y2, Y3
	VFMADD213PS ewa2<>(SB), Y2, Y3
	VFMADD213PS ewa1<>(SB), Y2, Y3
	VMULPS Y2, Y3, Y3               // t·P(t)
	VMULPS Y1, Y1, Y4
	VXORPS Y5, Y5, Y5
	VSUBPS Y4, Y5, Y4               // -a²
	VMAXPS Y4, Y13, Y4              // >= -87.3 (a <= 9 keeps it there anyway)
	EXP(Y4, Y5, Y6, Y8)
	VMULPS Y4, Y3, Y3               // erfc(a)
	VSUBPS Y3, Y11, Y3              // 1 - erfc(a)
	VANDPS ewsign<>(SB), Y0, Y5
	VORPS Y5, Y3, Y3                // copy the sign of x
	VMULPS Y0, Y0, Y4               // z = x²
	VMOVUPS ewe5<>(SB), Y5
	VFMADD213PS ewe4<>(SB), Y4, Y5
	VFMADD213PS ewe3<>(SB), Y4, Y5
	VFMADD213PS ewe2<>(SB), Y4, Y5
	VFMADD213PS ewe1<>(SB), Y4, Y5
	VFMADD213PS ewe0<>(SB), Y4, Y5
	VMULPS Y0, Y5, Y5               // x·S(z)
	VMOVUPS ewhalf<>(SB), Y7
	VCMPPS $1, Y7, Y1, Y6           // |x| < 0.5
	VBLENDVPS Y6, Y5, Y3, Y3        // small ? series : 1 - erfc
	VMOVUPS Y3, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP rloop
rdone:
	VZEROUPPER
	RET

// func clampAffineAVX2(z, x *float32, n int, a, b, lo, hi float32, mulx int)
// z[i] = min(max(a·x[i] + b, lo), hi), times x[i] when mulx != 0; NaN stays NaN.
TEXT ·clampAffineAVX2(SB), NOSPLIT, $0-48
	MOVQ z+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS a+24(FP), Y15
	VBROADCASTSS b+28(FP), Y14
	VBROADCASTSS lo+32(FP), Y13
	VBROADCASTSS hi+36(FP), Y12
	MOVQ mulx+40(FP), DX
cloop:
	CMPQ CX, $8
	JLT cdone
	VMOVUPS (SI), Y0
	VMOVAPS Y14, Y1
	VFMADD231PS Y15, Y0, Y1         // a·x + b
	VMAXPS Y1, Y13, Y1              // max(lo, .), NaN kept
	VMINPS Y1, Y12, Y1              // min(hi, .), NaN kept
	TESTQ DX, DX
	JZ cstore
	VMULPS Y0, Y1, Y1
cstore:
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP cloop
cdone:
	VZEROUPPER
	RET

// func transpose8x8AVX2(dst *uint32, ldd int, src *uint32, lds int)
// dst[m*ldd + j] = src[j*lds + m] for m, j < 8 (strides in elements).
TEXT ·transpose8x8AVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), DX
	MOVQ src+16(FP), SI
	MOVQ lds+24(FP), CX
	SHLQ $2, DX
	SHLQ $2, CX
	VMOVUPS (SI), Y0
	ADDQ CX, SI
	VMOVUPS (SI), Y1
	ADDQ CX, SI
	VMOVUPS (SI), Y2
	ADDQ CX, SI
	VMOVUPS (SI), Y3
	ADDQ CX, SI
	VMOVUPS (SI), Y4
	ADDQ CX, SI
	VMOVUPS (SI), Y5
	ADDQ CX, SI
	VMOVUPS (SI), Y6
	ADDQ CX, SI
	VMOVUPS (SI), Y7
	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15
	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xEE, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xEE, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15
	VMOVUPS Y8, (DI)
	ADDQ DX, DI
	VMOVUPS Y9, (DI)
	ADDQ DX, DI
	VMOVUPS Y10, (DI)
	ADDQ DX, DI
	VMOVUPS Y11, (DI)
	ADDQ DX, DI
	VMOVUPS Y12, (DI)
	ADDQ DX, DI
	VMOVUPS Y13, (DI)
	ADDQ DX, DI
	VMOVUPS Y14, (DI)
	ADDQ DX, DI
	VMOVUPS Y15, (DI)
	VZEROUPPER
	RET

// func leakyReluAVX2(z, x *float32, n int, alpha float32)
// z = x < 0 ? alpha·x : x, choosing by x's sign bit (so -0 gives -0, NaN stays NaN).
TEXT ·leakyReluAVX2(SB), NOSPLIT, $0-28
	MOVQ z+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS alpha+24(FP), Y15
lloop:
	CMPQ CX, $8
	JLT ldone
	VMOVUPS (SI), Y0
	VMULPS Y15, Y0, Y1
	VBLENDVPS Y0, Y1, Y0, Y2        // sign(x) ? alpha·x : x
	VMOVUPS Y2, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP lloop
ldone:
	VZEROUPPER
	RET

// func sumF64AVX2(x *float32, n int, sq int) float64
// Σ x[i] (or Σ x[i]² when sq != 0) in float64, n a multiple of 16.
TEXT ·sumF64AVX2(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ sq+16(FP), DX
	VXORPD Y10, Y10, Y10
	VXORPD Y11, Y11, Y11
	VXORPD Y12, Y12, Y12
	VXORPD Y13, Y13, Y13
	TESTQ DX, DX
	JNZ sqloop
sloop:
	CMPQ CX, $16
	JLT sdone
	VCVTPS2PD (SI), Y0
	VCVTPS2PD 16(SI), Y1
	VCVTPS2PD 32(SI), Y2
	VCVTPS2PD 48(SI), Y3
	VADDPD Y0, Y10, Y10
	VADDPD Y1, Y11, Y11
	VADDPD Y2, Y12, Y12
	VADDPD Y3, Y13, Y13
	ADDQ $64, SI
	SUBQ $16, CX
	JMP sloop
sqloop:
	CMPQ CX, $16
	JLT sdone
	VCVTPS2PD (SI), Y0
	VCVTPS2PD 16(SI), Y1
	VCVTPS2PD 32(SI), Y2
	VCVTPS2PD 48(SI), Y3
	VFMADD231PD Y0, Y0, Y10
	VFMADD231PD Y1, Y1, Y11
	VFMADD231PD Y2, Y2, Y12
	VFMADD231PD Y3, Y3, Y13
	ADDQ $64, SI
	SUBQ $16, CX
	JMP sqloop
sdone:
	VADDPD Y11, Y10, Y10
	VADDPD Y13, Y12, Y12
	VADDPD Y12, Y10, Y10
	VEXTRACTF128 $1, Y10, X1
	VADDPD X1, X10, X0
	VHADDPD X0, X0, X0
	VZEROUPPER
	VMOVSD X0, ret+24(FP)
	RET

// func accumF64AVX2(acc *float64, x *float32, n int, sq int)
// acc[i] += x[i] (or x[i]² when sq != 0) in float64, n a multiple of 8.
TEXT ·accumF64AVX2(SB), NOSPLIT, $0-32
	MOVQ acc+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ sq+24(FP), DX
	TESTQ DX, DX
	JNZ aqloop
aloop:
	CMPQ CX, $8
	JLT adone
	VCVTPS2PD (SI), Y0
	VCVTPS2PD 16(SI), Y1
	VADDPD (DI), Y0, Y0
	VADDPD 32(DI), Y1, Y1
	VMOVUPD Y0, (DI)
	VMOVUPD Y1, 32(DI)
	ADDQ $32, SI
	ADDQ $64, DI
	SUBQ $8, CX
	JMP aloop
aqloop:
	CMPQ CX, $8
	JLT adone
	VCVTPS2PD (SI), Y0
	VCVTPS2PD 16(SI), Y1
	VMOVUPD (DI), Y2
	VMOVUPD 32(DI), Y3
	VFMADD231PD Y0, Y0, Y2
	VFMADD231PD Y1, Y1, Y3
	VMOVUPD Y2, (DI)
	VMOVUPD Y3, 32(DI)
	ADDQ $32, SI
	ADDQ $64, DI
	SUBQ $8, CX
	JMP aqloop
adone:
	VZEROUPPER
	RET
