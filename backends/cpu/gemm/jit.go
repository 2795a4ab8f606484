package gemm

import "sync/atomic"

// Packing inside the compute shares. A product whose shares all read one
// shared packed operand used to pack it first, all threads together, and
// start computing after a barrier: a thread that came late to the packing
// (asleep, or descheduled on a busy machine) left it all to the others, and
// every thread waited at the barrier for the slowest. Here each block of the
// packed operand has a ready flag; the share that first needs a block packs
// it, and a share that finds it being packed packs a private copy instead of
// waiting (see claim). The threads start in different blocks, so that they
// mostly pack disjoint parts of it.

// Block states of jitState's flags.
const (
	blockEmpty   uint32 = iota // not packed
	blockPacking               // being packed by one share
	blockReady                 // packed
)

// jitState holds the per-block ready flags of the current product's shared
// packed operands: A's row blocks and B's column blocks.
type jitState struct {
	a, b []atomic.Uint32
	// aBlocks: in a column split, A's row blocks (runs of whole mr panels);
	// aPacked counts those packed into the shared buffer.
	aBlocks int
	aPacked atomic.Int32
	// rb, cb: in a block grid, the row blocks (also A's) and column blocks
	// (also B's).
	rb, cb int
	// priv[w]: worker w's private copies of blocks it found being packed.
	priv []jitPriv
	// The share functions, bound to the Context once (a method value made
	// on every call would be an allocation per call).
	columnShare, gridShare func(w, i int)
}

// jitPriv is one worker's private packed blocks.
type jitPriv struct {
	a packedA
	b PackedB
}

// reset sizes the flags for na A blocks and nb B blocks, all empty.
func (s *jitState) reset(na, nb int) {
	if cap(s.a) < na {
		s.a = make([]atomic.Uint32, na)
	}
	if cap(s.b) < nb {
		s.b = make([]atomic.Uint32, nb)
	}
	s.a, s.b = s.a[:na], s.b[:nb]
	for i := range s.a {
		s.a[i].Store(blockEmpty)
	}
	for i := range s.b {
		s.b[i].Store(blockEmpty)
	}
	s.aPacked.Store(0)
}

// claim returns what the share that needs the block of flag f is to do:
// blockReady (use the shared block), blockEmpty (the share has claimed it:
// pack it into the shared buffer, then store blockReady) or blockPacking
// (another share is packing it: pack a private copy rather than wait, for the
// other share's thread may have been descheduled on a busy machine).
func claim(f *atomic.Uint32) uint32 {
	if f.Load() == blockReady {
		return blockReady
	}
	if f.CompareAndSwap(blockEmpty, blockPacking) {
		return blockEmpty
	}
	if f.Load() == blockReady {
		return blockReady
	}
	return blockPacking
}

// dispatchJIT runs prob if it is one of the shapes whose packing is done
// inside the compute shares, and reports whether it did:
//
//   - few rows (at most smallM) against a pre-packed B, split by column
//     panels: A is packed in row blocks as the shares first need them;
//   - many rows with both operands given unpacked (up to about 1024x1024),
//     split in blocks of about mc rows by sharedCols columns: A's row blocks
//     and B's column blocks are packed as the shares first need them.
func (c *Context) dispatchJIT(prob problem, parts int) bool {
	k := c.kern
	if parts <= 1 || prob.cb != nil || prob.pa != nil || prob.a.trans || prob.k == 0 ||
		prob.m*prob.n*prob.k < parallelMin {
		return false
	}
	mt := ceilDiv(prob.m, k.mr)
	nt := ceilDiv(prob.n, k.nr)
	if c.jit.gridShare == nil {
		c.jit.columnShare, c.jit.gridShare = c.jitColumnShare, c.jitGridShare
		c.jit.priv = make([]jitPriv, c.threads)
	}
	switch {
	case prob.pb != nil && prob.m > 1 && prob.m <= smallM:
		c.sharedA.m, c.sharedA.k, c.sharedA.mr = prob.m, prob.k, k.mr
		c.sharedA.data = grow(c.sharedA.data, mt*k.mr*prob.k)
		prob.pa = &c.sharedA
		c.jit.aBlocks = min(mt, 4*parts)
		c.jit.reset(c.jit.aBlocks, 0)
		c.cur = job{prob: prob, threads: parts, parts: nt, fn: c.jit.columnShare}
		c.runJob()
		return true
	case prob.pb == nil && mt >= 4*parts &&
		prob.k*nt*k.nr <= sharedBMax && prob.k*mt*k.mr <= sharedBMax:
		c.sharedA.m, c.sharedA.k, c.sharedA.mr = prob.m, prob.k, k.mr
		c.sharedA.data = grow(c.sharedA.data, mt*k.mr*prob.k)
		c.sharedB.k, c.sharedB.n, c.sharedB.kern = prob.k, prob.n, k
		c.sharedB.data = grow(c.sharedB.data, prob.k*nt*k.nr)
		prob.pa, prob.pb = &c.sharedA, &c.sharedB
		c.jit.rb = ceilDiv(mt*k.mr, k.mc)
		c.jit.cb = ceilDiv(prob.n, max(k.nr, sharedCols))
		c.jit.reset(c.jit.rb, c.jit.cb)
		c.cur = job{prob: prob, threads: parts, parts: c.jit.rb * c.jit.cb, fn: c.jit.gridShare}
		c.runJob()
		return true
	}
	return false
}

// jitPackA packs A's row panels [q0, q1) into c.sharedA.
func (c *Context) jitPackA(p *problem, q0, q1 int) {
	mr, a := c.kern.mr, p.a
	for q := q0; q < q1; q++ {
		packRowsA(c.sharedA.data[q*mr*p.k:], a.data[q*mr*a.ld:], a.ld, min(mr, p.m-q*mr), p.k, mr)
	}
}

// jitColumnShare computes column panel i of c.cur's product (few rows, B
// pre-packed). Once all of A is packed it runs all rows in one call, so that
// each K block of the B panel is read into L1 once for all of them; before
// that it goes over A's row blocks, packing those not yet packed, worker w
// starting at block w·aBlocks/threads so that the threads' first shares pack
// different blocks.
func (c *Context) jitColumnShare(w, i int) {
	p := &c.cur.prob
	kn, s := c.kern, &c.jit
	n0, n1 := i*kn.nr, min(p.n, (i+1)*kn.nr)
	if int(s.aPacked.Load()) == s.aBlocks {
		kn.run(&c.ws[w], p, 0, p.m, n0, n1)
		return
	}
	mt := ceilDiv(p.m, kn.mr)
	threads := min(c.threads, c.cur.threads)
	first := w * s.aBlocks / max(1, threads)
	for t := 0; t < s.aBlocks; t++ {
		blk := (first + t) % s.aBlocks
		q0, q1 := blk*mt/s.aBlocks, (blk+1)*mt/s.aBlocks
		m0, m1 := q0*kn.mr, min(p.m, q1*kn.mr)
		switch claim(&s.a[blk]) {
		case blockEmpty:
			c.jitPackA(p, q0, q1)
			s.a[blk].Store(blockReady)
			s.aPacked.Add(1)
		case blockPacking:
			q := c.privateA(w, p, m0, m1)
			kn.run(&c.ws[w], &q, 0, m1-m0, n0, n1)
			continue
		}
		kn.run(&c.ws[w], p, m0, m1, n0, n1)
	}
}

// privateA packs rows [m0, m1) of p's A into worker w's private buffer and
// returns p re-based to start at row m0 with that A.
func (c *Context) privateA(w int, p *problem, m0, m1 int) problem {
	q := *p
	pa := &c.jit.priv[w].a
	pa.pack(p.a.data[m0*p.a.ld:], p.a.ld, m1-m0, p.k, c.kern.mr)
	q.pa, q.m, q.c = pa, m1-m0, p.c[m0*p.ldc:]
	if q.rowBias != nil {
		q.rowBias = q.rowBias[m0:m1]
	}
	return q
}

// privateB packs columns [n0, n1) of p's B into worker w's private buffer
// and returns p re-based to start at column n0 with that B.
func (c *Context) privateB(w int, p *problem, n0, n1 int) problem {
	q := *p
	nr := c.kern.nr
	pb := &c.jit.priv[w].b
	pb.k, pb.n, pb.kern = p.k, n1-n0, c.kern
	pb.data = grow(pb.data, p.k*roundUp(n1-n0, nr))
	p.packB(pb.data, 0, p.k, n0, n1-n0, nr)
	q.pb, q.n, q.c = pb, n1-n0, p.c[n0:]
	if q.colBias != nil {
		q.colBias = q.colBias[n0:n1]
	}
	return q
}

// jitGridShare computes block i (row block i/cb, column block i%cb) of
// c.cur's product, packing its A row block and B column block first if no
// share has (or a private copy of a block another share is packing).
func (c *Context) jitGridShare(w, i int) {
	p := &c.cur.prob
	kn, s := c.kern, &c.jit
	r, cq := i/s.cb, i%s.cb
	mt, nt := ceilDiv(p.m, kn.mr), ceilDiv(p.n, kn.nr)
	a0, a1 := r*mt/s.rb, (r+1)*mt/s.rb   // row panels
	b0, b1 := cq*nt/s.cb, (cq+1)*nt/s.cb // column panels
	m0, m1 := a0*kn.mr, min(p.m, a1*kn.mr)
	n0, n1 := b0*kn.nr, min(p.n, b1*kn.nr)
	if m0 >= m1 || n0 >= n1 {
		return
	}
	q := *p
	switch claim(&s.a[r]) {
	case blockEmpty:
		c.jitPackA(p, a0, a1)
		s.a[r].Store(blockReady)
	case blockPacking:
		q = c.privateA(w, &q, m0, m1)
		m0, m1 = 0, m1-m0
	}
	switch claim(&s.b[cq]) {
	case blockEmpty:
		nr := kn.nr
		p.packB(c.sharedB.data[b0*p.k*nr:], 0, p.k, n0, n1-n0, nr)
		s.b[cq].Store(blockReady)
	case blockPacking:
		q = c.privateB(w, &q, n0, n1)
		n0, n1 = 0, n1-n0
	}
	kn.run(&c.ws[w], &q, m0, m1, n0, n1)
}
