package gemm

// convB gathers the implicit-im2col B operand of a convolution.
type convB struct{}

func (cb *convB) pack(buf []float32, pc, kc, jc, nc, nr int) { panic("gemm: convB not implemented") }
