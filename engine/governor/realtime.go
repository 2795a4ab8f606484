package governor

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/exec"
)

// thermalReasons are NVML's thermal throttle bits: HW slowdown, SW thermal, HW
// thermal (power-cap bits are not thermal throttling).
const thermalReasons = 0x8 | 0x20 | 0x40

func (g *Governor) loop() {
	defer close(g.stopped)
	tick := time.NewTicker(g.opts.Tick)
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-g.stop:
			return
		case <-tick.C:
		case <-g.wake:
		}
		dt := time.Since(last).Seconds()
		last = time.Now()
		g.mu.Lock()
		g.sample(dt)
		if !g.shut {
			g.dispatch(g.clockNow())
		}
		g.mu.Unlock()
	}
}

// sample reads every real device's telemetry, updates the thermal observers and
// the metrics for the dt seconds since the last sample. Call with g.mu held (or
// before the loop starts).
func (g *Governor) sample(dt float64) {
	for _, t := range g.targets {
		tel, err := t.dev.Telemetry()
		if err != nil {
			continue
		}
		prevOK := t.telOK
		t.lastTel, t.telOK = tel, true
		if tel.EnergyJ.Valid && !t.energy0OK {
			t.energy0, t.energy0OK = tel.EnergyJ.Value, true
		}
		if v := tel.ThermalViolationS; v.Valid {
			if !t.violOK {
				t.viol0, t.violOK = v.Value, true
			}
			t.violNow = v.Value
		}
		if dt <= 0 {
			continue
		}
		if tel.TemperatureC.Valid {
			tc := tel.TemperatureC.Value
			t.tempInt += tc * dt
			t.tempTime += dt
			t.peakT = math.Max(t.peakT, tc)
		}
		if tel.PowerW.Valid {
			t.powerInt += tel.PowerW.Value * dt
			if !tel.EnergyJ.Valid {
				t.energy += tel.PowerW.Value * dt
				if j := t.running; j != nil {
					j.mu.Lock()
					j.energyJ += tel.PowerW.Value * dt
					j.mu.Unlock()
				}
			}
			if t.hasMod {
				t.model.Step(dt, tel.PowerW.Value)
				if tel.TemperatureC.Valid {
					// Observer: the bias follows the measured-minus-model error with a
					// 5 s time constant, so forecasts start from the measured temperature.
					a := 1 - math.Exp(-dt/5)
					t.bias += a * (tel.TemperatureC.Value - t.model.Temp() - t.bias)
				}
			}
		}
		if tel.EnergyJ.Valid && t.energy0OK {
			t.energy = tel.EnergyJ.Value - t.energy0
		}
		if tel.ThrottleValid {
			thr := tel.ThrottleReasons&thermalReasons != 0
			if thr {
				t.thrSeconds += dt
				if !prevOK || !t.lastThr {
					t.thrEvents++
				}
			}
			t.lastThr = thr
		}
	}
}

func (g *Governor) runReal(ctx context.Context, t *target, j *Job, d Decision) {
	defer g.wg.Done()
	var restore float64
	var capErr error
	if d.CapW > 0 && t.capper != nil {
		tel, _ := t.dev.Telemetry()
		if tel.PowerLimitW.Valid && d.CapW < tel.PowerLimitW.Value {
			restore = tel.PowerLimitW.Value
			capErr = t.capper.SetPowerLimitW(d.CapW)
		}
	}
	e0 := energyNow(t.dev)
	res, err := safeRun(ctx, j, t.dev)
	if capErr != nil && err == nil {
		err = fmt.Errorf("governor: job %d ran without its %.0f W cap: %w", j.id, d.CapW, capErr)
	}
	if restore > 0 && capErr == nil {
		if rerr := t.capper.SetPowerLimitW(restore); rerr != nil && err == nil {
			err = fmt.Errorf("governor: restoring the %.0f W limit of %v: %w", restore, t.dev.Info(), rerr)
		}
	}
	e1 := energyNow(t.dev)
	j.mu.Lock()
	j.result, j.err = res, err
	if e0.Valid && e1.Valid {
		j.energyJ = e1.Value - e0.Value
	}
	j.mu.Unlock()
	status := Done
	if ctx.Err() != nil {
		status = Canceled
		j.mu.Lock()
		if j.err == nil {
			j.err = ErrCanceled
		}
		j.mu.Unlock()
	}
	g.mu.Lock()
	g.endJob(t, j, g.clockNow(), status)
	g.mu.Unlock()
	g.poke()
}

func energyNow(d backends.Device) backends.Reading {
	tel, err := d.Telemetry()
	if err != nil {
		return backends.Reading{}
	}
	return tel.EnergyJ
}

func safeRun(ctx context.Context, j *Job, dev backends.Device) (res *exec.Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("governor: job %d %q panicked: %v", j.id, j.spec.Name, r)
		}
	}()
	return j.spec.Runner.Run(ctx, dev, j.spec.Feeds)
}

// Close stops accepting jobs, cancels queued and running ones and stops the
// scheduler. It waits for running jobs to return.
func (g *Governor) Close() error {
	g.mu.Lock()
	if g.shut {
		g.mu.Unlock()
		return nil
	}
	g.shut, g.closed = true, true
	var queued []*Job
	for g.q.Len() > 0 {
		j := g.q[0]
		g.q.remove(j)
		queued = append(queued, j)
		g.canceled++
	}
	var running []*Job
	for _, t := range g.targets {
		if t.running != nil {
			running = append(running, t.running)
		}
	}
	g.mu.Unlock()
	for _, j := range queued {
		j.finish(Canceled, g.clockNow(), nil, ErrCanceled)
	}
	for _, j := range running {
		j.mu.Lock()
		if j.cancel != nil {
			j.cancel()
		}
		j.mu.Unlock()
	}
	g.wg.Wait()
	if !g.opts.Virtual {
		close(g.stop)
		<-g.stopped
	}
	return nil
}

// Shutdown stops accepting jobs and waits until the queue has drained and every
// running job has ended, then closes the governor. If ctx ends first it closes
// the governor (canceling what is left) and returns ctx's error. In virtual mode it
// drains by advancing the clock.
func (g *Governor) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	g.closed = true // no new jobs; the scheduler keeps dispatching queued ones
	g.mu.Unlock()
	if g.opts.Virtual {
		err := g.Drain(ctx)
		g.Close()
		return err
	}
	g.poke()
	for {
		g.mu.Lock()
		busy := g.q.Len() > 0
		for _, t := range g.targets {
			busy = busy || t.running != nil
		}
		g.mu.Unlock()
		if !busy {
			return g.Close()
		}
		select {
		case <-ctx.Done():
			g.Close()
			return fmt.Errorf("governor: shutdown: %w", ctx.Err())
		case <-time.After(g.opts.Tick):
		}
	}
}
