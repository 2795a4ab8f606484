package custom

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// Func implements a custom operator in Go. The outputs are allocated by the executor
// at the inferred types; the function fills them and must not keep references to any
// tensor after it returns.
type Func func(ctx context.Context, n *graph.Node, inputs, outputs []*tensor.Tensor) error

// Foreign calls a function living outside Go, identified by handle.
type Foreign interface {
	Call(ctx context.Context, handle int64, n *graph.Node, inputs, outputs []*tensor.Tensor) error
}

// Op is one registered custom operator: exactly one of Go and Foreign is set.
type Op struct {
	Name    string
	Go      Func
	Foreign Foreign
	Handle  int64 // passed to Foreign.Call
}

// Registry maps op names to implementations. It is safe for concurrent use.
type Registry struct {
	mu  sync.RWMutex
	ops map[string]Op
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{ops: map[string]Op{}} }

// Register adds or replaces the operator op.Name.
func (r *Registry) Register(op Op) error {
	if op.Name == "" {
		return errors.New("custom: register: empty op name")
	}
	if (op.Go == nil) == (op.Foreign == nil) {
		return fmt.Errorf("custom: register %q: set exactly one of Go and Foreign", op.Name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops[op.Name] = op
	return nil
}

// Lookup returns the operator called name.
func (r *Registry) Lookup(name string) (Op, bool) {
	if r == nil {
		return Op{}, false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	op, ok := r.ops[name]
	return op, ok
}

// Names lists the registered operators.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.ops))
	for n := range r.ops {
		out = append(out, n)
	}
	return out
}

// ErrNotRegistered is wrapped when a graph has a custom node whose op has no
// implementation in the registry.
var ErrNotRegistered = errors.New("custom op not registered")

// Error is a failure inside a custom operator's function.
type Error struct {
	Node string // node name
	Op   string // op name
	Err  error
}

func (e *Error) Error() string {
	return fmt.Sprintf("custom: node %q (%s): %v", e.Node, e.Op, e.Err)
}

// Unwrap returns the function's error.
func (e *Error) Unwrap() error { return e.Err }

// Device serves custom nodes from a registry and every other node from the device it wraps.
type Device struct {
	backends.KernelProvider
	reg *Registry
}

var _ backends.KernelProvider = (*Device)(nil)

// Wrap returns dev with custom nodes served from reg. When dev compiles whole graphs
// (backends.GraphCompiler, the GPU backend), so does the result, for graphs without
// custom nodes: exec.Session then runs them as one device plan, as on dev itself.
func Wrap(dev backends.KernelProvider, reg *Registry) backends.KernelProvider {
	d := &Device{KernelProvider: dev, reg: reg}
	if gc, ok := dev.(backends.GraphCompiler); ok {
		return &compilingDevice{Device: d, gc: gc}
	}
	return d
}

// compilingDevice is a Device over a backends.GraphCompiler.
type compilingDevice struct {
	*Device
	gc backends.GraphCompiler
}

// CompileGraph compiles g on the wrapped device unless g has a custom node (those run
// on the host through the registry), which it reports as backends.ErrUnsupported so
// that the caller runs g node by node.
func (d *compilingDevice) CompileGraph(g *graph.Graph) (backends.GraphPlan, error) {
	for _, n := range g.Nodes {
		if ops.IsCustom(n) {
			return nil, fmt.Errorf("custom: graph %q: custom node %q runs on the host: %w", g.Name, n.Name, backends.ErrUnsupported)
		}
	}
	return d.gc.CompileGraph(g)
}

// Kernel returns the registry's kernel for custom nodes and the wrapped device's otherwise.
func (d *Device) Kernel(n *graph.Node) (backends.Kernel, error) {
	if !ops.IsCustom(n) {
		return d.KernelProvider.Kernel(n)
	}
	op, ok := d.reg.Lookup(n.Op)
	if !ok {
		return nil, fmt.Errorf("custom: node %q: op %q: %w", n.Name, n.Op, ErrNotRegistered)
	}
	return &kernel{node: n, op: op}, nil
}

type kernel struct {
	node *graph.Node
	op   Op
}

func (k *kernel) Run(ctx context.Context, in, out []*tensor.Tensor) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &Error{Node: k.node.Name, Op: k.node.Op, Err: fmt.Errorf("panic: %v", r)}
		}
	}()
	if k.op.Go != nil {
		err = k.op.Go(ctx, k.node, in, out)
	} else {
		err = k.op.Foreign.Call(ctx, k.op.Handle, k.node, in, out)
	}
	if err != nil {
		return &Error{Node: k.node.Name, Op: k.node.Op, Err: err}
	}
	return nil
}

// Mark sets the attributes that make n a custom node with the given output dtypes
// and shape specs (either may be nil for the defaults; see engine/ops/custom.go).
func Mark(n *graph.Node, dtypes []tensor.DType, shapes []string) {
	if n.Attrs == nil {
		n.Attrs = graph.Attrs{}
	}
	n.Attrs[ops.CustomAttr] = graph.Int(1)
	if dtypes != nil {
		codes := make([]int64, len(dtypes))
		for i, d := range dtypes {
			codes[i] = int64(d)
		}
		n.Attrs[ops.CustomOutDTypes] = graph.Ints(codes...)
	}
	if shapes != nil {
		n.Attrs[ops.CustomOutShapes] = graph.Strings(shapes...)
	}
}
