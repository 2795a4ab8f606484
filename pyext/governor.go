package pyext

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/sim"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/governor"
	"github.com/lightiam/lightos/engine/tensor"
)

type govObj struct {
	g       *governor.Governor
	virtual bool
}

func (o *govObj) close() error { return o.g.Close() }

type jobObj struct {
	j     *governor.Job
	g     *govObj
	nOuts int
}

// sessRunner runs a job through a pyext session (custom ops included) on whichever
// device the governor picks; devices without kernels run it on the session's host.
type sessRunner struct {
	so    *sessObj
	token int64
	cost  *governor.GraphRunner
}

func (r *sessRunner) Run(ctx context.Context, _ backends.Device, feeds map[string]*tensor.Tensor) (*exec.Result, error) {
	return r.so.sess.Run(context.WithValue(ctx, tokenKey{}, r.token), feeds, nil)
}

func (r *sessRunner) Cost(feeds map[string]*tensor.Tensor) (governor.Cost, error) {
	return r.cost.Cost(feeds)
}

// GovernorNew makes a PowerGovernor over the devices (comma-separated device handles)
// with a policy ("predictive", "coolest-first", "round-robin", "none") and a node power
// budget in watts (0: none). Simulated devices run in virtual time (all devices must
// then be simulated).
func GovernorNew(devicesCSV, policy string, powerBudgetW float64) (h int64, err error) {
	defer guard(&err)
	var devs []backends.Device
	nsim := 0
	for _, f := range strings.Split(devicesCSV, ",") {
		id, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		if err != nil {
			return 0, kerr(KindArgument, "device handle %q", f)
		}
		d, err := get[*deviceObj](id, "device")
		if err != nil {
			return 0, err
		}
		if _, ok := d.dev.(*sim.Device); ok {
			nsim++
		}
		devs = append(devs, d.dev)
	}
	if nsim > 0 && nsim < len(devs) {
		return 0, kerr(KindArgument, "a governor runs either simulated devices (virtual time) or real ones, not both")
	}
	var p governor.Policy
	switch policy {
	case "", "predictive":
		p = governor.Predictive{}
	case "coolest-first":
		p = governor.CoolestFirst{}
	case "round-robin":
		p = &governor.RoundRobin{}
	case "none":
		p = governor.NoGovernor{}
	default:
		return 0, kerr(KindArgument, "unknown policy %q (predictive, coolest-first, round-robin, none)", policy)
	}
	g, err := governor.New(devs, governor.Options{Policy: p, Virtual: nsim > 0, PowerBudgetW: powerBudgetW})
	if err != nil {
		return 0, kerr(KindArgument, "%v", err)
	}
	return put(&govObj{g: g, virtual: nsim > 0}), nil
}

// GovernorSubmit queues a run of session s with the inputs in meta (SessionRun's
// layout; caller outputs are not used) and returns a job handle. The input arrays must
// stay alive until the job ends (the Python Job holds them). flops > 0 overrides the
// job's estimated work (what a simulated device is charged); batch likewise.
func GovernorSubmit(gh, s, token int64, meta uintptr, priority int, deadlineS float64, name string, flops float64, batch int) (h int64, err error) {
	defer guard(&err)
	g, err := get[*govObj](gh, "governor")
	if err != nil {
		return 0, err
	}
	so, err := get[*sessObj](s, "session")
	if err != nil {
		return 0, err
	}
	if meta == 0 {
		return 0, kerr(KindArgument, "GovernorSubmit: nil metadata pointer")
	}
	head := (*[4]int64)(foreign(meta))
	nIn := int(head[0])
	need := 4 + recWidth*nIn
	if nIn < 0 || int(head[2]) < need {
		return 0, kerr(KindArgument, "GovernorSubmit: metadata holds %d values, needs %d", head[2], need)
	}
	m := unsafeInts(meta, need)
	feeds, err := parseFeeds(so.g, m, nIn)
	if err != nil {
		return 0, err
	}
	spec := governor.JobSpec{Name: name, Feeds: feeds, Priority: priority,
		Runner: &sessRunner{so: so, token: token, cost: &governor.GraphRunner{Graph: so.g, Host: so.sess.Device()}}}
	if flops > 0 {
		c, err := spec.Runner.Cost(feeds)
		if err != nil {
			return 0, classify(err, KindExecution)
		}
		c.FLOPs = flops
		if batch > 0 {
			c.Batch = batch
		}
		spec.Cost = &c
	}
	if deadlineS > 0 {
		spec.Deadline = g.g.Now().Add(time.Duration(deadlineS * float64(time.Second)))
	}
	j, err := g.g.Submit(spec)
	if err != nil {
		return 0, classify(err, KindExecution)
	}
	return put(&jobObj{j: j, g: g, nOuts: len(so.g.Outputs)}), nil
}

// JobWait waits up to timeoutS seconds (<= 0: no limit) for job h (in virtual time the
// simulation advances until it ends) and writes its outputs into meta as records of
// SessionRun's result layout, from index 0. It returns the number of outputs.
func JobWait(h int64, timeoutS float64, meta uintptr, capacity int) (n int, err error) {
	defer guard(&err)
	jo, err := get[*jobObj](h, "job")
	if err != nil {
		return 0, err
	}
	ctx := context.Background()
	if timeoutS > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(timeoutS*float64(time.Second)))
		defer cancel()
	}
	res, err := jo.j.Result(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return 0, kerr(KindExecution, "job %d: timed out waiting %gs", jo.j.ID(), timeoutS)
		}
		return 0, classify(err, KindExecution)
	}
	if res == nil {
		return 0, nil
	}
	if meta == 0 || capacity < recWidth*len(res.Outputs) {
		return 0, kerr(KindArgument, "JobWait: metadata holds %d values, needs %d", capacity, recWidth*len(res.Outputs))
	}
	if err := writeResults(res, unsafeInts(meta, recWidth*len(res.Outputs)), nil, nil); err != nil {
		return 0, err
	}
	return len(res.Outputs), nil
}

// JobInfo describes job h as JSON: id, name, status, device, queue_s, run_s, energy_j, power_cap_w.
func JobInfo(h int64) (s string, err error) {
	defer guard(&err)
	jo, err := get[*jobObj](h, "job")
	if err != nil {
		return "", err
	}
	j := jo.j
	m := map[string]any{"id": j.ID(), "name": j.Name(), "status": j.Status().String(),
		"queue_s": j.QueueTime().Seconds(), "run_s": j.RunTime().Seconds(), "energy_j": finite(j.EnergyJ()),
		"power_cap_w": finite(j.PowerCapW()), "device": nil, "flops": j.Cost().FLOPs}
	if info, ok := j.Device(); ok {
		m["device"] = info.String()
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// JobCancel cancels job h (removes it from the queue, or cancels its run).
func JobCancel(h int64) (err error) {
	defer guard(&err)
	jo, err := get[*jobObj](h, "job")
	if err != nil {
		return err
	}
	jo.j.Cancel()
	return nil
}

// GovernorAdvance advances a virtual-time governor by seconds (or, with seconds <= 0,
// until no job is queued or running).
func GovernorAdvance(h int64, seconds float64) (err error) {
	defer guard(&err)
	g, err := get[*govObj](h, "governor")
	if err != nil {
		return err
	}
	if !g.virtual {
		return kerr(KindArgument, "only a governor of simulated devices runs in virtual time")
	}
	if seconds <= 0 {
		return classify(g.g.Drain(context.Background()), KindExecution)
	}
	return classify(g.g.Advance(time.Duration(seconds*float64(time.Second))), KindExecution)
}

// GovernorMetrics returns the governor's metrics as JSON (governor.Metrics fields in
// snake case) plus each device's telemetry.
func GovernorMetrics(h int64) (s string, err error) {
	defer guard(&err)
	g, err := get[*govObj](h, "governor")
	if err != nil {
		return "", err
	}
	mt := g.g.Metrics()
	m := map[string]any{"policy": mt.Policy, "devices": mt.Devices, "elapsed_s": mt.ElapsedS,
		"submitted": mt.Submitted, "completed": mt.Completed, "failed": mt.Failed, "canceled": mt.Canceled,
		"expired": mt.Expired, "items": mt.Items, "throttle_events": mt.ThrottleEvents,
		"throttle_seconds": mt.ThrottleSeconds, "energy_j": finite(mt.EnergyJ), "mean_temp_c": finite(mt.MeanTempC),
		"peak_temp_c": finite(mt.PeakTempC), "mean_power_w": finite(mt.MeanPowerW), "throughput": finite(mt.Throughput),
		"queue_p50_s": mt.QueueP50, "queue_p99_s": mt.QueueP99, "capped_jobs": mt.CappedJobs, "delays": mt.Delays,
		"virtual": g.virtual}
	var temps []any
	for _, d := range g.g.Devices() {
		t, err := d.Telemetry()
		if err != nil || !t.TemperatureC.Valid {
			temps = append(temps, nil)
			continue
		}
		temps = append(temps, t.TemperatureC.Value)
	}
	m["device_temps_c"] = temps
	b, err := json.Marshal(m)
	return string(b), err
}

func finite(x float64) any {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return x
}
