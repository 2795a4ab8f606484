package main

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/sim"
	"github.com/lightiam/lightos/engine/governor"
)

// TestGovernorOnGPU reads a real GPU's telemetry and runs jobs (busy-loop kernels)
// through the predictive governor in real time. It skips where there is no GPU.
func TestGovernorOnGPU(t *testing.T) {
	r, skip, err := openRig(0)
	if skip != "" {
		t.Skip(skip)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var log bytes.Buffer
	c := Config{Job: time.Second, Launch: 50 * time.Millisecond}
	if err := r.calibrate(c, &log); err != nil {
		t.Fatal(err)
	}
	t.Log(strings.TrimSpace(log.String()))
	tel := reading(r.dev)
	if !tel.TemperatureC.Valid || !tel.EnergyJ.Valid || !tel.PowerW.Valid || !tel.SlowdownC.Valid {
		t.Fatalf("telemetry incomplete: %+v", tel)
	}
	dev := profiled{Device: r.dev, prof: r.prof, ok: r.hasPr}
	g, err := governor.New([]backends.Device{dev}, governor.Options{Tick: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cost := governor.Cost{FLOPs: r.jobSec * 674e12, Items: 1}
	var jobs []*governor.Job
	for i := range 4 {
		j, err := g.Submit(governor.JobSpec{Name: "burn", Runner: burnRunner{r: r, cost: cost}, Cost: &cost, Priority: i})
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, j := range jobs {
		if _, err := j.Result(ctx); err != nil {
			t.Fatal(err)
		}
		info, _ := j.Device()
		if info.Kind != backends.NVIDIA || info.Simulated {
			t.Errorf("job ran on %v", info)
		}
		// Energy from the NVML counter (mJ, updated every few tens of ms): at least
		// idle power, at most well above the limit, over a 1 s job.
		if e, rt := j.EnergyJ(), j.RunTime().Seconds(); e < 30*rt || e > 1500*rt {
			t.Errorf("job energy %.1f J over %.2f s (NVML counter)", e, rt)
		}
		t.Logf("job %d: %.2f s, %.1f J, queued %v", j.ID(), j.RunTime().Seconds(), j.EnergyJ(), j.QueueTime())
	}
	if err := g.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	m := g.Metrics()
	t.Logf("metrics: %+v", m)
	if m.Completed != 4 || math.IsNaN(m.PeakTempC) {
		t.Errorf("metrics %+v", m)
	}
}

func TestSkipOrRunWithoutGPU(t *testing.T) {
	if _, skip, _ := openRig(0); skip == "" {
		t.Skip("a GPU is present; the A/B program is run by hand there")
	}
	var b bytes.Buffer
	if err := run(nil, &b); err != nil || !strings.HasPrefix(b.String(), "SKIP: ") {
		t.Errorf("without a GPU: %v, %q", err, b.String())
	}
}

func TestArgsAndSchedule(t *testing.T) {
	arms, err := parseArms("off,on,on@60C")
	if err != nil || len(arms) != 3 || arms[2].LimitC != 60 || !arms[1].Governor || arms[0].Governor {
		t.Errorf("arms %+v, %v", arms, err)
	}
	for _, bad := range []string{"maybe", "on@5C", "on@x"} {
		if _, err := parseArms(bad); err == nil {
			t.Errorf("arm %q accepted", bad)
		}
	}
	var b bytes.Buffer
	if err := run([]string{"-repeats", "0"}, &b); err == nil {
		t.Error("0 repeats accepted")
	}
	c := Config{Trial: 2000 * time.Second, Load: 0.8, Seed: 3}
	s := schedule(c, 0.5)
	load := float64(len(s)) * 0.5 / c.Trial.Seconds()
	if math.Abs(load-0.8) > 0.08 {
		t.Errorf("offered load %.2f, want 0.8", load)
	}
	for i := 1; i < len(s); i++ {
		if s[i] < s[i-1] {
			t.Fatal("schedule goes back in time")
		}
	}
}

// TestLimitedPolicyWaits: with a software limit below the device's forecast the
// predictive policy, which cannot cap a real card without the opt-in, delays the
// job; with the card's own threshold it runs it.
func TestLimitedPolicyWaits(t *testing.T) {
	prof := sim.H100()
	state := func() []governor.DeviceState {
		m := sim.Thermal{Params: prof.Thermal, Inlet: 30}
		m.SetSteady(300)
		return []governor.DeviceState{{Index: 0, Profile: &prof, Model: &m, SlowdownC: 89, LimitW: 700, TempC: m.Temp(), TempValid: true}}
	}
	req := governor.Request{Cost: governor.Cost{FLOPs: 674e12}}
	if d := (limited{limitC: 40}).Place(req, state()); d.Device >= 0 {
		t.Errorf("limit 40 C: placed on %d", d.Device)
	}
	if d := (governor.Predictive{}).Place(req, state()); d.Device != 0 || d.CapW != 0 {
		t.Errorf("card limit: %+v", d)
	}
	if n := (limited{limitC: 30}).Name(); n != "predictive@30C" {
		t.Errorf("name %q", n)
	}
}
