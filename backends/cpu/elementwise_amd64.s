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
