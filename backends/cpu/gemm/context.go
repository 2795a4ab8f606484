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
	wake   []chan struct{}
	// state[w-1] is worker w's hand-off state (workerSleeping, ...): a worker
	// that finished a job spins for a while before it blocks on its wake
	// channel, and a job given to a spinning worker needs no wake-up.
	state   []atomic.Int32
	pending atomic.Int32  // parts of the current job not yet finished
	done    chan struct{} // the worker finishing a job's last part sends once
	cur     job
	conv    convScratch
}

// job is the call being run, read by the workers between wake and Done.
type job struct {
	prob   problem
	parts  int
	splitM bool
	batch  Strided // Batch > 0: split the batch items across the parts
	// forKind, if not forNone, is a parallel loop: part w runs c.forRange
	// over its share of [0, forN).
	forKind forKind
	forN    int
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
		ch := make(chan struct{})
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
	workerSpinning              // polling its state for a job
	workerAssigned              // given a job while spinning
)

// spinFor is how long a worker polls for the next job before it blocks. Waking a
// blocked worker costs 10-100 us on small VMs (a futex wake of a sleeping thread),
// more than a whole small GEMM; successive products of one model run (its layers)
// come closer together than this.
const spinFor = 50 * time.Microsecond

func (c *Context) worker(w int, wake <-chan struct{}) {
	st := &c.state[w-1]
	if _, ok := <-wake; !ok {
		return
	}
	for {
		c.runPart(w)
		st.Store(workerSpinning)
		if c.pending.Add(-1) == 0 {
			c.done <- struct{}{}
		}
		if !c.awaitJob(st, wake) {
			return
		}
	}
}

// awaitJob waits for worker st's next job: it polls for up to spinFor (yielding
// now and then, so that a caller readied on this thread's P runs), then blocks
// on wake. It returns false once wake is closed.
func (c *Context) awaitJob(st *atomic.Int32, wake <-chan struct{}) bool {
	start := time.Now()
	for i := 1; ; i++ {
		if st.Load() == workerAssigned {
			return true
		}
		if i%64 == 0 {
			if time.Since(start) > spinFor {
				break
			}
			runtime.Gosched()
		}
	}
	if !st.CompareAndSwap(workerSpinning, workerSleeping) {
		return true // assigned meanwhile
	}
	_, ok := <-wake
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

// dispatch splits prob (or its batch items) into parts and runs them, part 0
// on the calling goroutine.
func (c *Context) dispatch(prob problem, parts int, batch Strided) {
	k := c.kern
	if batch.Batch == 0 {
		work := prob.m * prob.n * max(prob.k, 1)
		mt := (prob.m + k.mr - 1) / k.mr
		nt := (prob.n + k.nr - 1) / k.nr
		splitM := mt >= 4*parts
		switch {
		case work < parallelMin:
			parts = 1
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

// runJob runs c.cur on c.cur.parts workers, part 0 on the calling goroutine.
func (c *Context) runJob() {
	c.pending.Store(int32(c.cur.parts - 1))
	for w := 1; w < c.cur.parts; w++ {
		if !c.state[w-1].CompareAndSwap(workerSpinning, workerAssigned) {
			c.wake[w-1] <- struct{}{}
		}
	}
	c.runPart(0)
	if c.cur.parts <= 1 {
		return
	}
	// Poll for the other parts for up to spinFor, then block: when the machine
	// is oversubscribed a worker may be descheduled, and polling would take the
	// core it needs. The last worker's token is consumed either way.
	start := time.Now()
	for i := 1; c.pending.Load() > 0; i++ {
		if i%64 == 0 {
			if time.Since(start) > spinFor {
				break
			}
			runtime.Gosched()
		}
	}
	<-c.done
}

// runPart runs worker w's share of c.cur.
func (c *Context) runPart(w int) {
	j := &c.cur
	if j.forKind != forNone {
		if lo, hi := w*j.forN/j.parts, (w+1)*j.forN/j.parts; lo < hi {
			c.forRange(w, j.forKind, lo, hi)
		}
		return
	}
	ws := &c.ws[w]
	p := &j.prob
	if j.batch.Batch > 0 {
		lo, hi := w*j.batch.Batch/j.parts, (w+1)*j.batch.Batch/j.parts
		for i := lo; i < hi; i++ {
			q := p.item(i, j.batch)
			c.kern.run(ws, &q, 0, q.m, 0, q.n)
		}
		return
	}
	if j.splitM {
		t := (p.m + c.kern.mr - 1) / c.kern.mr
		lo, hi := w*t/j.parts*c.kern.mr, min(p.m, (w+1)*t/j.parts*c.kern.mr)
		if lo < hi {
			c.kern.run(ws, p, lo, hi, 0, p.n)
		}
		return
	}
	t := (p.n + c.kern.nr - 1) / c.kern.nr
	lo, hi := w*t/j.parts*c.kern.nr, min(p.n, (w+1)*t/j.parts*c.kern.nr)
	if lo < hi {
		c.kern.run(ws, p, 0, p.m, lo, hi)
	}
}

func (c *Context) String() string {
	return fmt.Sprintf("gemm.Context(%s, %d threads)", c.kern.name, c.threads)
}
