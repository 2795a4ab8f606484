package pyext

import (
	"sync"

	"github.com/lightiam/lightos/engine/tensor"
)

// Output buffers live in anonymous memory maps, outside the Go heap, so NumPy can wrap
// them without a copy. A fresh map per run costs page faults (about 46 ms for 64 MB),
// so released buffers go back to a pool keyed by size and are reused.

const poolPerSize = 8 // free buffers kept per size

type bufObj struct {
	mem *tensor.Tensor // the mapped storage (uint8, length = size)
}

type bufferPool struct {
	mu   sync.Mutex
	free map[int][]*tensor.Tensor
}

var pool = bufferPool{free: map[int][]*tensor.Tensor{}}

// take returns a mapped byte tensor of exactly n bytes (n > 0).
func (p *bufferPool) take(n int) (*tensor.Tensor, error) {
	p.mu.Lock()
	if l := p.free[n]; len(l) > 0 {
		t := l[len(l)-1]
		p.free[n] = l[:len(l)-1]
		p.mu.Unlock()
		return t, nil
	}
	p.mu.Unlock()
	return tensor.NewMapped(tensor.Uint8, []int{n})
}

func (p *bufferPool) give(t *tensor.Tensor) {
	n := len(t.Bytes())
	p.mu.Lock()
	if len(p.free[n]) < poolPerSize {
		p.free[n] = append(p.free[n], t)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	_ = t.Release()
}

// BufferRelease gives an output buffer back to the engine; Python calls it when the
// last NumPy view of the buffer is gone.
func BufferRelease(id int64) (err error) {
	defer guard(&err)
	b, err := get[*bufObj](id, "buffer")
	if err != nil {
		return err
	}
	drop(id)
	pool.give(b.mem)
	return nil
}

// BuffersPooled reports the number of free pooled buffers (for tests).
func BuffersPooled() int {
	pool.mu.Lock()
	defer pool.mu.Unlock()
	n := 0
	for _, l := range pool.free {
		n += len(l)
	}
	return n
}
