package gemm

// Parallel runs fn over [0, n) on c's threads (the caller's goroutine counts
// as one) and returns when all of it is done. The range is cut into shares of
// at least grain items, up to sharesPerThread per thread; the threads take
// shares as they come free (the caller from the front, the workers from the
// back), so a thread that is late costs only the share it holds. fn's w is
// the index of the thread running it (0 for the caller, below Threads()), for
// per-thread scratch.
//
// It is meant for the loops of kernels that run between products (attention,
// LayerNorm): c's workers are then polling for the next job, and they take
// the shares at once. A loop run on new goroutines instead waits for them to
// be scheduled, and with GOMAXPROCS threads busy (the caller, and a worker
// polling) the second goroutine often ran only after the caller's own part,
// which made such a loop serial.
//
// fn must not call c (calls on a Context are serialized: that would
// deadlock). A nil c runs fn(0, 0, n) on the caller; Parallel returns
// ErrClosed after Close.
func (c *Context) Parallel(n, grain int, fn func(w, lo, hi int)) error {
	if n <= 0 {
		return nil
	}
	if c == nil {
		fn(0, 0, n)
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.parallelLocked(n, grain, fn)
}

// TryParallel is Parallel when c is free: if another call holds c (a product
// or loop of another goroutine, or the loop that fn itself runs inside), it
// runs nothing and returns false, and the caller does the work another way.
// It lets kernels use c's polling workers without the deadlock a nested call
// would be.
func (c *Context) TryParallel(n, grain int, fn func(w, lo, hi int)) (bool, error) {
	if c == nil || !c.mu.TryLock() {
		return false, nil
	}
	defer c.mu.Unlock()
	return true, c.parallelLocked(n, grain, fn)
}

// parallelLocked is Parallel's body; c.mu is held.
func (c *Context) parallelLocked(n, grain int, fn func(w, lo, hi int)) error {
	if n <= 0 {
		return nil
	}
	if c.closed {
		return ErrClosed
	}
	parts := min(ceilDiv(n, max(grain, 1)), sharesPerThread*c.threads, maxShares)
	if parts <= 1 {
		fn(0, 0, n)
		return nil
	}
	c.cur = job{threads: c.threads, parts: parts, fn: func(w, i int) {
		if lo, hi := i*n/parts, (i+1)*n/parts; lo < hi {
			fn(w, lo, hi)
		}
	}}
	c.runJob()
	return nil
}
