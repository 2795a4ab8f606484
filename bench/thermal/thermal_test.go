package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// TestGoal replays six virtual minutes of saturated load on four simulated H100s
// and checks the goal: at least 90% fewer throttle events than no governor,
// at most 3% less throughput.
func TestGoal(t *testing.T) {
	c := DefaultConfig(4)
	c.Hours, c.Load = 0.1, 1.0
	tr := Generate(c)
	ps := Policies()
	none, err := Replay(c, tr, ps[0])
	if err != nil {
		t.Fatal(err)
	}
	pred, err := Replay(c, tr, ps[len(ps)-1])
	if err != nil {
		t.Fatal(err)
	}
	if none.M.ThrottleEvents < 10 {
		t.Fatalf("no governor throttled only %d times: the scenario is not hot enough", none.M.ThrottleEvents)
	}
	if float64(pred.M.ThrottleEvents) > 0.1*float64(none.M.ThrottleEvents) {
		t.Errorf("predictive: %d throttle events, no governor %d", pred.M.ThrottleEvents, none.M.ThrottleEvents)
	}
	if pred.M.Throughput < 0.97*none.M.Throughput {
		t.Errorf("predictive throughput %.1f, no governor %.1f", pred.M.Throughput, none.M.Throughput)
	}
}

func TestTraceRoundTrip(t *testing.T) {
	c := DefaultConfig(2)
	c.Hours = 0.05
	tr := Generate(c)
	path := filepath.Join(t.TempDir(), "t.csv")
	if err := WriteTrace(path, tr); err != nil {
		t.Fatal(err)
	}
	back, err := ReadTrace(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(tr) {
		t.Fatalf("%d arrivals back, wrote %d", len(back), len(tr))
	}
	for i := range tr {
		if back[i].Model != tr[i].Model || back[i].Cost.Batch != tr[i].Cost.Batch || back[i].Cost.Items != tr[i].Cost.Items {
			t.Fatalf("arrival %d: %+v, wrote %+v", i, back[i], tr[i])
		}
	}
}

func TestRunPrintsTable(t *testing.T) {
	var b bytes.Buffer
	if err := run([]string{"-devices", "1", "-hours", "0.02", "-load", "0.6"}, &b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SIMULATED", "| Throttle events |", "| predictive |", "Sustained throughput"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if err := run([]string{"-devices", "0"}, &b); err == nil {
		t.Error("0 devices accepted")
	}
}
