package pyext

import (
	"encoding/json"
	"testing"
)

// TestSessionSpecializesOptimizedGraphs: a graph whose Reshape target is computed from
// a symbolic batch (Shape of the input) cannot be simplified before its shapes are
// known. Sessions of an optimized graph optimize each plan's copy again for the
// concrete shapes (the Shape folds, the no-op Reshape goes); sessions of a graph never
// optimized run it as built.
func TestSessionSpecializesOptimizedGraphs(t *testing.T) {
	dev, err := DeviceOpen("cpu", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer Close(dev)
	const spec = `{"name":"t","inputs":[{"name":"x","dtype":"float32","shape":[-1,6]}],
		"nodes":[{"op":"Shape","name":"shape","inputs":["x"],"outputs":["s"]},
		         {"op":"Reshape","name":"reshape","inputs":["x","s"],"outputs":["r"]},
		         {"op":"Neg","name":"neg","inputs":["r"],"outputs":["y"]}]}`
	planNodes := func(optimize bool) int {
		g, err := GraphBuild(spec)
		if err != nil {
			t.Fatal(err)
		}
		defer Close(g)
		if optimize {
			if _, err := GraphOptimize(g, ""); err != nil {
				t.Fatal(err)
			}
		}
		s, err := SessionNew(g, dev, "")
		if err != nil {
			t.Fatal(err)
		}
		defer Close(s)
		js, err := SessionPlanStats(s, `{"x":[3,6]}`)
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			Nodes int `json:"nodes"`
		}
		if err := json.Unmarshal([]byte(js), &st); err != nil {
			t.Fatal(err)
		}
		return st.Nodes
	}
	plain, optimized := planNodes(false), planNodes(true)
	if plain != 2 {
		t.Errorf("unoptimized plan has %d nodes, want 2 (Shape, Neg; the Reshape is a view)", plain)
	}
	if optimized != 1 {
		t.Errorf("optimized, specialized plan has %d nodes, want 1 (Neg)", optimized)
	}
}
