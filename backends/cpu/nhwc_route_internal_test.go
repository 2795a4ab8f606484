package cpu

import (
	"slices"
	"testing"
	"time"
)

// TestNhwcConvPickRoute checks that pickRoute runs every candidate on a shape's
// first run (a warm-up and routeTimings times each, in turn, the last route last),
// then only the one that took the least time, per shape, and that it drops the
// transformed weights of Winograd sizes that no shape uses.
func TestNhwcConvPickRoute(t *testing.T) {
	for fast := 0; fast < 3; fast++ {
		c := &nhwcConv{wino: map[int]*winogradWeights{2: {size: 2}, 4: {size: 4}}}
		var calls []string
		names := []string{"direct", "f2", "f4"}
		var routes []nhwcRoute
		for k, size := range []int{0, 2, 4} {
			routes = append(routes, nhwcRoute{size, func() error {
				calls = append(calls, names[k])
				if k != fast {
					time.Sleep(5 * time.Millisecond)
				}
				return nil
			}})
		}
		xs := [4]int{8, 14, 14, 256}
		if err := c.pickRoute(xs, routes); err != nil {
			t.Fatal(err)
		}
		var want []string
		for i := 0; i <= routeTimings; i++ {
			want = append(want, names...)
		}
		if !slices.Equal(calls, want) {
			t.Fatalf("first run called %v, want %v", calls, want)
		}
		for size := range c.wino {
			if size != routes[fast].size {
				t.Errorf("fastest %s: the weights of size %d were kept", names[fast], size)
			}
		}
		if fast > 0 && c.wino[routes[fast].size] == nil {
			t.Errorf("fastest %s: its weights were dropped", names[fast])
		}
		calls = nil
		_ = c.pickRoute(xs, routes)
		if !slices.Equal(calls, []string{names[fast]}) {
			t.Errorf("fastest %s: second run called %v", names[fast], calls)
		}
		calls = nil
		_ = c.pickRoute([4]int{2, 14, 14, 256}, routes) // another shape: timed again
		if len(calls) != 3*(routeTimings+1) {
			t.Errorf("a new shape called %v, want all timed", calls)
		}
	}
}
