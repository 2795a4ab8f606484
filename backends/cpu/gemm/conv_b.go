package gemm

// convB is the implicit-im2col B operand of a convolution group: row k
// (input channel c, kernel row ky, column kx) starts at data[rowOff[k]]. With
// colOff nil the columns are contiguous, B[k][j] = data[rowOff[k]+j];
// otherwise they are gathered, B[k][j] = data[rowOff[k]+colOff[j]].
type convB struct {
	data   []float32
	rowOff []int
	colOff []int
}

func (cb *convB) pack(buf []float32, pc, kc, jc, nc, nr int) {
	data, rowOff := cb.data, cb.rowOff[pc:pc+kc]
	for jr := 0; jr < nc; jr += nr {
		cols := min(nr, nc-jr)
		dst := buf[jr*kc : jr*kc+kc*nr]
		j0 := jc + jr
		switch {
		case cb.colOff != nil:
			co := cb.colOff[j0 : j0+cols]
			for k, ro := range rowOff {
				d := dst[k*nr : k*nr+nr]
				src := data[ro:]
				for j, o := range co {
					d[j] = src[o]
				}
				clear(d[cols:])
			}
		case cols == nr:
			for k, ro := range rowOff {
				copyPanelRow(dst[k*nr:], data[ro+j0:], nr)
			}
		default:
			for k, ro := range rowOff {
				d := dst[k*nr : k*nr+nr]
				clear(d[copy(d[:cols], data[ro+j0:]):])
			}
		}
	}
}
