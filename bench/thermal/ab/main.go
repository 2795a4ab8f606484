// Command ab is the on-GPU A/B test of the PowerGovernor: the same bursty job
// schedule is replayed on a real NVIDIA GPU with the governor off (first idle
// device, no forecasts) and on (the predictive policy with the card's thresholds,
// and optionally with an artificially low thermal limit so that it has to act),
// interleaved (ABC, CBA, ...) and repeated, recording energy from the NVML energy
// counter, the thermal and power violation counters and sampled throttle-reason
// bits, temperature and throughput.
//
// The load is a FP32 busy loop on the GPU (package cudaburn, CUDA driver API via
// purego), because the CUDA compute backend does not exist yet: it heats the card
// like dense compute but it is not inference.
//
// Build it anywhere (no cgo, no CUDA SDK) and run it on the GPU machine:
//
//	CGO_ENABLED=0 go build -o bin/thermal-ab ./bench/thermal/ab
//	./bin/thermal-ab -out results/
//
// Without an NVIDIA driver it prints "SKIP: <reason>" and exits 0. It never changes
// a card setting (NVML is opened read-only); the governor can therefore delay work
// but not cap power on the real card.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/nvml"
	"github.com/lightiam/lightos/backends/sim"
	"github.com/lightiam/lightos/bench/thermal/internal/cudaburn"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/governor"
	"github.com/lightiam/lightos/engine/tensor"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "thermal-ab:", err)
		os.Exit(1)
	}
}

// Config is the experiment.
type Config struct {
	Trial, Cooldown, Job, Launch time.Duration
	Repeats                      int
	Load                         float64 // mean offered load, fraction of the GPU's capacity
	Arms                         []Arm
	Seed                         uint64
	GPU                          int
	Out                          string
}

// Arm is one side of the comparison.
type Arm struct {
	Name string
	// Governor false: NoGovernor. LimitC > 0 replaces the card's slowdown threshold
	// in the governor's forecasts (a software thermal limit).
	Governor bool
	LimitC   float64
}

func parseArms(s string) ([]Arm, error) {
	var out []Arm
	for _, a := range strings.Split(s, ",") {
		a = strings.TrimSpace(a)
		switch {
		case a == "off":
			out = append(out, Arm{Name: "off"})
		case a == "on":
			out = append(out, Arm{Name: "on", Governor: true})
		case strings.HasPrefix(a, "on@"):
			c, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimPrefix(a, "on@"), "C"), 64)
			if err != nil || c < 20 || c > 110 {
				return nil, fmt.Errorf("arm %q: want on@<limit in C, 20..110>", a)
			}
			out = append(out, Arm{Name: a, Governor: true, LimitC: c})
		default:
			return nil, fmt.Errorf("arm %q: want off, on or on@<C>", a)
		}
	}
	return out, nil
}

func run(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("thermal-ab", flag.ContinueOnError)
	fs.SetOutput(w)
	c := Config{}
	fs.DurationVar(&c.Trial, "trial", 40*time.Second, "length of one trial")
	fs.DurationVar(&c.Cooldown, "cooldown", 15*time.Second, "idle time before each trial")
	fs.DurationVar(&c.Job, "job", 500*time.Millisecond, "GPU time of one job at full clocks")
	fs.DurationVar(&c.Launch, "launch", 50*time.Millisecond, "length of one kernel launch")
	fs.IntVar(&c.Repeats, "repeats", 2, "rounds; each round runs every arm once, order reversed every other round")
	fs.Float64Var(&c.Load, "load", 0.8, "mean offered load (fraction of capacity); bursts at 1.3x")
	arms := fs.String("arms", "off,on,on@60C", "arms: off, on (card thresholds), on@<C> (software limit)")
	fs.Uint64Var(&c.Seed, "seed", 1, "schedule seed")
	fs.IntVar(&c.GPU, "gpu", 0, "NVML index of the GPU")
	fs.StringVar(&c.Out, "out", os.Getenv("OUT"), "directory for results.json and samples.csv (default $OUT; none if empty)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if c.Arms, err = parseArms(*arms); err != nil {
		return err
	}
	if c.Trial <= 0 || c.Job <= 0 || c.Launch <= 0 || c.Repeats < 1 || !(c.Load > 0 && c.Load <= 2) {
		return fmt.Errorf("bad settings: trial %v, job %v, launch %v, repeats %d, load %g", c.Trial, c.Job, c.Launch, c.Repeats, c.Load)
	}
	rig, skip, err := openRig(c.GPU)
	if skip != "" {
		fmt.Fprintln(w, "SKIP:", skip)
		return nil
	}
	if err != nil {
		return err
	}
	defer rig.Close()
	return experiment(c, rig, w)
}

// rig is the GPU under test: NVML for telemetry, cudaburn for load.
type rig struct {
	lib    *nvml.Lib
	dev    *nvml.Device
	burn   *cudaburn.Burner
	iters  uint32 // per launch
	per    int    // launches per job
	jobSec float64
	prof   sim.Profile
	hasPr  bool
}

func (r *rig) Close() {
	if r.burn != nil {
		r.burn.Close()
	}
	if r.lib != nil {
		r.lib.Close()
	}
}

// openRig returns a skip reason when there is no GPU to test.
func openRig(index int) (*rig, string, error) {
	lib, err := nvml.Open(nvml.Options{})
	if err != nil {
		return nil, "no NVIDIA driver (NVML): " + err.Error(), nil
	}
	r := &rig{lib: lib}
	devs, err := lib.Devices()
	if err != nil {
		r.Close()
		return nil, "", err
	}
	if index < 0 || index >= len(devs) {
		r.Close()
		return nil, fmt.Sprintf("no GPU %d (NVML reports %d)", index, len(devs)), nil
	}
	r.dev = devs[index].(*nvml.Device)
	r.burn, err = cudaburn.Open(r.dev.Info().UUID)
	if err != nil {
		r.Close()
		return nil, "no CUDA driver for the load: " + err.Error(), nil
	}
	return r, "", nil
}

// calibrate sizes launches and jobs, and measures the load's power over 5 s (the
// governor's power profile: "measured profiles").
func (r *rig) calibrate(c Config, w io.Writer) error {
	iters, err := r.burn.Calibrate(c.Launch)
	if err != nil {
		return err
	}
	r.iters = iters
	r.per = max(1, int(math.Round(c.Job.Seconds()/c.Launch.Seconds())))
	t0 := time.Now()
	e0 := reading(r.dev).EnergyJ
	for time.Since(t0) < 5*time.Second {
		if err := r.burn.Launch(iters); err != nil {
			return err
		}
	}
	el := time.Since(t0).Seconds()
	e1 := reading(r.dev).EnergyJ
	t1 := time.Now()
	for range 2 * r.per {
		if err := r.burn.Launch(iters); err != nil {
			return err
		}
	}
	r.jobSec = time.Since(t1).Seconds() / 2
	r.prof, r.hasPr = r.dev.PowerProfile()
	loadW := math.NaN()
	if e0.Valid && e1.Valid {
		loadW = (e1.Value - e0.Value) / el
		if r.hasPr && loadW > r.prof.IdleW {
			r.prof.MaxW = loadW // the busy loop's measured power at full clocks
		}
	}
	fmt.Fprintf(w, "calibration: %d SMs, %d iterations per %v launch (%.1f TFLOP/s FP32 FFMA), %d launches per job (%.3f s), load power %.0f W (NVML energy over %.1f s)\n",
		r.burn.SMs, iters, c.Launch, r.burn.FLOPs(iters)/c.Launch.Seconds()/1e12, r.per, r.jobSec, loadW, el)
	return nil
}

func reading(d backends.Device) backends.Telemetry {
	t, _ := d.Telemetry()
	return t
}

// profiled gives the governor the measured profile of the busy loop.
type profiled struct {
	*nvml.Device
	prof sim.Profile
	ok   bool
}

func (p profiled) PowerProfile() (sim.Profile, bool) { return p.prof, p.ok }

// burnRunner is one job: per launches of the busy kernel.
type burnRunner struct {
	r    *rig
	cost governor.Cost
}

func (b burnRunner) Run(ctx context.Context, _ backends.Device, _ map[string]*tensor.Tensor) (*exec.Result, error) {
	return nil, b.r.burn.Run(ctx, b.r.per, b.r.iters)
}
func (b burnRunner) Cost(map[string]*tensor.Tensor) (governor.Cost, error) { return b.cost, nil }

// limited is the predictive policy with a software thermal limit.
type limited struct {
	governor.Predictive
	limitC float64
}

func (l limited) Name() string { return fmt.Sprintf("predictive@%.0fC", l.limitC) }
func (l limited) Place(req governor.Request, devs []governor.DeviceState) governor.Decision {
	for i := range devs {
		devs[i].SlowdownC = l.limitC
	}
	return l.Predictive.Place(req, devs)
}

// schedule is the arrival times (seconds into a trial) of the jobs: bursts of 5–12 s
// at 1.3x capacity and quiet spells of 5–15 s at the rate that makes the mean load.
func schedule(c Config, jobSec float64) []float64 {
	rng := rand.New(rand.NewPCG(c.Seed, 7))
	const burst, bMean, qMean = 1.3, 8.5, 10.0
	quiet := math.Max(0.05, (c.Load*(bMean+qMean)-burst*bMean)/qMean)
	var out []float64
	t, inBurst, end := 0.0, true, c.Trial.Seconds()
	for t < end {
		dur, load := 5+rng.Float64()*7, burst
		if !inBurst {
			dur, load = 5+rng.Float64()*10, quiet
		}
		rate := load / jobSec
		pe := math.Min(t+dur, end)
		for t += rng.ExpFloat64() / rate; t < pe; t += rng.ExpFloat64() / rate {
			out = append(out, t)
		}
		t, inBurst = pe, !inBurst
	}
	return out
}

// Trial is one arm's run.
type Trial struct {
	Arm, Policy                             string
	Round                                   int
	Seconds                                 float64
	Offered, Completed                      int
	EnergyJ                                 float64 // NVML total energy counter
	JPerJob                                 float64
	JobsPerS                                float64
	MeanTempC, PeakTempC, StartTempC        float64
	MeanPowerW                              float64
	ThermalViolationS, PowerViolationS      float64 // NVML counter deltas; NaN when unsupported
	ThermalThrottleSamples, PowerCapSamples int     // samples with the bits set
	ThermalThrottleEvents                   int     // rising edges of thermal bits
	Samples                                 int
	QueueP99S                               float64
	Delays                                  int
}

const thermalBits = 0x8 | 0x20 | 0x40

type sample struct {
	T              float64
	Arm            string
	Round          int
	TempC, PowerW  float64
	Reasons        uint64
	Running, Queue int
}

func experiment(c Config, r *rig, w io.Writer) error {
	info := r.dev.Info()
	fmt.Fprintf(w, "GPU %s (%s), driver %s\n", info.Name, info.UUID, info.Driver)
	if err := r.calibrate(c, w); err != nil {
		return err
	}
	sched := schedule(c, r.jobSec)
	fmt.Fprintf(w, "schedule: %d jobs in %v (%.0f%% mean load, bursts at 130%%), %d rounds of %d arms, %v cool-down\n\n",
		len(sched), c.Trial, 100*c.Load, c.Repeats, len(c.Arms), c.Cooldown)
	var trials []Trial
	var samples []sample
	for round := range c.Repeats {
		order := append([]Arm(nil), c.Arms...)
		if round%2 == 1 {
			for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
				order[i], order[j] = order[j], order[i]
			}
		}
		for _, arm := range order {
			time.Sleep(c.Cooldown)
			tr, ss, err := runTrial(c, r, arm, round, sched)
			if err != nil {
				return fmt.Errorf("round %d arm %s: %w", round, arm.Name, err)
			}
			trials = append(trials, tr)
			samples = append(samples, ss...)
			fmt.Fprintf(w, "round %d %-10s %3d/%3d jobs, %.2f jobs/s, %.0f J (%.0f J/job), temp start %.0f mean %.1f peak %.0f C, power %.0f W, thermal viol %.2f s, power viol %.2f s, thermal-throttle samples %d, p99 queue %.2f s\n",
				round, arm.Name, tr.Completed, tr.Offered, tr.JobsPerS, tr.EnergyJ, tr.JPerJob, tr.StartTempC, tr.MeanTempC, tr.PeakTempC, tr.MeanPowerW,
				tr.ThermalViolationS, tr.PowerViolationS, tr.ThermalThrottleSamples, tr.QueueP99S)
		}
	}
	summarize(w, c, trials)
	if c.Out != "" {
		return write(c.Out, trials, samples)
	}
	return nil
}

func runTrial(c Config, r *rig, arm Arm, round int, sched []float64) (Trial, []sample, error) {
	var pol governor.Policy = governor.NoGovernor{}
	if arm.Governor {
		pol = governor.Predictive{}
		if arm.LimitC > 0 {
			pol = limited{limitC: arm.LimitC}
		}
	}
	dev := profiled{Device: r.dev, prof: r.prof, ok: r.hasPr}
	g, err := governor.New([]backends.Device{dev}, governor.Options{Policy: pol, Tick: 50 * time.Millisecond})
	if err != nil {
		return Trial{}, nil, err
	}
	tr := Trial{Arm: arm.Name, Policy: pol.Name(), Round: round, Offered: len(sched)}
	t0 := reading(r.dev)
	tr.StartTempC = t0.TemperatureC.Value
	start := time.Now()
	var mu sync.Mutex
	var ss []sample
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // 100 ms telemetry samples
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			t := reading(r.dev)
			m := g.Metrics()
			mu.Lock()
			ss = append(ss, sample{T: time.Since(start).Seconds(), Arm: arm.Name, Round: round, TempC: t.TemperatureC.Value, PowerW: t.PowerW.Value,
				Reasons: t.ThrottleReasons, Running: m.Submitted - m.Completed - m.Canceled - m.Expired - m.Failed})
			mu.Unlock()
		}
	}()
	cost := governor.Cost{FLOPs: r.jobSec * r.prof.PeakTFLOPS * 1e12, Items: 1}
	if cost.FLOPs == 0 {
		cost.FLOPs = r.burn.FLOPs(r.iters) * float64(r.per)
	}
	for _, at := range sched {
		if d := time.Until(start.Add(time.Duration(at * float64(time.Second)))); d > 0 {
			time.Sleep(d)
		}
		if _, err := g.Submit(governor.JobSpec{Name: "burn", Runner: burnRunner{r: r, cost: cost}, Cost: &cost}); err != nil {
			return tr, nil, err
		}
	}
	if d := time.Until(start.Add(c.Trial)); d > 0 {
		time.Sleep(d)
	}
	m := g.Metrics() // the trial window: jobs still queued or running are not counted
	t1 := reading(r.dev)
	tr.Seconds = time.Since(start).Seconds()
	g.Close()
	close(stop)
	wg.Wait()
	tr.Completed, tr.QueueP99S, tr.Delays = m.Completed, m.QueueP99, m.Delays
	tr.JobsPerS = float64(m.Completed) / tr.Seconds
	if t0.EnergyJ.Valid && t1.EnergyJ.Valid {
		tr.EnergyJ = t1.EnergyJ.Value - t0.EnergyJ.Value
	} else {
		tr.EnergyJ = math.NaN()
	}
	tr.JPerJob = tr.EnergyJ / float64(max(m.Completed, 1))
	tr.ThermalViolationS, tr.PowerViolationS = delta(t0.ThermalViolationS, t1.ThermalViolationS), delta(t0.PowerViolationS, t1.PowerViolationS)
	var sumT, sumP float64
	prevThr := false
	for _, s := range ss {
		sumT += s.TempC
		sumP += s.PowerW
		tr.PeakTempC = math.Max(tr.PeakTempC, s.TempC)
		thr := s.Reasons&thermalBits != 0
		if thr {
			tr.ThermalThrottleSamples++
			if !prevThr {
				tr.ThermalThrottleEvents++
			}
		}
		prevThr = thr
		if s.Reasons&0x4 != 0 {
			tr.PowerCapSamples++
		}
	}
	tr.Samples = len(ss)
	if len(ss) > 0 {
		tr.MeanTempC, tr.MeanPowerW = sumT/float64(len(ss)), sumP/float64(len(ss))
	}
	return tr, ss, nil
}

func delta(a, b backends.Reading) float64 {
	if !a.Valid || !b.Valid {
		return math.NaN()
	}
	return b.Value - a.Value
}

func meanSD(xs []float64) (float64, float64) {
	if len(xs) == 0 {
		return math.NaN(), math.NaN()
	}
	var m float64
	for _, x := range xs {
		m += x
	}
	m /= float64(len(xs))
	var v float64
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	if len(xs) > 1 {
		v /= float64(len(xs) - 1)
	}
	return m, math.Sqrt(v)
}

func summarize(w io.Writer, c Config, trials []Trial) {
	fmt.Fprintf(w, "\n| arm | policy | jobs/s | vs off | J/job | vs off | mean temp (C) | peak temp (C) | mean power (W) | thermal violation (s) | power violation (s) | thermal-throttle events | p99 queue (s) |\n")
	fmt.Fprintf(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	type agg struct{ jps, jpj, mt, pt, mp, tv, pv, te, q []float64 }
	by := map[string]*agg{}
	pol := map[string]string{}
	for _, t := range trials {
		a := by[t.Arm]
		if a == nil {
			a = &agg{}
			by[t.Arm] = a
		}
		pol[t.Arm] = t.Policy
		a.jps = append(a.jps, t.JobsPerS)
		a.jpj = append(a.jpj, t.JPerJob)
		a.mt = append(a.mt, t.MeanTempC)
		a.pt = append(a.pt, t.PeakTempC)
		a.mp = append(a.mp, t.MeanPowerW)
		a.tv = append(a.tv, t.ThermalViolationS)
		a.pv = append(a.pv, t.PowerViolationS)
		a.te = append(a.te, float64(t.ThermalThrottleEvents))
		a.q = append(a.q, t.QueueP99S)
	}
	base := by[c.Arms[0].Name]
	bj, _ := meanSD(base.jps)
	be, _ := meanSD(base.jpj)
	f := func(xs []float64) string { m, s := meanSD(xs); return fmt.Sprintf("%.2f ± %.2f", m, s) }
	names := make([]string, 0, len(by))
	for _, a := range c.Arms {
		names = append(names, a.Name)
	}
	for _, n := range names {
		a := by[n]
		j, _ := meanSD(a.jps)
		e, _ := meanSD(a.jpj)
		fmt.Fprintf(w, "| %s | %s | %s | %+.1f%% | %s | %+.1f%% | %s | %s | %s | %s | %s | %s | %s |\n", n, pol[n], f(a.jps), 100*(j/bj-1), f(a.jpj), 100*(e/be-1),
			f(a.mt), f(a.pt), f(a.mp), f(a.tv), f(a.pv), f(a.te), f(a.q))
	}
	fmt.Fprintf(w, "\nmean ± sd over %d rounds; baseline %q (same schedule, same process). Load: FP32 busy loop (no CUDA backend yet), not inference.\n", c.Repeats, c.Arms[0].Name)
}

func write(dir string, trials []Trial, samples []sample) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(sanitize(trials), "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), b, 0o644); err != nil {
		return err
	}
	sort.SliceStable(samples, func(a, b int) bool { return samples[a].Round < samples[b].Round })
	var sb strings.Builder
	sb.WriteString("round,arm,t_s,temp_c,power_w,reasons,in_system\n")
	for _, s := range samples {
		fmt.Fprintf(&sb, "%d,%s,%.2f,%.0f,%.1f,%#x,%d\n", s.Round, s.Arm, s.T, s.TempC, s.PowerW, s.Reasons, s.Running)
	}
	return os.WriteFile(filepath.Join(dir, "samples.csv"), []byte(sb.String()), 0o644)
}

// sanitize replaces NaN (unsupported counters) by -1 for JSON.
func sanitize(ts []Trial) []Trial {
	out := append([]Trial(nil), ts...)
	for i := range out {
		for _, p := range []*float64{&out[i].EnergyJ, &out[i].JPerJob, &out[i].ThermalViolationS, &out[i].PowerViolationS, &out[i].QueueP99S} {
			if math.IsNaN(*p) {
				*p = -1
			}
		}
	}
	return out
}
