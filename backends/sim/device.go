package sim

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/lightiam/lightos/backends"
)

// Throttle-reason bits, the same as NVML's clock event reasons, so code that reads
// them treats simulated and real devices alike.
const (
	ReasonSWPowerCap  = 0x4
	ReasonHWSlowdown  = 0x8
	ReasonHWThermal   = 0x40
	reasonsThermalAll = ReasonHWSlowdown | ReasonHWThermal
)

// Epoch is the wall-clock time that virtual time 0 maps to in Telemetry.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Options configures a simulated device. The zero value is the profile's measured
// machine: its fitted inlet, cooling factor 1, the profile's power limit.
type Options struct {
	ID int
	// InletC is the inlet (ambient) temperature; 0 means the profile's fitted inlet.
	InletC float64
	// Cooling multiplies every thermal resistance; 0 means 1, above 1 is worse cooling.
	Cooling float64
	// PowerLimitW overrides the profile's limit (0: the profile's).
	PowerLimitW float64
}

// Load is what runs on a device during a step.
type Load struct {
	// Util is the fraction of the step the device computes (0 idle, 1 busy; a
	// duty cycle in between).
	Util float64
	// Batch is the job's batch size (0: full).
	Batch int
	// Sparsity is the fraction of zero weights.
	Sparsity float64
	// CapW is a software power budget for this load (0: none, only the limit).
	CapW float64
}

// Step is what happened during one Advance.
type Step struct {
	TFLOP     float64 // work done
	PowerW    float64
	TempC     float64 // at the end of the step
	Speed     float64 // clock fraction
	Throttled bool
}

// Device is a simulated device running in virtual time. It is safe for concurrent use.
type Device struct {
	mu      sync.Mutex
	prof    Profile
	id      int
	limit   float64
	th      Thermal
	now     float64 // virtual seconds
	energy  float64
	power   float64
	speed   float64
	util    float64
	thr     bool
	events  int
	thrTime float64
	thrFrom float64 // virtual time the current throttle started
	reasons uint64
}

var _ backends.Device = (*Device)(nil)

// New makes a device of profile p at steady idle.
func New(p Profile, o Options) (*Device, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if o.InletC == 0 {
		o.InletC = p.Thermal.FittedInlet
	}
	if o.Cooling < 0 || math.IsNaN(o.Cooling) || math.IsNaN(o.InletC) {
		return nil, fmt.Errorf("sim: device %d: bad options %+v", o.ID, o)
	}
	d := &Device{prof: p, id: o.ID, limit: p.limit(), speed: 1}
	if o.PowerLimitW > 0 {
		d.limit = math.Min(o.PowerLimitW, p.MaxW)
	}
	d.th = Thermal{Params: p.Thermal, Inlet: o.InletC, Cooling: o.Cooling}
	d.th.SetSteady(p.IdleW)
	d.power = p.IdleW
	return d, nil
}

// Profile returns the device's profile.
func (d *Device) Profile() Profile { return d.prof }

// Info describes the device; it is always marked Simulated.
func (d *Device) Info() backends.Info {
	return backends.Info{
		Kind: d.prof.Kind, ID: d.id, Name: d.prof.Name + " (simulated)", Simulated: true,
		UUID:        fmt.Sprintf("SIM-%s-%d", d.prof.Kind, d.id),
		MemoryBytes: d.prof.MemoryBytes, ComputeUnits: d.prof.ComputeUnits,
		PeakGFLOPS: d.prof.PeakTFLOPS * 1000, Driver: "lightos-sim",
	}
}

// Telemetry reports the model's state; the time is Epoch plus the virtual time.
func (d *Device) Telemetry() (backends.Telemetry, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return backends.Telemetry{
		Time:         Epoch.Add(time.Duration(d.now * float64(time.Second))),
		TemperatureC: backends.Read(d.th.Temp()), SlowdownC: backends.Read(d.prof.SlowdownC),
		PowerW: backends.Read(d.power), PowerLimitW: backends.Read(d.limit), EnergyJ: backends.Read(d.energy),
		Utilization: backends.Read(d.util), ClockMHz: backends.Read(d.prof.MaxClockMHz * d.speed),
		ThrottleReasons: d.reasons, ThrottleValid: true,
	}, nil
}

// Now is the device's virtual time in seconds.
func (d *Device) Now() float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.now
}

// ThrottleEvents is the number of times the device entered thermal throttling, and
// ThrottleSeconds the virtual time spent throttled.
func (d *Device) ThrottleEvents() (events int, seconds float64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.events, d.thrTime
}

// Thermal returns a copy of the thermal model's state (for forecasts).
func (d *Device) Thermal() Thermal {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.th
}

// LimitW is the enforced power limit.
func (d *Device) LimitW() float64 { return d.limit }

// Advance runs load l for dt virtual seconds and returns what happened. The power
// is held over the step; the throttle state is checked at the end of the step.
func (d *Device) Advance(dt float64, l Load) Step {
	d.mu.Lock()
	defer d.mu.Unlock()
	if dt <= 0 || math.IsNaN(dt) {
		return Step{PowerW: d.power, TempC: d.th.Temp(), Speed: d.speed, Throttled: d.thr}
	}
	p := d.prof
	util := clamp(l.Util, 0, 1)
	demand := p.DemandW(util, l.Batch, l.Sparsity)
	capW := d.limit
	var reasons uint64
	if l.CapW > 0 && l.CapW < capW {
		capW = l.CapW
	}
	s := p.SpeedAt(demand, capW)
	if s < 1 {
		reasons |= ReasonSWPowerCap
	}
	if d.thr && s > p.ThrottleSpeed {
		s = p.ThrottleSpeed
	}
	if d.thr {
		reasons |= reasonsThermalAll
	}
	power := p.PowerAt(demand, s)
	d.th.Step(dt, power)
	d.now += dt
	d.energy += power * dt
	d.power, d.speed, d.util = power, s, util
	if d.thr {
		d.thrTime += dt
	}
	t := d.th.Temp()
	switch {
	case !d.thr && t >= p.SlowdownC:
		d.thr = true
		d.events++
		d.thrFrom = d.now
	case d.thr && t < p.SlowdownC-p.HysteresisC && d.now-d.thrFrom >= p.ThrottleHoldS-1e-9:
		d.thr = false
	}
	d.reasons = reasons
	work := p.PeakTFLOPS * s * util * p.Fill(l.Batch) * dt
	return Step{TFLOP: work, PowerW: power, TempC: t, Speed: s, Throttled: d.thr}
}

func pow(x, y float64) float64 { return math.Pow(x, y) }
