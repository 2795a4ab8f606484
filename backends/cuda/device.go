package cuda

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"unsafe"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/nvml"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

var errUnsupported = backends.ErrUnsupported

// Options configure a Device. The zero value computes float32 products in full
// float32 precision.
type Options struct {
	// TF32 lets float32 matrix products use the tensor cores' TF32 mode (about 1e-3
	// relative error instead of 1e-6).
	TF32 bool
	// UnfusedAttention runs Attention as batched products and a row softmax instead of
	// the fused kernel (for comparison and as a fallback).
	UnfusedAttention bool
	// NoCuDNN runs convolutions with the backend's own NVRTC kernel even when cuDNN 9
	// is installed (for comparison and to test the fallback).
	NoCuDNN bool
}

// Device is one NVIDIA GPU: its context, stream, cuBLASLt handle and workspace, and
// the kernels compiled for it. It is safe for concurrent use; work on it is
// serialized on its one stream.
type Device struct {
	g    *gpu
	opts Options
	mods moduleCache

	mu        sync.Mutex // serializes use of the stream
	blasOnce  sync.Once
	blasErr   error
	blas      uintptr
	workspace uintptr
	coreOnce  sync.Once
	coreErr   error
	core      *module
	convOnce  sync.Once
	convErr   error
	convMod   *module
	dnnOnce   sync.Once
	dnnErr    error
	dnnH      uintptr
	dnnMu     sync.Mutex
	dnnAlgos  map[string]dnnPerf // cuDNN's algorithm choice per convolution shape
	// attnOnly, when set (by tests), keeps only the fused attention kernels whose
	// name starts with it.
	attnOnly string
	// tele reads the sensors (the nvml device of the same GPU), when found.
	tele backends.Device

	kmu   sync.Mutex
	owned []*Plan // the one-node plans of Kernel, closed with the device
}

var (
	_ backends.KernelProvider = (*Device)(nil)
	_ backends.GraphCompiler  = (*Device)(nil)
	_ backends.GraphPlan      = (*Plan)(nil)
	_ io.Closer               = (*Device)(nil)
)

// Count returns the number of CUDA devices, or an error wrapping ErrDeviceNotFound
// that says why there are none.
func Count() (int, error) {
	d, err := loadDriver()
	if err != nil {
		return 0, err
	}
	var n int32
	if err := d.check("cuDeviceGetCount", call(d.cuDeviceGetCount, uintptr(unsafe.Pointer(&n)))); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrDeviceNotFound, err)
	}
	if n == 0 {
		return 0, fmt.Errorf("%w: the driver loaded but reports no GPU", ErrDeviceNotFound)
	}
	return int(n), nil
}

// Open opens GPU ordinal (0-based): its primary context and a stream. Kernels are
// compiled on first use.
func Open(ordinal int, opts Options) (*Device, error) {
	n, err := Count()
	if err != nil {
		return nil, err
	}
	if ordinal < 0 || ordinal >= n {
		return nil, fmt.Errorf("%w: no GPU %d (have %d)", ErrDeviceNotFound, ordinal, n)
	}
	d, _ := loadDriver()
	g, err := openGPU(d, ordinal)
	if err != nil {
		return nil, fmt.Errorf("cuda: open GPU %d: %w", ordinal, err)
	}
	return &Device{g: g, opts: opts}, nil
}

// ensureCore compiles the core kernels once (inside g.do).
func (d *Device) ensureCore() error {
	d.coreOnce.Do(func() {
		d.core, d.coreErr = d.g.module(&d.mods, "lightos_core", coreSource, coreFuncs...)
		if d.coreErr != nil {
			d.coreErr = fmt.Errorf("compile core kernels: %w", d.coreErr)
		}
	})
	return d.coreErr
}

// ensureBlas creates the cuBLASLt handle and workspace once (inside g.do).
func (d *Device) ensureBlas() error {
	d.blasOnce.Do(func() {
		lt, err := loadBlasLt()
		if err != nil {
			d.blasErr = err
			return
		}
		if err := lt.check("cublasLtCreate", call(lt.create, uintptr(unsafe.Pointer(&d.blas)))); err != nil {
			d.blasErr = err
			return
		}
		d.workspace, d.blasErr = d.g.alloc(workspaceBytes)
	})
	return d.blasErr
}

// Close releases the device's plans, handle and context.
func (d *Device) Close() error {
	d.kmu.Lock()
	for _, p := range d.owned {
		p.Close()
	}
	d.owned = nil
	d.kmu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.g.do(func() error {
		d.g.free(d.workspace)
		if d.dnnH != 0 {
			call(dnnLib.destroy, d.dnnH)
		}
		if d.blas != 0 {
			call(ltLib.destroy, d.blas)
		}
		return d.g.close()
	})
}

// Info describes the GPU.
func (d *Device) Info() backends.Info {
	cc := fmt.Sprintf("sm_%d%d", d.g.ccMajor, d.g.ccMinor)
	return backends.Info{Kind: backends.NVIDIA, ID: d.g.ordinal, Name: d.g.name, MemoryBytes: d.g.mem,
		ComputeUnits: d.g.sms, ISA: []string{cc}, Driver: "cuda", UUID: d.g.uuid}
}

// Telemetry reads the sensors through the nvml device of the same GPU (matched by
// UUID in discovery); without one every reading is unavailable.
func (d *Device) Telemetry() (backends.Telemetry, error) {
	if d.tele != nil {
		return d.tele.Telemetry()
	}
	return backends.Telemetry{}, nil
}

// Kernel returns a kernel that runs node n on the GPU, copying its inputs in and its
// outputs out on every call (a one-node Plan per input shapes, cached in the kernel).
// Use Compile for a whole graph that stays on the device. Unsupported nodes give an
// error wrapping backends.ErrUnsupported.
func (d *Device) Kernel(n *graph.Node) (backends.Kernel, error) {
	if err := supported(n); err != nil {
		return nil, err
	}
	nk := &nodeKernel{d: d, n: n, plans: map[string]cachedPlan{}}
	return nk, nil
}

// CompileGraph compiles g, whose inputs carry their shapes, into one Plan (Compile with
// the default PlanOptions: one CUDA graph, channels-last convolutions, reused buffers;
// the Device's Options, TF32 among them, apply). exec.Session calls it for each set of
// input shapes, so the whole graph stays on the GPU instead of copying per node. A
// node the GPU lacks gives an error wrapping backends.ErrUnsupported.
func (d *Device) CompileGraph(g *graph.Graph) (backends.GraphPlan, error) {
	p, err := d.Compile(g, nil, PlanOptions{})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// nodeKernel runs one node through one-node plans, one per input shapes.
type nodeKernel struct {
	d     *Device
	n     *graph.Node
	mu    sync.Mutex
	plans map[string]cachedPlan
}

type cachedPlan struct {
	p        *Plan
	outNames []string
}

func (k *nodeKernel) Run(ctx context.Context, inputs, outputs []*tensor.Tensor) error {
	n := k.n
	p, names, outNames, err := k.plan(inputs)
	if err != nil {
		return err
	}
	feeds := map[string]*tensor.Tensor{}
	for i, t := range inputs {
		if names[i] != "" {
			feeds[names[i]] = t
		}
	}
	res, err := p.Run(ctx, feeds)
	if err != nil {
		return err
	}
	for i, o := range outputs {
		if o == nil || i >= len(outNames) || outNames[i] == "" {
			continue
		}
		r := res[outNames[i]]
		if r == nil || len(r.Bytes()) != len(o.Bytes()) {
			return fmt.Errorf("cuda: node %q (%s): output %d has the wrong size", n.Name, n.Op, i)
		}
		copy(o.Bytes(), r.Bytes())
	}
	return nil
}

// plan builds (once per input shapes) a graph holding only the node, with its
// non-constant inputs as graph inputs, and compiles it. It returns the plan, the feed
// name of each input ("" for constants) and the plan's name of each output.
func (k *nodeKernel) plan(inputs []*tensor.Tensor) (*Plan, []string, []string, error) {
	n := k.n
	var key strings.Builder
	names := make([]string, len(inputs))
	for i, t := range inputs {
		if t != nil {
			fmt.Fprintf(&key, "|%s%v", t.DType(), t.Shape())
		}
		if i < len(n.Inputs) && n.Inputs[i] != nil && n.Inputs[i].Const == nil {
			names[i] = n.Inputs[i].Name
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if c, ok := k.plans[key.String()]; ok {
		return c.p, names, c.outNames, nil
	}
	g := graph.New(n.Name)
	var ins []*graph.Value
	shapes := map[string][]int{}
	for i, v := range n.Inputs {
		switch {
		case v == nil:
			ins = append(ins, nil)
		case v.Const != nil:
			ins = append(ins, g.AddInitializer(v.Name, v.Const))
		case i >= len(inputs) || inputs[i] == nil:
			return nil, nil, nil, fmt.Errorf("cuda: node %q (%s): input %d missing", n.Name, n.Op, i)
		default:
			if g.Value(v.Name) == nil {
				g.AddInput(v.Name, inputs[i].DType(), graph.ShapeOf(inputs[i].Shape()...))
				shapes[v.Name] = inputs[i].Shape()
			}
			ins = append(ins, g.Value(v.Name))
		}
	}
	outNames := make([]string, len(n.Outputs))
	for i, v := range n.Outputs {
		if v != nil {
			outNames[i] = v.Name
		}
	}
	nn := g.AddNode(n.Op, n.Name, ins, outNames, n.Attrs.Clone())
	nn.Domain = n.Domain
	for i, v := range nn.Outputs {
		if v != nil {
			g.Outputs = append(g.Outputs, v)
			outNames[i] = v.Name
		}
	}
	p, err := k.d.Compile(g, shapes, PlanOptions{NoGraph: true})
	if err != nil {
		return nil, nil, nil, err
	}
	k.plans[key.String()] = cachedPlan{p, outNames}
	k.d.kmu.Lock()
	k.d.owned = append(k.d.owned, p)
	k.d.kmu.Unlock()
	return p, names, outNames, nil
}

func init() {
	backends.RegisterProvider(backends.Provider{Name: "cuda", Order: 5,
		Find: func(o backends.DiscoverOptions) ([]backends.Device, io.Closer, error) {
			n, err := Count()
			if err != nil {
				return nil, nil, err
			}
			var devs []backends.Device
			var cl closers
			var sensors []backends.Device
			if l, err := nvml.Open(nvml.Options{}); err == nil {
				cl = append(cl, l)
				sensors, _ = l.Devices()
			}
			for i := 0; i < n; i++ {
				d, err := Open(i, Options{})
				if err != nil {
					return devs, cl, err
				}
				for _, s := range sensors {
					if s.Info().UUID != "" && s.Info().UUID == d.g.uuid {
						d.tele = s
					}
				}
				devs = append(devs, d)
				cl = append(cl, d)
			}
			return devs, cl, nil
		}})
}

type closers []io.Closer

func (c closers) Close() error {
	var errs []error
	for _, x := range c {
		errs = append(errs, x.Close())
	}
	return errors.Join(errs...)
}
