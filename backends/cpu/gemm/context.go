package gemm

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// ErrClosed is returned by calls on a closed Context.
var ErrClosed = errors.New("gemm: context closed")

// Context holds a persistent pool of worker goroutines and their packing
// buffers. Create one with NewContext and Close it when done. Calls on one
// Context are serialized; a Context must not be used from inside its own
// workers.
type Context struct {
	kern    *kernel
	threads int

	mu     sync.Mutex // guards everything below and serializes calls
	closed bool
	ws     []workspace
	wake   []chan struct{} // buffered: a token wakes a sleeping worker
	// state[w-1] is worker w's hand-off state (workerSleeping, ...): a worker
	// that finished a job spins for a while before it blocks on its wake
	// channel, and a job published while it spins needs no wake-up.
	state     []atomic.Int32
	queue     atomic.Uint64 // the shares of the current job not yet taken (queueWord)
	remaining atomic.Int32  // shares of the current job not yet finished
	done      chan struct{} // a worker finishing a job's last share sends once
	cur       job
	conv      convScratch
	nhwc      nhwcScratch // ConvNHWC's scratch and current call (conv_nhwc.go)
	sharedA   packedA     // A packed once for a column split (see dispatch)
	sharedB   PackedB     // B packed once, by all threads, for a row split
	jit       jitState    // ready flags of packing done inside compute shares (driver.go)
}

// job is the call being run, read by the workers between wake and Done.
type job struct {
	prob problem
	// parts is the number of shares; threads (0: min(parts, Context threads))
	// how many threads may take them.
	parts   int
	threads int
	splitM  bool
	packB   bool // the shares pack B's column panels into c.sharedB
	// packAFrom: with packB, shares from packAFrom on pack A's row panels
	// into c.sharedA instead.
	packAFrom int
	packA     bool // the shares pack A's row panels into c.sharedA
	// grid > 0: share i is block (i/grid, i%grid) of C, in blocks of the
	// rows (split in equal runs of mr) and grid column blocks (of nr).
	grid  int
	batch Strided // Batch > 0: split the batch items across the parts
	// forKind, if not forNone, is a parallel loop: part w runs c.forRange
	// over its share of [0, forN).
	forKind forKind
	forN    int
	// fn, if non-nil, runs share i on worker w (driver.go's jobs).
	fn func(w, i int)
}

// workspace is one worker's packing buffers, 64-byte aligned and reused.
type workspace struct {
	abuf, bbuf []float32
	tile       []float32 // mr*nr scratch for edge tiles
	biasPad    []float32 // max(mr, nr) scratch for edge biases
}

// NewContext starts a Context with the given number of threads (the caller's
// goroutine counts as one). threads <= 0 means runtime.GOMAXPROCS(0).
func NewContext(threads int) *Context {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	c, _ := NewContextKernel(threads, "")
	return c
}

// Kernels returns the names of the micro-kernels this CPU and build can run,
// the default (fastest) first.
func Kernels() []string {
	names := make([]string, len(kernels))
	for i, k := range kernels {
		names[i] = k.name
	}
	return names
}

// NewContextKernel is NewContext with a chosen micro-kernel (one of Kernels();
// "" means the default). It is meant for tests and benchmarks.
func NewContextKernel(threads int, name string) (*Context, error) {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	kern := kernels[0]
	if name != "" {
		kern = nil
		for _, k := range kernels {
			if k.name == name {
				kern = k
			}
		}
		if kern == nil {
			return nil, fmt.Errorf("gemm: kernel %q is not available here (have %v): %w", name, Kernels(), ErrInvalid)
		}
	}
	c := &Context{kern: kern, threads: threads}
	c.ws = make([]workspace, threads)
	c.wake = make([]chan struct{}, threads-1)
	c.state = make([]atomic.Int32, threads-1)
	c.done = make(chan struct{}, 1)
	for w := 1; w < threads; w++ {
		ch := make(chan struct{}, 1)
		c.wake[w-1] = ch
		go c.worker(w, ch)
	}
	return c, nil
}

// Threads returns the number of threads c runs calls on.
func (c *Context) Threads() int {
	if c == nil {
		return 1
	}
	return c.threads
}

// Close stops the workers. Later calls return ErrClosed. Close is idempotent.
func (c *Context) Close() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		for _, ch := range c.wake {
			close(ch)
		}
	}
	return nil
}

// Worker hand-off states.
const (
	workerSleeping int32 = iota // blocked on (or about to block on) its wake channel
	workerSpinning              // polling for shares of a job
)

// spinFor is how long a worker polls for the next job before it blocks. Waking a
// blocked worker costs 10-100 us on small VMs (a futex wake of a sleeping thread),
// more than a whole small GEMV; successive products of one model run (its layers)
// come closer together than this. It must also outlast the caller's last share of
// a product (up to about 80 us: a 512x512 product is 16 shares on two threads) and
// the caller's own work until the next call: at 50 us, 512x512 products called
// back to back from Python found the worker asleep often enough that their median
// per call (1,800 calls, Zen 4, 2 threads) was 1413 us against NumPy's 1384 and
// the 90th percentile 2520 us; at 250 us 1314 against 1355 and 1438 (at 1 ms 1294-1299
// against 1328-1340). Model runs, whose jobs follow each other closely, are not
// affected; an idle worker burns at most this much of its core after its last job.
const spinFor = 250 * time.Microsecond

// callerSpinFor is how long a job's caller polls for the workers' last shares
// before it blocks, without yielding. A caller locked to its OS thread (a cgo
// call, such as every call from Python) that blocks or yields is handed a P
// back by the scheduler later, and the thread that hands it over stops, which
// can leave the worker it ran runnable with no thread to run it: it then takes
// no share of the following jobs, and a 512x512 product from Python took the
// single-thread time (2.5 ms instead of 1.3) on one call in four to ten. The
// workers' shares end within the wake-up latency of the caller's (tens of
// microseconds), so the caller rarely blocks; only a worker descheduled for
// longer (an oversubscribed machine) makes it.
const callerSpinFor = time.Millisecond

// A job is split into shares (job.parts); the threads that run it take shares
// from the queue word, which packs the job's thread limit and the range of
// shares not yet taken:
//
//	bits 48..55: threads (workers w >= threads take nothing)
//	bits 16..31: lo, the next share from the front (the caller takes these)
//	bits  0..15: hi, one past the next share from the back (workers take these)
//
// Shares are taken with a compare-and-swap, so a share belongs to the job that
// was current when it was taken, and that job cannot finish before the share
// is done: a worker that arrives late (descheduled, or woken from sleep) finds
// nothing left and costs the caller nothing, and the caller never waits for a
// worker that has not started. With two threads the caller takes the first
// half and the worker the second, as a static split would, so each core keeps
// seeing the same part of a repeated product (its operands stay in its cache).
const maxShares = 1 << 15

func queueWord(threads, lo, hi int) uint64 {
	return uint64(threads)<<48 | uint64(lo)<<16 | uint64(hi)
}

// take claims a share of the current job for worker w, from the front (the
// caller) or the back (the workers); ok is false when none is left for w.
func (c *Context) take(w int) (share int, ok bool) {
	for {
		v := c.queue.Load()
		threads, lo, hi := int(v>>48&0xff), int(v>>16&0xffff), int(v&0xffff)
		if lo >= hi || w >= threads {
			return 0, false
		}
		if w == 0 {
			if c.queue.CompareAndSwap(v, queueWord(threads, lo+1, hi)) {
				return lo, true
			}
			continue
		}
		if c.queue.CompareAndSwap(v, queueWord(threads, lo, hi-1)) {
			return hi - 1, true
		}
	}
}

// hasShares reports whether the current job has shares worker w may take.
func (c *Context) hasShares(w int) bool {
	v := c.queue.Load()
	return int(v>>16&0xffff) < int(v&0xffff) && w < int(v>>48&0xff)
}

func (c *Context) worker(w int, wake <-chan struct{}) {
	st := &c.state[w-1]
	for {
		for {
			i, ok := c.take(w)
			if !ok {
				break
			}
			c.runPart(w, i)
			if c.remaining.Add(-1) == 0 {
				c.done <- struct{}{}
			}
		}
		if !c.awaitJob(w, st, wake) {
			return
		}
	}
}

// awaitJob waits until the current job has shares for worker w: it polls for
// up to spinFor (yielding now and then, so that a caller readied on this
// thread's P runs), then blocks on wake. It returns false once wake is closed.
func (c *Context) awaitJob(w int, st *atomic.Int32, wake <-chan struct{}) bool {
	start := time.Now()
	for i := 1; ; i++ {
		if c.hasShares(w) {
			return true
		}
		if i%64 == 0 {
			if time.Since(start) > spinFor {
				break
			}
			runtime.Gosched()
		}
	}
	st.Store(workerSleeping)
	if c.hasShares(w) { // published before the caller could see us asleep
		st.Store(workerSpinning)
		return true
	}
	_, ok := <-wake
	st.Store(workerSpinning)
	return ok
}

// alignedFloats returns a zeroed slice of n float32s whose first element is
// 64-byte aligned.
func alignedFloats(n int) []float32 {
	s := make([]float32, n+16)
	off := int((64 - uintptr(unsafe.Pointer(&s[0]))%64) % 64 / 4)
	return s[off : off+n : off+n]
}

func grow(s []float32, n int) []float32 {
	if cap(s) >= n {
		return s[:n]
	}
	return alignedFloats(n)
}

// Work below this many multiply-adds runs on one thread: waking the workers
// costs more than it saves.
const parallelMin = 1 << 18

// do runs prob (or a batch of it) on up to maxThreads of c's threads.
func (c *Context) do(prob problem, maxThreads int, batch *Strided) error {
	if c == nil {
		tmp := &Context{kern: kernels[0], threads: 1, ws: make([]workspace, 1)}
		return tmp.do(prob, maxThreads, batch)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	parts := c.threads
	if maxThreads > 0 && maxThreads < parts {
		parts = maxThreads
	}
	work := prob.m * prob.n * max(prob.k, 1)
	if batch == nil || batch.Batch == 1 {
		c.dispatch(prob, parts, Strided{})
		return nil
	}
	if batch.Batch >= 2*parts || work < parallelMin {
		// Enough items (or small ones): one goroutine per range of items.
		c.dispatch(prob, min(parts, batch.Batch), *batch)
		return nil
	}
	for i := 0; i < batch.Batch; i++ {
		c.dispatch(prob.item(i, *batch), parts, Strided{})
	}
	return nil
}

// How dispatch shares out a product (see there): products of at most smallM
// rows with a pre-packed B split their columns, one panel per share; larger
// ones whose packed A and B each fit in sharedBMax floats (4 MB: up to
// 1024x1024; larger ones keep per-thread packing, and the Context's buffers
// stay bounded) pack both once, together, and share C in blocks of sharedCols
// columns. sharesPerThread is the share count per thread elsewhere.
const (
	smallM          = 128
	sharesPerThread = 4
	sharedBMax      = 1 << 20
	sharedCols      = 128
)

// dispatch splits prob (or its batch items) into parts and runs them, part 0
// on the calling goroutine.
func (c *Context) dispatch(prob problem, parts int, batch Strided) {
	k := c.kern
	if batch.Batch == 0 && c.dispatchJIT(prob, parts) {
		return
	}
	if batch.Batch == 0 {
		work := prob.m * prob.n * max(prob.k, 1)
		mt := (prob.m + k.mr - 1) / k.mr
		nt := (prob.n + k.nr - 1) / k.nr
		splitM := mt >= 4*parts
		switch {
		case work < parallelMin:
			parts = 1
		case prob.m <= smallM && prob.pb != nil && prob.pa == nil && prob.cb == nil:
			// Few rows against packed weights (batched inference): split
			// the columns into several shares per thread, with A packed
			// once, first, for all of them (unless it is a single row,
			// which the GEMV reads as it is). Every B panel is then read by one
			// thread only, and a thread that runs late (or not at all)
			// leaves little for the others to wait for.
			if prob.m > 1 && !prob.a.trans {
				if parts > 1 {
					// All threads pack A together: done by the caller
					// alone, 128x512 took 24 us, 7% of the product
					// on two cores, with the other core idle.
					c.sharedA.m, c.sharedA.k, c.sharedA.mr = prob.m, prob.k, k.mr
					c.sharedA.data = grow(c.sharedA.data, max(1, mt*k.mr*prob.k))
					c.cur = job{prob: prob, threads: parts, parts: min(mt, sharesPerThread*parts), packA: true}
					c.runJob()
				} else {
					c.sharedA.pack(prob.a.data, prob.a.ld, prob.m, prob.k, k.mr)
				}
				prob.pa = &c.sharedA
			}
			shares := 1
			switch {
			case parts == 1:
			case prob.m == 1:
				shares = min(nt, sharesPerThread*parts)
			default:
				// One panel per share: the loop order over B panels is
				// the same as one thread's, and a thread that is slow
				// (its core shared with other processes) holds back
				// only the panel it is on.
				shares = nt
			}
			c.cur = job{prob: prob, threads: parts, parts: shares}
			c.runJob()
			return
		case splitM && parts > 1 && prob.pb == nil && prob.pa == nil && prob.cb == nil &&
			prob.k > 0 && prob.k*nt*k.nr <= sharedBMax && prob.k*mt*k.mr <= sharedBMax:
			// Many rows, operands given unpacked: the threads first pack
			// B, and A unless it is transposed, together into shared
			// buffers (each packing a range of panels), then split C into
			// blocks of about mc rows by sharedCols columns that all read
			// them. Without this each thread packs all of B for its rows,
			// and a late thread keeps the others waiting for a whole half
			// of the product.
			c.sharedB.k, c.sharedB.n, c.sharedB.kern = prob.k, prob.n, k
			c.sharedB.data = grow(c.sharedB.data, prob.k*nt*k.nr)
			bShares, aShares := min(nt, sharesPerThread*parts), 0
			if !prob.a.trans {
				c.sharedA.m, c.sharedA.k, c.sharedA.mr = prob.m, prob.k, k.mr
				c.sharedA.data = grow(c.sharedA.data, prob.k*mt*k.mr)
				aShares = min(mt, sharesPerThread*parts)
			}
			c.cur = job{prob: prob, threads: parts, parts: bShares + aShares, packB: true, packAFrom: bShares}
			c.runJob()
			prob.pb = &c.sharedB
			if aShares == 0 {
				c.cur = job{prob: prob, threads: parts, parts: min(mt, sharesPerThread*parts), splitM: true}
				c.runJob()
				return
			}
			prob.pa = &c.sharedA
			rb := ceilDiv(mt*k.mr, k.mc)                 // row blocks of at most mc rows
			cb := ceilDiv(prob.n, max(k.nr, sharedCols)) // column blocks
			c.cur = job{prob: prob, threads: parts, parts: rb * cb, grid: cb}
			c.runJob()
			return
		case splitM:
		case nt >= parts:
		default:
			splitM = mt > nt
			parts = max(1, min(parts, max(mt, nt)))
		}
		c.cur = job{prob: prob, parts: parts, splitM: splitM}
	} else {
		c.cur = job{prob: prob, parts: parts, batch: batch}
	}
	c.runJob()
}

// runJob runs c.cur's shares on up to its thread limit, taking shares on the
// calling goroutine too, and returns when all are done.
func (c *Context) runJob() {
	j := &c.cur
	parts := min(j.parts, maxShares)
	j.parts = parts
	threads := j.threads
	if threads <= 0 {
		threads = parts
	}
	threads = min(threads, c.threads, parts)
	if threads <= 1 {
		for i := 0; i < parts; i++ {
			c.runPart(0, i)
		}
		return
	}
	c.remaining.Store(int32(parts))
	c.queue.Store(queueWord(threads, 0, parts))
	for w := 1; w < threads; w++ {
		if c.state[w-1].Load() == workerSleeping {
			select {
			case c.wake[w-1] <- struct{}{}:
			default: // a token is already there
			}
		}
	}
	last := false
	for {
		i, ok := c.take(0)
		if !ok {
			break
		}
		c.runPart(0, i)
		last = c.remaining.Add(-1) == 0
	}
	if last {
		return
	}
	// Wait for the shares the workers took. Poll for up to callerSpinFor,
	// then block: when the machine is oversubscribed a worker may be
	// descheduled, and polling would take the core it needs. The worker that
	// finishes the last share sends one token, consumed here either way.
	start := time.Now()
	for i := 1; c.remaining.Load() > 0; i++ {
		if i%64 == 0 && time.Since(start) > callerSpinFor {
			break
		}
	}
	<-c.done
}

// runPart runs share i of c.cur on worker w (with w's buffers).
func (c *Context) runPart(w, i int) {
	j := &c.cur
	if j.fn != nil {
		j.fn(w, i)
		return
	}
	if j.forKind != forNone {
		if lo, hi := i*j.forN/j.parts, (i+1)*j.forN/j.parts; lo < hi {
			if j.forKind >= forNHWCFirst {
				c.nhwcRange(w, j.forKind, lo, hi)
			} else {
				c.forRange(w, j.forKind, lo, hi)
			}
		}
		return
	}
	ws := &c.ws[w]
	p := &j.prob
	if j.packA || j.packB && j.packAFrom > 0 && i >= j.packAFrom {
		from := 0
		if !j.packA {
			from = j.packAFrom
		}
		mr, n := c.kern.mr, j.parts-from
		t, i := (p.m+mr-1)/mr, i-from
		a := &c.sharedA
		for q := i * t / n; q < (i+1)*t/n; q++ {
			packRowsA(a.data[q*mr*p.k:], p.a.data[q*mr*p.a.ld:], p.a.ld, min(mr, p.m-q*mr), p.k, mr)
		}
		return
	}
	if j.packB {
		nr := c.kern.nr
		n := j.parts
		if j.packAFrom > 0 {
			n = j.packAFrom
		}
		t := (p.n + nr - 1) / nr
		lo, hi := i*t/n, (i+1)*t/n
		if lo < hi {
			p.packB(c.sharedB.data[lo*p.k*nr:], 0, p.k, lo*nr, min(p.n, hi*nr)-lo*nr, nr)
		}
		return
	}
	if j.grid > 0 {
		rb := j.parts / j.grid
		r, q := i/j.grid, i%j.grid
		mt := (p.m + c.kern.mr - 1) / c.kern.mr
		nt := (p.n + c.kern.nr - 1) / c.kern.nr
		m0, m1 := r*mt/rb*c.kern.mr, min(p.m, (r+1)*mt/rb*c.kern.mr)
		n0, n1 := q*nt/j.grid*c.kern.nr, min(p.n, (q+1)*nt/j.grid*c.kern.nr)
		if m0 < m1 && n0 < n1 {
			c.kern.run(ws, p, m0, m1, n0, n1)
		}
		return
	}
	if j.batch.Batch > 0 {
		lo, hi := i*j.batch.Batch/j.parts, (i+1)*j.batch.Batch/j.parts
		for it := lo; it < hi; it++ {
			q := p.item(it, j.batch)
			c.kern.run(ws, &q, 0, q.m, 0, q.n)
		}
		return
	}
	if j.splitM {
		t := (p.m + c.kern.mr - 1) / c.kern.mr
		lo, hi := i*t/j.parts*c.kern.mr, min(p.m, (i+1)*t/j.parts*c.kern.mr)
		if lo < hi {
			c.kern.run(ws, p, lo, hi, 0, p.n)
		}
		return
	}
	t := (p.n + c.kern.nr - 1) / c.kern.nr
	lo, hi := i*t/j.parts*c.kern.nr, min(p.n, (i+1)*t/j.parts*c.kern.nr)
	if lo < hi {
		c.kern.run(ws, p, 0, p.m, lo, hi)
	}
}

func (c *Context) String() string {
	return fmt.Sprintf("gemm.Context(%s, %d threads)", c.kern.name, c.threads)
}
