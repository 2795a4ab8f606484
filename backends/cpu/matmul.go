package cpu

import (
	"context"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

func init() {
	register("", "MatMul", newMatMul)
}

// newMatMul is a straightforward batched matmul; the gemm package replaces its inner
// loops for float32.
func newMatMul(n *graph.Node, env *Env) (backends.Kernel, error) {
	if dt := n.Inputs[0].DType; dt != tensor.Float32 && dt != tensor.Float64 {
		return nil, unsupported(n, "dtype %v", dt)
	}
	return backends.KernelFunc(func(_ context.Context, in, out []*tensor.Tensor) error {
		a, b, c := in[0], in[1], out[0]
		as, bs := a.Shape(), b.Shape()
		if len(as) == 1 {
			as = []int{1, as[0]}
		}
		if len(bs) == 1 {
			bs = []int{bs[0], 1}
		}
		m, k, nn := as[len(as)-2], as[len(as)-1], bs[len(bs)-1]
		batchOut := c.Len() / max(1, m*nn)
		ab, bb := as[:len(as)-2], bs[:len(bs)-2]
		outBatch := make([]int, 0)
		if len(ab) > len(bb) {
			outBatch = append(outBatch, ab...)
		} else {
			outBatch = append(outBatch, bb...)
		}
		// batch broadcasting through strides over the batch dims
		bshape, _ := broadcastBatch(ab, bb)
		sa, sb := broadcastStrides(ab, bshape), broadcastStrides(bb, bshape)
		idx := make([]int, len(bshape))
		for bi := 0; bi < batchOut; bi++ {
			oa, ob := 0, 0
			for d := range idx {
				oa += idx[d] * sa[d]
				ob += idx[d] * sb[d]
			}
			matmulOne(env, a, b, c, oa*m*k, ob*k*nn, bi*m*nn, m, k, nn)
			for d := len(idx) - 1; d >= 0; d-- {
				idx[d]++
				if idx[d] < bshape[d] {
					break
				}
				idx[d] = 0
			}
		}
		return nil
	}), nil
}

func broadcastBatch(a, b []int) ([]int, error) {
	r := max(len(a), len(b))
	out := make([]int, r)
	for i := range out {
		da, db := 1, 1
		if j := i - (r - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (r - len(b)); j >= 0 {
			db = b[j]
		}
		out[i] = max(da, db)
	}
	return out, nil
}

func matmulOne(env *Env, a, b, c *tensor.Tensor, offA, offB, offC, m, k, n int) {
	switch a.DType() {
	case tensor.Float32:
		matmulT(env, a.Float32s()[offA:], b.Float32s()[offB:], c.Float32s()[offC:], m, k, n)
	case tensor.Float64:
		matmulT(env, a.Float64s()[offA:], b.Float64s()[offB:], c.Float64s()[offC:], m, k, n)
	}
}

func matmulT[T float32 | float64](env *Env, a, b, c []T, m, k, n int) {
	env.Parallel(m, max(1, 4096/max(1, n*k)), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := c[i*n : i*n+n]
			for j := range row {
				row[j] = 0
			}
			for p := 0; p < k; p++ {
				av := a[i*k+p]
				br := b[p*n : p*n+n]
				for j := range row {
					row[j] += av * br[j]
				}
			}
		}
	})
}
