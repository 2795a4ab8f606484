// Package cudaburn loads the GPU with a floating-point busy loop through the CUDA
// driver API (libcuda.so.1, loaded at run time with purego: no CUDA SDK and no cgo
// at build time). It exists because the project's CUDA compute backend is not
// written yet: the A/B program needs a real, sustained GPU load and this is the
// simplest one. It is not inference: each thread runs 8 independent chains of
// x = x·a + b in FP32 (FFMA), which keeps the SMs busy and draws high power, but
// uses neither tensor cores nor memory bandwidth as a real model would.
package cudaburn

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"
	"unsafe"

	"github.com/ebitengine/purego"
)

// ptx is the busy kernel: burn(float* out, unsigned iters). Each iteration is 32
// FFMA per thread (8 chains unrolled 4 times) = 64 FLOPs.
const ptx = `.version 7.0
.target sm_70
.address_size 64

.visible .entry burn(
	.param .u64 burn_out,
	.param .u32 burn_iters
)
{
	.reg .pred %p<2>;
	.reg .f32 %f<20>;
	.reg .b32 %r<8>;
	.reg .b64 %rd<5>;

	ld.param.u64 %rd1, [burn_out];
	ld.param.u32 %r1, [burn_iters];
	mov.u32 %r2, %ctaid.x;
	mov.u32 %r3, %ntid.x;
	mov.u32 %r4, %tid.x;
	mad.lo.s32 %r5, %r2, %r3, %r4;
	cvt.rn.f32.s32 %f1, %r5;
	mul.f32 %f1, %f1, 0f358637BD;
	add.f32 %f2, %f1, 0f3F800000;
	add.f32 %f3, %f1, 0f40000000;
	add.f32 %f4, %f1, 0f40400000;
	add.f32 %f5, %f1, 0f40800000;
	add.f32 %f6, %f1, 0f40A00000;
	add.f32 %f7, %f1, 0f40C00000;
	add.f32 %f8, %f1, 0f40E00000;
	add.f32 %f9, %f1, 0f41000000;
	mov.f32 %f10, 0f3F7FFFEF;
	mov.f32 %f11, 0f3A83126F;
	mov.u32 %r6, 0;
$L_loop:
` + ffmaBlock + ffmaBlock + ffmaBlock + ffmaBlock + `	add.s32 %r6, %r6, 1;
	setp.lt.u32 %p1, %r6, %r1;
	@%p1 bra $L_loop;
	add.f32 %f12, %f2, %f3;
	add.f32 %f13, %f4, %f5;
	add.f32 %f14, %f6, %f7;
	add.f32 %f15, %f8, %f9;
	add.f32 %f12, %f12, %f13;
	add.f32 %f14, %f14, %f15;
	add.f32 %f12, %f12, %f14;
	mul.wide.s32 %rd2, %r5, 4;
	add.s64 %rd3, %rd1, %rd2;
	st.global.f32 [%rd3], %f12;
	ret;
}
`

const ffmaBlock = `	fma.rn.f32 %f2, %f2, %f10, %f11;
	fma.rn.f32 %f3, %f3, %f10, %f11;
	fma.rn.f32 %f4, %f4, %f10, %f11;
	fma.rn.f32 %f5, %f5, %f10, %f11;
	fma.rn.f32 %f6, %f6, %f10, %f11;
	fma.rn.f32 %f7, %f7, %f10, %f11;
	fma.rn.f32 %f8, %f8, %f10, %f11;
	fma.rn.f32 %f9, %f9, %f10, %f11;
`

// FLOPsPerIter is the floating-point work of one loop iteration of one thread.
const FLOPsPerIter = 64

const threadsPerBlock = 256

type api struct {
	init          func(uint32) int32
	deviceCount   func(*int32) int32
	deviceGet     func(*int32, int32) int32
	attribute     func(*int32, int32, int32) int32
	uuid          func(*[16]byte, int32) int32
	ctxRetain     func(*uintptr, int32) int32
	ctxRelease    func(int32) int32
	ctxSetCurrent func(uintptr) int32
	moduleLoad    func(*uintptr, *byte) int32
	moduleUnload  func(uintptr) int32
	getFunction   func(*uintptr, uintptr, *byte) int32
	memAlloc      func(*uint64, uint64) int32
	memFree       func(uint64) int32
	launch        func(uintptr, uint32, uint32, uint32, uint32, uint32, uint32, uint32, uintptr, *unsafe.Pointer, *unsafe.Pointer) int32
	synchronize   func() int32
	errorString   func(int32, **byte) int32
}

// Burner runs the busy kernel on one GPU. All CUDA calls happen on one locked OS
// thread (a CUDA context is current per thread).
type Burner struct {
	a      api
	lib    uintptr
	dev    int32
	ctx    uintptr
	mod    uintptr
	fn     uintptr
	out    uint64
	blocks uint32
	UUID   string // "GPU-xxxxxxxx-..." as NVML prints it
	SMs    int
	calls  chan func()
	done   chan struct{}
}

func (b *Burner) check(call string, r int32) error {
	if r == 0 {
		return nil
	}
	msg := fmt.Sprintf("CUresult %d", r)
	if b.a.errorString != nil {
		var p *byte
		if b.a.errorString(r, &p) == 0 && p != nil {
			msg = goString(p)
		}
	}
	return fmt.Errorf("cudaburn: %s: %s", call, msg)
}

func goString(p *byte) string {
	var out []byte
	for i := 0; i < 512; i++ {
		c := *(*byte)(unsafe.Add(unsafe.Pointer(p), i))
		if c == 0 {
			break
		}
		out = append(out, c)
	}
	return string(out)
}

// Open loads libcuda.so.1 and prepares the kernel on the GPU whose UUID matches
// (NVML's "GPU-..." form), or on ordinal 0 when uuid is empty.
func Open(uuid string) (*Burner, error) {
	lib, err := purego.Dlopen("libcuda.so.1", purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return nil, fmt.Errorf("cudaburn: loading libcuda.so.1 (no NVIDIA driver here?): %w", err)
	}
	b := &Burner{lib: lib, calls: make(chan func()), done: make(chan struct{})}
	reg := func(fp any, names ...string) error {
		for _, n := range names {
			if p, err := purego.Dlsym(lib, n); err == nil && p != 0 {
				purego.RegisterFunc(fp, p)
				return nil
			}
		}
		return fmt.Errorf("cudaburn: libcuda lacks %v", names)
	}
	for _, r := range []struct {
		fp    any
		names []string
	}{
		{&b.a.init, []string{"cuInit"}}, {&b.a.deviceCount, []string{"cuDeviceGetCount"}},
		{&b.a.deviceGet, []string{"cuDeviceGet"}}, {&b.a.attribute, []string{"cuDeviceGetAttribute"}},
		{&b.a.uuid, []string{"cuDeviceGetUuid_v2", "cuDeviceGetUuid"}},
		{&b.a.ctxRetain, []string{"cuDevicePrimaryCtxRetain"}},
		{&b.a.ctxRelease, []string{"cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease"}},
		{&b.a.ctxSetCurrent, []string{"cuCtxSetCurrent"}}, {&b.a.moduleLoad, []string{"cuModuleLoadData"}},
		{&b.a.moduleUnload, []string{"cuModuleUnload"}}, {&b.a.getFunction, []string{"cuModuleGetFunction"}},
		{&b.a.memAlloc, []string{"cuMemAlloc_v2"}}, {&b.a.memFree, []string{"cuMemFree_v2"}},
		{&b.a.launch, []string{"cuLaunchKernel"}}, {&b.a.synchronize, []string{"cuCtxSynchronize"}},
		{&b.a.errorString, []string{"cuGetErrorString"}},
	} {
		if err := reg(r.fp, r.names...); err != nil {
			purego.Dlclose(lib)
			return nil, err
		}
	}
	ready := make(chan error)
	go b.worker(uuid, ready)
	if err := <-ready; err != nil {
		purego.Dlclose(lib)
		return nil, err
	}
	return b, nil
}

func (b *Burner) worker(uuid string, ready chan<- error) {
	runtime.LockOSThread()
	defer close(b.done)
	if err := b.setup(uuid); err != nil {
		ready <- err
		return
	}
	ready <- nil
	for f := range b.calls {
		f()
	}
	b.a.synchronize()
	if b.out != 0 {
		b.a.memFree(b.out)
	}
	if b.mod != 0 {
		b.a.moduleUnload(b.mod)
	}
	b.a.ctxRelease(b.dev)
}

func formatUUID(u [16]byte) string {
	return fmt.Sprintf("GPU-%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

func (b *Burner) setup(uuid string) error {
	if err := b.check("cuInit", b.a.init(0)); err != nil {
		return err
	}
	var n int32
	if err := b.check("cuDeviceGetCount", b.a.deviceCount(&n)); err != nil {
		return err
	}
	found := false
	for i := range n {
		var d int32
		if err := b.check("cuDeviceGet", b.a.deviceGet(&d, i)); err != nil {
			return err
		}
		var u [16]byte
		if b.a.uuid(&u, d) == 0 {
			b.UUID = formatUUID(u)
		}
		if uuid == "" || b.UUID == uuid {
			b.dev, found = d, true
			break
		}
	}
	if !found {
		return fmt.Errorf("cudaburn: no CUDA device with UUID %s among %d", uuid, n)
	}
	var sms int32
	if err := b.check("cuDeviceGetAttribute(MULTIPROCESSOR_COUNT)", b.a.attribute(&sms, 16, b.dev)); err != nil {
		return err
	}
	b.SMs = int(sms)
	b.blocks = uint32(sms) * 8
	if err := b.check("cuDevicePrimaryCtxRetain", b.a.ctxRetain(&b.ctx, b.dev)); err != nil {
		return err
	}
	if err := b.check("cuCtxSetCurrent", b.a.ctxSetCurrent(b.ctx)); err != nil {
		return err
	}
	src := append([]byte(ptx), 0)
	if err := b.check("cuModuleLoadData", b.a.moduleLoad(&b.mod, &src[0])); err != nil {
		return err
	}
	name := append([]byte("burn"), 0)
	if err := b.check("cuModuleGetFunction", b.a.getFunction(&b.fn, b.mod, &name[0])); err != nil {
		return err
	}
	return b.check("cuMemAlloc", b.a.memAlloc(&b.out, uint64(b.blocks)*threadsPerBlock*4))
}

// Close releases the GPU resources.
func (b *Burner) Close() error {
	if b.calls == nil {
		return nil
	}
	close(b.calls)
	b.calls = nil
	<-b.done
	return purego.Dlclose(b.lib)
}

// FLOPs is the work of one launch of iters iterations.
func (b *Burner) FLOPs(iters uint32) float64 {
	return float64(b.blocks) * threadsPerBlock * float64(iters) * FLOPsPerIter
}

// Launch runs the kernel once with iters iterations and waits for it.
func (b *Burner) Launch(iters uint32) error {
	if b.calls == nil {
		return errors.New("cudaburn: closed")
	}
	errc := make(chan error, 1)
	b.calls <- func() {
		out, it := b.out, iters
		var pin runtime.Pinner
		pin.Pin(&out)
		pin.Pin(&it)
		params := []unsafe.Pointer{unsafe.Pointer(&out), unsafe.Pointer(&it)}
		pin.Pin(&params[0])
		r := b.a.launch(b.fn, b.blocks, 1, 1, threadsPerBlock, 1, 1, 0, 0, &params[0], nil)
		if err := b.check("cuLaunchKernel", r); err != nil {
			pin.Unpin()
			errc <- err
			return
		}
		err := b.check("cuCtxSynchronize", b.a.synchronize())
		pin.Unpin()
		errc <- err
	}
	return <-errc
}

// Calibrate finds the iteration count for launches of about target duration.
func (b *Burner) Calibrate(target time.Duration) (uint32, error) {
	iters := uint32(1000)
	for range 12 {
		start := time.Now()
		if err := b.Launch(iters); err != nil {
			return 0, err
		}
		el := time.Since(start)
		if el >= target/4 {
			scaled := float64(iters) * target.Seconds() / el.Seconds()
			if scaled > 1<<31 {
				scaled = 1 << 31
			}
			return uint32(scaled), nil
		}
		iters *= 4
	}
	return iters, nil
}

// Run launches the kernel n times (one job), checking ctx between launches.
func (b *Burner) Run(ctx context.Context, n int, iters uint32) error {
	for range n {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := b.Launch(iters); err != nil {
			return err
		}
	}
	return nil
}
