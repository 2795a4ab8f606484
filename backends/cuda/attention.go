package cuda

import (
	"fmt"
	"math"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// attnSource is a fused attention kernel for head sizes D and DV known at compile
// time (NVRTC compiles one per shape and caches it). A block takes QB = 8·QPW query
// rows of one (batch, head); K and V pass through shared memory in chunks of 32 keys;
// each warp keeps QPW rows' running max, sum and output in registers (online
// softmax), with lane l scoring key l of the chunk. Q, K, V, Y and the mask are
// addressed through strides, so heads as column blocks ([B, S, E]), head-major
// tensors ([B, H, S, D]) and a transposed K need no transposes.
const attnSource = `
#define INFINITY __int_as_float(0x7f800000)
#define KC 32
#define NW 8
#define QB (NW * QPW)
#define NDV ((DV + 31) / 32)
struct AInfo { long long sq, sk; long long qs[3], ks[4], vs[3], ys[3], ms[4]; float scale; int causal; };

__device__ __forceinline__ float wsum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
  return v;
}
__device__ __forceinline__ float wmax(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, o));
  return v;
}

extern "C" __global__ void __launch_bounds__(256) attn(const float* __restrict__ q, const float* __restrict__ k,
    const float* __restrict__ v, const float* __restrict__ mask, float* __restrict__ y, AInfo a) {
  __shared__ float Qs[QB][D];
  __shared__ float Ks[KC][D + 1];
  __shared__ float Vs[KC][DV];
  const long long b = blockIdx.z, h = blockIdx.y, i0 = (long long)blockIdx.x * QB;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const float* qb = q + b * a.qs[0] + h * a.qs[1];
  const float* kb = k + b * a.ks[0] + h * a.ks[1];
  const float* vb = v + b * a.vs[0] + h * a.vs[1];
  for (int idx = tid; idx < QB * D; idx += blockDim.x) {
    int r = idx / D, d = idx % D;
    long long i = i0 + r;
    Qs[r][d] = i < a.sq ? qb[i * a.qs[2] + d] * a.scale : 0.f;
  }
  float m[QPW], l[QPW], acc[QPW][NDV];
#pragma unroll
  for (int t = 0; t < QPW; t++) {
    m[t] = -INFINITY;
    l[t] = 0.f;
#pragma unroll
    for (int c = 0; c < NDV; c++) acc[t][c] = 0.f;
  }
  for (long long j0 = 0; j0 < a.sk; j0 += KC) {
    __syncthreads();
    for (int idx = tid; idx < KC * D; idx += blockDim.x) {
      int r = idx / D, d = idx % D;
      long long j = j0 + r;
      Ks[r][d] = j < a.sk ? kb[j * a.ks[2] + d * a.ks[3]] : 0.f;
    }
    for (int idx = tid; idx < KC * DV; idx += blockDim.x) {
      int r = idx / DV, d = idx % DV;
      long long j = j0 + r;
      Vs[r][d] = j < a.sk ? vb[j * a.vs[2] + d] : 0.f;
    }
    __syncthreads();
    const long long j = j0 + lane;
#pragma unroll
    for (int t = 0; t < QPW; t++) {
      const int r = warp + NW * t;
      const long long i = i0 + r;
      float s = 0.f;
#pragma unroll
      for (int d = 0; d < D; d++) s += Qs[r][d] * Ks[lane][d];
      bool ok = j < a.sk && i < a.sq && (!a.causal || j <= i + a.sk - a.sq);
      if (ok && mask) s += mask[b * a.ms[0] + h * a.ms[1] + i * a.ms[2] + j * a.ms[3]];
      s = ok ? s : -INFINITY;
      float mn = fmaxf(m[t], wmax(s));
      float p = mn == -INFINITY ? 0.f : expf(s - mn);
      float corr = m[t] == -INFINITY ? 0.f : expf(m[t] - mn);
      l[t] = l[t] * corr + wsum(p);
      m[t] = mn;
#pragma unroll
      for (int c = 0; c < NDV; c++) acc[t][c] *= corr;
#pragma unroll 8
      for (int jj = 0; jj < KC; jj++) {
        float pj = __shfl_sync(0xffffffff, p, jj);
#pragma unroll
        for (int c = 0; c < NDV; c++) {
          int d = lane + 32 * c;
          if (d < DV) acc[t][c] += pj * Vs[jj][d];
        }
      }
    }
  }
#pragma unroll
  for (int t = 0; t < QPW; t++) {
    long long i = i0 + warp + NW * t;
    if (i >= a.sq) continue;
    float inv = 1.f / l[t];
#pragma unroll
    for (int c = 0; c < NDV; c++) {
      int d = lane + 32 * c;
      if (d < DV) y[b * a.ys[0] + h * a.ys[1] + i * a.ys[2] + d] = acc[t][c] * inv;
    }
  }
}
`

// aInfo mirrors the C struct AInfo.
type aInfo struct {
	Sq, Sk int64
	QS     [3]int64
	KS     [4]int64
	VS, YS [3]int64
	MS     [4]int64
	Scale  float32
	Causal int32
}

// fusedAttention prepares the fused kernel, or returns nil (and no error) when the
// shapes are outside what it handles (head sizes over 128, shared memory over 48 KiB,
// more than two leading dimensions without num_heads); buildAttention then uses the
// product-softmax-product path.
func fusedAttention(p *Plan, n *graph.Node, in []*dval, out *dval) (func() error, error) {
	q, k, v := in[0], in[1], in[2]
	var mask *dval
	if len(in) > 3 && in[3] != nil {
		mask = in[3]
	}
	heads := int(n.Attrs.GetInt("num_heads", 0))
	transK := n.Attrs.GetInt("transpose_k", 0) != 0
	var bs, hs, sq, sk, d, dv int
	var ai aInfo
	if heads > 0 {
		if len(q.shape) != 3 || len(k.shape) != 3 || len(v.shape) != 3 {
			return nil, nil
		}
		e, ev := q.shape[2], v.shape[2]
		bs, hs, sq, sk, d, dv = q.shape[0], heads, q.shape[1], v.shape[1], e/heads, ev/heads
		ai.QS = [3]int64{int64(sq * e), int64(d), int64(e)}
		ai.KS = [4]int64{int64(sk * e), int64(d), int64(e), 1}
		if transK {
			ai.KS = [4]int64{int64(e * sk), int64(d * sk), 1, int64(sk)}
		}
		ai.VS = [3]int64{int64(sk * ev), int64(dv), int64(ev)}
		ai.YS = [3]int64{int64(sq * ev), int64(dv), int64(ev)}
	} else {
		r := len(q.shape)
		if r < 2 || r > 4 || len(k.shape) != r || len(v.shape) != r {
			return nil, nil
		}
		lead := append([]int{1, 1}, q.shape[:r-2]...)
		lead = lead[len(lead)-2:]
		bs, hs = lead[0], lead[1]
		sq, d, sk, dv = q.shape[r-2], q.shape[r-1], v.shape[r-2], v.shape[r-1]
		ai.QS = [3]int64{int64(hs * sq * d), int64(sq * d), int64(d)}
		ai.KS = [4]int64{int64(hs * sk * d), int64(sk * d), int64(d), 1}
		if transK {
			ai.KS = [4]int64{int64(hs * d * sk), int64(d * sk), 1, int64(sk)}
		}
		ai.VS = [3]int64{int64(hs * sk * dv), int64(sk * dv), int64(dv)}
		ai.YS = [3]int64{int64(hs * sq * dv), int64(sq * dv), int64(dv)}
	}
	if d < 1 || dv < 1 || d > 128 || dv > 128 || sq < 1 || sk < 1 {
		return nil, nil
	}
	qpw := 4
	if bs*hs*((sq+31)/32) < 2*p.d.g.sms {
		qpw = 1 // small batches: more, smaller blocks
	}
	if (8*qpw*d+32*(d+1)+32*dv)*4 > 48<<10 {
		return nil, nil
	}
	var maskPtr uintptr
	if mask != nil {
		full := []int{bs, hs, sq, sk}
		if len(mask.shape) > 4 || !broadcastsTo(mask.shape, full) {
			return nil, nil
		}
		copy(ai.MS[:], stridesFor(mask.shape, full))
		maskPtr = mask.ptr
	}
	scale := n.Attrs.GetFloat("scale", 0)
	if scale == 0 {
		scale = float32(1 / math.Sqrt(float64(d)))
	}
	ai.Sq, ai.Sk, ai.Scale = int64(sq), int64(sk), scale
	if n.Attrs.GetInt("causal", 0) != 0 {
		ai.Causal = 1
	}
	src := fmt.Sprintf("#define D %d\n#define DV %d\n#define QPW %d\n", d, dv, qpw) + attnSource
	mod, err := p.d.g.module(&p.d.mods, fmt.Sprintf("attention_d%d_dv%d_q%d", d, dv, qpw), src, "attn")
	if err != nil {
		return nil, err
	}
	f := mod.funcs["attn"]
	grid := [3]int{(sq + 8*qpw - 1) / (8 * qpw), hs, bs}
	qp, kp, vp, yp := q.ptr, k.ptr, v.ptr, out.ptr
	if q.dt != tensor.Float32 {
		return nil, nil
	}
	return func() error {
		return p.launchArgs(f, grid, [3]int{256, 1, 1}, &qp, &kp, &vp, &maskPtr, &yp, &ai)
	}, nil
}

// broadcastsTo reports whether s broadcasts to full under NumPy rules.
func broadcastsTo(s, full []int) bool {
	if len(s) > len(full) {
		return false
	}
	for i := range s {
		f := full[len(full)-len(s)+i]
		if s[i] != 1 && s[i] != f {
			return false
		}
	}
	return true
}
