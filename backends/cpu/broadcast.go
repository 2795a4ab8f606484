package cpu

// broadcastStrides returns, for an input of shape in broadcast to out, the element
// stride of each output dimension (0 where the input is broadcast).
func broadcastStrides(in, out []int) []int {
	st := make([]int, len(out))
	off := len(out) - len(in)
	stride := 1
	for i := len(in) - 1; i >= 0; i-- {
		if in[i] != 1 {
			st[off+i] = stride
		}
		stride *= in[i]
	}
	return st
}

// binaryLoop calls fn(outIndex, aIndex, bIndex, count, aStep, bStep) over runs of the
// innermost dimension of out, for inputs of shapes a and b broadcast to out. Runs are
// split across threads by env.
func binaryLoop(env *Env, a, b, out []int, fn func(o, ia, ib, n, sa, sb int)) {
	total := 1
	for _, d := range out {
		total *= d
	}
	if total == 0 {
		return
	}
	if len(out) == 0 {
		fn(0, 0, 0, 1, 0, 0)
		return
	}
	sa, sb := broadcastStrides(a, out), broadcastStrides(b, out)
	inner := out[len(out)-1]
	rows := total / inner
	r := len(out) - 1
	grain := max(1, 16384/inner)
	env.Parallel(rows, grain, func(lo, hi int) {
		idx := make([]int, r)
		// set idx to the multi-index of row lo
		rem := lo
		for d := r - 1; d >= 0; d-- {
			idx[d] = rem % out[d]
			rem /= out[d]
		}
		for row := lo; row < hi; row++ {
			ia, ib := 0, 0
			for d := 0; d < r; d++ {
				ia += idx[d] * sa[d]
				ib += idx[d] * sb[d]
			}
			fn(row*inner, ia, ib, inner, sa[r], sb[r])
			for d := r - 1; d >= 0; d-- {
				idx[d]++
				if idx[d] < out[d] {
					break
				}
				idx[d] = 0
			}
		}
	})
}
