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

// bcast is a NumPy broadcast of several inputs to an output shape, with adjacent
// dimensions merged wherever every input walks them contiguously (so that
// [N,C,H,W]+[1,C,1,1] becomes [N,C,H·W] with the bias constant along the last axis).
type bcast struct {
	shape   []int   // merged output dimensions (at least one)
	strides [][]int // per input, its stride along each merged dimension
	steps   []int   // per input, its stride along the innermost dimension
	total   int
}

func newBcast(out []int, ins ...[]int) *bcast {
	b := &bcast{total: 1}
	for _, d := range out {
		b.total *= d
	}
	full := make([][]int, len(ins))
	for k, in := range ins {
		full[k] = broadcastStrides(in, out)
	}
	// Walk from the innermost dimension outwards, merging where possible.
	var shape []int
	strides := make([][]int, len(ins))
	for d := len(out) - 1; d >= 0; d-- {
		if out[d] == 1 {
			continue
		}
		if len(shape) > 0 {
			last := len(shape) - 1
			merge := true
			for k := range ins {
				if full[k][d] != strides[k][last]*shape[last] {
					merge = false
					break
				}
			}
			if merge {
				shape[last] *= out[d]
				continue
			}
		}
		shape = append(shape, out[d])
		for k := range ins {
			strides[k] = append(strides[k], full[k][d])
		}
	}
	if len(shape) == 0 {
		shape = []int{1}
		for k := range ins {
			strides[k] = []int{0}
		}
	}
	// Reverse into outer-to-inner order.
	for i, j := 0, len(shape)-1; i < j; i, j = i+1, j-1 {
		shape[i], shape[j] = shape[j], shape[i]
		for k := range ins {
			strides[k][i], strides[k][j] = strides[k][j], strides[k][i]
		}
	}
	b.shape, b.strides = shape, strides
	b.steps = make([]int, len(ins))
	for k := range ins {
		b.steps[k] = strides[k][len(shape)-1]
	}
	return b
}

// run calls fn(o, offs, n) for runs of n consecutive output elements starting at o,
// where input k starts at offs[k] and advances by b.steps[k] per element. Runs are
// split across env's threads; long innermost dimensions are cut into pieces.
func (b *bcast) run(env *Env, fn func(o int, offs []int, n int)) {
	if b.total == 0 {
		return
	}
	r := len(b.shape) - 1
	inner := b.shape[r]
	rows := b.total / inner
	const piece = 16384
	pieces := (inner + piece - 1) / piece
	chunk := (inner + pieces - 1) / pieces
	items := rows * pieces
	grain := max(1, 32768/chunk)
	env.Parallel(items, grain, func(lo, hi int) {
		idx := make([]int, r)
		offs := make([]int, len(b.strides))
		for it := lo; it < hi; it++ {
			row, p := it/pieces, it%pieces
			rem := row
			for d := r - 1; d >= 0; d-- {
				idx[d] = rem % b.shape[d]
				rem /= b.shape[d]
			}
			start := p * chunk
			n := min(chunk, inner-start)
			for k, st := range b.strides {
				o := start * st[r]
				for d := 0; d < r; d++ {
					o += idx[d] * st[d]
				}
				offs[k] = o
			}
			fn(row*inner+start, offs, n)
		}
	})
}
