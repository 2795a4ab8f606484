package gemm

// convB is the implicit-im2col B operand of a convolution group: row k
// (input channel c, kernel row ky, column kx) is the contiguous run
// B[k][j] = data[rowOff[k]+j] (see convGemm for the layout that makes it so).
type convB struct {
	data   []float32
	rowOff []int
}

func (cb *convB) pack(buf []float32, pc, kc, jc, nc, nr int) {
	data, rowOff := cb.data, cb.rowOff[pc:pc+kc]
	for jr := 0; jr < nc; jr += nr {
		cols := min(nr, nc-jr)
		dst := buf[jr*kc : jr*kc+kc*nr]
		j0 := jc + jr
		switch {
		case cols == nr:
			if !cb.packedOffsets(dst, j0, rowOff, nr) {
				for k, ro := range rowOff {
					copyPanelRow(dst[k*nr:], data[ro+j0:], nr)
				}
			}
		default:
			for k, ro := range rowOff {
				d := dst[k*nr : k*nr+nr]
				clear(d[copy(d[:cols], data[ro+j0:]):])
			}
		}
	}
}

// packedOffsets copies the full panel at column j0 with the assembly helper,
// after checking every row's bounds; false if there is no helper.
func (cb *convB) packedOffsets(dst []float32, j0 int, rowOff []int, nr int) bool {
	if len(rowOff) == 0 {
		return true
	}
	_ = dst[len(rowOff)*nr-1]
	src := cb.data[j0:]
	for _, ro := range rowOff {
		if ro < 0 || ro+nr > len(src) {
			panic("gemm: convB row offset out of range") // unreachable: offsets come from a validated shape
		}
	}
	return packOffsetsAsm(&dst[0], &src[0], &rowOff[0], len(rowOff), nr)
}
