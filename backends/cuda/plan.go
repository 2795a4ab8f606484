package cuda

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
	"unsafe"

	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// PlanOptions configure Compile. The zero value captures the plan as a CUDA graph.
type PlanOptions struct {
	// NoGraph launches each step on every run instead of replaying one CUDA graph.
	NoGraph bool
	// NoChannelsLast keeps every value NCHW. By default, when cuDNN is present, the
	// values that flow only between convolutions and pooling are stored NHWC (the
	// tensor cores' layout; cuDNN otherwise transposes inside each convolution).
	NoChannelsLast bool
	// NoReuse gives every value its own device buffer. By default a value's buffer is
	// reused, once its last reader has been built, by later values of a size that fits
	// (the plan runs its steps in order on one stream, so lifetimes are the node order).
	NoReuse bool
}

// dval is a value in device memory.
type dval struct {
	name  string
	dt    tensor.DType
	shape []int
	ptr   uintptr
	buf   *dbuf // the buffer holding it (shared by aliases)
	nhwc  bool  // a 4-D value stored channels-last (its shape stays NCHW)
	// addOf, when set, means the value is addOf[0] + addOf[1], never stored: an Add
	// whose only reader, a LayerNormalization, adds it (plan.addLN).
	addOf [2]*dval
}

// dbuf is one device allocation of a plan.
type dbuf struct {
	ptr    uintptr
	size   int
	last   int  // index of the last node that reads a value in it
	pinned bool // graph inputs, outputs and constants: never reused
	free   bool // on the free list
}

func (v *dval) len() int   { return tensor.NumElements(v.shape) }
func (v *dval) bytes() int { return v.len() * v.dt.Size() }

// step is one node's launches.
type step struct {
	node *graph.Node
	run  func() error
}

// Plan is a graph compiled for one set of input shapes on one Device. Every value
// lives in device memory taken from the pool when the plan is built; Run copies the
// feeds in through a pinned staging buffer, runs the steps (one CUDA graph launch
// unless PlanOptions.NoGraph), and copies the outputs out. Runs of one plan are
// serialized.
type Plan struct {
	d        *Device
	g        *graph.Graph
	steps    []step
	vals     map[*graph.Value]*dval
	inputs   []*dval
	outputs  []*dval
	scratch  []uintptr
	gemms    []*gemm
	convs    []*dnnConv
	wsBytes  int     // the largest cuDNN workspace a step needs
	ws       uintptr // that workspace, allocated after every step is built
	col      uintptr // the im2col buffer shared by the steps (allocated like ws)
	colBytes int
	bufs     []*dbuf // every value buffer (freed with the plan)
	freeBufs []*dbuf
	lastUse  map[*graph.Value]int
	reuse    bool
	chLast   map[*graph.Value]bool // values kept NHWC between convolutions
	addLN    map[*graph.Node]bool  // Adds that the LayerNormalization reading them performs
	kinds    map[string]int        // how many steps took each implementation (Kernels)
	stage    pinned
	exec     uintptr
	mu       sync.Mutex
	closed   bool
	// Bytes is the device memory the plan's values and scratch take.
	Bytes int64
}

// Compile infers shapes for g with the given input shapes, uploads its constants and
// prepares every node on the GPU. A node the GPU cannot run gives an error wrapping
// backends.ErrUnsupported that names it.
func (d *Device) Compile(g *graph.Graph, shapes map[string][]int, o PlanOptions) (p *Plan, err error) {
	g = g.Clone()
	for _, in := range g.Inputs {
		s, ok := shapes[in.Name]
		if !ok {
			if !in.HasShape || !in.Shape.Known() {
				return nil, fmt.Errorf("cuda: input %q needs a shape", in.Name)
			}
			continue
		}
		in.Shape, in.HasShape = graph.ShapeOf(s...), true
	}
	if err := g.TopoSort(); err != nil {
		return nil, fmt.Errorf("cuda: %w", err)
	}
	host := cpu.New(cpu.Options{})
	eval := func(n *graph.Node, ins []*tensor.Tensor, types []graph.Type) ([]*tensor.Tensor, error) {
		k, err := host.Kernel(n)
		if err != nil {
			return nil, err
		}
		outs := make([]*tensor.Tensor, len(types))
		for i, t := range types {
			if i < len(n.Outputs) && n.Outputs[i] != nil {
				outs[i] = tensor.New(t.DType, t.Shape.Ints())
			}
		}
		return outs, k.Run(context.Background(), ins, outs)
	}
	if err := ops.Infer(g, ops.InferOptions{Eval: eval}); err != nil {
		return nil, fmt.Errorf("cuda: %w", err)
	}
	p = &Plan{d: d, g: g, vals: map[*graph.Value]*dval{}, reuse: !o.NoReuse, lastUse: map[*graph.Value]int{},
		kinds: map[string]int{}}
	for i, n := range g.Nodes {
		for _, v := range n.Inputs {
			if v != nil {
				p.lastUse[v] = i
			}
		}
	}
	for _, v := range g.Outputs {
		p.lastUse[v] = len(g.Nodes)
	}
	p.addLN = addIntoLayerNorm(g, p.lastUse)
	d.mu.Lock()
	defer d.mu.Unlock()
	err = d.g.do(func() error {
		defer func() {
			if err != nil {
				p.release()
			}
		}()
		if err := d.ensureCore(); err != nil {
			return err
		}
		if err := d.ensureBlas(); err != nil {
			return err
		}
		if !o.NoChannelsLast && !d.opts.NoCuDNN && d.ensureDNN() == nil {
			p.chLast = channelsLast(g)
		}
		for _, in := range g.Inputs {
			v, err := p.alloc(in)
			if err != nil {
				return err
			}
			v.buf.pinned = true
			p.inputs = append(p.inputs, v)
		}
		for i, n := range g.Nodes {
			if allConst(n) {
				continue
			}
			if err := supported(n); err != nil {
				return err
			}
			ins := make([]*dval, len(n.Inputs))
			for i, v := range n.Inputs {
				if v == nil {
					continue
				}
				dv, err := p.value(v)
				if err != nil {
					return err
				}
				ins[i] = dv
			}
			run, err := build(p, n, ins)
			if err != nil {
				return withNode(err, n.Name, n.Op)
			}
			p.steps = append(p.steps, step{node: n, run: run})
			p.releaseAfter(i, n)
		}
		if p.colBytes > 0 {
			if p.col, err = d.g.alloc(p.colBytes); err != nil {
				return fmt.Errorf("im2col buffer (%d bytes): %w", p.colBytes, err)
			}
			p.Bytes += int64(p.colBytes)
		}
		if p.wsBytes > 0 {
			if p.ws, err = d.g.alloc(p.wsBytes); err != nil {
				return fmt.Errorf("cuDNN workspace (%d bytes): %w", p.wsBytes, err)
			}
			p.Bytes += int64(p.wsBytes)
		}
		for _, v := range g.Outputs {
			dv, err := p.value(v)
			if err != nil {
				return err
			}
			p.outputs = append(p.outputs, dv)
		}
		total := 0
		for _, v := range append(append([]*dval(nil), p.inputs...), p.outputs...) {
			total += v.bytes()
		}
		if p.stage, err = d.g.allocPinned(total); err != nil {
			return err
		}
		if err := d.g.sync(); err != nil {
			return err
		}
		if !o.NoGraph {
			p.exec, err = d.g.capture(p.launchSteps)
			if err != nil {
				return fmt.Errorf("capture CUDA graph: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cuda: compile %q: %w", g.Name, err)
	}
	return p, nil
}

func allConst(n *graph.Node) bool {
	for _, v := range n.Outputs {
		if v != nil && v.Const == nil {
			return false
		}
	}
	return true
}

// value returns the device copy of v: a constant is uploaded on first use.
func (p *Plan) value(v *graph.Value) (*dval, error) {
	if dv, ok := p.vals[v]; ok {
		return dv, nil
	}
	if v.Const == nil {
		return nil, fmt.Errorf("value %q is used before it is computed", v.Name)
	}
	dv := &dval{name: v.Name, dt: v.Const.DType(), shape: v.Const.Shape()}
	ptr, err := p.d.g.upload(v.Const.Bytes())
	if err != nil {
		return nil, fmt.Errorf("upload constant %q: %w", v.Name, err)
	}
	dv.ptr = ptr
	dv.buf = &dbuf{ptr: ptr, size: dv.bytes(), pinned: true}
	p.bufs = append(p.bufs, dv.buf)
	p.Bytes += int64(dv.bytes())
	p.vals[v] = dv
	return dv, nil
}

// alloc gives v (whose type inference filled in) a device buffer: the smallest free
// one that fits and is at most twice its size, else a new one.
func (p *Plan) alloc(v *graph.Value) (*dval, error) {
	if !v.HasShape || !v.Shape.Known() {
		return nil, fmt.Errorf("value %q has no static shape: %w", v.Name, errUnsupported)
	}
	dv := &dval{name: v.Name, dt: v.DType, shape: v.Shape.Ints()}
	need := max(dv.bytes(), 4)
	best := -1
	for i, b := range p.freeBufs {
		if b.size >= need && b.size <= 2*need && (best < 0 || b.size < p.freeBufs[best].size) {
			best = i
		}
	}
	if best >= 0 {
		dv.buf = p.freeBufs[best]
		p.freeBufs = append(p.freeBufs[:best], p.freeBufs[best+1:]...)
		dv.buf.free = false
	} else {
		ptr, err := p.d.g.alloc(need)
		if err != nil {
			return nil, fmt.Errorf("allocate %q (%d bytes): %w", v.Name, need, err)
		}
		dv.buf = &dbuf{ptr: ptr, size: need}
		p.bufs = append(p.bufs, dv.buf)
		p.Bytes += int64(need)
	}
	dv.ptr = dv.buf.ptr
	dv.nhwc = p.chLast[v]
	dv.buf.last = p.lastUse[v]
	if dv.buf.last >= len(p.g.Nodes) {
		dv.buf.pinned = true
	}
	p.vals[v] = dv
	return dv, nil
}

// alias makes v share src's buffer (a reshape); the buffer lives until v's last use too.
func (p *Plan) alias(v *graph.Value, src *dval) *dval {
	dv := &dval{name: v.Name, dt: v.DType, shape: v.Shape.Ints(), ptr: src.ptr, buf: src.buf}
	if b := src.buf; b != nil {
		b.last = max(b.last, p.lastUse[v])
		if b.last >= len(p.g.Nodes) {
			b.pinned = true
		}
	}
	p.vals[v] = dv
	return dv
}

// Kernels reports how many steps took each implementation where there is a choice
// (e.g. "conv cudnn bias+act", "conv nvrtc", "layout transpose").
func (p *Plan) Kernels() map[string]int {
	out := map[string]int{}
	for k, v := range p.kinds {
		out[k] = v
	}
	return out
}

// addIntoLayerNorm finds the float32 Adds of two same-shape values whose sum only a
// LayerNormalization over the last axis of at most 1024 values reads (and that is no
// graph output): that kernel adds them (layernorm_warp's r), so the sum is never
// stored. The operands' last use moves to the LayerNormalization.
func addIntoLayerNorm(g *graph.Graph, lastUse map[*graph.Value]int) map[*graph.Node]bool {
	idx := map[*graph.Node]int{}
	for i, n := range g.Nodes {
		idx[n] = i
	}
	cons := g.Consumers()
	out := map[*graph.Node]bool{}
	for _, n := range g.Nodes {
		if qualName(n) != "Add" || len(n.Inputs) != 2 || n.Inputs[0] == nil || n.Inputs[1] == nil || len(n.Outputs) != 1 {
			continue
		}
		a, b, s := n.Inputs[0], n.Inputs[1], n.Outputs[0]
		if !a.HasShape || !b.HasShape || !s.HasShape || !a.Shape.Known() || !b.Shape.Known() ||
			!sameInts(a.Shape.Ints(), b.Shape.Ints()) || !sameInts(a.Shape.Ints(), s.Shape.Ints()) ||
			a.DType != tensor.Float32 || b.DType != tensor.Float32 || lastUse[s] >= len(g.Nodes) || len(cons[s]) != 1 {
			continue
		}
		ln := cons[s][0]
		r := len(s.Shape)
		if qualName(ln) != "LayerNormalization" || ln.Inputs[0] != s || r == 0 || s.Shape.Ints()[r-1] > 1024 ||
			normAxis(int(ln.Attrs.GetInt("axis", -1)), r) != r-1 {
			continue
		}
		if (len(ln.Inputs) > 1 && ln.Inputs[1] == s) || (len(ln.Inputs) > 2 && ln.Inputs[2] == s) {
			continue
		}
		out[n] = true
		for _, v := range []*graph.Value{a, b} {
			lastUse[v] = max(lastUse[v], idx[ln])
		}
	}
	return out
}

// channelsLast picks the values to store NHWC: 4-D outputs of Conv, FusedConv,
// MaxPool and AveragePool that are not graph outputs and that only convolutions
// (as X or the residual), pooling and global pooling read.
func channelsLast(g *graph.Graph) map[*graph.Value]bool {
	producers := map[string]bool{"Conv": true, "lightos.FusedConv": true, "MaxPool": true, "AveragePool": true}
	outs := map[*graph.Value]bool{}
	for _, v := range g.Outputs {
		outs[v] = true
	}
	cons := g.Consumers()
	set := map[*graph.Value]bool{}
	for _, n := range g.Nodes {
		if !producers[qualName(n)] || len(n.Outputs) == 0 || n.Outputs[0] == nil || (len(n.Outputs) > 1 && n.Outputs[1] != nil) {
			continue
		}
		v := n.Outputs[0]
		if outs[v] || !v.HasShape || len(v.Shape) != 4 || v.DType != tensor.Float32 || len(cons[v]) == 0 {
			continue
		}
		ok := true
		for _, c := range cons[v] {
			for i, in := range c.Inputs {
				if in != v {
					continue
				}
				switch qualName(c) {
				case "Conv", "lightos.FusedConv":
					ok = ok && (i == 0 || i == 3)
				case "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool":
					ok = ok && i == 0
				default:
					ok = false
				}
			}
		}
		if ok {
			set[v] = true
		}
	}
	return set
}

// releaseAfter puts the buffers whose last reader is node i (and the buffers of its
// outputs nobody reads) on the free list.
func (p *Plan) releaseAfter(i int, n *graph.Node) {
	if !p.reuse {
		return
	}
	vs := append(append([]*graph.Value(nil), n.Inputs...), n.Outputs...)
	for _, v := range vs {
		if v == nil {
			continue
		}
		dv := p.vals[v]
		if dv != nil && dv.addOf[0] != nil { // a fused Add's operands die with its reader
			for _, o := range dv.addOf {
				p.releaseBuf(o, i)
			}
			continue
		}
		p.releaseBuf(dv, i)
	}
}

// releaseBuf puts dv's buffer on the free list if node i is its last reader.
func (p *Plan) releaseBuf(dv *dval, i int) {
	if dv == nil || dv.buf == nil {
		return
	}
	b := dv.buf
	if b.pinned || b.free || b.last > i {
		return
	}
	b.free = true
	p.freeBufs = append(p.freeBufs, b)
}

// scratchBuf is device memory for a step's temporaries.
func (p *Plan) scratchBuf(n int) (uintptr, error) {
	ptr, err := p.d.g.alloc(n)
	if err == nil {
		p.scratch = append(p.scratch, ptr)
		p.Bytes += int64(n)
	}
	return ptr, err
}

func (p *Plan) launchSteps() error {
	for _, s := range p.steps {
		if err := s.run(); err != nil {
			return withNode(err, s.node.Name, s.node.Op)
		}
	}
	return nil
}

// Run copies feeds (by input name) to the device, runs the plan and returns the
// outputs by name as new host tensors.
func (p *Plan) Run(ctx context.Context, feeds map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for i, in := range p.inputs {
		t := feeds[in.name]
		if t == nil {
			return nil, fmt.Errorf("cuda: plan %q: missing feed %q", p.g.Name, in.name)
		}
		if t.DType() != in.dt || !sameInts(t.Shape(), in.shape) {
			return nil, fmt.Errorf("cuda: plan %q: feed %q is %s%v, the plan was compiled for %s%v",
				p.g.Name, in.name, t.DType(), t.Shape(), p.inputs[i].dt, in.shape)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("cuda: plan %q is closed", p.g.Name)
	}
	p.d.mu.Lock()
	defer p.d.mu.Unlock()
	out := map[string]*tensor.Tensor{}
	err := p.d.g.do(func() error {
		off := 0
		for _, in := range p.inputs {
			n := in.bytes()
			copy(p.stage.bytes(off, n), feeds[in.name].Bytes())
			if err := p.d.g.htod(in.ptr, p.stage.p+uintptr(off), n); err != nil {
				return fmt.Errorf("copy feed %q: %w", in.name, err)
			}
			off += n
		}
		if err := p.launch(); err != nil {
			return err
		}
		outOff := off
		for _, o := range p.outputs {
			if err := p.d.g.dtoh(p.stage.p+uintptr(off), o.ptr, o.bytes()); err != nil {
				return fmt.Errorf("copy output %q: %w", o.name, err)
			}
			off += o.bytes()
		}
		if err := p.d.g.sync(); err != nil {
			return fmt.Errorf("run (an asynchronous error of some step): %w", err)
		}
		off = outOff
		for i, o := range p.outputs {
			t := tensor.New(o.dt, o.shape)
			copy(t.Bytes(), p.stage.bytes(off, o.bytes()))
			off += o.bytes()
			out[p.g.Outputs[i].Name] = t
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cuda: plan %q: %w", p.g.Name, err)
	}
	return out, nil
}

func (p *Plan) launch() error {
	if p.exec != 0 {
		return p.d.g.graphLaunch(p.exec)
	}
	return p.launchSteps()
}

// Time runs the plan's device work (no copies) warm times, then reps times, and
// returns each timed run's milliseconds, sorted, measured with CUDA events.
func (p *Plan) Time(warm, reps int) ([]float64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.d.mu.Lock()
	defer p.d.mu.Unlock()
	var ms []float64
	err := p.d.g.do(func() error {
		return timeEvents(p.d.g, warm, reps, p.launch, &ms)
	})
	return ms, err
}

func timeEvents(g *gpu, warm, reps int, f func() error, ms *[]float64) error {
	for i := 0; i < warm; i++ {
		if err := f(); err != nil {
			return err
		}
	}
	if err := g.sync(); err != nil {
		return err
	}
	evs := make([]event, reps+1)
	for i := range evs {
		e, err := g.newEvent()
		if err != nil {
			return err
		}
		defer g.destroyEvent(e)
		evs[i] = e
	}
	if err := g.record(evs[0]); err != nil {
		return err
	}
	for i := 0; i < reps; i++ {
		if err := f(); err != nil {
			return err
		}
		if err := g.record(evs[i+1]); err != nil {
			return err
		}
	}
	for i := 0; i < reps; i++ {
		t, err := g.elapsed(evs[i], evs[i+1])
		if err != nil {
			return err
		}
		*ms = append(*ms, float64(t))
	}
	sort.Float64s(*ms)
	return nil
}

// OpTime is the device time of one operator's steps in Profile.
type OpTime struct {
	Op    string
	Steps int     // steps of this operator in the plan
	Ms    float64 // milliseconds per run, summed over its steps (median of reps)
}

// Profile runs the steps one by one, reps times, with CUDA events around each step,
// and returns each operator's time per run (the median run), largest first. Events
// between steps add gaps, so the sum exceeds Time's.
func (p *Plan) Profile(reps int) ([]OpTime, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.d.mu.Lock()
	defer p.d.mu.Unlock()
	per := make([][]float64, len(p.steps))
	err := p.d.g.do(func() error {
		evs := make([]event, len(p.steps)+1)
		for i := range evs {
			e, err := p.d.g.newEvent()
			if err != nil {
				return err
			}
			defer p.d.g.destroyEvent(e)
			evs[i] = e
		}
		for r := 0; r < reps+1; r++ {
			if err := p.d.g.record(evs[0]); err != nil {
				return err
			}
			for i, s := range p.steps {
				if err := s.run(); err != nil {
					return withNode(err, s.node.Name, s.node.Op)
				}
				if err := p.d.g.record(evs[i+1]); err != nil {
					return err
				}
			}
			for i := range p.steps {
				ms, err := p.d.g.elapsed(evs[i], evs[i+1])
				if err != nil {
					return err
				}
				if r > 0 { // the first pass warms up
					per[i] = append(per[i], float64(ms))
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	by := map[string]*OpTime{}
	var out []OpTime
	for i, s := range p.steps {
		ts := per[i]
		sort.Float64s(ts)
		q := qualName(s.node)
		if by[q] == nil {
			by[q] = &OpTime{Op: q}
		}
		by[q].Steps++
		if len(ts) > 0 {
			by[q].Ms += ts[len(ts)/2]
		}
	}
	for _, v := range by {
		out = append(out, *v)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Ms > out[b].Ms })
	return out, nil
}

// TimeRun times whole Runs (copies in and out included) with the host clock and
// returns each run's milliseconds, sorted.
func (p *Plan) TimeRun(feeds map[string]*tensor.Tensor, warm, reps int) ([]float64, error) {
	var ms []float64
	for i := 0; i < warm+reps; i++ {
		t0 := time.Now()
		if _, err := p.Run(context.Background(), feeds); err != nil {
			return nil, err
		}
		if i >= warm {
			ms = append(ms, float64(time.Since(t0).Microseconds())/1000)
		}
	}
	sort.Float64s(ms)
	return ms, nil
}

// Close frees the plan's device memory and CUDA graph.
func (p *Plan) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	p.d.mu.Lock()
	defer p.d.mu.Unlock()
	return p.d.g.do(func() error {
		p.release()
		return p.d.g.sync()
	})
}

func (p *Plan) release() {
	p.d.g.graphDestroy(p.exec)
	p.exec = 0
	for _, b := range p.bufs {
		p.d.g.free(b.ptr)
	}
	p.bufs, p.freeBufs = nil, nil
	p.vals = map[*graph.Value]*dval{}
	for _, c := range p.convs {
		c.destroy()
	}
	p.convs = nil
	p.d.g.free(p.ws)
	p.ws = 0
	p.d.g.free(p.col)
	p.col = 0
	for _, s := range p.scratch {
		p.d.g.free(s)
	}
	p.scratch = nil
	for _, gm := range p.gemms {
		gm.destroy()
	}
	p.gemms = nil
	p.d.g.freePinned(p.stage)
	p.stage = pinned{}
}

func sameInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

var _ = unsafe.Pointer(nil)
