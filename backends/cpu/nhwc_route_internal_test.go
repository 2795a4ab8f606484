package cpu

import (
	"slices"
	"testing"
	"time"
)

// TestNhwcConvPickRoute checks that pickRoute runs both candidates on a shape's first
// run (a warm-up and routeTimings times each, alternating, the route last), then only the one that took
// less time, per shape.
func TestNhwcConvPickRoute(t *testing.T) {
	for _, slowRoute := range []bool{false, true} {
		c := &nhwcConv{}
		var calls []string
		mk := func(name string, slow bool) func() error {
			return func() error {
				calls = append(calls, name)
				if slow {
					time.Sleep(5 * time.Millisecond)
				}
				return nil
			}
		}
		direct, route := mk("direct", !slowRoute), mk("route", slowRoute)
		xs := [4]int{8, 14, 14, 256}
		if err := c.pickRoute(xs, direct, route); err != nil {
			t.Fatal(err)
		}
		var want []string
		for i := 0; i <= routeTimings; i++ {
			want = append(want, "direct", "route")
		}
		if !slices.Equal(calls, want) {
			t.Fatalf("first run called %v, want %v", calls, want)
		}
		calls = nil
		_ = c.pickRoute(xs, direct, route)
		faster := "route"
		if slowRoute {
			faster = "direct"
		}
		if !slices.Equal(calls, []string{faster}) {
			t.Errorf("slow route %v: second run called %v, want [%s]", slowRoute, calls, faster)
		}
		calls = nil
		_ = c.pickRoute([4]int{2, 14, 14, 256}, direct, route) // another shape: timed again
		if len(calls) != 2*(routeTimings+1) {
			t.Errorf("a new shape called %v, want both timed", calls)
		}
	}
}
