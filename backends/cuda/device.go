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
	// tele reads the sensors (the nvml device of the same GPU), when found.
	tele backends.Device

	kmu     sync.Mutex
	kernels map[string]*Plan // one-node plans of Kernel, by node and input shapes
}

var (
	_ backends.KernelProvider = (*Device)(nil)
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
	return &Device{g: g, opts: opts, kernels: map[string]*Plan{}}, nil
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
	for _, p := range d.kernels {
		p.Close()
	}
	d.kernels = nil
	d.kmu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.g.do(func() error {
		d.g.free(d.workspace)
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
// outputs out on every call (a one-node Plan per input shapes). Use Compile for a
// whole graph that stays on the device. Unsupported nodes give an error wrapping
// backends.ErrUnsupported, checked here from the node's inferred types.
func (d *Device) Kernel(n *graph.Node) (backends.Kernel, error) {
	if err := supported(n); err != nil {
		return nil, err
	}
	return backends.KernelFunc(func(ctx context.Context, inputs, outputs []*tensor.Tensor) error {
		p, names, err := d.nodePlan(n, inputs)
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
			if o == nil || i >= len(n.Outputs) || n.Outputs[i] == nil {
				continue
			}
			r := res[n.Outputs[i].Name]
			if r == nil || len(r.Bytes()) != len(o.Bytes()) {
				return fmt.Errorf("cuda: node %q (%s): output %d has the wrong size", n.Name, n.Op, i)
			}
			copy(o.Bytes(), r.Bytes())
		}
		return nil
	}), nil
}

// nodePlan builds (once per input shapes) a graph holding only n, with its
// non-constant inputs as graph inputs, and compiles it.
func (d *Device) nodePlan(n *graph.Node, inputs []*tensor.Tensor) (*Plan, []string, error) {
	var key strings.Builder
	fmt.Fprintf(&key, "%p", n)
	names := make([]string, len(inputs))
	for i, t := range inputs {
		if t != nil {
			fmt.Fprintf(&key, "|%s%v", t.DType(), t.Shape())
		}
		if i < len(n.Inputs) && n.Inputs[i] != nil && n.Inputs[i].Const == nil {
			names[i] = n.Inputs[i].Name
		}
	}
	d.kmu.Lock()
	defer d.kmu.Unlock()
	if d.kernels == nil {
		return nil, nil, errors.New("cuda: device closed")
	}
	if p, ok := d.kernels[key.String()]; ok {
		return p, names, nil
	}
	g := graph.New(n.Name)
	var ins []*graph.Value
	shapes := map[string][]int{}
	for i, v := range n.Inputs {
		if v == nil {
			ins = append(ins, nil)
			continue
		}
		if v.Const != nil {
			ins = append(ins, g.AddInitializer(v.Name, v.Const))
			continue
		}
		if g.Value(v.Name) == nil {
			g.AddInput(v.Name, inputs[i].DType(), graph.ShapeOf(inputs[i].Shape()...))
			shapes[v.Name] = inputs[i].Shape()
		}
		ins = append(ins, g.Value(v.Name))
	}
	outNames := make([]string, len(n.Outputs))
	for i, v := range n.Outputs {
		if v != nil {
			outNames[i] = v.Name
		}
	}
	nn := g.AddNode(n.Op, n.Name, ins, outNames, n.Attrs.Clone())
	nn.Domain = n.Domain
	for _, v := range nn.Outputs {
		if v != nil {
			g.Outputs = append(g.Outputs, v)
		}
	}
	p, err := d.Compile(g, shapes, PlanOptions{NoGraph: true})
	if err != nil {
		return nil, nil, err
	}
	d.kernels[key.String()] = p
	return p, names, nil
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
