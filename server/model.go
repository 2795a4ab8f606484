package server

import (
	"context"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// TensorMeta describes one model input or output; -1 marks a dynamic dimension.
type TensorMeta struct {
	Name     string
	DType    tensor.DType
	Shape    []int64
	HasShape bool
}

// Model is a loaded model version.
type Model struct {
	Name     string
	Version  string
	Platform string
	Config   Config
	Inputs   []TensorMeta
	Outputs  []TensorMeta

	session *exec.Session
	closer  io.Closer
	slots   chan struct{} // instances: concurrent runs allowed
	batcher *batcher
}

func metaOf(v *graph.Value) TensorMeta {
	m := TensorMeta{Name: v.Name, DType: v.DType, HasShape: v.HasShape}
	for _, d := range v.Shape {
		m.Shape = append(m.Shape, d.Size)
	}
	return m
}

// newModel wraps a session; the graph's outputs must have inferred types.
// With buckets, its batcher pads batches to bucket sizes (Options.BatchBuckets).
func newModel(f *found, s *exec.Session, closer io.Closer, sched Scheduler, metrics *metrics, buckets bool) *Model {
	g := s.Graph()
	m := &Model{Name: f.name, Version: f.version, Platform: f.platform, Config: f.config, session: s, closer: closer}
	for _, v := range g.Inputs {
		m.Inputs = append(m.Inputs, metaOf(v))
	}
	for _, v := range g.Outputs {
		m.Outputs = append(m.Outputs, metaOf(v))
	}
	n := f.config.Instances
	if n <= 0 {
		n = 2
	}
	m.slots = make(chan struct{}, n)
	if f.config.DynamicBatching != nil && f.config.MaxBatchSize > 0 {
		m.batcher = newBatcher(m, f.config, sched, metrics, buckets)
	}
	return m
}

// close stops the batcher (after it drains), frees the session's device plans and
// releases the model file.
func (m *Model) close() {
	if m.batcher != nil {
		m.batcher.stop()
	}
	m.session.Close()
	if m.closer != nil {
		m.closer.Close()
	}
}

// checkInputs validates a request's tensors against the model's inputs.
func (m *Model) checkInputs(feeds map[string]*tensor.Tensor) error {
	for _, in := range m.Inputs {
		t, ok := feeds[in.Name]
		if !ok {
			return errorf(codes.InvalidArgument, "model %q: missing input %q", m.Name, in.Name)
		}
		if t.DType() != in.DType {
			return errorf(codes.InvalidArgument, "model %q: input %q has datatype %s, expected %s", m.Name, in.Name, V2Name(t.DType()), V2Name(in.DType))
		}
		if in.HasShape {
			shape := t.Shape()
			if len(shape) != len(in.Shape) {
				return errorf(codes.InvalidArgument, "model %q: input %q has shape %v, expected %v", m.Name, in.Name, shape, in.Shape)
			}
			for i, d := range in.Shape {
				if d >= 0 && int64(shape[i]) != d {
					return errorf(codes.InvalidArgument, "model %q: input %q has shape %v, expected %v", m.Name, in.Name, shape, in.Shape)
				}
			}
			if m.Config.MaxBatchSize > 0 && len(shape) > 0 && shape[0] > m.Config.MaxBatchSize {
				return errorf(codes.InvalidArgument, "model %q: batch of %d exceeds max_batch_size %d", m.Name, shape[0], m.Config.MaxBatchSize)
			}
		}
	}
	for name := range feeds {
		found := false
		for _, in := range m.Inputs {
			found = found || in.Name == name
		}
		if !found {
			return errorf(codes.InvalidArgument, "model %q has no input %q", m.Name, name)
		}
	}
	return nil
}

// infer runs one request, through the batcher when the model batches.
func (m *Model) infer(ctx context.Context, sched Scheduler, feeds map[string]*tensor.Tensor) (map[string]*tensor.Tensor, time.Duration, error) {
	if err := m.checkInputs(feeds); err != nil {
		return nil, 0, err
	}
	if m.batcher != nil {
		return m.batcher.submit(ctx, feeds)
	}
	out, err := m.run(ctx, sched, feeds)
	return out, 0, err
}

// run executes the session once, holding an instance slot, through the scheduler.
func (m *Model) run(ctx context.Context, sched Scheduler, feeds map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	select {
	case m.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, errorf(codes.Canceled, "model %q: %v while waiting for an instance", m.Name, ctx.Err())
	}
	defer func() { <-m.slots }()
	return m.runSlotHeld(ctx, sched, feeds)
}

// runSlotHeld runs the session once; the caller holds an instance slot.
func (m *Model) runSlotHeld(ctx context.Context, sched Scheduler, feeds map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	var res *exec.Result
	err := sched.Run(ctx, Job{Model: m.Name, Batch: batchOf(feeds)}, func(ctx context.Context) error {
		var err error
		res, err = m.session.Run(ctx, feeds, nil)
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, errorf(codes.Canceled, "model %q: %v", m.Name, ctx.Err())
		}
		return nil, errorf(codes.Internal, "model %q: %v", m.Name, err)
	}
	out := make(map[string]*tensor.Tensor, len(res.Names))
	for i, name := range res.Names {
		out[name] = res.Outputs[i]
	}
	return out, nil
}

func batchOf(feeds map[string]*tensor.Tensor) int {
	for _, t := range feeds {
		if t.Rank() > 0 {
			return t.Shape()[0]
		}
	}
	return 1
}

// Job describes one run for the Scheduler.
type Job struct {
	Model string
	Batch int
}

// Scheduler decides when and where a run happens. The PowerGovernor implements it in
// production; DirectScheduler runs jobs at once on the caller's goroutine.
type Scheduler interface {
	Run(ctx context.Context, job Job, fn func(ctx context.Context) error) error
}

// DirectScheduler runs every job immediately.
type DirectScheduler struct{}

// Run calls fn.
func (DirectScheduler) Run(ctx context.Context, _ Job, fn func(ctx context.Context) error) error {
	return fn(ctx)
}

func describe(m *Model) string {
	return fmt.Sprintf("%s (version %s, %s)", m.Name, m.Version, m.Platform)
}
