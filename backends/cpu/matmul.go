package cpu

import (
	"context"
	"fmt"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/cpu/gemm"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

func init() {
	register("", "MatMul", viaFloat32(newMatMul))
}

// gemmNum are the element types of the generic (non-float32) matrix products.
type gemmNum interface {
	~float32 | ~float64 | ~int32 | ~int64 | ~uint32 | ~uint64
}

// gemmGeneric computes C[m×n] = op(A)·op(B), plus the old C when accum, for row-major
// operands with leading dimensions (A is m×k, or k×m when transA; B is k×n, or n×k
// when transB). It is the simple path for float64 and the integer types (float32 goes
// through package gemm): rows of C are split across env's threads; the inner loops
// are axpy (B not transposed) or dot products (B transposed) over contiguous rows.
func gemmGeneric[T gemmNum](env *Env, transA, transB bool, m, n, k int, a []T, lda int, b []T, ldb int, c []T, ldc int, accum bool) {
	if m == 0 || n == 0 {
		return
	}
	env.Parallel(m, max(1, 16384/max(1, n*k)), func(lo, hi int) {
		var arow []T
		if transA {
			arow = make([]T, k)
		}
		for i := lo; i < hi; i++ {
			row := c[i*ldc : i*ldc+n]
			if !accum {
				clear(row)
			}
			ar := arow
			if transA {
				for p := range ar {
					ar[p] = a[p*lda+i]
				}
			} else {
				ar = a[i*lda : i*lda+k]
			}
			if transB {
				for j := range row {
					br := b[j*ldb : j*ldb+k]
					var s T
					for p, av := range ar {
						s += av * br[p]
					}
					row[j] += s
				}
				continue
			}
			for p, av := range ar {
				if av == 0 {
					continue
				}
				br := b[p*ldb : p*ldb+n]
				for j := range row {
					row[j] += av * br[j]
				}
			}
		}
	})
}

// sgemm runs a float32 product through package gemm on env's worker pool.
func sgemm(env *Env, p gemm.Params) error { return gemm.Sgemm(env.GEMM(), p) }

// matmulDims describes a NumPy matmul of concrete shapes: m, k, n, the broadcast
// batch shape and each operand's batch strides (in matrices; 0 where broadcast).
type matmulDims struct {
	m, k, n        int
	batch          []int
	strideA, strdB []int
	batchA, batchB int // number of matrices stored in A and B
}

func matmulShapes(as, bs []int) (matmulDims, error) {
	var d matmulDims
	if len(as) == 0 || len(bs) == 0 {
		return d, fmt.Errorf("matmul of a scalar (shapes %v and %v)", as, bs)
	}
	if len(as) == 1 {
		as = []int{1, as[0]}
	}
	if len(bs) == 1 {
		bs = []int{bs[0], 1}
	}
	d.m, d.k, d.n = as[len(as)-2], as[len(as)-1], bs[len(bs)-1]
	if bs[len(bs)-2] != d.k {
		return d, fmt.Errorf("inner dimensions differ: %v and %v", as, bs)
	}
	ab, bb := as[:len(as)-2], bs[:len(bs)-2]
	r := max(len(ab), len(bb))
	d.batch = make([]int, r)
	for i := range d.batch {
		da, db := 1, 1
		if j := i - (r - len(ab)); j >= 0 {
			da = ab[j]
		}
		if j := i - (r - len(bb)); j >= 0 {
			db = bb[j]
		}
		if da != db && da != 1 && db != 1 {
			return d, fmt.Errorf("batch dimensions of %v and %v do not broadcast", as, bs)
		}
		d.batch[i] = max(da, db)
	}
	d.strideA, d.strdB = broadcastStrides(ab, d.batch), broadcastStrides(bb, d.batch)
	d.batchA, d.batchB = tensor.NumElements(ab), tensor.NumElements(bb)
	return d, nil
}

// matmulCore is a prepared MatMul: NumPy matmul semantics, with a constant 2-D
// float32 right operand packed once for the GEMM micro-kernel. Fused kernels
// (FusedMatMul) build one with prepareMatMul and call run with a bias and activation,
// which the float32 GEMM applies in its epilogue.
type matmulCore struct {
	name   string
	dtype  tensor.DType
	packed *gemm.PackedB // constant float32 B of rank 2, or nil
	run    func(a, b, c *tensor.Tensor, d matmulDims, bias *tensor.Tensor, act gemm.Activation) error
}

// prepareMatMul checks n's dtypes (inputs 0 and 1 are A and B) and packs a constant
// float32 matrix B.
func prepareMatMul(n *graph.Node, env *Env) (*matmulCore, error) {
	dt := n.Inputs[0].DType
	if n.Inputs[1].DType != dt {
		return nil, fmt.Errorf("cpu: node %q (%s): inputs are %v and %v; they must match", n.Name, n.Op, dt, n.Inputs[1].DType)
	}
	mc := &matmulCore{name: n.Name, dtype: dt}
	switch dt {
	case tensor.Float32:
		if b := n.Inputs[1].Const; b != nil && b.Rank() == 2 {
			pb, err := gemm.PackB(env.GEMM(), b.Shape()[0], b.Shape()[1], b.Float32s(), 0, false)
			if err != nil {
				return nil, fmt.Errorf("cpu: node %q (%s): packing B: %w", n.Name, n.Op, err)
			}
			mc.packed = pb
		}
		mc.run = func(a, b, c *tensor.Tensor, d matmulDims, bias *tensor.Tensor, act gemm.Activation) error {
			return matmulF32(env, a.Float32s(), b.Float32s(), c.Float32s(), d, mc.packed, tensorF32(bias), act)
		}
	case tensor.Float64:
		mc.run = matmulGenericRun(env, (*tensor.Tensor).Float64s)
	case tensor.Int32:
		mc.run = matmulGenericRun(env, (*tensor.Tensor).Int32s)
	case tensor.Int64:
		mc.run = matmulGenericRun(env, (*tensor.Tensor).Int64s)
	case tensor.Uint32:
		mc.run = matmulGenericRun(env, (*tensor.Tensor).Uint32s)
	case tensor.Uint64:
		mc.run = matmulGenericRun(env, (*tensor.Tensor).Uint64s)
	default:
		return nil, unsupported(n, "dtype %v", dt)
	}
	return mc, nil
}

// Run computes c = act(a·b + bias) (bias: one value per output column, or nil; act is
// applied only to floating-point outputs).
func (mc *matmulCore) Run(a, b, c *tensor.Tensor, bias *tensor.Tensor, act gemm.Activation) error {
	d, err := matmulShapes(a.Shape(), b.Shape())
	if err != nil {
		return fmt.Errorf("cpu: node %q: %w", mc.name, err)
	}
	if want := tensor.NumElements(d.batch) * d.m * d.n; c.Len() != want {
		return fmt.Errorf("cpu: node %q: output %v, expected %d elements", mc.name, c, want)
	}
	if bias != nil && (bias.Len() != d.n || bias.DType() != mc.dtype) {
		return fmt.Errorf("cpu: node %q: bias %v, expected %v[%d]", mc.name, bias, mc.dtype, d.n)
	}
	return mc.run(a, b, c, d, bias, act)
}

// newMatMul is the batched, broadcasting matmul. float32 runs on package gemm: a
// batch against one shared matrix becomes a single tall product (with B packed once
// when constant), equal batches one strided batch call; other broadcasts loop over
// the output matrices.
func newMatMul(n *graph.Node, env *Env) (backends.Kernel, error) {
	mc, err := prepareMatMul(n, env)
	if err != nil {
		return nil, err
	}
	return backends.KernelFunc(func(_ context.Context, in, out []*tensor.Tensor) error {
		return mc.Run(in[0], in[1], out[0], nil, gemm.ActNone)
	}), nil
}

// forBatch calls fn(item, offset in A, offset in B) for every output matrix.
func (d *matmulDims) forBatch(fn func(i, oa, ob int)) {
	total := tensor.NumElements(d.batch)
	idx := make([]int, len(d.batch))
	for bi := 0; bi < total; bi++ {
		oa, ob := 0, 0
		for j := range idx {
			oa += idx[j] * d.strideA[j]
			ob += idx[j] * d.strdB[j]
		}
		fn(bi, oa*d.m*d.k, ob*d.k*d.n)
		for j := len(idx) - 1; j >= 0; j-- {
			idx[j]++
			if idx[j] < d.batch[j] {
				break
			}
			idx[j] = 0
		}
	}
}

func matmulF32(env *Env, a, b, c []float32, d matmulDims, pb *gemm.PackedB, bias []float32, act gemm.Activation) error {
	m, k, n := d.m, d.k, d.n
	total := tensor.NumElements(d.batch)
	if total == 0 || m == 0 || n == 0 {
		return nil
	}
	if k == 0 {
		clear(c)
		rows := len(c) / n
		for i := 0; i < rows; i++ {
			gemm.AddBiasAct(c[i*n:(i+1)*n], bias, act)
		}
		return nil
	}
	p := gemm.Params{M: m, N: n, K: k, A: a, B: b, C: c, Bias: bias, Act: act}
	switch {
	case d.batchB == 1 && d.batchA == total:
		// One matrix B for every item of A: a single (total·m)×k product.
		p.M = total * m
		if pb != nil && pb.K() == k && pb.N() == n {
			p.B, p.PackedB = nil, pb
		}
		// Few rows run on every thread too (gemm keeps products under
		// its parallelMin on one): on an idle 2-core Xeon the batch-1 MLP
		// 784-512-512-10 takes 17-18 us on two threads against 73-78 us on
		// one, because each core then streams only its half of the weights,
		// which stays in its own L2.
		return sgemm(env, p)
	case d.batchA == total && d.batchB == total:
		return gemm.SgemmStrided(env.GEMM(), p, gemm.Strided{Batch: total, StrideA: m * k, StrideB: k * n, StrideC: m * n})
	}
	var err error
	d.forBatch(func(i, oa, ob int) {
		if err == nil {
			q := p
			q.A, q.B, q.C = a[oa:], b[ob:], c[i*m*n:]
			err = sgemm(env, q)
		}
	})
	return err
}

func matmulGenericRun[T gemmNum](env *Env, view func(*tensor.Tensor) []T) func(a, b, c *tensor.Tensor, d matmulDims, bias *tensor.Tensor, act gemm.Activation) error {
	return func(at, bt, ct *tensor.Tensor, d matmulDims, biasT *tensor.Tensor, act gemm.Activation) error {
		a, b, c := view(at), view(bt), view(ct)
		m, k, n := d.m, d.k, d.n
		d.forBatch(func(i, oa, ob int) {
			gemmGeneric(env, false, false, m, n, k, a[oa:], k, b[ob:], n, c[i*m*n:], n, false)
		})
		if biasT != nil {
			bias := view(biasT)
			for i := range c {
				c[i] += bias[i%n]
			}
		}
		if act != gemm.ActNone {
			switch cv := any(c).(type) {
			case []float64:
				applyActivation(cv, act)
			case []float32:
				applyActivation(cv, act)
			}
		}
		return nil
	}
}
