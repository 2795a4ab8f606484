package cpu

import (
	"context"
	"fmt"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/cpu/gemm"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

func init() {
	register("", "Gemm", viaFloat32(newGemm))
}

// gemmOp is a prepared Gemm node: Y = alpha·op(A)·op(B) + beta·C.
type gemmOp struct {
	name           string
	transA, transB bool
	alpha, beta    float64
	packed         *gemm.PackedB // constant float32 B, packed once
}

// newGemm prepares a Gemm kernel. For float32 the common Linear-layer form (alpha =
// beta = 1, C a row of N biases) runs as one gemm call with the bias in its epilogue;
// a full C is copied into Y and accumulated into; other alphas and betas scale in one
// pass after the product.
func newGemm(n *graph.Node, env *Env) (backends.Kernel, error) {
	g := &gemmOp{
		name:   n.Name,
		transA: n.Attrs.GetInt("transA", 0) != 0,
		transB: n.Attrs.GetInt("transB", 0) != 0,
		alpha:  float64(n.Attrs.GetFloat("alpha", 1)),
		beta:   float64(n.Attrs.GetFloat("beta", 1)),
	}
	var run func(in []*tensor.Tensor, y *tensor.Tensor, m, k, nn int) error
	switch dt := n.Inputs[0].DType; dt {
	case tensor.Float32:
		if b := n.Inputs[1].Const; b != nil && b.Rank() == 2 {
			k, nn := b.Shape()[0], b.Shape()[1]
			if g.transB {
				k, nn = nn, k
			}
			pb, err := gemm.PackB(env.GEMM(), k, nn, b.Float32s(), 0, g.transB)
			if err != nil {
				return nil, fmt.Errorf("cpu: node %q (Gemm): packing B: %w", n.Name, err)
			}
			g.packed = pb
		}
		run = func(in []*tensor.Tensor, y *tensor.Tensor, m, k, nn int) error { return g.runF32(env, in, y, m, k, nn) }
	case tensor.Float64:
		run = gemmOpGeneric(env, g, (*tensor.Tensor).Float64s)
	case tensor.Int32:
		run = gemmOpGeneric(env, g, (*tensor.Tensor).Int32s)
	case tensor.Int64:
		run = gemmOpGeneric(env, g, (*tensor.Tensor).Int64s)
	case tensor.Uint32:
		run = gemmOpGeneric(env, g, (*tensor.Tensor).Uint32s)
	case tensor.Uint64:
		run = gemmOpGeneric(env, g, (*tensor.Tensor).Uint64s)
	default:
		return nil, unsupported(n, "dtype %v", dt)
	}
	attrs := n.Attrs
	return backends.KernelFunc(func(_ context.Context, in, out []*tensor.Tensor) error {
		m, k, nn, err := ops.GemmDims(attrs, in[0].Shape(), in[1].Shape())
		if err != nil {
			return fmt.Errorf("cpu: node %q (Gemm): %w", g.name, err)
		}
		if len(in) > 2 && in[2] != nil {
			if _, err := broadcastTo(in[2].Shape(), []int{m, nn}); err != nil {
				return fmt.Errorf("cpu: node %q (Gemm): C: %w", g.name, err)
			}
		}
		if out[0].Len() != m*nn {
			return fmt.Errorf("cpu: node %q (Gemm): output %v, expected [%d %d]", g.name, out[0], m, nn)
		}
		return run(in, out[0], m, k, nn)
	}), nil
}

// broadcastTo returns the element strides of shape s broadcast unidirectionally to
// target, or an error when it does not broadcast.
func broadcastTo(s, target []int) ([]int, error) {
	if len(s) > len(target) {
		return nil, fmt.Errorf("shape %v does not broadcast to %v", s, target)
	}
	off := len(target) - len(s)
	for i, d := range s {
		if d != 1 && d != target[off+i] {
			return nil, fmt.Errorf("shape %v does not broadcast to %v", s, target)
		}
	}
	return broadcastStrides(s, target), nil
}

// fillBroadcast writes scale·src, broadcast from shape s to the matrix y (m×n).
func fillBroadcast[T gemmNum](y, src []T, s []int, m, n int, scale T) {
	st, _ := broadcastTo(s, []int{m, n})
	for i := 0; i < m; i++ {
		row := y[i*n : i*n+n]
		base := i * st[0]
		for j := range row {
			row[j] = scale * src[base+j*st[1]]
		}
	}
}

func (g *gemmOp) runF32(env *Env, in []*tensor.Tensor, yt *tensor.Tensor, m, k, n int) error {
	a, b, y := in[0].Float32s(), in[1].Float32s(), yt.Float32s()
	if m == 0 || n == 0 {
		return nil
	}
	p := gemm.Params{TransA: g.transA, TransB: g.transB, M: m, N: n, K: k, A: a, B: b, C: y}
	var c *tensor.Tensor
	if len(in) > 2 && in[2] != nil && g.beta != 0 {
		c = in[2]
	}
	if k == 0 {
		clear(y)
		p.K, p.A, p.B = 1, make([]float32, m), make([]float32, n) // a zero product
	} else if g.packed != nil && g.packed.K() == k && g.packed.N() == n {
		p.B, p.PackedB = nil, g.packed
	}
	switch {
	case c == nil && g.alpha == 1:
		return sgemm(env, p)
	case c != nil && g.alpha == 1 && g.beta == 1 && c.Len() == n && (c.Rank() == 1 || c.Shape()[0] == 1):
		p.Bias = c.Float32s()
		return sgemm(env, p)
	case c != nil && g.alpha == 1:
		fillBroadcast(y, c.Float32s(), c.Shape(), m, n, float32(g.beta))
		p.Beta = 1
		return sgemm(env, p)
	}
	if err := sgemm(env, p); err != nil {
		return err
	}
	alpha, beta := float32(g.alpha), float32(g.beta)
	var st []int
	var cv []float32
	if c != nil {
		st, _ = broadcastTo(c.Shape(), []int{m, n})
		cv = c.Float32s()
	}
	env.Parallel(m, max(1, 16384/n), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := y[i*n : i*n+n]
			if c == nil {
				for j := range row {
					row[j] *= alpha
				}
				continue
			}
			for j := range row {
				row[j] = alpha*row[j] + beta*cv[i*st[0]+j*st[1]]
			}
		}
	})
	return nil
}

func gemmOpGeneric[T gemmNum](env *Env, g *gemmOp, view func(*tensor.Tensor) []T) func(in []*tensor.Tensor, y *tensor.Tensor, m, k, n int) error {
	return func(in []*tensor.Tensor, yt *tensor.Tensor, m, k, n int) error {
		a, b, y := view(in[0]), view(in[1]), view(yt)
		lda, ldb := k, n
		if g.transA {
			lda = m
		}
		if g.transB {
			ldb = k
		}
		accum := false
		if len(in) > 2 && in[2] != nil && g.beta != 0 {
			fillBroadcast(y, view(in[2]), in[2].Shape(), m, n, T(g.beta))
			accum = true
		}
		if g.alpha == 1 {
			gemmGeneric(env, g.transA, g.transB, m, n, k, a, lda, b, ldb, y, n, accum)
			return nil
		}
		tmp := make([]T, m*n)
		gemmGeneric(env, g.transA, g.transB, m, n, k, a, lda, b, ldb, tmp, n, false)
		alpha := T(g.alpha)
		for i, v := range tmp {
			if accum {
				y[i] += alpha * v
			} else {
				y[i] = alpha * v
			}
		}
		return nil
	}
}
