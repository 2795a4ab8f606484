package governor

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// Cost is what the governor knows about a job before running it.
type Cost struct {
	FLOPs float64
	Bytes float64
	// Batch is the job's batch size (0: unknown, treated as a full device).
	Batch int
	// Sparsity is the fraction of zero weights (0..1).
	Sparsity float64
	// Items is the number of inferences in the job (0: Batch, or 1).
	Items int
}

func (c Cost) items() int {
	switch {
	case c.Items > 0:
		return c.Items
	case c.Batch > 0:
		return c.Batch
	}
	return 1
}

// Runner is the work of a job.
type Runner interface {
	// Run runs the work on dev, one of the governor's devices. Simulated devices
	// compute nothing: a Runner may compute on a host device and return its result,
	// or return nil.
	Run(ctx context.Context, dev backends.Device, feeds map[string]*tensor.Tensor) (*exec.Result, error)
	// Cost estimates the job's work for these feeds.
	Cost(feeds map[string]*tensor.Tensor) (Cost, error)
}

// CostOnly is a Runner that does no computation: its cost drives simulated devices
// (the trace-driven benchmark uses it).
type CostOnly Cost

// Run does nothing.
func (CostOnly) Run(context.Context, backends.Device, map[string]*tensor.Tensor) (*exec.Result, error) {
	return nil, nil
}

// Cost returns the fixed cost.
func (c CostOnly) Cost(map[string]*tensor.Tensor) (Cost, error) { return Cost(c), nil }

// GraphRunner runs a graph through an exec.Session per device, compiled on first
// use. Devices that cannot run kernels (simulated ones) run the graph on Host, when
// set, and are charged the simulated time; without Host they return no result.
type GraphRunner struct {
	Graph *graph.Graph
	// Host runs the graph for devices without kernels and compiles the plan the
	// cost estimate reads; nil: the first KernelProvider the runner meets.
	Host    backends.KernelProvider
	Options exec.Options

	mu       sync.Mutex
	sessions map[backends.Device]*exec.Session
	sparsity float64
	sparsOK  bool
}

var _ Runner = (*GraphRunner)(nil)

func (r *GraphRunner) session(dev backends.KernelProvider) (*exec.Session, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sessions == nil {
		r.sessions = map[backends.Device]*exec.Session{}
	}
	if s, ok := r.sessions[dev]; ok {
		return s, nil
	}
	s, err := exec.NewSession(r.Graph, dev, r.Options)
	if err != nil {
		return nil, fmt.Errorf("governor: graph %q on %v: %w", r.Graph.Name, dev.Info(), err)
	}
	r.sessions[dev] = s
	return s, nil
}

// Run runs the graph on dev, or on Host when dev has no kernels.
func (r *GraphRunner) Run(ctx context.Context, dev backends.Device, feeds map[string]*tensor.Tensor) (*exec.Result, error) {
	kp, ok := dev.(backends.KernelProvider)
	if !ok {
		if r.Host == nil {
			return nil, nil
		}
		kp = r.Host
	}
	s, err := r.session(kp)
	if err != nil {
		return nil, err
	}
	return s.Run(ctx, feeds, nil)
}

// Cost compiles the plan for the feeds' shapes on Host and estimates FLOPs and bytes
// from the graph with concrete shapes; sparsity is WeightSparsity of the graph.
func (r *GraphRunner) Cost(feeds map[string]*tensor.Tensor) (Cost, error) {
	if r.Graph == nil {
		return Cost{}, errors.New("governor: GraphRunner without a graph")
	}
	r.mu.Lock()
	if !r.sparsOK {
		r.sparsity, r.sparsOK = WeightSparsity(r.Graph), true
	}
	sp := r.sparsity
	r.mu.Unlock()
	c := Cost{Sparsity: sp}
	g := r.Graph
	if r.Host != nil {
		s, err := r.session(r.Host)
		if err != nil {
			return Cost{}, err
		}
		shapes := map[string][]int{}
		for name, t := range feeds {
			if t != nil {
				shapes[name] = t.Shape()
			}
		}
		p, err := s.Plan(shapes)
		if err != nil {
			return Cost{}, fmt.Errorf("governor: cost of graph %q: %w", g.Name, err)
		}
		g = p.Graph()
		if st := p.Stats(); st.FLOPs > 0 {
			c.FLOPs = float64(st.FLOPs)
		}
	}
	f, b := EstimateGraph(g)
	if c.FLOPs == 0 {
		c.FLOPs = f
	}
	c.Bytes = b
	for _, in := range g.Inputs {
		if t := feeds[in.Name]; t != nil && t.Rank() > 0 {
			c.Batch = t.Shape()[0]
			break
		}
	}
	return c, nil
}

// EstimateGraph counts FLOPs (2 per multiply-add for MatMul, Gemm and Conv, one per
// output element for everything else) and bytes (weights plus every known-shape
// value once) of a graph whose shapes are inferred. Unknown shapes count zero.
func EstimateGraph(g *graph.Graph) (flops, bytes float64) {
	size := func(v *graph.Value) float64 {
		if v == nil || !v.HasShape || !v.Shape.Known() {
			return 0
		}
		return float64(tensor.NumElements(v.Shape.Ints()))
	}
	for _, v := range g.Initializers {
		bytes += size(v) * float64(v.DType.Size())
	}
	for _, n := range g.Nodes {
		var out float64
		for _, o := range n.Outputs {
			out += size(o)
			if o != nil {
				bytes += size(o) * float64(o.DType.Size())
			}
		}
		switch n.Op {
		case "MatMul", "Gemm", "FusedMatMul":
			k := 0.0
			if len(n.Inputs) > 0 && n.Inputs[0] != nil && n.Inputs[0].HasShape && len(n.Inputs[0].Shape) > 0 {
				d := n.Inputs[0].Shape[len(n.Inputs[0].Shape)-1]
				if n.Op == "Gemm" && n.Attrs.GetInt("transA", 0) != 0 {
					d = n.Inputs[0].Shape[0]
				}
				k = float64(d.Size)
			}
			flops += 2 * out * max(k, 1)
		case "Conv", "FusedConv":
			per := 1.0
			if len(n.Inputs) > 1 && n.Inputs[1] != nil && n.Inputs[1].HasShape {
				for _, d := range n.Inputs[1].Shape[1:] {
					per *= float64(max(d.Size, 1))
				}
			}
			flops += 2 * out * per
		default:
			flops += out
		}
	}
	return flops, bytes
}

// WeightSparsity is the fraction of exact zeros among the elements of a graph's
// floating-point initializers of rank 2 or more (the weights), by element count.
// A graph without such weights has sparsity 0.
func WeightSparsity(g *graph.Graph) float64 {
	var zeros, total float64
	for _, v := range g.Initializers {
		t := v.Const
		if t == nil || t.Rank() < 2 || !t.DType().IsFloat() {
			continue
		}
		n := t.Len()
		total += float64(n)
		if t.DType() == tensor.Float32 {
			for _, x := range t.Float32s() {
				if x == 0 {
					zeros++
				}
			}
			continue
		}
		for i := range n {
			if t.Float64At(i) == 0 {
				zeros++
			}
		}
	}
	if total == 0 {
		return 0
	}
	return zeros / total
}
