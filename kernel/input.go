package kernel

import (
	"io"
	"sync"

	"github.com/lightiam/lightos/kernel/cell"
	"github.com/lightiam/lightos/kernel/wire"
)

// input asks the frontend for a line of input on the stdin channel and waits
// for the reply or an interrupt.
func (k *Kernel) input(prompt string, password bool) (string, error) {
	k.mu.Lock()
	parent, allowed, cancel := k.parent, k.allowIn, k.cancel
	k.mu.Unlock()
	if !allowed || parent == nil || cancel == nil {
		return "", cell.ErrNoInput
	}
	ctx := k.eval.Context()
	k.syncStreams()
	// Drop a reply left over from an interrupted request.
	select {
	case <-k.inputs:
	default:
	}
	req, err := wire.New("input_request", k.session, parent, map[string]any{"prompt": prompt, "password": password})
	if err != nil {
		return "", err
	}
	k.send(k.stdin, req)
	select {
	case msg := <-k.inputs:
		var c struct {
			Value string `json:"value"`
		}
		if err := msg.DecodeContent(&c); err != nil {
			return "", err
		}
		return c.Value, nil
	case <-ctx.Done():
		return "", ctx.Err()
	case <-k.done:
		return "", io.EOF
	}
}

// inputReader is the interpreter's stdin (fmt.Scan*): each time its buffer is
// empty it asks the frontend for a line.
type inputReader struct {
	k   *Kernel
	mu  sync.Mutex
	buf []byte
}

func (r *inputReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buf) == 0 {
		line, err := r.k.input("", false)
		if err != nil {
			return 0, io.EOF
		}
		r.buf = append(r.buf, line...)
		r.buf = append(r.buf, '\n')
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}
