package cuda

import (
	"context"
	"fmt"

	"github.com/lightiam/lightos/engine/tensor"
)

// Buffer is a tensor in device memory. Buffers from Device.Upload and
// Device.NewBuffer belong to the caller (Close frees them); those from Plan.Input and
// Plan.Output belong to the plan and live as long as it does.
type Buffer struct {
	d     *Device
	ptr   uintptr
	dt    tensor.DType
	shape []int
	owned bool
}

// DType is the element type.
func (b *Buffer) DType() tensor.DType { return b.dt }

// Shape is the tensor's shape.
func (b *Buffer) Shape() []int { return append([]int(nil), b.shape...) }

// Ptr is the device address (a CUdeviceptr), for handing to other CUDA code in the
// same process and context.
func (b *Buffer) Ptr() uintptr { return b.ptr }

func (b *Buffer) bytes() int { return tensor.NumElements(b.shape) * b.dt.Size() }

// NewBuffer allocates an uninitialized device tensor.
func (d *Device) NewBuffer(dt tensor.DType, shape []int) (*Buffer, error) {
	b := &Buffer{d: d, dt: dt, shape: append([]int(nil), shape...), owned: true}
	d.mu.Lock()
	defer d.mu.Unlock()
	err := d.g.do(func() error {
		var err error
		b.ptr, err = d.g.alloc(b.bytes())
		if err == nil {
			err = d.g.sync()
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("cuda: new buffer %s%v: %w", dt, shape, err)
	}
	return b, nil
}

// Upload copies t into a new device buffer.
func (d *Device) Upload(t *tensor.Tensor) (*Buffer, error) {
	b, err := d.NewBuffer(t.DType(), t.Shape())
	if err != nil {
		return nil, err
	}
	if err := b.CopyFrom(t); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// CopyFrom copies host tensor t (same type and size) into the buffer.
func (b *Buffer) CopyFrom(t *tensor.Tensor) error {
	if t.DType() != b.dt || len(t.Bytes()) != b.bytes() {
		return fmt.Errorf("cuda: copy %s%v into a buffer of %s%v", t.DType(), t.Shape(), b.dt, b.shape)
	}
	d := b.d
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.g.do(func() error {
		st, err := d.g.allocPinned(len(t.Bytes()))
		if err != nil {
			return err
		}
		defer d.g.freePinned(st)
		copy(st.bytes(0, len(t.Bytes())), t.Bytes())
		if err := d.g.htod(b.ptr, st.p, len(t.Bytes())); err != nil {
			return err
		}
		return d.g.sync()
	})
}

// Download copies the buffer into a new host tensor.
func (b *Buffer) Download() (*tensor.Tensor, error) {
	t := tensor.New(b.dt, b.shape)
	d := b.d
	d.mu.Lock()
	defer d.mu.Unlock()
	err := d.g.do(func() error {
		n := len(t.Bytes())
		st, err := d.g.allocPinned(n)
		if err != nil {
			return err
		}
		defer d.g.freePinned(st)
		if err := d.g.dtoh(st.p, b.ptr, n); err != nil {
			return err
		}
		if err := d.g.sync(); err != nil {
			return err
		}
		copy(t.Bytes(), st.bytes(0, n))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cuda: download %s%v: %w", b.dt, b.shape, err)
	}
	return t, nil
}

// Close frees a buffer the caller owns; for a plan's buffer it does nothing.
func (b *Buffer) Close() error {
	if !b.owned || b.ptr == 0 {
		return nil
	}
	d := b.d
	d.mu.Lock()
	defer d.mu.Unlock()
	err := d.g.do(func() error {
		d.g.free(b.ptr)
		return d.g.sync()
	})
	b.ptr = 0
	return err
}

func (p *Plan) buffer(v *dval) *Buffer {
	return &Buffer{d: p.d, ptr: v.ptr, dt: v.dt, shape: append([]int(nil), v.shape...)}
}

// Input returns the plan's own device buffer for feed name. Data written there (by
// Buffer.CopyFrom or by other CUDA code through Ptr) is read in place by RunDevice,
// with no copy.
func (p *Plan) Input(name string) (*Buffer, error) {
	for _, in := range p.inputs {
		if in.name == name {
			return p.buffer(in), nil
		}
	}
	return nil, fmt.Errorf("cuda: plan %q has no input %q", p.g.Name, name)
}

// Output returns the plan's device buffer of output name; RunDevice overwrites it.
func (p *Plan) Output(name string) (*Buffer, error) {
	for i, o := range p.outputs {
		if p.g.Outputs[i].Name == name {
			return p.buffer(o), nil
		}
	}
	return nil, fmt.Errorf("cuda: plan %q has no output %q", p.g.Name, name)
}

// RunDevice runs the plan on feeds already in device memory and returns the outputs
// as the plan's own device buffers (valid until the next run or Close). A feed that
// is the plan's Input buffer is used in place; any other device buffer of the right
// type and shape is copied device to device into the plan's input first (the CUDA
// graph reads fixed addresses). A missing feed keeps what the input buffer holds.
func (p *Plan) RunDevice(ctx context.Context, feeds map[string]*Buffer) (map[string]*Buffer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for name, b := range feeds {
		found := false
		for _, in := range p.inputs {
			if in.name != name {
				continue
			}
			found = true
			if b.dt != in.dt || !sameInts(b.shape, in.shape) {
				return nil, fmt.Errorf("cuda: plan %q: feed %q is %s%v, the plan was compiled for %s%v",
					p.g.Name, name, b.dt, b.shape, in.dt, in.shape)
			}
			if b.d != p.d || b.ptr == 0 {
				return nil, fmt.Errorf("cuda: plan %q: feed %q is not a live buffer of this device", p.g.Name, name)
			}
		}
		if !found {
			return nil, fmt.Errorf("cuda: plan %q has no input %q", p.g.Name, name)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("cuda: plan %q is closed", p.g.Name)
	}
	p.d.mu.Lock()
	defer p.d.mu.Unlock()
	err := p.d.g.do(func() error {
		for _, in := range p.inputs {
			if b := feeds[in.name]; b != nil && b.ptr != in.ptr {
				if err := p.d.g.dtod(in.ptr, b.ptr, in.bytes()); err != nil {
					return fmt.Errorf("copy feed %q: %w", in.name, err)
				}
			}
		}
		if err := p.launch(); err != nil {
			return err
		}
		if err := p.d.g.sync(); err != nil {
			return fmt.Errorf("run (an asynchronous error of some step): %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cuda: plan %q: %w", p.g.Name, err)
	}
	out := map[string]*Buffer{}
	for i, o := range p.outputs {
		out[p.g.Outputs[i].Name] = p.buffer(o)
	}
	return out, nil
}
