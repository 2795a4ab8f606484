package exec_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// deepMLP is layers x (MatMul, Add, Relu) of width w: 3 intermediates per layer.
func deepMLP(t testing.TB, layers, w int) *graph.Graph {
	r := rand.New(rand.NewPCG(10, 10))
	b := graph.NewBuilder("deep")
	b.Input("x", tensor.Float32, graph.Shape{{Size: -1, Param: "batch"}, {Size: int64(w)}})
	for i := 0; i < layers; i++ {
		wt := tensor.New(tensor.Float32, []int{w, w})
		for j := range wt.Float32s() {
			wt.Float32s()[j] = float32(r.NormFloat64() / 16)
		}
		b.Const(fmt.Sprint("w", i), wt)
		b.Const(fmt.Sprint("b", i), tensor.New(tensor.Float32, []int{w}))
		b.Op("MatMul", "", []string{"x", fmt.Sprint("w", i)}, []string{"x"}, nil)
		b.Op("Add", "", []string{"x", fmt.Sprint("b", i)}, []string{"x"}, nil)
		b.Op("Relu", "", []string{"x"}, []string{"x"}, nil)
	}
	b.Output("x")
	g, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestMemoryPlanOfA50LayerMLPStaysWithinThreeActivations(t *testing.T) {
	const layers, width, batch = 50, 96, 7
	sess, err := exec.NewSession(deepMLP(t, layers, width), cpu.New(cpu.Options{}), exec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := sess.Plan(map[string][]int{"x": {batch, width}})
	if err != nil {
		t.Fatal(err)
	}
	st := plan.Stats()
	activation := batch * width * 4
	activation = (activation + 63) / 64 * 64
	if st.ArenaBytes > 3*activation {
		t.Fatalf("peak intermediate memory %d bytes, more than 3 activations (%d bytes each)", st.ArenaBytes, activation)
	}
	if st.NaiveBytes < 100*activation {
		t.Fatalf("naive bytes %d: expected one buffer per intermediate", st.NaiveBytes)
	}
	t.Logf("arena %d bytes = %.1f activations; one buffer per intermediate would take %d (%.0fx)",
		st.ArenaBytes, float64(st.ArenaBytes)/float64(activation), st.NaiveBytes, float64(st.NaiveBytes)/float64(st.ArenaBytes))
	// and the numbers are right: run it against a float64 reference
	x := tensor.New(tensor.Float32, []int{batch, width})
	r := rand.New(rand.NewPCG(11, 11))
	for i := range x.Float32s() {
		x.Float32s()[i] = float32(r.NormFloat64())
	}
	res, err := sess.Run(context.Background(), map[string]*tensor.Tensor{"x": x}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	g := sess.Graph()
	ref := make([]float64, batch*width)
	for i, v := range x.Float32s() {
		ref[i] = float64(v)
	}
	for l := 0; l < layers; l++ {
		w := g.Value(fmt.Sprint("w", l)).Const.Float32s()
		next := make([]float64, len(ref))
		for i := 0; i < batch; i++ {
			for j := 0; j < width; j++ {
				s := 0.0
				for k := 0; k < width; k++ {
					s += ref[i*width+k] * float64(w[k*width+j])
				}
				next[i*width+j] = max(s, 0)
			}
		}
		ref = next
	}
	for i, v := range res.Outputs[0].Float32s() {
		if d := float64(v) - ref[i]; d > 1e-3 || d < -1e-3 {
			t.Fatalf("element %d = %v, want %v", i, v, ref[i])
		}
	}
}
