package cuda

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// dnn holds cuDNN 9's legacy-API entry points (libcudnn.so.9 forwards them to its
// sub-libraries; each name is also looked up in libcudnn_ops and libcudnn_cnn when the
// front library lacks it).
type dnn struct {
	version, create, destroy, setStream, errString,
	tensorCreate, tensorSet4d, tensorDestroy,
	filterCreate, filterSet4d, filterDestroy,
	convCreate, convSet2d, convSetMath, convSetGroups, convDestroy, convOutDim,
	findEx, forward, biasActForward,
	actCreate, actDestroy uintptr
	// actSet has a double argument, so it is bound with RegisterFunc (C calling
	// convention for floating-point arguments) rather than called through SyscallN.
	actSet func(desc uintptr, mode, nanOpt int32, coef float64) int32
}

var (
	dnnOnce sync.Once
	dnnLib  *dnn
	dnnErr  error
)

// cuDNN enums (cudnn_graph.h / cudnn_ops.h / cudnn_cnn.h, cuDNN 9).
const (
	dnnFloat                   = 0 // CUDNN_DATA_FLOAT
	dnnNCHW                    = 0 // CUDNN_TENSOR_NCHW
	dnnNHWC                    = 1 // CUDNN_TENSOR_NHWC
	dnnCrossCorrelation        = 1 // CUDNN_CROSS_CORRELATION
	dnnDefaultMath             = 0 // CUDNN_DEFAULT_MATH: float32 may use TF32 tensor cores
	dnnFMAMath                 = 3 // CUDNN_FMA_MATH: full float32
	dnnActRelu                 = 1 // CUDNN_ACTIVATION_RELU
	dnnActIdentity             = 5 // CUDNN_ACTIVATION_IDENTITY
	dnnAlgoImplicitPrecompGemm = 1
)

// dnnPerf mirrors cudnnConvolutionFwdAlgoPerf_t (48 bytes on 64-bit Linux).
type dnnPerf struct {
	Algo, Status int32
	Time         float32
	_            int32
	Memory       uint64
	Determinism  int32
	MathType     int32
	_            [3]int32
	_            int32
}

func loadCuDNN() (*dnn, error) {
	dnnOnce.Do(func() {
		h, err := openLib("cuDNN 9 (libcudnn)", "libcudnn.so.9")
		if err != nil {
			dnnErr = err
			return
		}
		handles := []uintptr{h}
		for _, sub := range []string{"libcudnn_ops.so.9", "libcudnn_cnn.so.9"} {
			if s, err := openLib("cuDNN 9 ("+sub+")", sub); err == nil {
				handles = append(handles, s)
			}
		}
		d := &dnn{}
		names := []string{"cudnnGetVersion", "cudnnCreate", "cudnnDestroy", "cudnnSetStream", "cudnnGetErrorString",
			"cudnnCreateTensorDescriptor", "cudnnSetTensor4dDescriptor", "cudnnDestroyTensorDescriptor",
			"cudnnCreateFilterDescriptor", "cudnnSetFilter4dDescriptor", "cudnnDestroyFilterDescriptor",
			"cudnnCreateConvolutionDescriptor", "cudnnSetConvolution2dDescriptor", "cudnnSetConvolutionMathType",
			"cudnnSetConvolutionGroupCount", "cudnnDestroyConvolutionDescriptor", "cudnnGetConvolution2dForwardOutputDim",
			"cudnnFindConvolutionForwardAlgorithmEx", "cudnnConvolutionForward", "cudnnConvolutionBiasActivationForward",
			"cudnnCreateActivationDescriptor", "cudnnDestroyActivationDescriptor"}
		ptrs := []*uintptr{&d.version, &d.create, &d.destroy, &d.setStream, &d.errString,
			&d.tensorCreate, &d.tensorSet4d, &d.tensorDestroy,
			&d.filterCreate, &d.filterSet4d, &d.filterDestroy,
			&d.convCreate, &d.convSet2d, &d.convSetMath, &d.convSetGroups, &d.convDestroy, &d.convOutDim,
			&d.findEx, &d.forward, &d.biasActForward,
			&d.actCreate, &d.actDestroy}
		for i, n := range names {
			for _, hh := range handles {
				if p, err := purego.Dlsym(hh, n); err == nil && p != 0 {
					*ptrs[i] = p
					break
				}
			}
			if *ptrs[i] == 0 {
				dnnErr = fmt.Errorf("%w: libcudnn lacks %s", ErrDeviceNotFound, n)
				return
			}
		}
		var set uintptr
		for _, hh := range handles {
			if p, err := purego.Dlsym(hh, "cudnnSetActivationDescriptor"); err == nil && p != 0 {
				set = p
				break
			}
		}
		if set == 0 {
			dnnErr = fmt.Errorf("%w: libcudnn lacks cudnnSetActivationDescriptor", ErrDeviceNotFound)
			return
		}
		purego.RegisterFunc(&d.actSet, set)
		if v, _, _ := purecall(d.version); v < 90000 {
			dnnErr = fmt.Errorf("%w: cuDNN %d is older than 9.0", ErrDeviceNotFound, v)
			return
		}
		dnnLib = d
	})
	return dnnLib, dnnErr
}

// check turns a cudnnStatus_t into an *Error.
func (d *dnn) check(fn string, r int) error {
	if r == 0 {
		return nil
	}
	s, _, _ := purecall(d.errString, uintptr(r))
	return &Error{Call: fn, Code: r, Msg: goString(s)}
}

// ensureDNN creates the device's cuDNN handle on its stream once (inside g.do). The
// error wraps ErrDeviceNotFound when cuDNN is not installed.
func (d *Device) ensureDNN() error {
	d.dnnOnce.Do(func() {
		lib, err := loadCuDNN()
		if err != nil {
			d.dnnErr = err
			return
		}
		if err := lib.check("cudnnCreate", call(lib.create, uintptr(unsafe.Pointer(&d.dnnH)))); err != nil {
			d.dnnErr = err
			return
		}
		d.dnnErr = lib.check("cudnnSetStream", call(lib.setStream, d.dnnH, d.g.stream))
	})
	return d.dnnErr
}

// convShape is one 2-D convolution's geometry (NCHW float32, OIHW weights).
type convShape struct {
	n, c, h, w int // input
	k, r, s    int // output channels, kernel height and width
	oh, ow     int // output
	padH, padW int // symmetric pads
	strH, strW int
	dilH, dilW int
	group      int
	tf32       bool
	nhwc       bool // x, y NHWC and weights KRSC (else NCHW, KCRS)
}

// dnnConv is a prepared cuDNN convolution: descriptors, the algorithm FindEx chose
// and its workspace size.
type dnnConv struct {
	lib        *dnn
	x, y, bias uintptr // tensor descriptors
	w          uintptr // filter descriptor
	conv, act  uintptr
	algo       int32
	wsBytes    int
	fused      bool // bias + ReLU (+ residual) through cudnnConvolutionBiasActivationForward
}

func (c *dnnConv) destroy() {
	l := c.lib
	for _, t := range []uintptr{c.x, c.y, c.bias} {
		if t != 0 {
			call(l.tensorDestroy, t)
		}
	}
	if c.w != 0 {
		call(l.filterDestroy, c.w)
	}
	if c.conv != 0 {
		call(l.convDestroy, c.conv)
	}
	if c.act != 0 {
		call(l.actDestroy, c.act)
	}
}

// findWorkspace bounds the workspace an algorithm may take.
const findWorkspace = 256 << 20

// newDNNConv creates the descriptors for s and picks the fastest algorithm with
// cudnnFindConvolutionForwardAlgorithmEx (once per shape and device; later plans
// reuse the choice). x, w, y are device buffers of the right sizes (their contents
// are overwritten or ignored). relu selects the fused bias+ReLU path.
func (d *Device) newDNNConv(s convShape, x, w, y uintptr, relu bool) (*dnnConv, error) {
	l := dnnLib
	c := &dnnConv{lib: l}
	ok := func(err error) error {
		if err != nil {
			c.destroy()
		}
		return err
	}
	i := func(v int) uintptr { return uintptr(v) }
	if err := firstErr(
		l.check("cudnnCreateTensorDescriptor", call(l.tensorCreate, uintptr(unsafe.Pointer(&c.x)))),
		l.check("cudnnCreateTensorDescriptor", call(l.tensorCreate, uintptr(unsafe.Pointer(&c.y)))),
		l.check("cudnnCreateTensorDescriptor", call(l.tensorCreate, uintptr(unsafe.Pointer(&c.bias)))),
		l.check("cudnnCreateFilterDescriptor", call(l.filterCreate, uintptr(unsafe.Pointer(&c.w)))),
		l.check("cudnnCreateConvolutionDescriptor", call(l.convCreate, uintptr(unsafe.Pointer(&c.conv)))),
		l.check("cudnnCreateActivationDescriptor", call(l.actCreate, uintptr(unsafe.Pointer(&c.act)))),
	); err != nil {
		return nil, ok(err)
	}
	math := dnnFMAMath
	if s.tf32 {
		math = dnnDefaultMath
	}
	format := uintptr(dnnNCHW)
	if s.nhwc {
		format = dnnNHWC
	}
	actMode := int32(dnnActIdentity)
	if relu {
		actMode = dnnActRelu
	}
	if err := firstErr(
		l.check("cudnnSetTensor4dDescriptor", call(l.tensorSet4d, c.x, format, dnnFloat, i(s.n), i(s.c), i(s.h), i(s.w))),
		l.check("cudnnSetTensor4dDescriptor", call(l.tensorSet4d, c.y, format, dnnFloat, i(s.n), i(s.k), i(s.oh), i(s.ow))),
		l.check("cudnnSetTensor4dDescriptor", call(l.tensorSet4d, c.bias, dnnNCHW, dnnFloat, 1, i(s.k), 1, 1)),
		l.check("cudnnSetFilter4dDescriptor", call(l.filterSet4d, c.w, dnnFloat, format, i(s.k), i(s.c/s.group), i(s.r), i(s.s))),
		l.check("cudnnSetConvolution2dDescriptor", call(l.convSet2d, c.conv, i(s.padH), i(s.padW), i(s.strH), i(s.strW),
			i(s.dilH), i(s.dilW), dnnCrossCorrelation, dnnFloat)),
		l.check("cudnnSetConvolutionMathType", call(l.convSetMath, c.conv, uintptr(math))),
		l.check("cudnnSetConvolutionGroupCount", call(l.convSetGroups, c.conv, i(s.group))),
		l.check("cudnnSetActivationDescriptor", int(l.actSet(c.act, actMode, 0, 0))),
	); err != nil {
		return nil, ok(err)
	}
	var dims [4]int32
	if err := l.check("cudnnGetConvolution2dForwardOutputDim", call(l.convOutDim, c.conv, c.x, c.w,
		uintptr(unsafe.Pointer(&dims[0])), uintptr(unsafe.Pointer(&dims[1])), uintptr(unsafe.Pointer(&dims[2])), uintptr(unsafe.Pointer(&dims[3])))); err != nil {
		return nil, ok(err)
	}
	if int(dims[0]) != s.n || int(dims[1]) != s.k || int(dims[2]) != s.oh || int(dims[3]) != s.ow {
		return nil, ok(fmt.Errorf("cuDNN computes output %v for convolution %+v", dims, s))
	}
	key := fmt.Sprintf("%+v", s)
	d.dnnMu.Lock()
	perf, cached := d.dnnAlgos[key]
	d.dnnMu.Unlock()
	if !cached {
		ws, err := d.g.alloc(findWorkspace)
		if err != nil {
			return nil, ok(fmt.Errorf("cuDNN find workspace: %w", err))
		}
		var res [8]dnnPerf
		var got int32
		err = l.check("cudnnFindConvolutionForwardAlgorithmEx", call(l.findEx, d.dnnH, c.x, x, c.w, w, c.conv, c.y, y,
			uintptr(len(res)), uintptr(unsafe.Pointer(&got)), uintptr(unsafe.Pointer(&res[0])), ws, findWorkspace))
		d.g.free(ws)
		if err != nil {
			return nil, ok(err)
		}
		found := false
		for _, r := range res[:got] {
			// Without TF32, only the GEMM-like and direct algorithms (0 to 3) with full
			// float32 arithmetic: FFT and Winograd trade accuracy for speed.
			exact := r.Algo <= 3 && r.MathType != 1 && r.MathType != 2
			if r.Status == 0 && r.Memory <= findWorkspace && (s.tf32 || exact) {
				perf, found = r, true
				break
			}
		}
		if !found {
			return nil, ok(fmt.Errorf("cuDNN found no algorithm for convolution %+v: %w", s, errUnsupported))
		}
		d.dnnMu.Lock()
		if d.dnnAlgos == nil {
			d.dnnAlgos = map[string]dnnPerf{}
		}
		d.dnnAlgos[key] = perf
		d.dnnMu.Unlock()
	}
	c.algo, c.wsBytes = perf.Algo, int(perf.Memory)
	if s.tf32 && perf.MathType != dnnDefaultMath {
		// Run with the math type the algorithm was measured with.
		if err := l.check("cudnnSetConvolutionMathType", call(l.convSetMath, c.conv, uintptr(perf.MathType))); err != nil {
			return nil, ok(err)
		}
	}
	return c, nil
}

// run enqueues y = conv(x, w) (plain) or y = act(conv(x, w) + z + bias) (fused, with
// the activation the descriptors were made with; z is y itself with weight 0 when
// there is no residual).
func (c *dnnConv) run(d *Device, x, w, y, bias, z, ws uintptr, fused bool) error {
	l := c.lib
	one, zero := float32(1), float32(0)
	if fused {
		alpha2 := zero
		zp := y
		if z != 0 {
			alpha2, zp = one, z
		}
		return l.check("cudnnConvolutionBiasActivationForward", call(l.biasActForward, d.dnnH,
			uintptr(unsafe.Pointer(&one)), c.x, x, c.w, w, c.conv, uintptr(c.algo), ws, uintptr(c.wsBytes),
			uintptr(unsafe.Pointer(&alpha2)), c.y, zp, c.bias, bias, c.act, c.y, y))
	}
	return l.check("cudnnConvolutionForward", call(l.forward, d.dnnH, uintptr(unsafe.Pointer(&one)), c.x, x, c.w, w, c.conv,
		uintptr(c.algo), ws, uintptr(c.wsBytes), uintptr(unsafe.Pointer(&zero)), c.y, y))
}
