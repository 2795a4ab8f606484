package cpu

import (
	"runtime"
	"sync"

	"github.com/lightiam/lightos/backends/cpu/gemm"
)

// Env is what kernels get from the device: the number of threads to use.
type Env struct {
	// Threads is the intra-op parallelism; 1 runs everything on the calling goroutine.
	Threads int
	// NoWinograd turns off the Winograd path of 3x3 convolutions (winograd.go).
	NoWinograd bool
	// NoWinograd4 leaves out Winograd F(4x4, 3x3) (winograd4.go): channels-last 3x3
	// layers then choose between the direct kernel and F(2x2, 3x3) only.
	NoWinograd4 bool
	// winogradMinChannels, if positive, replaces winogradMinChannels (for tests).
	winogradMinChannels int
	// winogradThreadTiles, if positive, replaces winogradThreadTiles (for
	// benchmarks).
	winogradThreadTiles int

	gemmOnce sync.Once
	gemmCtx  *gemm.Context

	// winoScratch keeps the Winograd calls' thread scratches (winograd.go) for
	// every convolution of the device: nodes run one at a time in a run, so one
	// set, grown to the largest layer, serves them all (per node, ResNet-50 held
	// 13 sets).
	winoScratch winogradScratches
}

// GEMM returns the device's float32 GEMM context (a persistent pool of Threads
// workers with their packing buffers), started on first use and closed when the Env
// becomes unreachable. Calls on it are serialized, and each uses all of its workers.
func (e *Env) GEMM() *gemm.Context {
	e.gemmOnce.Do(func() {
		threads := e.Threads
		if threads <= 0 {
			threads = runtime.GOMAXPROCS(0)
		}
		e.gemmCtx = gemm.NewContext(threads)
		// Stop the workers once the Env (and so its Device) is unreachable.
		runtime.AddCleanup(e, func(c *gemm.Context) { _ = c.Close() }, e.gemmCtx)
	})
	return e.gemmCtx
}

// Parallel splits [0, n) into chunks of at least grain items and runs fn on each on
// up to Threads threads, waiting for all (ParallelW without the thread index).
func (e *Env) Parallel(n, grain int, fn func(lo, hi int)) {
	e.ParallelW(n, grain, func(_, lo, hi int) { fn(lo, hi) })
}

// ParallelW splits [0, n) into chunks of at least grain items and runs fn on each on
// up to Threads threads, waiting for all; w is the running thread's index, below
// Threads, for per-thread scratch. Small ranges run on the calling goroutine.
// The chunks go to the GEMM context's workers when it is free: after a product they
// are still polling and start at once, while new goroutines waited for the core the
// polling worker held, which made such loops nearly serial on two threads. When the
// context is busy (a loop nested in one of its own jobs, another session's call) or
// closed, the chunks run on new goroutines instead.
func (e *Env) ParallelW(n, grain int, fn func(w, lo, hi int)) {
	threads := e.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	if grain < 1 {
		grain = 1
	}
	chunks := min(threads, (n+grain-1)/grain)
	if chunks <= 1 {
		fn(0, 0, n)
		return
	}
	if ran, err := e.GEMM().TryParallel(n, grain, fn); ran && err == nil {
		return
	}
	var wg sync.WaitGroup
	step := (n + chunks - 1) / chunks
	for w, lo := 1, step; lo < n; w, lo = w+1, lo+step {
		wg.Add(1)
		go func(w, lo, hi int) {
			defer wg.Done()
			fn(w, lo, hi)
		}(w, lo, min(lo+step, n))
	}
	fn(0, 0, min(step, n))
	wg.Wait()
}
