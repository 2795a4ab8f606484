package governor

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/sim"
)

// PowerCapper is a device whose power limit can be set (NVML with the explicit
// opt-in). The governor uses it only for a Decision with a CapW and restores the
// previous limit after the job.
type PowerCapper interface {
	SetPowerLimitW(w float64) error
}

// Profiler is a real device that offers a power and speed model (a measured
// profile) for forecasts; NVIDIA devices without one get none and are placed by
// their sensors.
type Profiler interface {
	PowerProfile() (sim.Profile, bool)
}

// Options configures a Governor. The zero value is a usable default: the Predictive
// policy, wall-clock time, aging of one priority level per 10 s.
type Options struct {
	Policy Policy
	// Virtual runs simulated devices in virtual time; every device must then be a
	// *sim.Device.
	Virtual bool
	// Step is the virtual time step (default 50 ms); Tick the real-time scheduling
	// and telemetry period (default 100 ms).
	Step, Tick time.Duration
	// AgingPerSecond is the priority a queued job gains per second (default 0.1).
	AgingPerSecond float64
	// UrgentWithin marks jobs whose deadline is this close as urgent (default 1 s).
	UrgentWithin time.Duration
	// PowerBudgetW is the node's software power budget over all devices (0: none).
	PowerBudgetW float64
}

type target struct {
	dev     backends.Device
	sim     *sim.Device
	prof    *sim.Profile
	capper  PowerCapper
	model   sim.Thermal // real devices: observer; sim devices: refreshed from sim
	hasMod  bool
	bias    float64
	running *Job
	reserve float64 // power reserved by the running job
	lastTel backends.Telemetry
	telOK   bool

	// metrics
	t0         float64
	tempInt    float64
	tempTime   float64
	peakT      float64
	powerInt   float64
	energy     float64
	thrEvents  int
	thrSeconds float64
	lastThr    bool
	energy0    float64
	energy0OK  bool
	viol0      float64 // thermal violation counter at the first sample (real devices)
	violNow    float64
	violOK     bool
}

// Governor is the PowerGovernor. It is safe for concurrent use.
type Governor struct {
	opts    Options
	policy  Policy
	targets []*target

	mu      sync.Mutex
	q       queue
	nextID  int64
	closed  bool // no new jobs (Shutdown or Close)
	shut    bool // Close ran: nothing is dispatched any more
	start   time.Time
	vnow    atomic.Uint64 // virtual seconds, float64 bits
	wake    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
	wg      sync.WaitGroup

	// metrics
	submitted, completed, failed, canceled, expired int
	items                                           int64
	queueDelays                                     []float64
	capped, delays                                  int
}

// New makes a governor over devs. In real-time mode it starts its scheduler; call
// Close or Shutdown when done.
func New(devs []backends.Device, opts Options) (*Governor, error) {
	if len(devs) == 0 {
		return nil, errors.New("governor: no devices")
	}
	if opts.Policy == nil {
		opts.Policy = Predictive{}
	}
	if opts.Step <= 0 {
		opts.Step = 50 * time.Millisecond
	}
	if opts.Tick <= 0 {
		opts.Tick = 100 * time.Millisecond
	}
	if opts.AgingPerSecond == 0 {
		opts.AgingPerSecond = 0.1
	}
	if opts.UrgentWithin == 0 {
		opts.UrgentWithin = time.Second
	}
	if opts.AgingPerSecond < 0 || opts.PowerBudgetW < 0 || math.IsNaN(opts.PowerBudgetW) {
		return nil, fmt.Errorf("governor: bad options: aging %g, power budget %g", opts.AgingPerSecond, opts.PowerBudgetW)
	}
	g := &Governor{opts: opts, policy: opts.Policy, start: time.Now(), wake: make(chan struct{}, 1),
		stop: make(chan struct{}), stopped: make(chan struct{})}
	for i, d := range devs {
		if d == nil {
			return nil, fmt.Errorf("governor: device %d is nil", i)
		}
		t := &target{dev: d, peakT: math.Inf(-1)}
		if sd, ok := d.(*sim.Device); ok {
			if !opts.Virtual {
				return nil, fmt.Errorf("governor: device %d (%v) is simulated: set Options.Virtual", i, d.Info())
			}
			p := sd.Profile()
			t.sim, t.prof, t.hasMod = sd, &p, true
			t.model = sd.Thermal()
		} else if opts.Virtual {
			return nil, fmt.Errorf("governor: Options.Virtual needs simulated devices; device %d is %v", i, d.Info())
		}
		if pr, ok := d.(Profiler); ok && t.prof == nil {
			if p, ok := pr.PowerProfile(); ok {
				t.prof, t.hasMod = &p, true
				t.model = sim.Thermal{Params: p.Thermal, Inlet: p.Thermal.FittedInlet}
				t.model.SetSteady(p.IdleW)
			}
		}
		if c, ok := d.(PowerCapper); ok {
			t.capper = c
		}
		g.targets = append(g.targets, t)
	}
	if !opts.Virtual {
		g.sample(0)
		go g.loop()
	} else {
		close(g.stopped)
		for _, t := range g.targets {
			tel, _ := t.dev.Telemetry()
			t.energy0, t.energy0OK = tel.EnergyJ.Value, tel.EnergyJ.Valid
		}
	}
	return g, nil
}

// Policy returns the governor's policy.
func (g *Governor) Policy() Policy { return g.policy }

// Devices returns the governor's devices in index order.
func (g *Governor) Devices() []backends.Device {
	out := make([]backends.Device, len(g.targets))
	for i, t := range g.targets {
		out[i] = t.dev
	}
	return out
}

func (g *Governor) clockNow() float64 {
	if g.opts.Virtual {
		return math.Float64frombits(g.vnow.Load())
	}
	return time.Since(g.start).Seconds()
}

// Now is the governor clock: sim.Epoch plus virtual time, or the wall clock.
func (g *Governor) Now() time.Time {
	if g.opts.Virtual {
		return sim.Epoch.Add(seconds(g.clockNow()))
	}
	return time.Now()
}

func (g *Governor) toClock(t time.Time) float64 {
	if g.opts.Virtual {
		return t.Sub(sim.Epoch).Seconds()
	}
	return t.Sub(g.start).Seconds()
}

// Submit queues a job. The cost comes from spec.Cost or the Runner's estimate.
func (g *Governor) Submit(spec JobSpec) (*Job, error) {
	if spec.Runner == nil {
		return nil, errors.New("governor: job without a Runner")
	}
	var c Cost
	if spec.Cost != nil {
		c = *spec.Cost
	} else {
		var err error
		if c, err = spec.Runner.Cost(spec.Feeds); err != nil {
			return nil, fmt.Errorf("governor: job %q: cost: %w", spec.Name, err)
		}
	}
	if c.FLOPs < 0 || math.IsNaN(c.FLOPs) || math.IsInf(c.FLOPs, 0) || c.Sparsity < 0 || c.Sparsity > 1 {
		return nil, fmt.Errorf("governor: job %q: bad cost %+v", spec.Name, c)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, ErrClosed
	}
	now := g.clockNow()
	g.nextID++
	j := &Job{id: g.nextID, spec: spec, cost: c, g: g, device: -1, submitted: now, done: make(chan struct{}),
		key: float64(spec.Priority) - g.opts.AgingPerSecond*now, remaining: c.FLOPs / 1e12}
	heap.Push(&g.q, j)
	g.submitted++
	g.poke()
	return j, nil
}

func (g *Governor) poke() {
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

func (g *Governor) cancelJob(j *Job) {
	g.mu.Lock()
	removed := g.q.remove(j)
	if removed {
		g.canceled++
	}
	g.mu.Unlock()
	if removed {
		j.finish(Canceled, g.clockNow(), nil, ErrCanceled)
		return
	}
	j.mu.Lock()
	c := j.cancel
	j.mu.Unlock()
	if c != nil {
		c()
	}
}

// states snapshots the devices for the policy. Call with g.mu held.
func (g *Governor) states() []DeviceState {
	out := make([]DeviceState, len(g.targets))
	for i, t := range g.targets {
		s := DeviceState{Index: i, Info: t.dev.Info(), Busy: t.running != nil, Profile: t.prof, Bias: t.bias}
		if t.sim != nil {
			t.model = t.sim.Thermal()
			t.lastTel, _ = t.sim.Telemetry()
			t.telOK = true
			s.CanCap = true
		} else {
			s.CanCap = t.capper != nil
		}
		if t.hasMod {
			m := t.model
			s.Model = &m
		}
		if t.telOK {
			tel := t.lastTel
			s.TempC, s.TempValid = tel.TemperatureC.Value, tel.TemperatureC.Valid
			if tel.SlowdownC.Valid {
				s.SlowdownC = tel.SlowdownC.Value
			}
			if tel.PowerLimitW.Valid {
				s.LimitW = tel.PowerLimitW.Value
			}
			if tel.PowerW.Valid {
				s.PowerW = tel.PowerW.Value
			}
		}
		if t.prof != nil {
			if s.SlowdownC == 0 {
				s.SlowdownC = t.prof.SlowdownC
			}
			if s.LimitW == 0 {
				s.LimitW = t.prof.PowerLimitW
			}
		}
		out[i] = s
	}
	return out
}

// dispatch starts queued jobs while the policy places them. Call with g.mu held.
func (g *Governor) dispatch(now float64) {
	var states []DeviceState
	for g.q.Len() > 0 {
		j := g.q[0]
		if dl := j.spec.Deadline; !dl.IsZero() && g.toClock(dl) < now {
			heap.Pop(&g.q)
			g.expired++
			j.finish(Expired, now, nil, fmt.Errorf("%w (job %d %q)", ErrDeadline, j.id, j.spec.Name))
			continue
		}
		if states == nil {
			states = g.states()
		}
		free := false
		for _, s := range states {
			free = free || !s.Busy
		}
		if !free {
			return
		}
		var backlog float64
		for _, q := range g.q {
			backlog += q.remaining
		}
		for _, t := range g.targets {
			if t.running != nil {
				backlog += t.running.remaining
			}
		}
		budget := 0.0
		if g.opts.PowerBudgetW > 0 {
			budget = g.opts.PowerBudgetW
			for _, t := range g.targets {
				idle := 0.0
				if t.prof != nil {
					idle = t.prof.IdleW
				}
				budget -= idle + t.reserve
			}
		}
		req := Request{Now: now, Cost: j.cost, BacklogTFLOP: backlog, HasBudget: g.opts.PowerBudgetW > 0, BudgetLeftW: budget}
		if dl := j.spec.Deadline; !dl.IsZero() && g.toClock(dl)-now < g.opts.UrgentWithin.Seconds() {
			req.Urgent = true
		}
		d := g.policy.Place(req, states)
		if d.Device < 0 || d.Device >= len(g.targets) || states[d.Device].Busy {
			g.delays++
			return
		}
		heap.Pop(&g.q)
		g.startJob(j, d, now, states[d.Device])
		states[d.Device].Busy = true
	}
}

// startJob marks j running on its device. Call with g.mu held.
func (g *Governor) startJob(j *Job, d Decision, now float64, st DeviceState) {
	t := g.targets[d.Device]
	ctx, cancel := context.WithCancel(context.Background())
	j.mu.Lock()
	j.status, j.device, j.started, j.capW, j.cancel = Running, d.Device, now, d.CapW, cancel
	j.mu.Unlock()
	t.running = j
	t.reserve = 0
	if pw, _, ok := JobPower(j.cost, st); ok {
		t.reserve = pw - t.prof.IdleW
		if d.CapW > 0 {
			t.reserve = math.Min(t.reserve, d.CapW-t.prof.IdleW)
			if d.CapW < pw*0.999 {
				g.capped++ // a thermal cap, not only the sparse budget
			}
		}
	} else if d.CapW > 0 {
		g.capped++
	}
	g.queueDelays = append(g.queueDelays, now-j.submitted)
	if g.opts.Virtual {
		if j.spec.Runner != nil {
			res, err := j.spec.Runner.Run(ctx, t.dev, j.spec.Feeds)
			j.mu.Lock()
			j.result, j.err = res, err
			j.mu.Unlock()
		}
		return
	}
	g.wg.Add(1)
	go g.runReal(ctx, t, j, d)
}

func (g *Governor) endJob(t *target, j *Job, now float64, status Status) {
	t.running, t.reserve = nil, 0
	j.mu.Lock()
	res, err := j.result, j.err
	j.mu.Unlock()
	if err != nil && status == Done {
		status = Failed
	}
	switch status {
	case Done:
		g.completed++
		g.items += int64(j.cost.items())
	case Failed:
		g.failed++
	case Canceled:
		g.canceled++
	}
	j.finish(status, now, res, err)
}

// Metrics summarizes everything the governor has run so far.
type Metrics struct {
	Policy  string
	Devices int
	// ElapsedS is the time covered, in seconds (virtual in virtual mode).
	ElapsedS                                        float64
	Submitted, Completed, Failed, Canceled, Expired int
	// Items is the number of inferences in completed jobs.
	Items int64
	// ThrottleEvents counts entries into thermal throttling over all devices (from
	// the model in simulation, from throttle-reason bits on real devices), and
	// ThrottleSeconds the device-seconds spent throttled.
	ThrottleEvents  int
	ThrottleSeconds float64
	// ThermalViolationS is the growth of the devices' thermal violation counters
	// (NVML) since the governor started; NaN when no device has one.
	ThermalViolationS float64
	// EnergyJ is the energy of all devices over the elapsed time, idle included.
	EnergyJ float64
	// MeanTempC and PeakTempC are over devices and time; MeanPowerW per device.
	MeanTempC, PeakTempC, MeanPowerW float64
	// Throughput is completed inferences per second.
	Throughput float64
	// Queue delay percentiles of started jobs, seconds.
	QueueP50, QueueP99, QueueMax float64
	// CappedJobs ran under a power cap below their estimated power (thermal caps,
	// not the sparse budget, which sits above the estimate); Delays counts the
	// times the policy left the head of the queue waiting while a device was idle.
	CappedJobs, Delays int
}

// EnergyPerItemJ is the energy per completed inference.
func (m Metrics) EnergyPerItemJ() float64 {
	if m.Items == 0 {
		return math.NaN()
	}
	return m.EnergyJ / float64(m.Items)
}

// Metrics returns the metrics so far.
func (g *Governor) Metrics() Metrics {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.clockNow()
	m := Metrics{Policy: g.policy.Name(), Devices: len(g.targets), ElapsedS: now,
		Submitted: g.submitted, Completed: g.completed, Failed: g.failed, Canceled: g.canceled, Expired: g.expired,
		Items: g.items, CappedJobs: g.capped, Delays: g.delays, PeakTempC: math.NaN()}
	var tInt, tTime, pInt float64
	m.ThermalViolationS = math.NaN()
	for _, t := range g.targets {
		if t.violOK {
			if math.IsNaN(m.ThermalViolationS) {
				m.ThermalViolationS = 0
			}
			m.ThermalViolationS += t.violNow - t.viol0
		}
		m.ThrottleEvents += t.thrEvents
		m.ThrottleSeconds += t.thrSeconds
		m.EnergyJ += t.energy
		tInt += t.tempInt
		tTime += t.tempTime
		pInt += t.powerInt
		if !math.IsInf(t.peakT, -1) && !(t.peakT <= m.PeakTempC) {
			m.PeakTempC = t.peakT
		}
	}
	if tTime > 0 {
		m.MeanTempC = tInt / tTime
		m.MeanPowerW = pInt / tTime
	} else {
		m.MeanTempC, m.MeanPowerW = math.NaN(), math.NaN()
	}
	if now > 0 {
		m.Throughput = float64(g.items) / now
	}
	m.QueueP50, m.QueueP99, m.QueueMax = percentile(g.queueDelays, 0.5), percentile(g.queueDelays, 0.99), percentile(g.queueDelays, 1)
	return m
}

func percentile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}
