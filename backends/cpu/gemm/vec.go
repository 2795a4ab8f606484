package gemm

// AddBiasAct computes x[i] = act(x[i] + bias[i]) for a row x (bias may be nil;
// it must otherwise be at least as long as x). ReLU and the bias add are
// vectorized where the CPU allows.
func AddBiasAct(x, bias []float32, act Activation) {
	if len(x) == 0 {
		return
	}
	flags := 0
	var bp *float32
	if bias != nil {
		bias = bias[:len(x)]
		flags |= flagColBias
		bp = &bias[0]
	}
	if act == ActReLU {
		flags |= flagReLU
	}
	if flags != 0 {
		biasAct(&x[0], bp, 0, len(x), flags)
	}
	if act != ActNone && act != ActReLU {
		applyAct(act, x)
	}
}

// AddScalarAct computes x[i] = act(x[i] + s), e.g. a per-channel bias over
// one NCHW plane.
func AddScalarAct(x []float32, s float32, act Activation) {
	if len(x) == 0 {
		return
	}
	flags := flagRowBias
	if act == ActReLU {
		flags |= flagReLU
	}
	biasAct(&x[0], nil, s, len(x), flags)
	if act != ActNone && act != ActReLU {
		applyAct(act, x)
	}
}

// Axpy computes y[i] += alpha*x[i] for i < len(y); x must be at least as long.
func Axpy(alpha float32, x, y []float32) {
	if len(y) == 0 {
		return
	}
	x = x[:len(y)]
	axpy(alpha, &x[0], &y[0], len(y))
}

// AddAct sets dst[i] = act(a[i] + b[i]) (for example a residual Add followed
// by ReLU). a and b must be at least as long as dst; dst may be a.
func AddAct(dst, a, b []float32, act Activation) {
	n := len(dst)
	a, b = a[:n], b[:n]
	if n > 0 && &dst[0] != &a[0] {
		copy(dst, a)
	}
	AddBiasAct(dst, b, act)
}
