package cuda

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
)

// convSource holds the NVRTC kernels of convolution and pooling: a direct 2-D
// convolution (one thread per output value; the fallback when cuDNN is missing or
// cannot take the geometry), the epilogue that follows a plain cuDNN convolution
// (bias, residual, activation in one pass), and 2-D max and average pooling.
// Everything is NCHW float32.
const convSource = `
#define INFINITY __int_as_float(0x7f800000)
struct CInfo { int n, c, h, w, k, r, s, oh, ow, padH, padW, strH, strW, dilH, dilW, group, act; float alpha; };
struct PInfo { int n, c, h, w, oh, ow, kh, kw, padH, padW, padEndH, padEndW, strH, strW, dilH, dilW, isMax, includePad; };

__device__ __forceinline__ float convAct(int act, float v, float alpha) {
  if (act == 1) return v > 0.f ? v : 0.f;
  if (act == 2) return v >= 0.f ? v : alpha * v;
  return v;
}

extern "C" __global__ void conv2d(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ bias,
    const float* __restrict__ z, float* __restrict__ y, CInfo a) {
  long long total = (long long)a.n * a.k * a.oh * a.ow;
  int cpg = a.c / a.group, kpg = a.k / a.group;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x) {
    int ox = (int)(i % a.ow);
    long long t = i / a.ow;
    int oy = (int)(t % a.oh);
    t /= a.oh;
    int ko = (int)(t % a.k);
    long long b = t / a.k;
    int g = ko / kpg;
    float acc = 0.f;
    const float* wk = w + (long long)ko * cpg * a.r * a.s;
    for (int ci = 0; ci < cpg; ci++) {
      const float* xc = x + (b * a.c + (long long)g * cpg + ci) * a.h * a.w;
      for (int ky = 0; ky < a.r; ky++) {
        int iy = oy * a.strH - a.padH + ky * a.dilH;
        if (iy < 0 || iy >= a.h) continue;
        for (int kx = 0; kx < a.s; kx++) {
          int ix = ox * a.strW - a.padW + kx * a.dilW;
          if (ix < 0 || ix >= a.w) continue;
          acc += xc[iy * a.w + ix] * wk[(ci * a.r + ky) * a.s + kx];
        }
      }
    }
    if (bias) acc += bias[ko];
    if (z) acc += z[i];
    y[i] = convAct(a.act, acc, a.alpha);
  }
}

// y = act(y + bias[channel] + z) over an NCHW tensor of n values with hw values a plane.
extern "C" __global__ void conv_epilogue(float* __restrict__ y, const float* __restrict__ bias, const float* __restrict__ z,
    long long n, int k, long long hw, int act, float alpha) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    float v = y[i];
    if (bias) v += bias[(i / hw) % k];
    if (z) v += z[i];
    y[i] = convAct(act, v, alpha);
  }
}

// Max or average pooling; with includePad the divisor counts the window's positions
// inside the input and its pads (not beyond the end pad that ceil_mode may add).
extern "C" __global__ void pool2d(const float* __restrict__ x, float* __restrict__ y, PInfo a) {
  long long total = (long long)a.n * a.c * a.oh * a.ow;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x) {
    int ox = (int)(i % a.ow);
    long long t = i / a.ow;
    int oy = (int)(t % a.oh);
    long long plane = t / a.oh;
    const float* xp = x + plane * a.h * a.w;
    float m = -INFINITY, s = 0.f;
    int cnt = 0, cntPad = 0;
    for (int ky = 0; ky < a.kh; ky++) {
      int iy = oy * a.strH - a.padH + ky * a.dilH;
      bool inY = iy >= 0 && iy < a.h, padY = iy >= -a.padH && iy < a.h + a.padEndH;
      for (int kx = 0; kx < a.kw; kx++) {
        int ix = ox * a.strW - a.padW + kx * a.dilW;
        bool inX = ix >= 0 && ix < a.w, padX = ix >= -a.padW && ix < a.w + a.padEndW;
        if (padY && padX) cntPad++;
        if (!inY || !inX) continue;
        float v = xp[iy * a.w + ix];
        m = fmaxf(m, v);
        s += v;
        cnt++;
      }
    }
    y[i] = a.isMax ? m : s / (float)(a.includePad ? cntPad : cnt);
  }
}
`

var convFuncs = []string{"conv2d", "conv_epilogue", "pool2d"}

// cInfo and pInfo mirror the C structs CInfo and PInfo (passed by value).
type cInfo struct {
	N, C, H, W, K, R, S, OH, OW, PadH, PadW, StrH, StrW, DilH, DilW, Group, Act int32
	Alpha                                                                       float32
}

type pInfo struct {
	N, C, H, W, OH, OW, KH, KW, PadH, PadW, PadEndH, PadEndW, StrH, StrW, DilH, DilW, IsMax, IncludePad int32
}

// ensureConv compiles the convolution and pooling kernels once (inside g.do).
func (d *Device) ensureConv() error {
	d.convOnce.Do(func() {
		d.convMod, d.convErr = d.g.module(&d.mods, "lightos_conv", convSource, convFuncs...)
		if d.convErr != nil {
			d.convErr = fmt.Errorf("compile convolution kernels: %w", d.convErr)
		}
	})
	return d.convErr
}

func (p *Plan) launchStruct(f function, grid, block [3]int, args ...unsafe.Pointer) error {
	return p.d.g.launch(f, grid, block, 0, args...)
}

// Activation codes of the convolution kernels.
const (
	convActNone  = 0
	convActRelu  = 1
	convActLeaky = 2
)

// buildConv runs Conv and lightos.FusedConv on 4-D (2-D spatial) float32 tensors:
// through cuDNN 9 when it is installed (FusedConv with ReLU as one
// cudnnConvolutionBiasActivationForward call: bias, residual and ReLU in its epilogue;
// otherwise cudnnConvolutionForward and one epilogue kernel), else, or for
// asymmetric pads, through the direct NVRTC kernel.
func buildConv(p *Plan, n *graph.Node, in []*dval) (func() error, error) {
	x, w := in[0], in[1]
	if len(x.shape) != 4 || len(w.shape) != 4 {
		return nil, fmt.Errorf("convolution of rank %d (only 2-D, NCHW): %w", len(x.shape), errUnsupported)
	}
	geo, err := ops.ConvGeometry(n.Attrs, x.shape[2:], w.shape[2:])
	if err != nil {
		return nil, err
	}
	s := convShape{n: x.shape[0], c: x.shape[1], h: x.shape[2], w: x.shape[3], k: w.shape[0], r: w.shape[2], s: w.shape[3],
		oh: geo.Out[0], ow: geo.Out[1], padH: geo.PadsBegin[0], padW: geo.PadsBegin[1], strH: geo.Strides[0], strW: geo.Strides[1],
		dilH: geo.Dilations[0], dilW: geo.Dilations[1], group: geo.Group, tf32: p.d.opts.TF32}
	if s.c%s.group != 0 || s.k%s.group != 0 || w.shape[1]*s.group != s.c {
		return nil, fmt.Errorf("weights %v for %d input channels in %d groups", w.shape, s.c, s.group)
	}
	var bias, z *dval
	if len(in) > 2 && in[2] != nil {
		if in[2].len() != s.k {
			return nil, fmt.Errorf("bias of shape %v for %d output channels", in[2].shape, s.k)
		}
		bias = in[2]
	}
	act, alpha := int32(convActNone), float32(0)
	if n.Op == ops.FusedConv {
		if len(in) > 3 && in[3] != nil {
			z = in[3]
		}
		switch a := n.Attrs.GetString("activation", ""); a {
		case ops.ActNone:
		case ops.ActRelu:
			act = convActRelu
		case ops.ActLeakyRelu:
			act, alpha = convActLeaky, n.Attrs.GetFloat("alpha", 0.01)
		default:
			return nil, fmt.Errorf("activation %q: %w", a, errUnsupported)
		}
	}
	out, err := p.alloc(n.Outputs[0])
	if err != nil {
		return nil, err
	}
	if !sameInts(out.shape, []int{s.n, s.k, s.oh, s.ow}) {
		return nil, fmt.Errorf("output shape %v, computed %v", out.shape, []int{s.n, s.k, s.oh, s.ow})
	}
	if z != nil && !sameInts(z.shape, out.shape) {
		return nil, fmt.Errorf("residual of shape %v for output %v: %w", z.shape, out.shape, errUnsupported)
	}
	symmetric := geo.PadsBegin[0] == geo.PadsEnd[0] && geo.PadsBegin[1] == geo.PadsEnd[1]
	if !p.d.opts.NoCuDNN && symmetric {
		if err := p.d.ensureDNN(); err == nil {
			run, err := p.dnnConvStep(s, x, w, bias, z, out, act, alpha)
			if err == nil || !errors.Is(err, errUnsupported) {
				return run, err
			}
		} else if !errors.Is(err, ErrDeviceNotFound) {
			return nil, err
		}
	}
	if err := p.d.ensureConv(); err != nil {
		return nil, err
	}
	info := cInfo{N: int32(s.n), C: int32(s.c), H: int32(s.h), W: int32(s.w), K: int32(s.k), R: int32(s.r), S: int32(s.s),
		OH: int32(s.oh), OW: int32(s.ow), PadH: int32(s.padH), PadW: int32(s.padW), StrH: int32(s.strH), StrW: int32(s.strW),
		DilH: int32(s.dilH), DilW: int32(s.dilW), Group: int32(s.group), Act: act, Alpha: alpha}
	xp, wp, yp := x.ptr, w.ptr, out.ptr
	var bp, zp uintptr
	if bias != nil {
		bp = bias.ptr
	}
	if z != nil {
		zp = z.ptr
	}
	g, b := p.grid1(out.len())
	f := p.d.convMod.funcs["conv2d"]
	return func() error {
		return p.launchStruct(f, g, b, unsafe.Pointer(&xp), unsafe.Pointer(&wp), unsafe.Pointer(&bp), unsafe.Pointer(&zp),
			unsafe.Pointer(&yp), unsafe.Pointer(&info))
	}, nil
}

// dnnConvStep prepares one cuDNN convolution. With ReLU it tries the fused
// bias-activation call once while building (cuDNN refuses some algorithm and layout
// combinations) and otherwise runs the plain convolution plus the epilogue kernel.
func (p *Plan) dnnConvStep(s convShape, x, w, bias, z, out *dval, act int32, alpha float32) (func() error, error) {
	relu := act == convActRelu
	c, err := p.d.newDNNConv(s, x.ptr, w.ptr, out.ptr, relu)
	if err != nil {
		return nil, err
	}
	p.convs = append(p.convs, c)
	p.wsBytes = max(p.wsBytes, c.wsBytes)
	xp, wp, yp := x.ptr, w.ptr, out.ptr
	var bp, zp uintptr
	if bias != nil {
		bp = bias.ptr
	}
	if z != nil {
		zp = z.ptr
	}
	if relu {
		if bp == 0 { // the fused call needs a bias
			if bp, err = p.scratchBuf(s.k * 4); err != nil {
				return nil, err
			}
			if err := p.d.g.d.check("cuMemsetD32Async", call(p.d.g.d.cuMemsetD32Async, bp, 0, uintptr(s.k), p.d.g.stream)); err != nil {
				return nil, err
			}
		}
		ws, err := p.d.g.alloc(c.wsBytes)
		if err != nil {
			return nil, err
		}
		trial := c.run(p.d, xp, wp, yp, bp, zp, ws)
		if trial == nil {
			trial = p.d.g.sync()
		}
		p.d.g.free(ws)
		if trial == nil {
			return func() error { return c.run(p.d, xp, wp, yp, bp, zp, p.ws) }, nil
		}
		var ce *Error
		if !errors.As(trial, &ce) || ce.Call != "cudnnConvolutionBiasActivationForward" {
			return nil, trial
		}
		c.fused = false // not supported for this algorithm: plain convolution + epilogue
	}
	if err := p.d.ensureConv(); err != nil {
		return nil, err
	}
	if bp == 0 && zp == 0 && act == convActNone {
		return func() error { return c.run(p.d, xp, wp, yp, 0, 0, p.ws) }, nil
	}
	cnt, k, hw := int64(out.len()), int32(s.k), int64(s.oh*s.ow)
	g, b := p.grid1(out.len())
	f := p.d.convMod.funcs["conv_epilogue"]
	return func() error {
		if err := c.run(p.d, xp, wp, yp, 0, 0, p.ws); err != nil {
			return err
		}
		return p.launchArgs(f, g, b, &yp, &bp, &zp, &cnt, &k, &hw, &act, &alpha)
	}, nil
}

// buildPool runs MaxPool (without the Indices output) and AveragePool on 4-D tensors.
func buildPool(p *Plan, n *graph.Node, in []*dval) (func() error, error) {
	x := in[0]
	if len(x.shape) != 4 {
		return nil, fmt.Errorf("pooling of rank %d (only 2-D, NCHW): %w", len(x.shape), errUnsupported)
	}
	if len(n.Outputs) > 1 && n.Outputs[1] != nil {
		return nil, fmt.Errorf("the Indices output: %w", errUnsupported)
	}
	geo, err := ops.PoolGeometry(n.Attrs, x.shape[2:])
	if err != nil {
		return nil, err
	}
	out, err := p.alloc(n.Outputs[0])
	if err != nil {
		return nil, err
	}
	if err := p.d.ensureConv(); err != nil {
		return nil, err
	}
	info := pInfo{N: int32(x.shape[0]), C: int32(x.shape[1]), H: int32(x.shape[2]), W: int32(x.shape[3]),
		OH: int32(geo.Out[0]), OW: int32(geo.Out[1]), KH: int32(geo.Kernel[0]), KW: int32(geo.Kernel[1]),
		PadH: int32(geo.PadsBegin[0]), PadW: int32(geo.PadsBegin[1]), PadEndH: int32(geo.PadsEnd[0]), PadEndW: int32(geo.PadsEnd[1]),
		StrH: int32(geo.Strides[0]), StrW: int32(geo.Strides[1]), DilH: int32(geo.Dilations[0]), DilW: int32(geo.Dilations[1])}
	if n.Op == "MaxPool" {
		info.IsMax = 1
	} else if n.Attrs.GetInt("count_include_pad", 0) != 0 {
		info.IncludePad = 1
	}
	if !sameInts(out.shape, []int{x.shape[0], x.shape[1], geo.Out[0], geo.Out[1]}) {
		return nil, fmt.Errorf("output shape %v, computed %v", out.shape, geo.Out)
	}
	xp, yp := x.ptr, out.ptr
	g, b := p.grid1(out.len())
	f := p.d.convMod.funcs["pool2d"]
	return func() error {
		return p.launchStruct(f, g, b, unsafe.Pointer(&xp), unsafe.Pointer(&yp), unsafe.Pointer(&info))
	}, nil
}

// buildGlobalPool runs GlobalAveragePool and GlobalMaxPool as a mean or max over each
// plane (rank 3 and up).
func buildGlobalPool(p *Plan, n *graph.Node, in []*dval) (func() error, error) {
	x := in[0]
	if len(x.shape) < 3 {
		return nil, fmt.Errorf("global pooling of rank %d", len(x.shape))
	}
	out, err := p.alloc(n.Outputs[0])
	if err != nil {
		return nil, err
	}
	code := int32(1)
	if n.Op == "GlobalMaxPool" {
		code = 2
	}
	cols := prod(x.shape[2:])
	rows := x.shape[0] * x.shape[1]
	xp, yp, c := x.ptr, out.ptr, int64(cols)
	f := p.core("reduce_rows")
	return func() error {
		return p.launchArgs(f, [3]int{max(rows, 1), 1, 1}, rowBlock(min(cols, 256)), &code, &xp, &yp, &c)
	}, nil
}
