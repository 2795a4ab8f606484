package cuda

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// convSource holds the NVRTC kernels of convolution and pooling: a direct 2-D
// convolution (one thread per output value; the fallback when cuDNN is missing or
// cannot take the geometry), the epilogue that follows a plain cuDNN convolution
// (bias, residual, activation in one pass), and 2-D max and average pooling.
// Everything is NCHW float32.
const convSource = `
#define INFINITY __int_as_float(0x7f800000)
struct CInfo { int n, c, h, w, k, r, s, oh, ow, padH, padW, strH, strW, dilH, dilW, group, act; float alpha; int nhwc; };
struct PInfo { int n, c, h, w, oh, ow, kh, kw, padH, padW, padEndH, padEndW, strH, strW, dilH, dilW, isMax, includePad, nhwc; };

__device__ __forceinline__ float convAct(int act, float v, float alpha) {
  if (act == 1) return v > 0.f ? v : 0.f;
  if (act == 2) return v >= 0.f ? v : alpha * v;
  return v;
}

// With nhwc, x, y and z are NHWC and w is KRSC; else NCHW and KCRS.
extern "C" __global__ void conv2d(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ bias,
    const float* __restrict__ z, float* __restrict__ y, CInfo a) {
  long long total = (long long)a.n * a.k * a.oh * a.ow;
  int cpg = a.c / a.group, kpg = a.k / a.group;
  // element strides of x (channel, row, column) and w (input channel, row, column)
  long long xc_ = a.nhwc ? 1 : (long long)a.h * a.w, xh = a.nhwc ? (long long)a.w * a.c : a.w, xw = a.nhwc ? a.c : 1;
  int wc = a.nhwc ? 1 : a.r * a.s, wr = a.nhwc ? a.s * cpg : a.s, ws = a.nhwc ? cpg : 1;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x) {
    int ox, oy, ko;
    long long b, t;
    if (a.nhwc) {
      ko = (int)(i % a.k); t = i / a.k; ox = (int)(t % a.ow); t /= a.ow; oy = (int)(t % a.oh); b = t / a.oh;
    } else {
      ox = (int)(i % a.ow); t = i / a.ow; oy = (int)(t % a.oh); t /= a.oh; ko = (int)(t % a.k); b = t / a.k;
    }
    int g = ko / kpg;
    float acc = 0.f;
    const float* wk = w + (long long)ko * cpg * a.r * a.s;
    const float* xb = x + b * a.c * a.h * a.w;
    for (int ci = 0; ci < cpg; ci++) {
      const float* xc = xb + ((long long)g * cpg + ci) * xc_;
      for (int ky = 0; ky < a.r; ky++) {
        int iy = oy * a.strH - a.padH + ky * a.dilH;
        if (iy < 0 || iy >= a.h) continue;
        for (int kx = 0; kx < a.s; kx++) {
          int ix = ox * a.strW - a.padW + kx * a.dilW;
          if (ix < 0 || ix >= a.w) continue;
          acc += xc[iy * xh + ix * xw] * wk[ci * wc + ky * wr + kx * ws];
        }
      }
    }
    if (bias) acc += bias[ko];
    if (z) acc += z[i];
    y[i] = convAct(a.act, acc, a.alpha);
  }
}

// y = act(y + bias[channel] + z) over an NCHW tensor of n values with hw values a plane.
// (hw 1: NHWC, the channel is the fastest axis.)
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
  long long sh = a.nhwc ? (long long)a.w * a.c : a.w, sw = a.nhwc ? a.c : 1;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x) {
    int ox, oy;
    const float* xp;
    if (a.nhwc) {
      int c = (int)(i % a.c);
      long long t = i / a.c;
      ox = (int)(t % a.ow); t /= a.ow; oy = (int)(t % a.oh);
      xp = x + (t / a.oh) * a.h * a.w * a.c + c;
    } else {
      ox = (int)(i % a.ow);
      long long t = i / a.ow;
      oy = (int)(t % a.oh);
      xp = x + (t / a.oh) * a.h * a.w;
    }
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
        float v = xp[iy * sh + ix * sw];
        m = fmaxf(m, v);
        s += v;
        cnt++;
      }
    }
    y[i] = a.isMax ? m : s / (float)(a.includePad ? cntPad : cnt);
  }
}

// Mean (op 1) or max (op 2) over the hw positions of an NHWC tensor [n, hw, c]:
// y[b, ch] (NCHW [n, c, 1, 1]); consecutive threads take consecutive channels.
extern "C" __global__ void gpool_nhwc(int op, const float* __restrict__ x, float* __restrict__ y, long long n, int hw, int c) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n * c; i += (long long)gridDim.x * blockDim.x) {
    const float* xp = x + (i / c) * hw * c + i % c;
    float s = 0.f, m = -INFINITY;
    for (int j = 0; j < hw; j++) {
      float v = xp[(long long)j * c];
      s += v;
      m = fmaxf(m, v);
    }
    y[i] = op == 2 ? m : s / (float)hw;
  }
}

// NHWC im2col: col[(b, oy, ox)][(ky, kx, ci)] for a product with KRSC weights; zeros
// where the window is in the pads. Group 1.
extern "C" __global__ void im2col_nhwc(const float* __restrict__ x, float* __restrict__ col, CInfo a) {
  long long total = (long long)a.n * a.oh * a.ow * a.r * a.s * a.c;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x) {
    int ci = (int)(i % a.c);
    long long t = i / a.c;
    int kx = (int)(t % a.s); t /= a.s;
    int ky = (int)(t % a.r); t /= a.r;
    int ox = (int)(t % a.ow); t /= a.ow;
    int oy = (int)(t % a.oh);
    long long b = t / a.oh;
    int iy = oy * a.strH - a.padH + ky * a.dilH, ix = ox * a.strW - a.padW + kx * a.dilW;
    col[i] = (iy >= 0 && iy < a.h && ix >= 0 && ix < a.w) ? x[((b * a.h + iy) * a.w + ix) * a.c + ci] : 0.f;
  }
}

// NCHW <-> NHWC for the values entering and leaving a channels-last region.
extern "C" __global__ void nchw_to_nhwc(const float* __restrict__ x, float* __restrict__ y, long long n, int c, int hw) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n * c * hw; i += (long long)gridDim.x * blockDim.x) {
    int ch = (int)(i % c);
    long long t = i / c;
    y[i] = x[((t / hw) * c + ch) * hw + t % hw];
  }
}
extern "C" __global__ void nhwc_to_nchw(const float* __restrict__ x, float* __restrict__ y, long long n, int c, int hw) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n * c * hw; i += (long long)gridDim.x * blockDim.x) {
    int p = (int)(i % hw);
    long long t = i / hw;
    y[i] = x[((t / c) * hw + p) * c + t % c];
  }
}
`

var convFuncs = []string{"conv2d", "conv_epilogue", "pool2d", "gpool_nhwc", "nchw_to_nhwc", "nhwc_to_nchw", "im2col_nhwc"}

// maxColBytes bounds the im2col buffer of the im2col + cuBLASLt candidate.
const maxColBytes = 64 << 20

// cInfo and pInfo mirror the C structs CInfo and PInfo (passed by value).
type cInfo struct {
	N, C, H, W, K, R, S, OH, OW, PadH, PadW, StrH, StrW, DilH, DilW, Group, Act int32
	Alpha                                                                       float32
	NHWC                                                                        int32
}

type pInfo struct {
	N, C, H, W, OH, OW, KH, KW, PadH, PadW, PadEndH, PadEndW, StrH, StrW, DilH, DilW, IsMax, IncludePad, NHWC int32
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
	// The convolution runs in its output's layout; inputs in the other one are
	// transposed into scratch first, and NHWC takes the weights as KRSC.
	s.nhwc = out.nhwc
	var pre []func() error
	xp, err := p.layoutIn(x, s.nhwc, &pre)
	if err != nil {
		return nil, err
	}
	var zp uintptr
	if z != nil {
		if zp, err = p.layoutIn(z, s.nhwc, &pre); err != nil {
			return nil, err
		}
	}
	wp := w.ptr
	if s.nhwc {
		wc := n.Inputs[1].Const
		if wc == nil {
			return nil, fmt.Errorf("weights computed at run time in a channels-last plan: %w", errUnsupported)
		}
		if wp, err = p.uploadKRSC(wc.Float32s(), w.shape); err != nil {
			return nil, err
		}
	}
	var bp uintptr
	if bias != nil {
		bp = bias.ptr
	}
	run, err := p.convCore(s, geo, xp, wp, bp, zp, out, act, alpha)
	if err != nil || len(pre) == 0 {
		return run, err
	}
	return func() error {
		for _, f := range pre {
			if err := f(); err != nil {
				return err
			}
		}
		return run()
	}, nil
}

// convCore prepares one convolution whose operands are already in layout s.nhwc.
// The candidates: cuDNN (symmetric pads) as one fused bias+ReLU(+residual) call or
// as the plain convolution plus the epilogue kernel; for an NHWC 1x1 stride-1
// convolution, one cuBLASLt product with bias, residual (as C, beta 1) and ReLU in
// its epilogue; for other NHWC convolutions of one group whose columns fit
// maxColBytes, an im2col kernel and that product. Each candidate is timed on the device while the plan is built and
// the fastest kept; without candidates, the direct NVRTC kernel runs it.
func (p *Plan) convCore(s convShape, geo *ops.Geometry, xp, wp, bp, zp uintptr, out *dval, act int32, alpha float32) (func() error, error) {
	var cands []candidate
	if s.nhwc && s.r == 1 && s.s == 1 && s.strH == 1 && s.strW == 1 && s.oh == s.h && s.ow == s.w && s.group == 1 && act != convActLeaky {
		spec := gemmSpec{dt: tensor.Float32, m: s.n * s.h * s.w, n: s.k, k: s.c, lda: s.c, ldb: s.c, ldc: s.k, batch: 1,
			transB: true, bias: bp != 0, residual: zp != 0}
		if act == convActRelu {
			spec.act = EpiRelu
		}
		gm, err := p.newGemm(spec)
		if err != nil && !errors.Is(err, errUnsupported) {
			return nil, err
		}
		if err == nil {
			yp := out.ptr
			cin := yp
			if zp != 0 {
				cin = zp
			}
			run := func() error { return gm.runC(p.d, xp, wp, cin, yp, bp) }
			if err := p.tune(gm, run); err != nil {
				return nil, err
			}
			cands = append(cands, candidate{"conv 1x1 cublaslt", run})
		}
	}
	info := cInfo{N: int32(s.n), C: int32(s.c), H: int32(s.h), W: int32(s.w), K: int32(s.k), R: int32(s.r), S: int32(s.s),
		OH: int32(s.oh), OW: int32(s.ow), PadH: int32(s.padH), PadW: int32(s.padW), StrH: int32(s.strH), StrW: int32(s.strW),
		DilH: int32(s.dilH), DilW: int32(s.dilW), Group: int32(s.group), Act: act, Alpha: alpha}
	if s.nhwc {
		info.NHWC = 1
	}
	colElems := s.n * s.oh * s.ow * s.r * s.s * s.c
	if s.nhwc && len(cands) == 0 && s.group == 1 && act != convActLeaky && colElems*4 <= maxColBytes {
		// im2col into the plan's shared column buffer, then one cuBLASLt product.
		spec := gemmSpec{dt: tensor.Float32, m: s.n * s.oh * s.ow, n: s.k, k: s.r * s.s * s.c, lda: s.r * s.s * s.c,
			ldb: s.r * s.s * s.c, ldc: s.k, batch: 1, transB: true, bias: bp != 0, residual: zp != 0}
		if act == convActRelu {
			spec.act = EpiRelu
		}
		gm, err := p.newGemm(spec)
		if err != nil && !errors.Is(err, errUnsupported) {
			return nil, err
		}
		if err == nil {
			if err := p.d.ensureConv(); err != nil {
				return nil, err
			}
			p.colBytes = max(p.colBytes, colElems*4)
			yp := out.ptr
			cin := yp
			if zp != 0 {
				cin = zp
			}
			f := p.d.convMod.funcs["im2col_nhwc"]
			g, b := p.grid1(colElems)
			cands = append(cands, candidate{"conv im2col + cublaslt", func() error {
				col := p.col
				if err := p.launchStruct(f, g, b, unsafe.Pointer(&xp), unsafe.Pointer(&col), unsafe.Pointer(&info)); err != nil {
					return err
				}
				return gm.runC(p.d, col, wp, cin, yp, bp)
			}})
		}
	}
	symmetric := geo.PadsBegin[0] == geo.PadsEnd[0] && geo.PadsBegin[1] == geo.PadsEnd[1]
	if !p.d.opts.NoCuDNN && symmetric {
		if err := p.d.ensureDNN(); err == nil {
			cs, err := p.dnnConvSteps(s, xp, wp, bp, zp, out, act, alpha)
			if err != nil && !errors.Is(err, errUnsupported) {
				return nil, err
			}
			cands = append(cands, cs...)
		} else if !errors.Is(err, ErrDeviceNotFound) {
			return nil, err
		}
	}
	if len(cands) > 0 {
		c, err := p.fastest(cands)
		if err != nil {
			return nil, err
		}
		p.kinds[c.name]++
		return c.run, nil
	}
	if err := p.d.ensureConv(); err != nil {
		return nil, err
	}
	p.kinds["conv nvrtc"]++
	yp := out.ptr
	g, b := p.grid1(out.len())
	f := p.d.convMod.funcs["conv2d"]
	return func() error {
		return p.launchStruct(f, g, b, unsafe.Pointer(&xp), unsafe.Pointer(&wp), unsafe.Pointer(&bp), unsafe.Pointer(&zp),
			unsafe.Pointer(&yp), unsafe.Pointer(&info))
	}, nil
}

// candidate is one way to run a step.
type candidate struct {
	name string
	run  func() error
}

// fastest runs each candidate a few times between CUDA events (while the plan is
// built, with its cuDNN workspace borrowed) and returns the one with the lowest
// median. A candidate that fails is skipped; if all fail, the first error returns.
func (p *Plan) fastest(cs []candidate) (candidate, error) {
	if len(cs) == 1 {
		return cs[0], nil
	}
	ws, err := p.d.g.alloc(max(p.wsBytes, 4))
	if err != nil {
		return candidate{}, err
	}
	col, err := p.d.g.alloc(max(p.colBytes, 4))
	if err != nil {
		p.d.g.free(ws)
		return candidate{}, err
	}
	savedWS, savedCol := p.ws, p.col
	p.ws, p.col = ws, col
	defer func() {
		p.ws, p.col = savedWS, savedCol
		p.d.g.free(ws)
		p.d.g.free(col)
	}()
	best, bestMs := -1, 0.0
	var firstErr error
	for i, c := range cs {
		var ms []float64
		err := timeEvents(p.d.g, 2, 5, c.run, &ms)
		if err == nil {
			err = p.d.g.sync()
		}
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if m := ms[len(ms)/2]; best < 0 || m < bestMs {
			best, bestMs = i, m
		}
	}
	if best < 0 {
		return candidate{}, firstErr
	}
	return cs[best], nil
}

// layoutIn returns the address of x in the wanted layout: x itself, or a scratch
// buffer that a transpose step (appended to pre) fills.
func (p *Plan) layoutIn(x *dval, nhwc bool, pre *[]func() error) (uintptr, error) {
	if x.nhwc == nhwc {
		return x.ptr, nil
	}
	if len(x.shape) != 4 {
		return 0, fmt.Errorf("value %q of rank %d in a channels-last convolution", x.name, len(x.shape))
	}
	if err := p.d.ensureConv(); err != nil {
		return 0, err
	}
	dst, err := p.scratchBuf(x.bytes())
	if err != nil {
		return 0, err
	}
	fn := "nchw_to_nhwc"
	if x.nhwc {
		fn = "nhwc_to_nchw"
	}
	p.kinds["layout transpose"]++
	f := p.d.convMod.funcs[fn]
	src, n, c, hw := x.ptr, int64(x.shape[0]), int32(x.shape[1]), int32(x.shape[2]*x.shape[3])
	g, b := p.grid1(x.len())
	*pre = append(*pre, func() error { return p.launchArgs(f, g, b, &src, &dst, &n, &c, &hw) })
	return dst, nil
}

// uploadKRSC uploads KCRS weights w (shape [K, C, R, S]) reordered as KRSC.
func (p *Plan) uploadKRSC(w []float32, shape []int) (uintptr, error) {
	k, c, r, s := shape[0], shape[1], shape[2], shape[3]
	t := make([]float32, len(w))
	for ko := 0; ko < k; ko++ {
		for ci := 0; ci < c; ci++ {
			for y := 0; y < r; y++ {
				for x := 0; x < s; x++ {
					t[((ko*r+y)*s+x)*c+ci] = w[((ko*c+ci)*r+y)*s+x]
				}
			}
		}
	}
	ptr, err := p.d.g.upload(unsafe.Slice((*byte)(unsafe.Pointer(&t[0])), len(t)*4))
	if err != nil {
		return 0, fmt.Errorf("upload KRSC weights: %w", err)
	}
	p.bufs = append(p.bufs, &dbuf{ptr: ptr, size: len(t) * 4, pinned: true})
	p.Bytes += int64(len(t) * 4)
	return ptr, nil
}

// dnnConvSteps prepares one cuDNN convolution and returns its candidate runs: the
// fused bias-activation call (ReLU only; tried once here, since cuDNN refuses some
// algorithm and layout combinations) and the plain convolution plus the epilogue
// kernel.
func (p *Plan) dnnConvSteps(s convShape, xp, wp, bp, zp uintptr, out *dval, act int32, alpha float32) ([]candidate, error) {
	relu := act == convActRelu
	yp := out.ptr
	c, err := p.d.newDNNConv(s, xp, wp, yp, relu)
	if err != nil {
		return nil, err
	}
	p.convs = append(p.convs, c)
	p.wsBytes = max(p.wsBytes, c.wsBytes)
	var cands []candidate
	if relu {
		fb := bp
		if fb == 0 { // the fused call needs a bias
			if fb, err = p.scratchBuf(s.k * 4); err != nil {
				return nil, err
			}
			if err := p.d.g.d.check("cuMemsetD32Async", call(p.d.g.d.cuMemsetD32Async, fb, 0, uintptr(s.k), p.d.g.stream)); err != nil {
				return nil, err
			}
		}
		ws, err := p.d.g.alloc(max(c.wsBytes, 4))
		if err != nil {
			return nil, err
		}
		trial := c.run(p.d, xp, wp, yp, fb, zp, ws, true)
		if trial == nil {
			trial = p.d.g.sync()
		}
		p.d.g.free(ws)
		var ce *Error
		switch {
		case trial == nil:
			cands = append(cands, candidate{"conv cudnn bias+act", func() error { return c.run(p.d, xp, wp, yp, fb, zp, p.ws, true) }})
		case !errors.As(trial, &ce) || ce.Call != "cudnnConvolutionBiasActivationForward":
			return nil, trial
		}
	}
	if bp == 0 && zp == 0 && act == convActNone {
		return append(cands, candidate{"conv cudnn", func() error { return c.run(p.d, xp, wp, yp, 0, 0, p.ws, false) }}), nil
	}
	if err := p.d.ensureConv(); err != nil {
		return nil, err
	}
	cnt, k, hw := int64(out.len()), int32(s.k), int64(s.oh*s.ow)
	if s.nhwc {
		hw = 1
	}
	g, b := p.grid1(out.len())
	f := p.d.convMod.funcs["conv_epilogue"]
	return append(cands, candidate{"conv cudnn + epilogue", func() error {
		if err := c.run(p.d, xp, wp, yp, 0, 0, p.ws, false); err != nil {
			return err
		}
		return p.launchArgs(f, g, b, &yp, &bp, &zp, &cnt, &k, &hw, &act, &alpha)
	}}), nil
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
	var pre []func() error
	xp, err := p.layoutIn(x, out.nhwc, &pre)
	if err != nil {
		return nil, err
	}
	if out.nhwc {
		info.NHWC = 1
	}
	yp := out.ptr
	g, b := p.grid1(out.len())
	f := p.d.convMod.funcs["pool2d"]
	return func() error {
		for _, f := range pre {
			if err := f(); err != nil {
				return err
			}
		}
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
	if x.nhwc {
		if err := p.d.ensureConv(); err != nil {
			return nil, err
		}
		xp, yp, nn, hw, ch := x.ptr, out.ptr, int64(x.shape[0]), int32(cols), int32(x.shape[1])
		g, b := p.grid1(rows)
		f := p.d.convMod.funcs["gpool_nhwc"]
		return func() error { return p.launchArgs(f, g, b, &code, &xp, &yp, &nn, &hw, &ch) }, nil
	}
	xp, yp, c := x.ptr, out.ptr, int64(cols)
	f := p.core("reduce_rows")
	return func() error {
		return p.launchArgs(f, [3]int{max(rows, 1), 1, 1}, rowBlock(min(cols, 256)), &code, &xp, &yp, &c)
	}, nil
}
