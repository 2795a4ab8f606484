//go:build linux || darwin

package kernel

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// syncMarker is written to a captured descriptor to learn when everything
// written before it has been read (see fdCapture.sync).
var syncMarker = []byte("\x00\x01lightos-sync\x01\x00")

// fdCapture redirects a descriptor (1 or 2) into a pipe whose reader feeds a
// stream, so that os.Stdout, os.Stderr and C code write to the notebook.
type fdCapture struct {
	fd     int
	saved  int // a duplicate of the original descriptor
	r      *os.File
	sink   io.Writer
	synced chan struct{}
}

func captureFD(fd int, sink io.Writer) (*fdCapture, error) {
	saved, err := unix.Dup(fd)
	if err != nil {
		return nil, fmt.Errorf("kernel: dup %d: %w", fd, err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		unix.Close(saved)
		return nil, fmt.Errorf("kernel: pipe for %d: %w", fd, err)
	}
	if err := unix.Dup2(int(w.Fd()), fd); err != nil {
		r.Close()
		w.Close()
		unix.Close(saved)
		return nil, fmt.Errorf("kernel: dup2 onto %d: %w", fd, err)
	}
	w.Close()
	c := &fdCapture{fd: fd, saved: saved, r: r, sink: sink, synced: make(chan struct{}, 16)}
	go c.read()
	return c, nil
}

// read copies the pipe into the sink, signalling each sync marker.
func (c *fdCapture) read() {
	buf := make([]byte, 32<<10)
	var pending []byte
	for {
		n, err := c.r.Read(buf)
		if n > 0 {
			pending = append(pending, buf[:n]...)
			for {
				i := bytes.Index(pending, syncMarker)
				if i < 0 {
					break
				}
				c.sink.Write(pending[:i])
				pending = pending[i+len(syncMarker):]
				select {
				case c.synced <- struct{}{}:
				default:
				}
			}
			keep := partialMarker(pending)
			if len(pending) > keep {
				c.sink.Write(pending[:len(pending)-keep])
				pending = append(pending[:0], pending[len(pending)-keep:]...)
			}
		}
		if err != nil {
			if len(pending) > 0 {
				c.sink.Write(pending)
			}
			return
		}
	}
}

// partialMarker is the length of the longest suffix of b that is a proper
// prefix of syncMarker.
func partialMarker(b []byte) int {
	for k := len(syncMarker) - 1; k > 0; k-- {
		if len(b) >= k && bytes.Equal(b[len(b)-k:], syncMarker[:k]) {
			return k
		}
	}
	return 0
}

// sync returns once everything written to the descriptor before the call has
// reached the sink (or after a second, if the reader is stuck).
func (c *fdCapture) sync() {
	for {
		select {
		case <-c.synced: // a stale signal
			continue
		default:
		}
		break
	}
	if _, err := unix.Write(c.fd, syncMarker); err != nil {
		return
	}
	select {
	case <-c.synced:
	case <-time.After(time.Second):
	}
}

// release puts the original descriptor back.
func (c *fdCapture) release() {
	unix.Dup2(c.saved, c.fd)
	unix.Close(c.saved)
}

// savedStderr returns a file writing to the process's stderr as it was before
// capture (for the kernel's own log).
func savedStderr() (*os.File, error) {
	fd, err := unix.Dup(2)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "stderr"), nil
}
