package cuda

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// driver holds libcuda's entry points.
type driver struct {
	cuInit, cuGetErrorString, cuDriverGetVersion, cuDeviceGetCount, cuDeviceGet,
	cuDeviceGetName, cuDeviceTotalMem, cuDeviceGetAttribute,
	cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRelease, cuCtxSetCurrent,
	cuStreamCreate, cuStreamDestroy, cuStreamSynchronize,
	cuMemAllocAsync, cuMemFreeAsync, cuDeviceGetDefaultMemPool, cuMemPoolSetAttribute,
	cuMemAllocHost, cuMemFreeHost, cuMemcpyHtoDAsync, cuMemcpyDtoHAsync, cuMemcpyDtoDAsync,
	cuMemsetD32Async, cuModuleLoadData, cuModuleGetFunction, cuLaunchKernel,
	cuEventCreate, cuEventRecord, cuEventSynchronize, cuEventElapsedTime, cuEventDestroy,
	cuStreamBeginCapture, cuStreamEndCapture, cuGraphInstantiateWithFlags, cuGraphLaunch,
	cuGraphExecDestroy, cuGraphDestroy, cuDeviceGetUuid uintptr
}

var (
	drvOnce sync.Once
	drv     *driver
	drvErr  error
)

// loadDriver loads libcuda.so.1 and calls cuInit once per process; the result is
// read-only afterwards.
func loadDriver() (*driver, error) {
	drvOnce.Do(func() {
		h, err := openLib("the NVIDIA driver (libcuda)", "libcuda.so.1", "libcuda.so")
		if err != nil {
			drvErr = err
			return
		}
		d := &driver{}
		names := []string{"cuInit", "cuGetErrorString", "cuDriverGetVersion", "cuDeviceGetCount", "cuDeviceGet",
			"cuDeviceGetName", "cuDeviceTotalMem_v2", "cuDeviceGetAttribute",
			"cuDevicePrimaryCtxRetain", "cuDevicePrimaryCtxRelease_v2", "cuCtxSetCurrent",
			"cuStreamCreate", "cuStreamDestroy_v2", "cuStreamSynchronize",
			"cuMemAllocAsync", "cuMemFreeAsync", "cuDeviceGetDefaultMemPool", "cuMemPoolSetAttribute",
			"cuMemAllocHost_v2", "cuMemFreeHost", "cuMemcpyHtoDAsync_v2", "cuMemcpyDtoHAsync_v2", "cuMemcpyDtoDAsync_v2",
			"cuMemsetD32Async", "cuModuleLoadData", "cuModuleGetFunction", "cuLaunchKernel",
			"cuEventCreate", "cuEventRecord", "cuEventSynchronize", "cuEventElapsedTime", "cuEventDestroy_v2",
			"cuStreamBeginCapture_v2", "cuStreamEndCapture", "cuGraphInstantiateWithFlags", "cuGraphLaunch",
			"cuGraphExecDestroy", "cuGraphDestroy", "cuDeviceGetUuid_v2"}
		ptrs := []*uintptr{&d.cuInit, &d.cuGetErrorString, &d.cuDriverGetVersion, &d.cuDeviceGetCount, &d.cuDeviceGet,
			&d.cuDeviceGetName, &d.cuDeviceTotalMem, &d.cuDeviceGetAttribute,
			&d.cuDevicePrimaryCtxRetain, &d.cuDevicePrimaryCtxRelease, &d.cuCtxSetCurrent,
			&d.cuStreamCreate, &d.cuStreamDestroy, &d.cuStreamSynchronize,
			&d.cuMemAllocAsync, &d.cuMemFreeAsync, &d.cuDeviceGetDefaultMemPool, &d.cuMemPoolSetAttribute,
			&d.cuMemAllocHost, &d.cuMemFreeHost, &d.cuMemcpyHtoDAsync, &d.cuMemcpyDtoHAsync, &d.cuMemcpyDtoDAsync,
			&d.cuMemsetD32Async, &d.cuModuleLoadData, &d.cuModuleGetFunction, &d.cuLaunchKernel,
			&d.cuEventCreate, &d.cuEventRecord, &d.cuEventSynchronize, &d.cuEventElapsedTime, &d.cuEventDestroy,
			&d.cuStreamBeginCapture, &d.cuStreamEndCapture, &d.cuGraphInstantiateWithFlags, &d.cuGraphLaunch,
			&d.cuGraphExecDestroy, &d.cuGraphDestroy, &d.cuDeviceGetUuid}
		if err := symbols(h, "libcuda", names, ptrs); err != nil {
			drvErr = err
			return
		}
		if err := d.check("cuInit", call(d.cuInit, 0)); err != nil {
			drvErr = fmt.Errorf("%w: %v", ErrDeviceNotFound, err)
			return
		}
		drv = d
	})
	return drv, drvErr
}

// check turns a CUresult into an *Error (nil for CUDA_SUCCESS).
func (d *driver) check(fn string, r int) error {
	if r == 0 {
		return nil
	}
	var s uintptr
	call(d.cuGetErrorString, uintptr(r), uintptr(unsafe.Pointer(&s)))
	return &Error{Call: fn, Code: r, Msg: goString(s)}
}

// Device attributes (CUdevice_attribute).
const (
	attrSMCount  = 16
	attrCCMajor  = 75
	attrCCMinor  = 76
	attrL2Bytes  = 38
	attrClockKHz = 13
)

// gpu is one device's driver state: its primary context and stream.
type gpu struct {
	d       *driver
	ordinal int
	dev     int32
	ctx     uintptr
	stream  uintptr
	name    string
	mem     int64
	sms     int
	ccMajor int
	ccMinor int
	clockHz int64
	uuid    string // as NVML prints it: GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx
}

func openGPU(d *driver, ordinal int) (*gpu, error) {
	g := &gpu{d: d, ordinal: ordinal}
	if err := d.check("cuDeviceGet", call(d.cuDeviceGet, uintptr(unsafe.Pointer(&g.dev)), uintptr(ordinal))); err != nil {
		return nil, err
	}
	name := make([]byte, 256)
	if err := d.check("cuDeviceGetName", call(d.cuDeviceGetName, uintptr(unsafe.Pointer(&name[0])), 256, uintptr(g.dev))); err != nil {
		return nil, err
	}
	g.name = goString(uintptr(unsafe.Pointer(&name[0])))
	var mem uint64
	if err := d.check("cuDeviceTotalMem", call(d.cuDeviceTotalMem, uintptr(unsafe.Pointer(&mem)), uintptr(g.dev))); err != nil {
		return nil, err
	}
	g.mem = int64(mem)
	for _, a := range []struct {
		attr int
		out  *int
	}{{attrSMCount, &g.sms}, {attrCCMajor, &g.ccMajor}, {attrCCMinor, &g.ccMinor}} {
		var v int32
		if err := d.check("cuDeviceGetAttribute", call(d.cuDeviceGetAttribute, uintptr(unsafe.Pointer(&v)), uintptr(a.attr), uintptr(g.dev))); err != nil {
			return nil, err
		}
		*a.out = int(v)
	}
	var u [16]byte
	if d.check("cuDeviceGetUuid", call(d.cuDeviceGetUuid, uintptr(unsafe.Pointer(&u[0])), uintptr(g.dev))) == nil {
		g.uuid = fmt.Sprintf("GPU-%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
	}
	var khz int32
	if d.check("cuDeviceGetAttribute", call(d.cuDeviceGetAttribute, uintptr(unsafe.Pointer(&khz)), attrClockKHz, uintptr(g.dev))) == nil {
		g.clockHz = int64(khz) * 1000
	}
	if err := d.check("cuDevicePrimaryCtxRetain", call(d.cuDevicePrimaryCtxRetain, uintptr(unsafe.Pointer(&g.ctx)), uintptr(g.dev))); err != nil {
		return nil, err
	}
	err := g.do(func() error {
		if err := d.check("cuStreamCreate", call(d.cuStreamCreate, uintptr(unsafe.Pointer(&g.stream)), 1)); err != nil {
			return err
		}
		// Keep freed pool memory in the pool instead of returning it to the driver at
		// each synchronization (a process-local setting of this context's pool).
		var pool uintptr
		if err := d.check("cuDeviceGetDefaultMemPool", call(d.cuDeviceGetDefaultMemPool, uintptr(unsafe.Pointer(&pool)), uintptr(g.dev))); err != nil {
			return err
		}
		thr := ^uint64(0)
		return d.check("cuMemPoolSetAttribute", call(d.cuMemPoolSetAttribute, pool, 4, uintptr(unsafe.Pointer(&thr))))
	})
	if err != nil {
		call(d.cuDevicePrimaryCtxRelease, uintptr(g.dev))
		return nil, err
	}
	return g, nil
}

// do runs f on a locked OS thread with the device's context current: CUDA contexts
// are per thread, and goroutines move between threads.
func (g *gpu) do(f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := g.d.check("cuCtxSetCurrent", call(g.d.cuCtxSetCurrent, g.ctx)); err != nil {
		return err
	}
	return f()
}

func (g *gpu) close() error {
	return g.do(func() error {
		err := g.d.check("cuStreamSynchronize", call(g.d.cuStreamSynchronize, g.stream))
		call(g.d.cuStreamDestroy, g.stream)
		call(g.d.cuDevicePrimaryCtxRelease, uintptr(g.dev))
		return err
	})
}

// The calls below expect the context to be current (inside do).

func (g *gpu) alloc(n int) (uintptr, error) {
	if n <= 0 {
		n = 4
	}
	var p uintptr
	err := g.d.check("cuMemAllocAsync", call(g.d.cuMemAllocAsync, uintptr(unsafe.Pointer(&p)), uintptr(n), g.stream))
	return p, err
}

func (g *gpu) free(p uintptr) {
	if p != 0 {
		call(g.d.cuMemFreeAsync, p, g.stream)
	}
}

func (g *gpu) sync() error {
	return g.d.check("cuStreamSynchronize", call(g.d.cuStreamSynchronize, g.stream))
}

// pinned is page-locked host memory for staging copies.
type pinned struct {
	p uintptr
	n int
}

func (g *gpu) allocPinned(n int) (pinned, error) {
	if n <= 0 {
		n = 64
	}
	var p uintptr
	if err := g.d.check("cuMemAllocHost", call(g.d.cuMemAllocHost, uintptr(unsafe.Pointer(&p)), uintptr(n))); err != nil {
		return pinned{}, err
	}
	return pinned{p, n}, nil
}

func (g *gpu) freePinned(p pinned) {
	if p.p != 0 {
		call(g.d.cuMemFreeHost, p.p)
	}
}

// bytes views n bytes of pinned memory at offset off.
func (p pinned) bytes(off, n int) []byte {
	return unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(nil), p.p+uintptr(off))), n) //nolint:govet // C memory
}

func (g *gpu) htod(dst uintptr, src uintptr, n int) error {
	if n == 0 {
		return nil
	}
	return g.d.check("cuMemcpyHtoDAsync", call(g.d.cuMemcpyHtoDAsync, dst, src, uintptr(n), g.stream))
}

func (g *gpu) dtoh(dst uintptr, src uintptr, n int) error {
	if n == 0 {
		return nil
	}
	return g.d.check("cuMemcpyDtoHAsync", call(g.d.cuMemcpyDtoHAsync, dst, src, uintptr(n), g.stream))
}

func (g *gpu) dtod(dst, src uintptr, n int) error {
	if n == 0 {
		return nil
	}
	return g.d.check("cuMemcpyDtoDAsync", call(g.d.cuMemcpyDtoDAsync, dst, src, uintptr(n), g.stream))
}

// upload copies host bytes to a new device buffer through a pinned staging buffer
// and waits for the copy.
func (g *gpu) upload(b []byte) (uintptr, error) {
	p, err := g.alloc(len(b))
	if err != nil {
		return 0, err
	}
	if len(b) == 0 {
		return p, nil
	}
	st, err := g.allocPinned(len(b))
	if err != nil {
		g.free(p)
		return 0, err
	}
	defer g.freePinned(st)
	copy(st.bytes(0, len(b)), b)
	if err := g.htod(p, st.p, len(b)); err != nil {
		g.free(p)
		return 0, err
	}
	return p, g.sync()
}

// function is a kernel entry point.
type function uintptr

// launch starts f on the device's stream. args are pointers to each parameter's
// value; they are copied by the driver before launch returns.
func (g *gpu) launch(f function, grid, block [3]int, shared int, args ...unsafe.Pointer) error {
	var pin runtime.Pinner
	defer pin.Unpin()
	params := make([]uintptr, len(args)+1)
	for i, a := range args {
		pin.Pin(a)
		params[i] = uintptr(a)
	}
	pin.Pin(&params[0])
	r := call(g.d.cuLaunchKernel, uintptr(f), uintptr(grid[0]), uintptr(grid[1]), uintptr(grid[2]),
		uintptr(block[0]), uintptr(block[1]), uintptr(block[2]), uintptr(shared), g.stream, uintptr(unsafe.Pointer(&params[0])), 0)
	runtime.KeepAlive(args)
	return g.d.check("cuLaunchKernel", r)
}

// event is a CUDA event, for timing.
type event uintptr

func (g *gpu) newEvent() (event, error) {
	var e uintptr
	err := g.d.check("cuEventCreate", call(g.d.cuEventCreate, uintptr(unsafe.Pointer(&e)), 0))
	return event(e), err
}

func (g *gpu) record(e event) error {
	return g.d.check("cuEventRecord", call(g.d.cuEventRecord, uintptr(e), g.stream))
}

// elapsed waits for end and returns the milliseconds between the events.
func (g *gpu) elapsed(start, end event) (float32, error) {
	if err := g.d.check("cuEventSynchronize", call(g.d.cuEventSynchronize, uintptr(end))); err != nil {
		return 0, err
	}
	var ms float32
	err := g.d.check("cuEventElapsedTime", call(g.d.cuEventElapsedTime, uintptr(unsafe.Pointer(&ms)), uintptr(start), uintptr(end)))
	return ms, err
}

func (g *gpu) destroyEvent(e event) { call(g.d.cuEventDestroy, uintptr(e)) }

// capture records what run enqueues on the stream into a CUDA graph and
// instantiates it.
func (g *gpu) capture(run func() error) (uintptr, error) {
	const modeThreadLocal = 1
	if err := g.d.check("cuStreamBeginCapture", call(g.d.cuStreamBeginCapture, g.stream, modeThreadLocal)); err != nil {
		return 0, err
	}
	runErr := run()
	var graph uintptr
	endErr := g.d.check("cuStreamEndCapture", call(g.d.cuStreamEndCapture, g.stream, uintptr(unsafe.Pointer(&graph))))
	if runErr != nil {
		if graph != 0 {
			call(g.d.cuGraphDestroy, graph)
		}
		return 0, runErr
	}
	if endErr != nil {
		return 0, endErr
	}
	defer call(g.d.cuGraphDestroy, graph)
	var exec uintptr
	if err := g.d.check("cuGraphInstantiateWithFlags", call(g.d.cuGraphInstantiateWithFlags, uintptr(unsafe.Pointer(&exec)), graph, 0)); err != nil {
		return 0, err
	}
	return exec, nil
}

func (g *gpu) graphLaunch(exec uintptr) error {
	return g.d.check("cuGraphLaunch", call(g.d.cuGraphLaunch, exec, g.stream))
}

func (g *gpu) graphDestroy(exec uintptr) {
	if exec != 0 {
		call(g.d.cuGraphExecDestroy, exec)
	}
}
