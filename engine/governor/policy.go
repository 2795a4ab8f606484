package governor

import (
	"math"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/sim"
)

// DeviceState is what a Policy sees of one device.
type DeviceState struct {
	Index int
	Info  backends.Info
	Busy  bool
	// TempC is the current temperature (TempValid false: no sensor).
	TempC     float64
	TempValid bool
	SlowdownC float64 // 0 when unknown
	LimitW    float64 // enforced power limit, 0 when unknown
	PowerW    float64 // current power, 0 when unknown
	// Profile is the device's power and speed model (nil: unknown, e.g. a CPU).
	Profile *sim.Profile
	// Model is a copy of the device's thermal state for forecasts (nil: none), and
	// Bias the measured minus modeled temperature to add to its forecasts.
	Model *sim.Thermal
	Bias  float64
	// CanCap reports whether a software power budget can be enforced.
	CanCap bool
}

// Request is the job a Policy places.
type Request struct {
	Now  float64 // governor clock, seconds
	Cost Cost
	// BacklogTFLOP is the work queued behind this job plus what is running.
	BacklogTFLOP float64
	// Urgent is set when the job's deadline is close: do not delay it.
	Urgent bool
	// HasBudget says a node power budget applies; BudgetLeftW is then the part
	// not yet reserved by running jobs.
	HasBudget   bool
	BudgetLeftW float64
}

// Decision is where and how to run a job. Device < 0 means wait.
type Decision struct {
	Device int
	// CapW is the software power budget for the job (0: none).
	CapW float64
}

// Wait is the decision to leave the job queued.
var Wait = Decision{Device: -1}

// Policy places the job at the head of the queue. Place is called with the
// governor's lock held, one call at a time.
type Policy interface {
	Name() string
	Place(r Request, devs []DeviceState) Decision
}

// NoGovernor runs each job on the first idle device in index order, without caps:
// what a plain queue in front of the devices does.
type NoGovernor struct{}

// Name is "none".
func (NoGovernor) Name() string { return "none" }

// Place picks the first idle device.
func (NoGovernor) Place(_ Request, devs []DeviceState) Decision {
	for _, d := range devs {
		if !d.Busy {
			return Decision{Device: d.Index}
		}
	}
	return Wait
}

// RoundRobin cycles through the devices, skipping busy ones.
type RoundRobin struct{ next int }

// Name is "round-robin".
func (*RoundRobin) Name() string { return "round-robin" }

// Place picks the next idle device after the last one used.
func (p *RoundRobin) Place(_ Request, devs []DeviceState) Decision {
	for k := range devs {
		d := devs[(p.next+k)%len(devs)]
		if !d.Busy {
			p.next = (d.Index + 1) % len(devs)
			return Decision{Device: d.Index}
		}
	}
	return Wait
}

// CoolestFirst runs each job on the idle device with the lowest temperature
// (the product description's thermal load balancing).
type CoolestFirst struct{}

// Name is "coolest-first".
func (CoolestFirst) Name() string { return "coolest-first" }

// Place picks the coolest idle device (devices without a sensor count as 0 °C).
func (CoolestFirst) Place(_ Request, devs []DeviceState) Decision {
	best, bestT := -1, math.Inf(1)
	for _, d := range devs {
		t := 0.0
		if d.TempValid {
			t = d.TempC
		}
		if !d.Busy && t < bestT {
			best, bestT = d.Index, t
		}
	}
	if best < 0 {
		return Wait
	}
	return Decision{Device: best}
}

// Predictive forecasts each idle device's peak temperature over the job, or over
// the queued backlog when that is longer (up to MaxHorizonS), from the device's
// thermal model and the job's estimated power (sparsity included). It runs the job
// on the device with the lowest forecast when that stays below the slowdown
// threshold minus MarginC; otherwise it caps the job's power on the device where
// the cap costs the least speed, if that speed is at least MinSpeed; otherwise the
// job waits for a device to cool (urgent jobs never wait for that). Zero fields take
// the defaults below.
type Predictive struct {
	MarginC     float64 // default 2 °C
	MaxHorizonS float64 // default 60 s (about 4 slow time constants of the H100)
	MinSpeed    float64 // default 0.5
}

// Name is "predictive".
func (Predictive) Name() string { return "predictive" }

func (p Predictive) defaults() Predictive {
	if p.MarginC == 0 {
		p.MarginC = 2
	}
	if p.MaxHorizonS == 0 {
		p.MaxHorizonS = 60
	}
	if p.MinSpeed == 0 {
		p.MinSpeed = 0.5
	}
	return p
}

// JobPower is the power a job would draw on a device at full clocks (capped by the
// device limit) and its duration there, in seconds; ok is false without a profile.
func JobPower(c Cost, d DeviceState) (powerW, durationS float64, ok bool) {
	if d.Profile == nil {
		return 0, 0, false
	}
	pr := d.Profile
	powerW = pr.DemandW(1, c.Batch, c.Sparsity)
	speed := 1.0
	if d.LimitW > 0 && powerW > d.LimitW {
		speed = pr.SpeedAt(powerW, d.LimitW)
		powerW = d.LimitW
	}
	rate := pr.PeakTFLOPS * pr.Fill(c.Batch) * speed * 1e12
	return powerW, c.FLOPs / rate, true
}

// cand is a device the predictive policy considers, with its forecast.
type cand struct {
	idx          int
	peak, powerW float64
	horizon      float64
	st           DeviceState
}

// Place implements the policy described on the type.
func (p Predictive) Place(r Request, devs []DeviceState) Decision {
	p = p.defaults()
	var cands []cand
	idle := 0
	for _, d := range devs {
		if d.Busy {
			continue
		}
		idle++
		pw, dur, ok := JobPower(r.Cost, d)
		if !ok || d.Model == nil || d.SlowdownC == 0 {
			// No model: nothing to forecast; use the sensor if there is one.
			t := 0.0
			if d.TempValid {
				t = d.TempC
			}
			cands = append(cands, cand{idx: d.Index, peak: t, st: d})
			continue
		}
		h := dur
		if rate := d.Profile.PeakTFLOPS * d.Profile.Fill(r.Cost.Batch); rate > 0 {
			backlog := r.BacklogTFLOP / (rate * float64(len(devs)))
			h = math.Max(h, math.Min(backlog, p.MaxHorizonS))
		}
		if r.HasBudget && pw > r.BudgetLeftW+d.Profile.IdleW && !r.Urgent {
			continue // no node power budget left for this job here
		}
		cands = append(cands, cand{idx: d.Index, peak: d.Model.PredictPeak(pw, h) + d.Bias, powerW: pw, horizon: h, st: d})
	}
	if len(cands) == 0 {
		return Wait
	}
	best := -1
	for i, c := range cands {
		limit := c.st.SlowdownC - p.MarginC
		if c.st.SlowdownC == 0 || c.peak <= limit {
			if best < 0 || c.peak < cands[best].peak {
				best = i
			}
		}
	}
	if best >= 0 {
		return Decision{Device: cands[best].idx, CapW: sparseBudget(r.Cost, cands[best])}
	}
	// Every forecast crosses the limit: find the cap that costs the least speed.
	bestSpeed, bestCap := -1.0, 0.0
	for i, c := range cands {
		if !c.st.CanCap || c.st.Model == nil {
			continue
		}
		capW := c.st.Model.MaxPower(c.st.SlowdownC-p.MarginC-c.st.Bias, c.horizon, c.powerW)
		s := c.st.Profile.SpeedAt(c.powerW, capW)
		if s > bestSpeed {
			best, bestSpeed, bestCap = i, s, capW
		}
	}
	switch {
	case best >= 0 && bestSpeed >= p.MinSpeed:
		return Decision{Device: cands[best].idx, CapW: math.Max(bestCap, cands[best].st.Profile.IdleW+1)}
	case r.Urgent:
		coolest := 0
		for i, c := range cands {
			if c.peak < cands[coolest].peak {
				coolest = i
			}
		}
		return Decision{Device: cands[coolest].idx}
	}
	return Wait
}

// sparseBudget is the software power budget of a job that fits: its estimated
// power plus 5%, which is below the device limit for sparse or small-batch work.
// On devices that cannot cap it only reserves node budget.
func sparseBudget(_ Cost, cd cand) float64 {
	if cd.powerW == 0 || cd.st.LimitW == 0 || cd.powerW*1.05 >= cd.st.LimitW {
		return 0
	}
	return cd.powerW * 1.05
}
