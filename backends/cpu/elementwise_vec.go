package cpu

// reluGo is the reference loop of reluAVX2: z[i] = max(x[i], 0).
func reluGo(z, x []float32) {
	x = x[:len(z)]
	for i, v := range x {
		z[i] = max(v, 0)
	}
}
