//go:build linux || darwin

package kernel

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

func TestPartialMarker(t *testing.T) {
	m := string(syncMarker)
	tests := []struct {
		in   string
		want int
	}{
		{"", 0},
		{"abc", 0},
		{"abc" + m[:1], 1},
		{"abc" + m[:5], 5},
		{m[:len(m)-1], len(m) - 1},
		{m, 1}, // its last byte could start the next marker
	}
	for _, tc := range tests {
		if got := partialMarker([]byte(tc.in)); got != tc.want {
			t.Errorf("partialMarker(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

type syncSink struct {
	mu sync.Mutex
	b  []byte
}

func (s *syncSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *syncSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}

// TestCaptureFD redirects a scratch descriptor (not 1 or 2, which the test
// runner uses) and checks that sync returns after everything written before
// it reached the sink, including writes that split the sync marker's prefix.
func TestCaptureFD(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "fd")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	sink := &syncSink{}
	c, err := captureFD(fd, sink)
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i := 0; i < 200; i++ {
		line := fmt.Sprintf("line %d %s\n", i, strings.Repeat("x", i))
		want.WriteString(line)
		if _, err := unix.Write(fd, []byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	tricky := string(syncMarker[:3]) + "not a marker\n"
	want.WriteString(tricky)
	unix.Write(fd, []byte(tricky))
	c.sync()
	if got := sink.String(); got != want.String() {
		t.Errorf("captured %d bytes, want %d; tail %q", len(got), want.Len(), got[max(0, len(got)-40):])
	}
	c.release()
	// After release the descriptor writes to the file again.
	if _, err := unix.Write(fd, []byte("after")); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(f.Name())
	if string(b) != "after" {
		t.Errorf("file holds %q after release, want %q", b, "after")
	}
}
