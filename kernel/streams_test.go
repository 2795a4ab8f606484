package kernel

import (
	"strings"
	"sync"
	"testing"
)

func TestCompleteUTF8(t *testing.T) {
	euro := []byte("€") // 3 bytes
	tests := []struct {
		in   []byte
		want int
	}{
		{nil, 0},
		{[]byte("abc"), 3},
		{append([]byte("a"), euro...), 4},
		{append([]byte("a"), euro[:1]...), 1},
		{append([]byte("a"), euro[:2]...), 1},
		{[]byte{0xff, 0xfe}, 2}, // invalid bytes pass through
	}
	for _, tc := range tests {
		if got := completeUTF8(tc.in); got != tc.want {
			t.Errorf("completeUTF8(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestStreamCoalescesAndKeepsOrder(t *testing.T) {
	var mu sync.Mutex
	var got []string
	s := newStream("stdout", func(name, text string) {
		mu.Lock()
		got = append(got, text)
		mu.Unlock()
	})
	euro := []byte("€")
	s.Write([]byte("hello, "))
	s.Write([]byte("world\n"))
	s.Write(euro[:1])
	s.Flush()
	s.Write(euro[1:])
	s.Flush()
	s.Flush()
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0] != "hello, world\n" || got[1] != "€" {
		t.Errorf("messages %q, want [\"hello, world\\n\" \"€\"]", got)
	}
	big := strings.Repeat("x", maxPending+10)
	got = nil
	mu.Unlock()
	s.Write([]byte(big))
	s.Flush()
	mu.Lock()
	if strings.Join(got, "") != big {
		t.Errorf("large write lost or reordered: %d bytes back", len(strings.Join(got, "")))
	}
}
