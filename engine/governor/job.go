package governor

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/tensor"
)

// Status is where a job is in its life.
type Status int

// The job states.
const (
	Queued Status = iota
	Running
	Done
	Failed
	Canceled
	Expired // its deadline passed before it started
)

// String names the status.
func (s Status) String() string {
	switch s {
	case Queued:
		return "queued"
	case Running:
		return "running"
	case Done:
		return "done"
	case Failed:
		return "failed"
	case Canceled:
		return "canceled"
	case Expired:
		return "expired"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Sentinel errors of job outcomes.
var (
	ErrCanceled = errors.New("governor: job canceled")
	ErrDeadline = errors.New("governor: job deadline passed before it could start")
	ErrClosed   = errors.New("governor: governor is closed")
)

// JobSpec describes a job to submit.
type JobSpec struct {
	Name   string
	Runner Runner
	Feeds  map[string]*tensor.Tensor
	// Priority: larger runs first. Waiting adds Options.AgingPerSecond per second.
	Priority int
	// Deadline, when not zero, is the latest start time; in virtual mode it is
	// measured on the virtual clock (sim.Epoch + virtual seconds).
	Deadline time.Time
	// Cost overrides the Runner's estimate.
	Cost *Cost
}

// Job is the handle of a submitted job.
type Job struct {
	id   int64
	spec JobSpec
	cost Cost
	g    *Governor

	key   float64 // queue order: Priority - aging·submit time (time-invariant)
	index int     // in the queue heap, -1 when not queued

	mu        sync.Mutex
	status    Status
	device    int
	submitted float64 // governor clock, seconds
	started   float64
	ended     float64
	energyJ   float64
	capW      float64
	result    *exec.Result
	err       error
	done      chan struct{}
	cancel    context.CancelFunc
	remaining float64 // virtual mode: TFLOP left
}

// ID is the job's submission number.
func (j *Job) ID() int64 { return j.id }

// Name is the spec's name.
func (j *Job) Name() string { return j.spec.Name }

// Cost is the estimate the governor placed the job with.
func (j *Job) Cost() Cost { return j.cost }

// Status reports the job's state.
func (j *Job) Status() Status {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.status
}

// Device is the device the job ran or runs on (ok false while queued).
func (j *Job) Device() (info backends.Info, ok bool) {
	j.mu.Lock()
	d := j.device
	j.mu.Unlock()
	if d < 0 {
		return backends.Info{}, false
	}
	return j.g.targets[d].dev.Info(), true
}

// QueueTime is how long the job waited (so far, while queued).
func (j *Job) QueueTime() time.Duration {
	j.mu.Lock()
	defer j.mu.Unlock()
	end := j.started
	if j.status == Queued {
		end = j.g.clockNow()
	} else if j.started == 0 && j.status != Running && j.status != Done && j.status != Failed {
		end = j.ended
	}
	return seconds(end - j.submitted)
}

// RunTime is how long the job ran (so far, while running).
func (j *Job) RunTime() time.Duration {
	j.mu.Lock()
	defer j.mu.Unlock()
	switch j.status {
	case Running:
		return seconds(j.g.clockNow() - j.started)
	case Done, Failed:
		return seconds(j.ended - j.started)
	}
	return 0
}

// EnergyJ is the device energy spent while the job ran (idle power included): from
// the device's energy counter where it has one, else measured power times time, and
// from the model on simulated devices.
func (j *Job) EnergyJ() float64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.energyJ
}

// PowerCapW is the software power budget the job ran under (0: none).
func (j *Job) PowerCapW() float64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.capW
}

// Result waits for the job and returns its outputs (nil for Runners that compute
// nothing). In virtual mode it advances the virtual clock until the job ends.
func (j *Job) Result(ctx context.Context) (*exec.Result, error) {
	if j.g.opts.Virtual {
		if err := j.g.runUntil(ctx, j); err != nil {
			return nil, err
		}
	}
	select {
	case <-j.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("governor: waiting for job %d: %w", j.id, ctx.Err())
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.result, j.err
}

// Done is closed when the job ends.
func (j *Job) Done() <-chan struct{} { return j.done }

// Cancel removes a queued job or cancels a running job's context.
func (j *Job) Cancel() { j.g.cancelJob(j) }

func (j *Job) finish(status Status, now float64, res *exec.Result, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.status >= Done {
		return
	}
	j.status, j.ended, j.result, j.err = status, now, res, err
	if j.cancel != nil {
		j.cancel()
	}
	close(j.done)
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// queue is a max-heap on key, oldest first among equals.
type queue []*Job

func (q queue) Len() int { return len(q) }
func (q queue) Less(a, b int) bool {
	if q[a].key != q[b].key {
		return q[a].key > q[b].key
	}
	return q[a].id < q[b].id
}
func (q queue) Swap(a, b int) {
	q[a], q[b] = q[b], q[a]
	q[a].index, q[b].index = a, b
}
func (q *queue) Push(x any) {
	j := x.(*Job)
	j.index = len(*q)
	*q = append(*q, j)
}
func (q *queue) Pop() any {
	old := *q
	j := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	j.index = -1
	return j
}

func (q *queue) remove(j *Job) bool {
	if j.index < 0 || j.index >= len(*q) || (*q)[j.index] != j {
		return false
	}
	heap.Remove(q, j.index)
	return true
}
