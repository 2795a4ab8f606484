package exec

import (
	"context"
	"errors"
	"fmt"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// alignment of buffers inside an arena, in bytes.
const alignment = 64

// step is one node of the schedule.
type step struct {
	node    *graph.Node
	kernel  backends.Kernel
	inputs  []int // value slots; -1 for an omitted input
	outputs []int // value slots; -1 for an omitted output
	// dynamic is set when some output shape is unknown at plan time.
	dynamic bool
	// free lists the slots whose last reader is this step (dynamic heap values).
	free []int
	// alias is set for a view operator (see aliasable) whose output shares input 0's
	// buffer: the step runs no kernel, it only gives the bytes a new shape.
	alias bool
	// overwrites is set when the kernel writes every output element
	// (backends.OutputOverwriter): its arena outputs are not zeroed first.
	overwrites bool
	// inPlace is the input whose buffer the kernel may write output 0 into
	// (backends.InPlacer), or -1; planMemory decides whether it does.
	inPlace int
}

// slot is where a value lives during a run.
type slot struct {
	value  *graph.Value
	input  int // index into the graph inputs, or -1
	konst  *tensor.Tensor
	offset int  // byte offset in the arena, or -1
	output bool // a graph output: allocated per run outside the arena
	// shape is the value's shape when known at plan time (read-only).
	shape []int
	// aliasOf is the slot whose buffer this value shares (the input of a view step),
	// or -1. Such a slot has no buffer of its own; the memory plan keeps the buffer
	// alive until the last reader of any value sharing it has run.
	aliasOf int
}

// Plan is an executable schedule for one set of input shapes. It is immutable after
// Compile and shared by concurrent runs.
type Plan struct {
	g         *graph.Graph
	steps     []step
	slots     []slot
	outputs   []int // slot of each graph output
	ioSlots   int   // inputs plus outputs over all steps (one scratch slice per run)
	arenaSize int
	stats     Stats
	// whole, when set, runs the entire graph (a device's GraphCompiler compiled it);
	// the plan then has no steps and no arena.
	whole backends.GraphPlan
}

// Stats summarizes a plan.
type Stats struct {
	Nodes int
	// ArenaBytes is the peak memory of intermediate values under the liveness plan.
	ArenaBytes int
	// NaiveBytes is what the intermediates would take with one buffer each.
	NaiveBytes int
	// LargestIntermediate is the size of the biggest single intermediate value.
	LargestIntermediate int
	// DynamicNodes counts nodes whose output shapes are only known at run time.
	DynamicNodes int
	// AliasedNodes counts view operators (Reshape, Flatten, Squeeze, Unsqueeze,
	// Identity) whose output shares its input's buffer instead of a copy.
	AliasedNodes int
	// InPlaceNodes counts nodes whose output took over the buffer of an input they
	// read last (backends.InPlacer), such as a convolution's residual.
	InPlaceNodes int
	FLOPs        int64
}

// Stats returns the plan's summary.
func (p *Plan) Stats() Stats { return p.stats }

// Graph returns the graph (with concrete shapes) the plan runs.
func (p *Plan) Graph() *graph.Graph { return p.g }

// viewOps are the ONNX operators whose output holds input 0's elements in the same
// order under another shape.
var viewOps = map[string]bool{"Reshape": true, "Flatten": true, "Squeeze": true, "Unsqueeze": true, "Identity": true}

// aliasable reports whether n's output may share its input's buffer: a view operator
// of the ONNX domain with one output of its input's dtype.
func aliasable(n *graph.Node) bool {
	if (n.Domain != "" && n.Domain != "ai.onnx") || !viewOps[n.Op] || len(n.Inputs) == 0 || n.Inputs[0] == nil {
		return false
	}
	if len(n.Outputs) != 1 || n.Outputs[0] == nil {
		return false
	}
	return n.Inputs[0].DType == n.Outputs[0].DType && n.Outputs[0].DType != tensor.Invalid
}

// inferTypes sorts g and infers every value's type for its concrete input shapes,
// folding what depends on data (shape computations) through dev's kernels.
func inferTypes(g *graph.Graph, dev backends.KernelProvider) error {
	if err := g.TopoSort(); err != nil {
		return err
	}
	eval := func(n *graph.Node, ins []*tensor.Tensor, types []graph.Type) ([]*tensor.Tensor, error) {
		k, err := dev.Kernel(n)
		if err != nil {
			return nil, err
		}
		outs := make([]*tensor.Tensor, len(types))
		for i, t := range types {
			if i < len(n.Outputs) && n.Outputs[i] != nil {
				outs[i] = tensor.New(t.DType, t.Shape.Ints())
			}
		}
		if err := safeRun(context.Background(), k, ins, outs); err != nil {
			return nil, err
		}
		return outs, nil
	}
	return ops.Infer(g, ops.InferOptions{Eval: eval})
}

// compile builds a plan for g, whose inputs already carry concrete shapes. With
// noAlias set, view operators copy their input like any other kernel.
func compile(g *graph.Graph, dev backends.KernelProvider, noAlias bool) (*Plan, error) {
	if err := inferTypes(g, dev); err != nil {
		return nil, err
	}
	p := &Plan{g: g}
	index := map[*graph.Value]int{}
	addSlot := func(v *graph.Value) int {
		if i, ok := index[v]; ok {
			return i
		}
		s := slot{value: v, input: -1, offset: -1, konst: v.Const, aliasOf: -1}
		if v.HasShape && v.Shape.Known() {
			s.shape = v.Shape.Ints()
		}
		index[v] = len(p.slots)
		p.slots = append(p.slots, s)
		return index[v]
	}
	for i, v := range g.Inputs {
		p.slots[addSlot(v)].input = i
	}
	for _, n := range g.Nodes {
		allConst := true
		for _, v := range n.Outputs {
			if v != nil && v.Const == nil {
				allConst = false
			}
		}
		if allConst { // folded at plan time: its outputs are constants now
			for _, v := range n.Outputs {
				if v != nil {
					addSlot(v)
				}
			}
			continue
		}
		st := step{node: n, inPlace: -1}
		for _, v := range n.Inputs {
			if v == nil {
				st.inputs = append(st.inputs, -1)
				continue
			}
			st.inputs = append(st.inputs, addSlot(v))
		}
		for _, v := range n.Outputs {
			if v == nil {
				st.outputs = append(st.outputs, -1)
				continue
			}
			st.outputs = append(st.outputs, addSlot(v))
			if !v.HasShape || !v.Shape.Known() {
				st.dynamic = true
			}
		}
		k, err := dev.Kernel(n)
		if err != nil {
			return nil, err
		}
		st.kernel = k
		if ow, ok := k.(backends.OutputOverwriter); ok {
			st.overwrites = ow.OverwritesOutputs()
		}
		if ip, ok := k.(backends.InPlacer); ok && !noAlias {
			st.inPlace = ip.InPlaceInput()
		}
		// A graph output gets a buffer of its own (the caller's, or one handed
		// to NumPy): a view step producing one copies.
		if !noAlias && aliasable(n) && !g.IsOutput(n.Outputs[0]) {
			st.alias = true
			p.slots[st.outputs[0]].aliasOf = st.inputs[0]
			p.stats.AliasedNodes++
		}
		p.steps = append(p.steps, st)
		p.ioSlots += len(st.inputs) + len(st.outputs)
	}
	for _, v := range g.Outputs {
		i := addSlot(v)
		p.slots[i].output = true
		p.outputs = append(p.outputs, i)
	}
	p.planMemory()
	p.stats.Nodes = len(p.steps)
	return p, nil
}

// root is the slot owning the buffer that slot s uses (s itself unless s is an alias).
func (p *Plan) root(s int) int {
	for p.slots[s].aliasOf >= 0 {
		s = p.slots[s].aliasOf
	}
	return s
}

// planMemory assigns arena offsets to intermediates with known shapes, reusing the
// space of values whose last reader has run (greedy best fit over free blocks). A
// buffer shared by aliases lives until the last reader of any of them.
func (p *Plan) planMemory() {
	last := make([]int, len(p.slots))
	for i := range last {
		last[i] = -1
	}
	for si, st := range p.steps {
		for _, s := range st.inputs {
			if s >= 0 {
				last[p.root(s)] = si
			}
		}
	}
	planned := func(s int) bool {
		sl := &p.slots[s]
		return sl.aliasOf < 0 && sl.input < 0 && sl.konst == nil && !sl.output && sl.value.HasShape && sl.value.Shape.Known()
	}
	size := func(s int) int {
		v := p.slots[s].value
		n := tensor.NumElements(v.Shape.Ints()) * v.DType.Size()
		return (n + alignment - 1) / alignment * alignment
	}
	type block struct{ off, size int }
	var free []block
	end := 0
	alloc := func(n int) int {
		best := -1
		for i, b := range free {
			if b.size >= n && (best < 0 || b.size < free[best].size) {
				best = i
			}
		}
		if best >= 0 {
			b := free[best]
			if b.size == n {
				free = append(free[:best], free[best+1:]...)
			} else {
				free[best] = block{b.off + n, b.size - n}
			}
			return b.off
		}
		// grow: merge with a free block at the end of the arena if there is one
		for i, b := range free {
			if b.off+b.size == end {
				free = append(free[:i], free[i+1:]...)
				end = b.off + n
				return b.off
			}
		}
		off := end
		end += n
		return off
	}
	release := func(off, n int) {
		free = append(free, block{off, n})
		// coalesce neighbours
		for merged := true; merged; {
			merged = false
			for i := 0; i < len(free) && !merged; i++ {
				for j := 0; j < len(free); j++ {
					if i != j && free[i].off+free[i].size == free[j].off {
						free[i].size += free[j].size
						free = append(free[:j], free[j+1:]...)
						merged = true
						break
					}
				}
			}
		}
	}
	for si := range p.steps {
		st := &p.steps[si]
		handed := p.inPlaceSource(si, last, planned, size)
		for oi, s := range st.outputs {
			if s < 0 {
				continue
			}
			if oi == 0 && handed >= 0 { // output 0 takes over the input's buffer
				p.slots[s].offset = p.slots[handed].offset
				p.stats.InPlaceNodes++
			} else if planned(s) {
				n := size(s)
				p.slots[s].offset = alloc(n)
				p.stats.NaiveBytes += n
				p.stats.LargestIntermediate = max(p.stats.LargestIntermediate, n)
			}
			if last[s] < 0 && !p.slots[s].output && p.slots[s].offset >= 0 {
				release(p.slots[s].offset, size(s)) // written but never read
			}
		}
		for _, s := range dedup(roots(p, st.inputs)) {
			if s < 0 || last[s] != si || s == handed {
				continue
			}
			if p.slots[s].offset >= 0 {
				release(p.slots[s].offset, size(s))
			} else if p.slots[s].input < 0 && p.slots[s].konst == nil && !p.slots[s].output {
				st.free = append(st.free, s)
			}
		}
		if st.dynamic {
			p.stats.DynamicNodes++
		}
	}
	p.arenaSize = end
	p.stats.ArenaBytes = end
}

// inPlaceSource returns the slot whose arena buffer step si's output 0 may take over
// (the step's kernel is a backends.InPlacer), or -1. The input must be an arena
// intermediate of output 0's size that this step reads last, in no other input
// position, and the kernel must overwrite its outputs (the executor zeroes the others
// before a run, which would erase the input).
func (p *Plan) inPlaceSource(si int, last []int, planned func(int) bool, size func(int) int) int {
	st := &p.steps[si]
	if st.inPlace < 0 || st.inPlace >= len(st.inputs) || !st.overwrites || st.dynamic || len(st.outputs) == 0 {
		return -1
	}
	in, out := st.inputs[st.inPlace], st.outputs[0]
	if in < 0 || out < 0 || !planned(out) {
		return -1
	}
	r := p.root(in)
	if p.slots[r].offset < 0 || last[r] != si || size(r) != size(out) ||
		p.slots[r].value.DType != p.slots[out].value.DType {
		return -1
	}
	for i, s := range st.inputs {
		if i != st.inPlace && s >= 0 && p.root(s) == r {
			return -1
		}
	}
	return r
}

// roots maps slots (or -1) to the slots owning their buffers.
func roots(p *Plan, slots []int) []int {
	out := make([]int, len(slots))
	for i, s := range slots {
		out[i] = s
		if s >= 0 {
			out[i] = p.root(s)
		}
	}
	return out
}

func dedup(xs []int) []int {
	out := make([]int, 0, len(xs))
	for _, x := range xs {
		dup := false
		for _, y := range out {
			if x == y {
				dup = true
			}
		}
		if !dup {
			out = append(out, x)
		}
	}
	return out
}

// safeRun runs a kernel and turns a panic inside it into an error.
func safeRun(ctx context.Context, k backends.Kernel, in, out []*tensor.Tensor) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("kernel panicked: %v", r)
		}
	}()
	return k.Run(ctx, in, out)
}

// errCanceled wraps context errors so callers can test with errors.Is.
func errCanceled(ctx context.Context, node string) error {
	return fmt.Errorf("exec: canceled before node %q: %w", node, context.Cause(ctx))
}

var _ = errors.New
