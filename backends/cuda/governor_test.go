package cuda_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/cuda"
	"github.com/lightiam/lightos/engine/governor"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// TestGovernorPlacesJobsAcrossGPUs: one cuda.Device per GPU and a PowerGovernor over
// all of them (what the registry and lightos serve build); a burst of MLP jobs runs
// with every result equal to the CPU engine's, and every GPU runs some of them.
func TestGovernorPlacesJobsAcrossGPUs(t *testing.T) {
	gpu(t, false) // skips without a GPU
	n, err := cuda.Count()
	if err != nil {
		t.Fatal(err)
	}
	if n < 2 {
		t.Skipf("needs two GPUs to place jobs across, found %d", n)
	}
	var devs []backends.Device
	for i := 0; i < n; i++ {
		d, err := cuda.Open(i, cuda.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		devs = append(devs, d)
	}
	gov, err := governor.New(devs, governor.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer gov.Close()

	r := rand.New(rand.NewPCG(31, 32))
	b := graph.NewBuilder("mlp-gov")
	b.Input("x", tensor.Float32, graph.Shape{{Size: -1, Param: "batch"}, {Size: 1024}})
	constT(b, r, "w1", 1024, 2048)
	constT(b, r, "w2", 2048, 1000)
	for _, s := range []struct {
		op  string
		in  []string
		out string
	}{{"MatMul", []string{"x", "w1"}, "h"}, {"Relu", []string{"h"}, "hr"}, {"MatMul", []string{"hr", "w2"}, "y"}} {
		if err := op(b, s.op, s.in, s.out, nil); err != nil {
			t.Fatal(err)
		}
	}
	b.Output("y")
	g, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	runner := &governor.GraphRunner{Graph: g}
	type sub struct {
		job  *governor.Job
		want []float32
	}
	// The CPU references first, so that the jobs arrive as one burst (a job takes well
	// under a millisecond on a GPU: submitted one by one, each would end before the
	// next arrived and the coolest idle GPU would take them all).
	var feeds []map[string]*tensor.Tensor
	var want [][]float32
	for i := 0; i < 48; i++ {
		f := map[string]*tensor.Tensor{"x": randT(r, []int{64 + i%3, 1024}, false)}
		feeds, want = append(feeds, f), append(want, cpuRun(t, g, f)["y"].Float32s())
	}
	var subs []sub
	for i, f := range feeds {
		j, err := gov.Submit(governor.JobSpec{Name: "mlp", Runner: runner, Feeds: f})
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, sub{j, want[i]})
	}
	ran := map[int]int{}
	for _, s := range subs {
		res, err := s.job.Result(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if e := relErr(res.Outputs[0].Float32s(), s.want); !(e <= 1e-5) {
			t.Errorf("job %d: relative error %.3g", s.job.ID(), e)
		}
		res.Release()
		info, ok := s.job.Device()
		if !ok {
			t.Fatalf("job %d ran on no device", s.job.ID())
		}
		ran[info.ID]++
	}
	t.Logf("jobs per GPU: %v", ran)
	for i := range devs {
		if ran[devs[i].Info().ID] == 0 {
			t.Errorf("GPU %d ran none of %d jobs (per GPU: %v)", i, len(subs), ran)
		}
	}
}
