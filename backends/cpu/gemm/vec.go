package gemm

// AddBiasAct computes x[i] = act(x[i] + bias[i]) for a row x (bias may be nil;
// it must otherwise be at least as long as x).
func AddBiasAct(x, bias []float32, act Activation) {
	if bias != nil {
		bias = bias[:len(x)]
		for i := range x {
			x[i] += bias[i]
		}
	}
	if act != ActNone {
		applyAct(act, x)
	}
}
