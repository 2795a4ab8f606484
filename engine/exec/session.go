package exec

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// Options configures a Session. The zero value is a sensible default.
type Options struct {
	// Profile records per-node times in every Result.
	Profile bool
	// HeapOutputs allocates outputs on the Go heap instead of in memory maps. Use it
	// when outputs are not handed to foreign code; it avoids a map per output.
	HeapOutputs bool
	// NoAlias makes view operators (Reshape, Flatten, Squeeze, Unsqueeze, Identity)
	// copy their input into a buffer of their own, and gives every output its own
	// buffer where a kernel could write it over an input (backends.InPlacer). By
	// default view outputs share the input's buffer (never for a graph output); the
	// setting is for tests and debugging.
	NoAlias bool
	// Specialize, if set, rewrites each plan's private copy of the graph once its input
	// shapes are concrete, before the plan is built: typically the optimizer
	// (passes.Optimize), so that fusions needing known shapes fire on models whose
	// shapes are computed at run time (torch.onnx's Shape/Gather/Concat reshape targets).
	// It must keep the graph's inputs, outputs and meaning. It runs once per distinct
	// set of input shapes, possibly concurrently on different copies.
	Specialize func(g *graph.Graph) error
}

// Session runs one graph on one device, compiling a plan per distinct set of input
// shapes (dynamic batch) and caching it. Run is safe for concurrent use.
//
// When the device is a backends.GraphCompiler (the cuda backend), each plan is the
// whole graph compiled by the device, every intermediate staying in device memory;
// when that compiler reports backends.ErrUnsupported (an operator the device lacks),
// the plan runs node by node through the device's kernels instead. Close frees what
// such plans hold on the device.
type Session struct {
	g    *graph.Graph
	dev  backends.KernelProvider
	opts Options

	mu     sync.Mutex
	plans  map[string]*planEntry
	arenas map[*Plan]*sync.Pool
	closed bool
	wholes []backends.GraphPlan // the device's whole-graph plans, closed by Close
}

type planEntry struct {
	once sync.Once
	plan *Plan
	err  error
}

// ErrFeed is wrapped by every error about the feeds (missing, unknown, wrong dtype or shape).
var ErrFeed = errors.New("invalid feed")

// NewSession prepares g for running on dev. The graph must not be modified afterwards;
// the session keeps a private copy for each plan it compiles.
func NewSession(g *graph.Graph, dev backends.KernelProvider, opts Options) (*Session, error) {
	if g == nil || dev == nil {
		return nil, errors.New("exec: NewSession needs a graph and a device")
	}
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("exec: %w", err)
	}
	return &Session{g: g, dev: dev, opts: opts, plans: map[string]*planEntry{}, arenas: map[*Plan]*sync.Pool{}}, nil
}

// Graph returns the session's graph.
func (s *Session) Graph() *graph.Graph { return s.g }

// Device returns the session's device.
func (s *Session) Device() backends.KernelProvider { return s.dev }

// Result holds the outputs of one run. Outputs made in memory maps stay valid until
// Release; Release is safe to call more than once.
type Result struct {
	Names   []string
	Outputs []*tensor.Tensor
	Profile *Profile
}

// Get returns the output called name, or nil.
func (r *Result) Get(name string) *tensor.Tensor {
	for i, n := range r.Names {
		if n == name {
			return r.Outputs[i]
		}
	}
	return nil
}

// Release frees the outputs' memory maps.
func (r *Result) Release() {
	for _, t := range r.Outputs {
		if t != nil {
			_ = t.Release()
		}
	}
}

// RunOptions tunes one run.
type RunOptions struct {
	// Outputs supplies caller-owned tensors to write outputs into, by output name.
	// Each must have the output's dtype and shape.
	Outputs map[string]*tensor.Tensor
}

// Plan returns the plan for feeds of the given shapes, compiling it on first use.
func (s *Session) Plan(shapes map[string][]int) (*Plan, error) {
	var key []byte
	for _, in := range s.g.Inputs {
		key = appendKey(key, in.Name, shapes[in.Name])
	}
	return s.plan(key, func() map[string][]int { return shapes })
}

// appendKey appends one input's part of a plan key: its name and dimensions.
func appendKey(key []byte, name string, shape []int) []byte {
	key = append(key, name...)
	key = append(key, '[')
	for i, d := range shape {
		if i > 0 {
			key = append(key, ' ')
		}
		key = strconv.AppendInt(key, int64(d), 10)
	}
	return append(key, "];"...)
}

// plan returns the plan cached under key, compiling it for shapes() on first use.
func (s *Session) plan(key []byte, shapes func() map[string][]int) (*Plan, error) {
	s.mu.Lock()
	e, ok := s.plans[string(key)]
	if !ok {
		e = &planEntry{}
		s.plans[string(key)] = e
	}
	s.mu.Unlock()
	e.once.Do(func() {
		shapes := shapes()
		g := s.g.Clone()
		for _, in := range g.Inputs {
			in.Shape = graph.ShapeOf(shapes[in.Name]...)
			in.HasShape = true
		}
		e.plan, e.err = compileSafe(g, s.dev, s.opts)
		if e.err != nil {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if e.plan.whole != nil {
			if s.closed { // Close ran while this plan compiled
				_ = e.plan.whole.Close()
				e.plan, e.err = nil, fmt.Errorf("exec: graph %q: %w", s.g.Name, errClosed)
				return
			}
			s.wholes = append(s.wholes, e.plan.whole)
			return
		}
		size := e.plan.arenaSize
		s.arenas[e.plan] = &sync.Pool{New: func() any { b := makeAligned(size); return &b }}
	})
	return e.plan, e.err
}

// errClosed is wrapped by the errors of runs after Close on a session that held
// whole-graph device plans.
var errClosed = errors.New("session closed")

// Close frees the device memory of the session's whole-graph plans (see Session);
// later runs that need one fail. Sessions on devices without a GraphCompiler hold
// nothing to free, and Close leaves them usable. Close is idempotent.
func (s *Session) Close() error {
	s.mu.Lock()
	wholes := s.wholes
	s.wholes, s.closed = nil, true
	s.mu.Unlock()
	var errs []error
	for _, w := range wholes {
		if err := w.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("exec: closing graph %q's device plans: %w", s.g.Name, errors.Join(errs...))
	}
	return nil
}

func compileSafe(g *graph.Graph, dev backends.KernelProvider, opts Options) (p *Plan, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("exec: compiling graph %q panicked: %v", g.Name, r)
		}
	}()
	if opts.Specialize != nil {
		if err := opts.Specialize(g); err != nil {
			return nil, fmt.Errorf("exec: graph %q: specializing for its input shapes: %w", g.Name, err)
		}
	}
	if gc, ok := dev.(backends.GraphCompiler); ok {
		p, err := compileWhole(g.Clone(), dev, gc)
		switch {
		case err == nil:
			return p, nil
		case !errors.Is(err, backends.ErrUnsupported):
			return nil, fmt.Errorf("exec: graph %q on %s: %w", g.Name, dev.Info(), err)
		}
		// An operator the device lacks: node by node below.
	}
	p, err = compile(g, dev, opts.NoAlias)
	if err != nil {
		return nil, fmt.Errorf("exec: graph %q: %w", g.Name, err)
	}
	return p, nil
}

// compileWhole infers g's types (folding constants through dev's kernels, as compile
// does) and has the device compile the whole graph.
func compileWhole(g *graph.Graph, dev backends.KernelProvider, gc backends.GraphCompiler) (*Plan, error) {
	if err := inferTypes(g, dev); err != nil {
		return nil, err
	}
	w, err := gc.CompileGraph(g)
	if err != nil {
		return nil, err
	}
	p := &Plan{g: g, whole: w}
	for _, n := range g.Nodes {
		for _, v := range n.Outputs {
			if v != nil && v.Const == nil {
				p.stats.Nodes++ // a node not folded at plan time
				break
			}
		}
	}
	return p, nil
}

// clockIf reads the clock only when a profile is being taken: the per-node times
// are its only use.
func clockIf(prof *Profile) time.Time {
	if prof == nil {
		return time.Time{}
	}
	return time.Now()
}

func makeAligned(n int) []byte {
	words := make([]uint64, (n+alignment)/8+1)
	b := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), len(words)*8)
	off := int(uintptr(alignment)-uintptr(unsafe.Pointer(&b[0]))%alignment) % alignment
	adviseHugePages(b)
	return b[off : off+n]
}

// CheckFeeds validates feeds against the graph inputs: every input present, no unknown
// names, dtypes equal and known dimensions matching. Errors wrap ErrFeed.
func (s *Session) CheckFeeds(feeds map[string]*tensor.Tensor) error {
	var errs []error
	for _, in := range s.g.Inputs {
		t, ok := feeds[in.Name]
		if !ok || t == nil {
			errs = append(errs, fmt.Errorf("missing input %q (%v)", in.Name, in.Type))
			continue
		}
		if t.DType() != in.DType {
			errs = append(errs, fmt.Errorf("input %q: dtype %v, expected %v", in.Name, t.DType(), in.DType))
		}
		if in.HasShape {
			shape := t.Shape()
			if len(shape) != len(in.Shape) {
				errs = append(errs, fmt.Errorf("input %q: shape %v has rank %d, expected %v", in.Name, shape, len(shape), in.Shape))
				continue
			}
			for i, d := range in.Shape {
				if d.Known() && int64(shape[i]) != d.Size {
					errs = append(errs, fmt.Errorf("input %q: shape %v, expected %v (dimension %d)", in.Name, shape, in.Shape, i))
					break
				}
			}
		}
	}
	if len(feeds) != len(s.g.Inputs) || len(errs) > 0 {
		for name := range feeds {
			known := false
			for _, in := range s.g.Inputs {
				known = known || in.Name == name
			}
			if !known {
				errs = append(errs, fmt.Errorf("unknown input %q (inputs are %v)", name, inputNames(s.g)))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("exec: %w: %w", ErrFeed, errors.Join(errs...))
	}
	return nil
}

func inputNames(g *graph.Graph) []string {
	out := make([]string, len(g.Inputs))
	for i, v := range g.Inputs {
		out[i] = v.Name
	}
	return out
}

// Run executes the graph on feeds (by input name) and returns the outputs in graph
// output order. It is safe to call from several goroutines at once.
func (s *Session) Run(ctx context.Context, feeds map[string]*tensor.Tensor, opts *RunOptions) (res *Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("exec: run of graph %q panicked: %v", s.g.Name, r)
		}
	}()
	if err := s.CheckFeeds(feeds); err != nil {
		return nil, err
	}
	// The plan key comes from the feeds directly; the shapes map is only built when
	// a new plan is compiled.
	var buf [128]byte
	key := buf[:0]
	for _, in := range s.g.Inputs {
		key = appendKey(key, in.Name, feeds[in.Name].Shape())
	}
	p, err := s.plan(key, func() map[string][]int {
		shapes := make(map[string][]int, len(feeds))
		for name, t := range feeds {
			shapes[name] = t.Shape()
		}
		return shapes
	})
	if err != nil {
		return nil, err
	}
	if p.whole != nil {
		return s.runWhole(ctx, p, feeds, opts)
	}
	s.mu.Lock()
	pool := s.arenas[p]
	s.mu.Unlock()
	arenaPtr := pool.Get().(*[]byte)
	defer pool.Put(arenaPtr)
	return s.runPlan(ctx, p, *arenaPtr, feeds, opts)
}

func (s *Session) runPlan(ctx context.Context, p *Plan, arena []byte, feeds map[string]*tensor.Tensor, opts *RunOptions) (*Result, error) {
	vals := make([]*tensor.Tensor, len(p.slots))
	for i, sl := range p.slots {
		switch {
		case sl.input >= 0:
			vals[i] = feeds[p.g.Inputs[sl.input].Name]
		case sl.konst != nil:
			vals[i] = sl.konst
		}
	}
	var prof *Profile
	if s.opts.Profile {
		prof = &Profile{Nodes: make([]NodeTime, 0, len(p.steps))}
	}
	// One scratch slice holds every step's input and output lists.
	io := make([]*tensor.Tensor, p.ioSlots)
	res := &Result{Profile: prof}
	ok := false
	defer func() {
		if !ok {
			res.Release()
		}
	}()
	// Outputs that a caller supplied or that are produced by a step are allocated
	// lazily; track them for release on failure.
	allocOut := func(si int, t graph.Type, shape []int) (*tensor.Tensor, error) {
		sl := &p.slots[si]
		if dst, err := opts.output(sl.value.Name, t.DType, shape, t); dst != nil || err != nil {
			return dst, err
		}
		if s.opts.HeapOutputs {
			return tensor.New(t.DType, shape), nil
		}
		out, err := tensor.NewMapped(t.DType, shape)
		if err != nil {
			return nil, err
		}
		res.Outputs = append(res.Outputs, out) // released on failure
		return out, nil
	}
	for _, st := range p.steps {
		if err := ctx.Err(); err != nil {
			return nil, errCanceled(ctx, st.node.Name)
		}
		ins, outs := io[:len(st.inputs):len(st.inputs)], io[len(st.inputs):len(st.inputs)+len(st.outputs)]
		io = io[len(st.inputs)+len(st.outputs):]
		for i, si := range st.inputs {
			if si >= 0 {
				ins[i] = vals[si]
			}
		}
		var types []graph.Type // run-time types of a dynamic step
		if st.dynamic {
			t, err := inferAtRunTime(p.g, st.node, ins)
			if err != nil {
				ak, ok := st.kernel.(backends.AllocatingKernel)
				if !ok {
					return nil, fmt.Errorf("exec: %w", err)
				}
				// Only running the node tells its output shapes (control flow): the
				// kernel makes its outputs.
				start := clockIf(prof)
				made, err := safeRunAlloc(ctx, ak, ins)
				if err != nil {
					if ctx.Err() != nil {
						return nil, errCanceled(ctx, st.node.Name)
					}
					return nil, fmt.Errorf("exec: node %q (%s): %w", st.node.Name, st.node.Op, err)
				}
				if len(made) < len(st.outputs) {
					return nil, fmt.Errorf("exec: node %q (%s): kernel made %d outputs, node has %d", st.node.Name, st.node.Op, len(made), len(st.outputs))
				}
				for i, si := range st.outputs {
					if si < 0 {
						continue
					}
					v := made[i]
					if sharesStorage(v, ins) { // a branch passing an input through: the input's buffer may be reused
						v = v.Clone()
					}
					if p.slots[si].output { // graph outputs live where the caller expects them
						dst, err := allocOut(si, ops.Typed(v.DType(), graph.ShapeOf(v.Shape()...)), v.Shape())
						if err != nil {
							return nil, err
						}
						copy(dst.Bytes(), v.Bytes())
						v = dst
					}
					vals[si] = v
				}
				if prof != nil {
					prof.add(st.node, time.Since(start), ins, made)
				}
				for _, si := range st.free {
					vals[si] = nil
				}
				continue
			}
			types = t
		}
		if st.alias { // the output is the input's bytes under the output's shape
			shape := p.slots[st.outputs[0]].shape
			if types != nil {
				shape = types[0].Shape.Ints()
			}
			start := clockIf(prof)
			v, err := ins[0].Reshape(shape)
			if err != nil {
				return nil, fmt.Errorf("exec: node %q (%s): %w", st.node.Name, st.node.Op, err)
			}
			outs[0] = v
			vals[st.outputs[0]] = v
			if prof != nil {
				prof.add(st.node, time.Since(start), ins, outs)
			}
			for _, si := range st.free {
				vals[si] = nil
			}
			continue
		}
		for i, si := range st.outputs {
			if si < 0 {
				continue
			}
			sl := &p.slots[si]
			t, shape := sl.value.Type, sl.shape
			if types != nil {
				t, shape = types[i], types[i].Shape.Ints()
			}
			var err error
			switch {
			case sl.output:
				outs[i], err = allocOut(si, t, shape)
			case sl.offset >= 0:
				n := tensor.NumElements(shape) * t.DType.Size()
				outs[i], err = tensor.FromBytes(t.DType, shape, arena[sl.offset:sl.offset+n])
				if err == nil && !st.overwrites { // arena bytes hold an earlier value's data
					clear(outs[i].Bytes())
				}
			default:
				outs[i] = tensor.New(t.DType, shape)
			}
			if err != nil {
				return nil, err
			}
			vals[si] = outs[i]
		}
		start := clockIf(prof)
		if err := safeRun(ctx, st.kernel, ins, outs); err != nil {
			if ctx.Err() != nil {
				return nil, errCanceled(ctx, st.node.Name)
			}
			return nil, fmt.Errorf("exec: node %q (%s): %w", st.node.Name, st.node.Op, err)
		}
		if prof != nil {
			prof.add(st.node, time.Since(start), ins, outs)
		}
		for _, si := range st.free {
			vals[si] = nil
		}
	}
	res.Outputs = res.Outputs[:0]
	for _, si := range p.outputs {
		t := vals[si]
		if t == nil {
			return nil, fmt.Errorf("exec: output %q was not computed", p.slots[si].value.Name)
		}
		if sl := p.slots[si]; sl.input >= 0 || sl.konst != nil {
			t = t.Clone() // an output that is an input or a constant: hand out a copy
		}
		res.Names = append(res.Names, p.slots[si].value.Name)
		res.Outputs = append(res.Outputs, t)
	}
	ok = true
	return res, nil
}

// wholeOp is the operator name of a whole-graph plan's one profile entry.
const wholeOp = "GraphPlan"

// runWhole runs a plan that a device compiled whole. Outputs land where runPlan puts
// them: in the caller's tensors of RunOptions.Outputs, else on the heap or in memory
// maps as Options.HeapOutputs says. A profile has one entry, op "GraphPlan", named
// after the graph, timing the device run with its copies.
func (s *Session) runWhole(ctx context.Context, p *Plan, feeds map[string]*tensor.Tensor, opts *RunOptions) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("exec: graph %q canceled before its run: %w", p.g.Name, context.Cause(ctx))
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("exec: graph %q: %w", p.g.Name, errClosed)
	}
	start := time.Now()
	got, err := p.whole.Run(ctx, feeds)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("exec: graph %q canceled: %w", p.g.Name, context.Cause(ctx))
		}
		return nil, fmt.Errorf("exec: graph %q on %s: %w", p.g.Name, s.dev.Info(), err)
	}
	elapsed := time.Since(start)
	res := &Result{}
	var mapped []*tensor.Tensor // released on failure (never the caller's tensors)
	ok := false
	defer func() {
		if !ok {
			for _, m := range mapped {
				_ = m.Release()
			}
		}
	}()
	for _, v := range p.g.Outputs {
		t := got[v.Name]
		if t == nil {
			return nil, fmt.Errorf("exec: graph %q: the device plan returned no output %q", p.g.Name, v.Name)
		}
		if v.HasShape && v.Shape.Known() && (t.DType() != v.DType || !equalInts(t.Shape(), v.Shape.Ints())) {
			return nil, fmt.Errorf("exec: graph %q: the device plan's output %q is %v, expected %v", p.g.Name, v.Name, t, v.Type)
		}
		out := t
		dst, err := opts.output(v.Name, t.DType(), t.Shape(), v.Type)
		if err != nil {
			return nil, err
		}
		if dst != nil {
			copy(dst.Bytes(), t.Bytes())
			out = dst
		} else if !s.opts.HeapOutputs {
			m, err := tensor.NewMapped(t.DType(), t.Shape())
			if err != nil {
				return nil, err
			}
			mapped = append(mapped, m)
			copy(m.Bytes(), t.Bytes())
			out = m
		}
		res.Names = append(res.Names, v.Name)
		res.Outputs = append(res.Outputs, out)
	}
	if s.opts.Profile {
		nt := NodeTime{Node: p.g.Name, Op: wholeOp, Duration: elapsed}
		for _, t := range res.Outputs {
			nt.OutputShapes = append(nt.OutputShapes, t.Shape())
		}
		res.Profile = &Profile{Nodes: []NodeTime{nt}}
	}
	ok = true
	return res, nil
}

// output returns the caller's tensor for output name (nil if RunOptions gives none),
// or an error when its dtype or shape is not dt and shape (want names the expected type).
func (o *RunOptions) output(name string, dt tensor.DType, shape []int, want graph.Type) (*tensor.Tensor, error) {
	if o == nil || o.Outputs == nil {
		return nil, nil
	}
	dst := o.Outputs[name]
	if dst != nil && (dst.DType() != dt || !equalInts(dst.Shape(), shape)) {
		return nil, fmt.Errorf("exec: output %q: caller buffer is %v, expected %v", name, dst, want)
	}
	return dst, nil
}

// sharesStorage reports whether t's bytes overlap those of any tensor in ts.
func sharesStorage(t *tensor.Tensor, ts []*tensor.Tensor) bool {
	b := t.Bytes()
	if len(b) == 0 {
		return false
	}
	lo, hi := uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&b[0]))+uintptr(len(b))
	for _, u := range ts {
		if u == nil || len(u.Bytes()) == 0 {
			continue
		}
		ub := u.Bytes()
		ulo := uintptr(unsafe.Pointer(&ub[0]))
		if ulo < hi && lo < ulo+uintptr(len(ub)) {
			return true
		}
	}
	return false
}

func equalInts(a, b []int) bool {
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

// safeRunAlloc runs an allocating kernel and turns a panic inside it into an error.
func safeRunAlloc(ctx context.Context, k backends.AllocatingKernel, in []*tensor.Tensor) (out []*tensor.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("kernel panicked: %v", r)
		}
	}()
	return k.RunAlloc(ctx, in)
}

// inferAtRunTime infers a node's output types from its actual input tensors.
func inferAtRunTime(g *graph.Graph, n *graph.Node, ins []*tensor.Tensor) ([]graph.Type, error) {
	s, ok := ops.LookupNode(n)
	if !ok {
		return nil, fmt.Errorf("node %q: unknown operator %s", n.Name, n.Op)
	}
	c := &ops.InferContext{Node: n, Opset: g.Opset, In: make([]graph.Type, len(ins)), Consts: ins}
	for i, t := range ins {
		if t != nil {
			c.In[i] = ops.Typed(t.DType(), graph.ShapeOf(t.Shape()...))
		}
	}
	types, err := s.Infer(c)
	if err != nil {
		return nil, err
	}
	for i, t := range types {
		if i < len(n.Outputs) && n.Outputs[i] != nil && (!t.HasShape || !t.Shape.Known()) {
			return nil, fmt.Errorf("node %q (%s): output %d shape unknown even at run time", n.Name, n.Op, i)
		}
	}
	return types, nil
}
