package gemm

// matrix is a row-major operand as the caller stores it.
type matrix struct {
	data  []float32
	ld    int
	trans bool
}

// problem is one GEMM in the driver's terms: C[m×n] (+)= A·B, epilogue.
type problem struct {
	m, n, k int
	a       matrix
	pa      *packedA // if non-nil, A comes pre-packed (a is unused)
	b       matrix
	cb      *convB   // if non-nil, B is gathered from an image (b is unused)
	pb      *PackedB // if non-nil, B comes pre-packed (b is unused)
	c       []float32
	ldc     int
	accum   bool
	colBias []float32 // n values, or nil
	rowBias []float32 // m values, or nil
	act     Activation
}

// item returns batch item i of p.
func (p problem) item(i int, s Strided) problem {
	p.a.data = p.a.data[i*s.StrideA:]
	p.b.data = p.b.data[i*s.StrideB:]
	p.c = p.c[i*s.StrideC:]
	return p
}

// run computes rows [m0,m1) and columns [n0,n1) of p with ws's buffers: the
// BLIS loop nest jc (NC) / pc (KC, pack B) / ic (MC, pack A) / jr / ir.
func (kn *kernel) run(ws *workspace, p *problem, m0, m1, n0, n1 int) {
	if p.m == 1 && p.cb == nil && p.pa == nil && p.k > 0 {
		switch {
		case p.pb != nil:
			kn.gemvPacked(ws, p, n0, n1)
			return
		case !p.b.trans:
			gemv(p, n0, n1)
			return
		}
	}
	mr, nr := kn.mr, kn.nr
	ncMax := min(kn.nc, roundUp(n1-n0, nr))
	kcMax := max(1, min(kn.kc, p.k))
	if p.pb != nil && p.k > kcMax {
		// Equal K blocks (784 = 4×196, not 3×256+16): a short last block
		// pays the C tile's load and store for little work.
		kcMax = ceilDiv(p.k, ceilDiv(p.k, kcMax))
	}
	mcMax := min(kn.mc, roundUp(m1-m0, mr))
	if p.pb == nil {
		ws.bbuf = grow(ws.bbuf, kcMax*ncMax)
	}
	if p.pa == nil {
		ws.abuf = grow(ws.abuf, kcMax*mcMax)
	}
	if len(ws.tile) < mr*nr {
		ws.tile = alignedFloats(32 * 32)
		ws.biasPad = alignedFloats(64)
	}
	for jc := n0; jc < n1; jc += ncMax {
		nc := min(ncMax, n1-jc)
		for pc := 0; ; pc += kcMax {
			kc := min(kcMax, p.k-pc)
			last := pc+kc >= p.k
			bpanels, bstride := ws.bbuf, kc*nr
			if p.pb != nil {
				bpanels, bstride = p.pb.panels(jc, pc, nr)
			} else {
				p.packB(ws.bbuf, pc, kc, jc, nc, nr)
			}
			flags := 0
			if pc > 0 || p.accum {
				flags |= flagAccum
			}
			if last {
				if p.colBias != nil {
					flags |= flagColBias
				}
				if p.rowBias != nil {
					flags |= flagRowBias
				}
				if p.act == ActReLU {
					flags |= flagReLU
				}
			}
			for ic := m0; ic < m1; ic += mcMax {
				mc := min(mcMax, m1-ic)
				ap, stride := p.packA(ws.abuf, ic, mc, pc, kc, mr)
				for jr := 0; jr < nc; jr += nr {
					bp := bpanels[jr/nr*bstride:]
					for ir := 0; ir < mc; ir += mr {
						kn.tile(ws, p, ap[ir/mr*stride:], bp, ic+ir, jc+jr,
							min(mr, mc-ir), min(nr, nc-jr), kc, flags, last)
					}
				}
			}
			if last {
				break
			}
		}
	}
}

func roundUp(x, m int) int { return (x + m - 1) / m * m }

func ceilDiv(x, m int) int { return (x + m - 1) / m }

// tile runs the micro-kernel for the mm×nn tile of C at (i, j), through the
// scratch tile when it is not full.
func (kn *kernel) tile(ws *workspace, p *problem, ap, bp []float32, i, j, mm, nn, kc, flags int, last bool) {
	mr, nr := kn.mr, kn.nr
	var bias *float32
	switch {
	case flags&flagColBias != 0:
		if nn == nr {
			bias = &p.colBias[j]
		} else {
			pad := ws.biasPad[:nr]
			clear(pad[copy(pad, p.colBias[j:j+nn]):])
			bias = &pad[0]
		}
	case flags&flagRowBias != 0:
		if mm == mr {
			bias = &p.rowBias[i]
		} else {
			pad := ws.biasPad[:mr]
			clear(pad[copy(pad, p.rowBias[i:i+mm]):])
			bias = &pad[0]
		}
	}
	c, ldc := p.c, p.ldc
	if nn == nr {
		// Full width: the row-edge kernels write C directly.
		kn.rows[mm](kc, &ap[0], &bp[0], &c[i*ldc+j], ldc, flags, bias)
	} else {
		t := ws.tile[:mr*nr]
		if flags&flagAccum != 0 {
			for r := 0; r < mm; r++ {
				copy(t[r*nr:r*nr+nn], c[(i+r)*ldc+j:])
			}
		}
		kn.fn(kc, &ap[0], &bp[0], &t[0], nr, flags, bias)
		for r := 0; r < mm; r++ {
			copy(c[(i+r)*ldc+j:(i+r)*ldc+j+nn], t[r*nr:])
		}
	}
	if last && (p.act == ActGELU || p.act == ActGELUTanh) {
		for r := 0; r < mm; r++ {
			applyAct(p.act, c[(i+r)*ldc+j:(i+r)*ldc+j+nn])
		}
	}
}

// packA returns the A panels for rows [ic, ic+mc) and k in [pc, pc+kc), and
// the distance between consecutive mr-row panels.
func (p *problem) packA(buf []float32, ic, mc, pc, kc, mr int) ([]float32, int) {
	if p.pa != nil {
		return p.pa.panels(ic, pc, mr)
	}
	if kc == 0 {
		return buf[:1], 0
	}
	a, lda := p.a.data, p.a.ld
	for ir := 0; ir < mc; ir += mr {
		rows := min(mr, mc-ir)
		dst := buf[ir*kc : ir*kc+mr*kc]
		if p.a.trans {
			// A is stored k×m: each k gives mr contiguous values.
			for k := 0; k < kc; k++ {
				d := dst[k*mr : k*mr+mr]
				clear(d[copy(d[:rows], a[(pc+k)*lda+ic+ir:]):])
			}
			continue
		}
		packRowsA(dst, a[(ic+ir)*lda+pc:], lda, rows, kc, mr)
	}
	return buf, kc * mr
}

// packRowsA writes rows rows of length kc (row r at src[r*lda:]) into the
// interleaved panel dst[k*mr+r], zero-padding rows up to mr. Full 6- and
// 12-row panels go through an assembly transpose where there is one (8 k at
// a time; 512x512 in 45 us where a strided scalar scatter took 180 us, on
// Zen 4), the rest of them through a loop that writes each k's values as
// one run.
func packRowsA(dst, src []float32, lda, rows, kc, mr int) {
	if rows == mr && (mr == 6 || mr == 12) {
		if packAAsm(dst, src, lda, kc, mr) {
			k0 := kc / 8 * 8
			dst, src, kc = dst[k0*mr:], src[k0:], kc-k0
		}
		if mr == 6 {
			packRows6(dst, src, lda, kc)
		} else {
			packRows12(dst, src, lda, kc)
		}
		return
	}
	for r := 0; r < rows; r++ {
		row := src[r*lda : r*lda+kc]
		d := dst[r:]
		for k, v := range row {
			d[k*mr] = v
		}
	}
	for r := rows; r < mr; r++ {
		for k := 0; k < kc; k++ {
			dst[k*mr+r] = 0
		}
	}
}

// packRows6 is packRowsA's Go loop for 6 full rows.
func packRows6(dst, src []float32, lda, kc int) {
	if kc == 0 {
		return
	}
	r0, r1, r2 := src[:kc], src[lda:lda+kc], src[2*lda:2*lda+kc]
	r3, r4, r5 := src[3*lda:3*lda+kc], src[4*lda:4*lda+kc], src[5*lda:5*lda+kc]
	for k := range r0 {
		d := (*[6]float32)(dst[k*6 : k*6+6])
		d[0], d[1], d[2], d[3], d[4], d[5] = r0[k], r1[k], r2[k], r3[k], r4[k], r5[k]
	}
}

// packRows12 is packRowsA's Go loop for 12 full rows.
func packRows12(dst, src []float32, lda, kc int) {
	if kc == 0 {
		return
	}
	r0, r1, r2, r3 := src[:kc], src[lda:lda+kc], src[2*lda:2*lda+kc], src[3*lda:3*lda+kc]
	r4, r5, r6, r7 := src[4*lda:4*lda+kc], src[5*lda:5*lda+kc], src[6*lda:6*lda+kc], src[7*lda:7*lda+kc]
	r8, r9, r10, r11 := src[8*lda:8*lda+kc], src[9*lda:9*lda+kc], src[10*lda:10*lda+kc], src[11*lda:11*lda+kc]
	for k := range r0 {
		d := (*[12]float32)(dst[k*12 : k*12+12])
		d[0], d[1], d[2], d[3] = r0[k], r1[k], r2[k], r3[k]
		d[4], d[5], d[6], d[7] = r4[k], r5[k], r6[k], r7[k]
		d[8], d[9], d[10], d[11] = r8[k], r9[k], r10[k], r11[k]
	}
}

// packB writes the B panels for k in [pc, pc+kc) and columns [jc, jc+nc):
// panel q (columns jc+q*nr...) at buf[q*kc*nr:], element (k, j) at k*nr+j,
// zero-padded to nr columns.
func (p *problem) packB(buf []float32, pc, kc, jc, nc, nr int) {
	if kc == 0 {
		return
	}
	if p.cb != nil {
		p.cb.pack(buf, pc, kc, jc, nc, nr)
		return
	}
	b, ldb := p.b.data, p.b.ld
	for jr := 0; jr < nc; jr += nr {
		cols := min(nr, nc-jr)
		dst := buf[jr*kc : jr*kc+kc*nr]
		if !p.b.trans {
			src := b[pc*ldb+jc+jr:]
			if cols == nr {
				packPanelStrided(dst, src, ldb, kc, nr)
				continue
			}
			for k := 0; k < kc; k++ {
				d := dst[k*nr : k*nr+nr]
				clear(d[copy(d[:cols], src[k*ldb:]):])
			}
			continue
		}
		// B is stored n×k: column j of op(B) is row j of b. Full panels
		// go through an assembly transpose where there is one, 8 k at a
		// time (attention's K^T, 128 keys x 64 per head: 0.63 us against
		// 11-16 us for the scatter below at nr = 16, 1.3 against 7.2 at
		// nr = 32, on Zen 4).
		k0 := 0
		if cols == nr && packTAsm(dst, b[(jc+jr)*ldb+pc:], ldb, kc, nr) {
			k0 = kc / 8 * 8
		}
		for j := 0; j < cols && k0 < kc; j++ {
			row := b[(jc+jr+j)*ldb+pc+k0 : (jc+jr+j)*ldb+pc+kc]
			d := dst[k0*nr+j:]
			for k, v := range row {
				d[k*nr] = v
			}
		}
		for j := cols; j < nr; j++ {
			for k := 0; k < kc; k++ {
				dst[k*nr+j] = 0
			}
		}
	}
}

// copyPanelRow copies nr floats from src to dst; fixed-size array copies
// compile to inline vector moves, much cheaper than memmove calls.
func copyPanelRow(dst, src []float32, nr int) {
	switch nr {
	case 16:
		*(*[16]float32)(dst) = *(*[16]float32)(src)
	case 32:
		*(*[32]float32)(dst) = *(*[32]float32)(src)
	default:
		copy(dst[:nr], src[:nr])
	}
}

// packPanelStrided copies kc rows of nr floats, row k from src[k*ld:], to
// dst[k*nr:].
func packPanelStrided(dst, src []float32, ld, kc, nr int) {
	_, _ = src[(kc-1)*ld+nr-1], dst[kc*nr-1] // bounds for the assembly
	if packStridedAsm(&dst[0], &src[0], ld, kc, nr) {
		return
	}
	for k := 0; k < kc; k++ {
		copyPanelRow(dst[k*nr:], src[k*ld:], nr)
	}
}

// gemvPanelFloats bounds the packed B one gemv kernel call reads (256 KB, a
// few microseconds), so that the Go scheduler is not blocked for long.
const gemvPanelFloats = 1 << 16

// gemvPacked computes columns [n0, n1) (n0 a multiple of nr) of a one-row
// product with a pre-packed B through the GEMV kernel: the output row stays in
// registers over the whole K loop and B streams through once.
func (kn *kernel) gemvPacked(ws *workspace, p *problem, n0, n1 int) {
	nr, k := kn.nr, p.k
	x := p.a.data[:k]
	if p.a.trans && p.a.ld != 1 {
		// A is stored K×1 with a stride: gather it.
		ws.abuf = grow(ws.abuf, k)
		for i := range ws.abuf {
			ws.abuf[i] = p.a.data[i*p.a.ld]
		}
		x = ws.abuf
	}
	flags := 0
	if p.accum {
		flags |= flagAccum
	}
	if p.colBias != nil {
		flags |= flagColBias
	}
	if p.act == ActReLU {
		flags |= flagReLU
	}
	if len(ws.tile) < kn.mr*nr {
		ws.tile = alignedFloats(32 * 32)
		ws.biasPad = alignedFloats(64)
	}
	chunk := max(1, gemvPanelFloats/(k*nr))
	full := (n1 - n0) / nr
	for q := 0; q < full; q += chunk {
		np := min(chunk, full-q)
		j := n0 + q*nr
		bp, _ := p.pb.panels(j, 0, nr)
		bias := &ws.biasPad[0] // unused without flagColBias
		if p.colBias != nil {
			bias = &p.colBias[j]
		}
		_ = p.c[j+np*nr-1] // bounds for the kernel
		kn.gemv(k, &x[0], &bp[0], np, &p.c[j], flags, bias)
	}
	if j := n0 + full*nr; j < n1 {
		// The last, partial panel goes through the scratch tile.
		nn := n1 - j
		t := ws.tile[:nr]
		if p.accum {
			copy(t, p.c[j:n1])
		}
		pad := ws.biasPad[:nr]
		clear(pad[copy(pad, sliceOrNil(p.colBias, j, n1)):])
		bp, _ := p.pb.panels(j, 0, nr)
		kn.gemv(k, &x[0], &bp[0], 1, &t[0], flags, &pad[0])
		copy(p.c[j:j+nn], t)
	}
	if p.act == ActGELU || p.act == ActGELUTanh {
		applyAct(p.act, p.c[n0:n1])
	}
}

// gemv computes columns [n0, n1) of a one-row product, c = a·B (+ c), as a
// sum of scaled rows of B (axpy), in chunks that keep c in L1: B is read
// once and never packed.
func gemv(p *problem, n0, n1 int) {
	const chunk = 2048
	a, lda, b, ldb := p.a.data, p.a.ld, p.b.data, p.b.ld
	c := p.c[:p.n]
	for j0 := n0; j0 < n1; j0 += chunk {
		j1 := min(n1, j0+chunk)
		cj := c[j0:j1]
		if !p.accum {
			clear(cj)
		}
		for k := 0; k < p.k; k++ {
			av := a[k] // A is 1×K: element k at k, or at k*lda when stored K×1
			if p.a.trans {
				av = a[k*lda]
			}
			axpy(av, &b[k*ldb+j0], &cj[0], j1-j0)
		}
		if p.colBias != nil || p.act != ActNone {
			AddBiasAct(cj, sliceOrNil(p.colBias, j0, j1), p.act)
		}
	}
}

func sliceOrNil(s []float32, lo, hi int) []float32 {
	if s == nil {
		return nil
	}
	return s[lo:hi]
}
