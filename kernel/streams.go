package kernel

import (
	"sync"
	"time"
	"unicode/utf8"
)

// coalesceDelay is how long a stream collects writes before it sends them, so
// that "hello, world\n" written in pieces arrives as one stream message.
const coalesceDelay = 40 * time.Millisecond

// maxPending is the size at which a stream sends without waiting.
const maxPending = 64 << 10

// stream coalesces writes into stream messages named stdout or stderr.
type stream struct {
	name string
	send func(name, text string)

	mu      sync.Mutex
	buf     []byte
	timer   *time.Timer
	sending sync.Mutex // keeps messages in write order
}

func newStream(name string, send func(name, text string)) *stream {
	return &stream{name: name, send: send}
}

// Write buffers p and schedules a flush.
func (s *stream) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.buf = append(s.buf, p...)
	full := len(s.buf) >= maxPending
	if !full && s.timer == nil {
		s.timer = time.AfterFunc(coalesceDelay, s.Flush)
	}
	s.mu.Unlock()
	if full {
		s.Flush()
	}
	return len(p), nil
}

// Flush sends the buffered text, keeping back an incomplete UTF-8 sequence at
// its end.
func (s *stream) Flush() {
	s.sending.Lock()
	defer s.sending.Unlock()
	s.mu.Lock()
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	n := completeUTF8(s.buf)
	text := string(s.buf[:n])
	s.buf = append(s.buf[:0], s.buf[n:]...)
	s.mu.Unlock()
	if text != "" {
		s.send(s.name, text)
	}
}

// completeUTF8 returns the length of the longest prefix of b that does not end
// in the middle of a UTF-8 sequence (invalid bytes count as complete).
func completeUTF8(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return i
			}
			break
		}
	}
	return len(b)
}
