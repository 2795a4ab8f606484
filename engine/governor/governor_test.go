package governor_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/backends/sim"
	"github.com/lightiam/lightos/engine/governor"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

func simDevs(t *testing.T, n int, o sim.Options) []backends.Device {
	t.Helper()
	var out []backends.Device
	for i := range n {
		o.ID = i
		d, err := sim.New(sim.H100(), o)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

func virtual(t *testing.T, devs []backends.Device, p governor.Policy) *governor.Governor {
	t.Helper()
	g, err := governor.New(devs, governor.Options{Virtual: true, Policy: p})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// seconds of work on an unthrottled H100 at full batch.
func work(s float64) *governor.Cost {
	return &governor.Cost{FLOPs: s * sim.H100().PeakTFLOPS * 1e12, Items: 1}
}

func submit(t *testing.T, g *governor.Governor, name string, prio int, c *governor.Cost) *governor.Job {
	t.Helper()
	j, err := g.Submit(governor.JobSpec{Name: name, Runner: governor.CostOnly{}, Priority: prio, Cost: c})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestPriorityOrder(t *testing.T) {
	g := virtual(t, simDevs(t, 1, sim.Options{}), governor.NoGovernor{})
	first := submit(t, g, "busy", 0, work(2))
	g.Advance(100 * time.Millisecond)
	if first.Status() != governor.Running {
		t.Fatalf("first job %v", first.Status())
	}
	lo, hi, mid := submit(t, g, "lo", 1, work(1)), submit(t, g, "hi", 3, work(1)), submit(t, g, "mid", 2, work(1))
	if err := g.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !(hi.QueueTime() < mid.QueueTime() && mid.QueueTime() < lo.QueueTime()) {
		t.Errorf("queue times hi %v mid %v lo %v: not in priority order", hi.QueueTime(), mid.QueueTime(), lo.QueueTime())
	}
	if rt := first.RunTime(); math.Abs(rt.Seconds()-2) > 0.06 {
		t.Errorf("2 s of work ran %v", rt)
	}
}

// TestAgingPreventsStarvation: a low-priority job submitted first gets to run while
// higher-priority jobs keep arriving, once its aging outweighs the gap.
func TestAgingPreventsStarvation(t *testing.T) {
	g, err := governor.New(simDevs(t, 1, sim.Options{}), governor.Options{Virtual: true, Policy: governor.NoGovernor{}, AgingPerSecond: 1})
	if err != nil {
		t.Fatal(err)
	}
	submit(t, g, "busy", 0, work(1))
	low := submit(t, g, "low", 0, work(0.5))
	for range 200 { // one priority-5 job per second, each 1 s long: the device is never free
		submit(t, g, "high", 5, work(1))
		g.Advance(time.Second)
	}
	if low.Status() != governor.Done {
		t.Fatalf("low-priority job starved: %v", low.Status())
	}
	if q := low.QueueTime().Seconds(); q < 4 || q > 10 {
		t.Errorf("low job waited %.1f s; with aging 1/s and a gap of 5 expected about 6", q)
	}
}

func TestDeadlineAndCancel(t *testing.T) {
	g := virtual(t, simDevs(t, 1, sim.Options{}), governor.NoGovernor{})
	submit(t, g, "busy", 0, work(10))
	dl, err := g.Submit(governor.JobSpec{Name: "late", Runner: governor.CostOnly{}, Cost: work(1), Deadline: g.Now().Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	c := submit(t, g, "canceled", 0, work(1))
	c.Cancel()
	if _, err := c.Result(context.Background()); !errors.Is(err, governor.ErrCanceled) || c.Status() != governor.Canceled {
		t.Errorf("canceled job: %v, %v", c.Status(), err)
	}
	if _, err := dl.Result(context.Background()); !errors.Is(err, governor.ErrDeadline) || dl.Status() != governor.Expired {
		t.Errorf("job past its deadline: %v, %v", dl.Status(), err)
	}
	m := g.Metrics()
	if m.Expired != 1 || m.Canceled != 1 {
		t.Errorf("metrics %+v", m)
	}
}

func TestBadInput(t *testing.T) {
	if _, err := governor.New(nil, governor.Options{}); err == nil {
		t.Error("no devices accepted")
	}
	if _, err := governor.New(simDevs(t, 1, sim.Options{}), governor.Options{}); err == nil {
		t.Error("simulated device accepted in real time")
	}
	if _, err := governor.New([]backends.Device{cpu.New(cpu.Options{Threads: 1})}, governor.Options{Virtual: true}); err == nil {
		t.Error("real device accepted in virtual time")
	}
	g := virtual(t, simDevs(t, 1, sim.Options{}), nil)
	if _, err := g.Submit(governor.JobSpec{}); err == nil {
		t.Error("job without runner accepted")
	}
	if _, err := g.Submit(governor.JobSpec{Runner: governor.CostOnly{}, Cost: &governor.Cost{FLOPs: math.NaN()}}); err == nil {
		t.Error("NaN cost accepted")
	}
}

func TestPolicies(t *testing.T) {
	devs := []governor.DeviceState{
		{Index: 0, TempC: 70, TempValid: true}, {Index: 1, TempC: 50, TempValid: true, Busy: true},
		{Index: 2, TempC: 60, TempValid: true}, {Index: 3, TempC: 65, TempValid: true},
	}
	if d := (governor.CoolestFirst{}).Place(governor.Request{}, devs); d.Device != 2 {
		t.Errorf("coolest-first chose %d", d.Device)
	}
	if d := (governor.NoGovernor{}).Place(governor.Request{}, devs); d.Device != 0 {
		t.Errorf("no governor chose %d", d.Device)
	}
	rr := &governor.RoundRobin{}
	var got []int
	for range 4 {
		got = append(got, rr.Place(governor.Request{}, devs).Device)
	}
	if want := []int{0, 2, 3, 0}; !equal(got, want) {
		t.Errorf("round-robin chose %v, want %v", got, want)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestPredictiveAvoidsThrottling: under five minutes of back-to-back work on a hot
// device, no governor throttles and the predictive governor does not, and it does
// at least as much work.
func TestPredictiveAvoidsThrottling(t *testing.T) {
	hot := sim.Options{InletC: 45, Cooling: 1.2}
	run := func(p governor.Policy) governor.Metrics {
		g := virtual(t, simDevs(t, 1, hot), p)
		for range 300 {
			submit(t, g, "job", 0, work(1))
		}
		g.Advance(300 * time.Second)
		return g.Metrics()
	}
	none, pred := run(governor.NoGovernor{}), run(governor.Predictive{})
	if none.ThrottleEvents == 0 {
		t.Fatalf("no governor never throttled: %+v", none)
	}
	if pred.ThrottleEvents != 0 || pred.PeakTempC >= 89 {
		t.Errorf("predictive: %d throttle events, peak %.1f C", pred.ThrottleEvents, pred.PeakTempC)
	}
	if pred.Completed < none.Completed {
		t.Errorf("predictive completed %d jobs, no governor %d", pred.Completed, none.Completed)
	}
	if pred.CappedJobs == 0 {
		t.Error("predictive never capped")
	}
}

// TestPlacementSpreadsHeat: with two devices and one of them hot, the predictive
// and coolest-first policies start work on the cool one.
func TestPlacementSpreadsHeat(t *testing.T) {
	devs := simDevs(t, 2, sim.Options{InletC: 40})
	devs[0].(*sim.Device).Advance(60, sim.Load{Util: 1})
	for _, p := range []governor.Policy{governor.Predictive{}, governor.CoolestFirst{}} {
		g := virtual(t, devs, p)
		j := submit(t, g, "job", 0, work(0.2))
		if _, err := j.Result(context.Background()); err != nil {
			t.Fatal(err)
		}
		if info, _ := j.Device(); info.ID != 1 {
			t.Errorf("%s placed on device %d", p.Name(), info.ID)
		}
	}
}

func TestWeightSparsity(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, shape := range [][]int{{7, 13}, {1, 1}, {3, 5, 11}, {127, 3}} {
		g := graph.New("s")
		var zeros, total float64
		for k := range 3 {
			w := tensor.New(tensor.Float32, shape)
			p := r.Float64()
			for i := range w.Float32s() {
				if r.Float64() < p {
					zeros++
				} else {
					w.Float32s()[i] = float32(r.NormFloat64()) + 3
				}
				total++
			}
			g.AddInitializer("w"+string(rune('a'+k)), w)
		}
		g.AddInitializer("bias", tensor.New(tensor.Float32, []int{9})) // rank 1: not a weight
		if got, want := governor.WeightSparsity(g), zeros/total; math.Abs(got-want) > 1e-12 {
			t.Errorf("shape %v: sparsity %g, want %g", shape, got, want)
		}
	}
}

func mlp(t *testing.T, k, n int, sparsity float64) (*graph.Graph, *tensor.Tensor) {
	t.Helper()
	r := rand.New(rand.NewPCG(3, 4))
	w := tensor.New(tensor.Float32, []int{k, n})
	for i := range w.Float32s() {
		if r.Float64() >= sparsity {
			w.Float32s()[i] = float32(r.NormFloat64())
		}
	}
	bl := graph.NewBuilder("mlp")
	if _, err := bl.Input("x", tensor.Float32, graph.Shape{{Size: -1, Param: "batch"}, {Size: int64(k)}}); err != nil {
		t.Fatal(err)
	}
	bl.Const("w", w)
	if _, err := bl.Op("MatMul", "", []string{"x", "w"}, []string{"y"}, nil); err != nil {
		t.Fatal(err)
	}
	bl.Output("y")
	g, err := bl.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return g, w
}

// TestGraphJobsOnSimAndCPU runs a graph through the governor on a simulated device
// (computed on the CPU host, timed by the model) and on the real CPU, and compares
// the outputs with a float64 reference.
func TestGraphJobsOnSimAndCPU(t *testing.T) {
	const m, k, n = 5, 37, 19
	g, w := mlp(t, k, n, 0.6)
	host := cpu.New(cpu.Options{Threads: 1})
	x := tensor.New(tensor.Float32, []int{m, k})
	r := rand.New(rand.NewPCG(5, 6))
	for i := range x.Float32s() {
		x.Float32s()[i] = float32(r.NormFloat64())
	}
	ref := make([]float64, m*n)
	for i := range m {
		for j := range n {
			for p := range k {
				ref[i*n+j] += float64(x.Float32s()[i*k+p]) * float64(w.Float32s()[p*n+j])
			}
		}
	}
	runner := &governor.GraphRunner{Graph: g, Host: host}
	c, err := runner.Cost(map[string]*tensor.Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	if c.FLOPs != 2*m*n*k || c.Batch != m || math.Abs(c.Sparsity-0.6) > 0.1 {
		t.Errorf("cost %+v, want %d FLOPs, batch %d, sparsity ~0.6", c, 2*m*n*k, m)
	}
	check := func(name string, gov *governor.Governor) {
		t.Helper()
		j, err := gov.Submit(governor.JobSpec{Name: name, Runner: runner, Feeds: map[string]*tensor.Tensor{"x": x}, Priority: 1})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res, err := j.Result(ctx)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		defer res.Release()
		y := res.Get("y").Float32s()
		for i := range ref {
			if math.Abs(float64(y[i])-ref[i]) > 1e-4*(1+math.Abs(ref[i])) {
				t.Fatalf("%s: y[%d] = %g, want %g", name, i, y[i], ref[i])
			}
		}
		if j.Status() != governor.Done {
			t.Errorf("%s: status %v", name, j.Status())
		}
	}
	check("sim", virtual(t, simDevs(t, 2, sim.Options{}), nil))
	real, err := governor.New([]backends.Device{host}, governor.Options{Tick: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	check("cpu", real)
	if err := real.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m := real.Metrics(); m.Completed != 1 {
		t.Errorf("cpu metrics %+v", m)
	}
	if _, err := real.Submit(governor.JobSpec{Runner: runner, Feeds: map[string]*tensor.Tensor{"x": x}}); !errors.Is(err, governor.ErrClosed) {
		t.Errorf("submit after shutdown: %v", err)
	}
}

// TestSparsityAwareBudget: under a node power budget that has room for one dense
// job and one sparse job, a second dense job waits while a sparse one starts,
// because sparse weights lower the job's estimated power.
func TestSparsityAwareBudget(t *testing.T) {
	p := sim.H100()
	dyn := p.MaxW - p.IdleW
	budget := 2*p.IdleW + dyn + dyn*(1-p.SparsityPower*0.5) + 1
	for _, c := range []struct {
		sparsity float64
		starts   bool
	}{{0, false}, {0.5, true}} {
		g, err := governor.New(simDevs(t, 2, sim.Options{}), governor.Options{Virtual: true, PowerBudgetW: budget})
		if err != nil {
			t.Fatal(err)
		}
		submit(t, g, "dense", 0, work(5))
		second := submit(t, g, "second", 0, &governor.Cost{FLOPs: 5 * 674e12, Sparsity: c.sparsity})
		g.Advance(200 * time.Millisecond)
		if got := second.Status() == governor.Running; got != c.starts {
			t.Errorf("sparsity %.1f: second job running = %v, want %v", c.sparsity, got, c.starts)
		}
		if c.starts && second.PowerCapW() == 0 {
			t.Error("sparse job has no software power budget")
		}
	}
}
