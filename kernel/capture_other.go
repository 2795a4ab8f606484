//go:build !(linux || darwin)

package kernel

import (
	"errors"
	"io"
	"os"
)

// fdCapture is unavailable on this platform: only fmt output and the display
// API reach the notebook.
type fdCapture struct{}

func captureFD(fd int, sink io.Writer) (*fdCapture, error) {
	return nil, errors.New("kernel: descriptor capture is not supported on this platform")
}

func (c *fdCapture) sync()    {}
func (c *fdCapture) release() {}

func savedStderr() (*os.File, error) { return os.Stderr, nil }
