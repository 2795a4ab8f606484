package gemm

import "fmt"

// packedA is an m×k A operand packed once for a kernel with mr rows: row
// panel ib (rows ib*mr...) at data[ib*k*mr:], element (kk, r) at kk*mr+r,
// rows zero-padded to a multiple of mr.
type packedA struct {
	m, k, mr int
	data     []float32
}

func newPackedA(a []float32, lda, m, k, mr int) *packedA {
	pa := &packedA{}
	pa.pack(a, lda, m, k, mr)
	return pa
}

// pack packs a (m×k, row i at a[i*lda:]) into pa, reusing pa's buffer when it
// is large enough.
func (pa *packedA) pack(a []float32, lda, m, k, mr int) {
	pa.m, pa.k, pa.mr = m, k, mr
	pa.data = grow(pa.data, max(1, roundUp(m, mr)*k))
	for i := 0; i < m; i += mr {
		packRowsA(pa.data[i*k:], a[i*lda:], lda, min(mr, m-i), k, mr)
	}
}

// panels returns the packed rows from ic (a multiple of mr) at k offset pc,
// and the distance between row panels.
func (pa *packedA) panels(ic, pc, mr int) ([]float32, int) {
	if pa.k == 0 {
		return pa.data[:1], 0
	}
	return pa.data[ic/mr*pa.k*mr+pc*mr:], pa.k * mr
}

// PackedB is a K×N right-hand operand (e.g. constant MatMul weights) packed
// once for a Context's micro-kernel: column panel q (columns q*nr...) at
// data[q*k*nr:], element (kk, j) at kk*nr+j, columns zero-padded to a
// multiple of nr. Use it through Params.PackedB.
type PackedB struct {
	k, n int
	kern *kernel
	data []float32
}

// PackB packs op(B) (K×N; stored N×K when transB) with leading dimension ldb
// (0: tight) for products run on ctx (nil: the default kernel).
func PackB(ctx *Context, k, n int, b []float32, ldb int, transB bool) (*PackedB, error) {
	if k < 0 || n < 0 {
		return nil, fmt.Errorf("gemm: PackB: negative size K=%d N=%d: %w", k, n, ErrInvalid)
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	if err := checkMatrix("B", b, br, bc, &ldb); err != nil {
		return nil, err
	}
	kern := kernels[0]
	if ctx != nil {
		kern = ctx.kern
	}
	nr := kern.nr
	pb := &PackedB{k: k, n: n, kern: kern, data: alignedFloats(max(1, roundUp(n, nr)*k))}
	if k > 0 {
		prob := problem{k: k, n: n, b: matrix{data: b, ld: ldb, trans: transB}}
		prob.packB(pb.data, 0, k, 0, n, nr)
	}
	return pb, nil
}

// K returns the packed operand's rows (the product's inner dimension).
func (pb *PackedB) K() int { return pb.k }

// N returns the packed operand's columns.
func (pb *PackedB) N() int { return pb.n }

// panels returns the packed columns from jc (a multiple of nr) at k offset
// pc, and the distance between column panels.
func (pb *PackedB) panels(jc, pc, nr int) ([]float32, int) {
	if pb.k == 0 {
		return pb.data[:1], 0
	}
	return pb.data[jc/nr*pb.k*nr+pc*nr:], pb.k * nr
}
