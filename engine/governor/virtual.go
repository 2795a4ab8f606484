package governor

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/lightiam/lightos/backends/sim"
)

// maxVirtualWait bounds how far Result and Drain advance the virtual clock.
const maxVirtualWait = 7 * 24 * 3600.0

var errNotVirtual = errors.New("governor: only a virtual-time governor can advance its clock")

// Advance runs the simulation for d of virtual time: jobs are placed every step,
// each device's model runs the job it holds, and jobs finish when their work is done.
func (g *Governor) Advance(d time.Duration) error {
	if !g.opts.Virtual {
		return errNotVirtual
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.advanceTo(g.clockNow() + d.Seconds())
	return nil
}

// AdvanceTo runs the simulation up to virtual time t (sim.Epoch-based).
func (g *Governor) AdvanceTo(t time.Time) error {
	if !g.opts.Virtual {
		return errNotVirtual
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.advanceTo(g.toClock(t))
	return nil
}

// Drain advances virtual time until no job is queued or running.
func (g *Governor) Drain(ctx context.Context) error {
	if !g.opts.Virtual {
		return errNotVirtual
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.advanceWhile(ctx, func() bool {
		if g.q.Len() > 0 {
			return true
		}
		for _, t := range g.targets {
			if t.running != nil {
				return true
			}
		}
		return false
	})
}

func (g *Governor) runUntil(ctx context.Context, j *Job) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.advanceWhile(ctx, func() bool { return j.Status() < Done })
}

func (g *Governor) advanceWhile(ctx context.Context, cond func() bool) error {
	limit := g.clockNow() + maxVirtualWait
	for n := 0; cond(); n++ {
		if g.clockNow() > limit {
			return fmt.Errorf("governor: nothing finished within %.0f virtual hours", maxVirtualWait/3600)
		}
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("governor: %w", err)
			}
		}
		g.step(g.opts.Step.Seconds())
	}
	return nil
}

func (g *Governor) advanceTo(to float64) {
	dt := g.opts.Step.Seconds()
	for now := g.clockNow(); now < to-1e-9; now = g.clockNow() {
		g.step(math.Min(dt, to-now))
	}
}

// step advances every simulated device by dt. Call with g.mu held.
func (g *Governor) step(dt float64) {
	now := g.clockNow()
	g.dispatch(now)
	for _, t := range g.targets {
		var l sim.Load
		j := t.running
		if j != nil {
			l = sim.Load{Util: 1, Batch: j.cost.Batch, Sparsity: j.cost.Sparsity, CapW: j.capW}
		}
		st := t.sim.Advance(dt, l)
		t.tempInt += st.TempC * dt
		t.powerInt += st.PowerW * dt
		t.tempTime += dt
		t.energy += st.PowerW * dt
		t.peakT = math.Max(t.peakT, st.TempC)
		if st.Throttled {
			t.thrSeconds += dt
			if !t.lastThr {
				t.thrEvents++
			}
		}
		t.lastThr = st.Throttled
		if j == nil {
			continue
		}
		frac := 1.0
		if st.TFLOP >= j.remaining && st.TFLOP > 0 {
			frac = j.remaining / st.TFLOP
		}
		j.mu.Lock()
		j.energyJ += st.PowerW * dt * frac
		j.mu.Unlock()
		j.remaining -= st.TFLOP
		if j.remaining <= 1e-12 {
			j.remaining = 0
			g.endJob(t, j, now+dt*frac, Done)
		}
	}
	g.vnow.Store(math.Float64bits(now + dt))
}
