package exectest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// WholeDevice is a CPU device that also compiles whole graphs, as the cuda backend
// does: each GraphPlan runs the graph through a plain CPU exec.Session. It counts
// compilations, runs and closes, records the input shapes it compiled for, reports
// Lacks (an operator name) as backends.ErrUnsupported, and fails every compilation
// with Fail when set.
type WholeDevice struct {
	*cpu.Device
	Lacks string
	Fail  error

	Compiles, Runs, Closes atomic.Int32

	mu     sync.Mutex
	shapes []string
}

// NewWholeDevice returns a WholeDevice over a default CPU device.
func NewWholeDevice() *WholeDevice { return &WholeDevice{Device: cpu.New(cpu.Options{})} }

// Shapes lists the input shapes of each compilation, in order.
func (d *WholeDevice) Shapes() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.shapes...)
}

// CompileGraph implements backends.GraphCompiler.
func (d *WholeDevice) CompileGraph(g *graph.Graph) (backends.GraphPlan, error) {
	d.Compiles.Add(1)
	if d.Fail != nil {
		return nil, d.Fail
	}
	for _, n := range g.Nodes {
		if n.Op == d.Lacks {
			return nil, fmt.Errorf("exectest: node %q: operator %s: %w", n.Name, n.Op, backends.ErrUnsupported)
		}
	}
	var key string
	for _, in := range g.Inputs {
		if !in.HasShape || !in.Shape.Known() {
			return nil, fmt.Errorf("exectest: input %q has no concrete shape", in.Name)
		}
		key += fmt.Sprint(in.Shape.Ints())
	}
	for _, v := range g.Outputs {
		if !v.HasShape || !v.Shape.Known() {
			return nil, fmt.Errorf("exectest: output %q was not inferred", v.Name)
		}
	}
	d.mu.Lock()
	d.shapes = append(d.shapes, key)
	d.mu.Unlock()
	s, err := exec.NewSession(g.Clone(), d.Device, exec.Options{HeapOutputs: true})
	if err != nil {
		return nil, err
	}
	return &wholePlan{d: d, s: s}, nil
}

type wholePlan struct {
	d      *WholeDevice
	s      *exec.Session
	closed atomic.Bool
}

func (p *wholePlan) Run(ctx context.Context, feeds map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	if p.closed.Load() {
		return nil, errors.New("exectest: plan closed")
	}
	p.d.Runs.Add(1)
	res, err := p.s.Run(ctx, feeds, nil)
	if err != nil {
		return nil, err
	}
	out := map[string]*tensor.Tensor{}
	for i, n := range res.Names {
		out[n] = res.Outputs[i]
	}
	return out, nil
}

func (p *wholePlan) Close() error {
	if !p.closed.Swap(true) {
		p.d.Closes.Add(1)
	}
	return nil
}
