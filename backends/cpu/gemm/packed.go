package gemm

// packedA is an m×k A operand packed once for a kernel with mr rows: row
// panel ib (rows ib*mr...) at data[ib*k*mr:], element (kk, r) at kk*mr+r,
// rows zero-padded to a multiple of mr.
type packedA struct {
	m, k, mr int
	data     []float32
}

func newPackedA(a []float32, lda, m, k, mr int) *packedA {
	pa := &packedA{m: m, k: k, mr: mr, data: alignedFloats(max(1, roundUp(m, mr)*k))}
	for i := 0; i < m; i += mr {
		packRowsA(pa.data[i*k:], a[i*lda:], lda, min(mr, m-i), k, mr)
	}
	return pa
}

// panels returns the packed rows from ic (a multiple of mr) at k offset pc,
// and the distance between row panels.
func (pa *packedA) panels(ic, pc, mr int) ([]float32, int) {
	if pa.k == 0 {
		return pa.data[:1], 0
	}
	return pa.data[ic/mr*pa.k*mr+pc*mr:], pa.k * mr
}
