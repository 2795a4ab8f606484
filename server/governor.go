package server

import (
	"context"
	"fmt"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/governor"
	"github.com/lightiam/lightos/engine/tensor"
)

// GovernorScheduler runs every server job through a PowerGovernor: the governor
// queues it by priority, places it by predicted temperature and power headroom, and
// records its energy and queue time. The job's work (fn) runs on the caller's model
// session whichever device the governor picked, since the server's models are
// compiled for one device; the placement still paces and accounts the work.
type GovernorScheduler struct {
	Governor *governor.Governor
	// Costs estimates a job's work per model (FLOPs and bytes of one batch item).
	Costs func(model string) governor.Cost
}

var _ Scheduler = (*GovernorScheduler)(nil)

// Run submits the job and waits for it.
func (s *GovernorScheduler) Run(ctx context.Context, job Job, fn func(ctx context.Context) error) error {
	cost := governor.Cost{Batch: job.Batch, Items: job.Batch}
	if s.Costs != nil {
		per := s.Costs(job.Model)
		cost.FLOPs, cost.Bytes, cost.Sparsity = per.FLOPs*float64(max(job.Batch, 1)), per.Bytes*float64(max(job.Batch, 1)), per.Sparsity
	}
	j, err := s.Governor.Submit(governor.JobSpec{Name: job.Model, Runner: funcRunner(fn), Cost: &cost})
	if err != nil {
		return fmt.Errorf("governor: %w", err)
	}
	if _, err := j.Result(ctx); err != nil {
		if ctx.Err() != nil {
			j.Cancel()
		}
		return err
	}
	return nil
}

// funcRunner adapts a server run to the governor's Runner.
type funcRunner func(ctx context.Context) error

func (f funcRunner) Run(ctx context.Context, _ backends.Device, _ map[string]*tensor.Tensor) (*exec.Result, error) {
	return nil, f(ctx)
}

func (f funcRunner) Cost(map[string]*tensor.Tensor) (governor.Cost, error) {
	return governor.Cost{}, nil
}
