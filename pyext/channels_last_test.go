package pyext

import (
	"encoding/json"
	"fmt"
	"testing"
)

// TestCPUSessionsRunChannelsLast: a session of an optimized convolution graph on the
// CPU plans it channels-last (the entry transpose, the NHWC convolution, the exit
// transpose); with the channels-last pass disabled by name it keeps the one fused NCHW
// convolution.
func TestCPUSessionsRunChannelsLast(t *testing.T) {
	dev, err := DeviceOpen("cpu", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer Close(dev)
	w, wp := foreignFloats(t, 32*16*3*3)
	for i := range w {
		w[i] = float32(i%7) - 3
	}
	spec := fmt.Sprintf(`{"name":"t","inputs":[{"name":"x","dtype":"float32","shape":[-1,16,12,12]}],
		"consts":[{"name":"w","dtype":"float32","shape":[32,16,3,3],"ptr":%d}],
		"nodes":[{"op":"Conv","name":"conv","inputs":["x","w"],"outputs":["c"],"attrs":{"pads":{"ints":[1,1,1,1]}}},
		         {"op":"Relu","name":"relu","inputs":["c"],"outputs":["y"]}],
		"outputs":["y"]}`, wp)
	planNodes := func(disable string) int {
		g, err := GraphBuild(spec)
		if err != nil {
			t.Fatal(err)
		}
		defer Close(g)
		if _, err := GraphOptimize(g, disable); err != nil {
			t.Fatal(err)
		}
		s, err := SessionNew(g, dev, "")
		if err != nil {
			t.Fatal(err)
		}
		defer Close(s)
		js, err := SessionPlanStats(s, `{"x":[2,16,12,12]}`)
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
	if n := planNodes(""); n != 3 {
		t.Errorf("CPU plan of the optimized graph has %d nodes, want 3 (Transpose, NhwcConv, Transpose)", n)
	}
	if n := planNodes("channels-last"); n != 1 {
		t.Errorf("with channels-last disabled the plan has %d nodes, want 1 (FusedConv)", n)
	}
}
