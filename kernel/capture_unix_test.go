//go:build linux || darwin

package kernel

import "testing"

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
