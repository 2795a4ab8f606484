package cuda

import (
	"fmt"
	"math"
	"strings"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// attnSource is a fused attention kernel for head sizes D and DV known at compile
// time (NVRTC compiles one per shape and caches it). A block takes QB = 8·QPW query
// rows of one (batch, head); K (transposed, so lane l reads key l without bank
// conflicts) and V pass through shared memory in chunks of 32 keys; each warp keeps
// QPW rows' running max, sum and output in registers (online softmax), with lane l
// scoring key l of the chunk. Each K and V value read from shared memory serves all
// QPW rows of the warp; Q rows and the probabilities (staged in shared memory) are
// read four at a time as broadcast float4 loads when D is a multiple of 4. Q, K, V,
// Y and the mask are addressed through strides, so heads as column blocks
// ([B, S, E]), head-major tensors ([B, H, S, D]) and a transposed K need no
// transposes.
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

// Asynchronous 4-byte copy global -> shared (zero-filled when !ok): a thread's copies
// are all in flight together instead of one load's latency after another.
__device__ __forceinline__ void cp4(float* dst, const float* src, bool ok) {
#if __CUDA_ARCH__ >= 800
  unsigned d = (unsigned)__cvta_generic_to_shared(dst);
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" :: "r"(d), "l"(src), "r"(ok ? 4 : 0) : "memory");
#else
  *dst = ok ? *src : 0.f;
#endif
}
__device__ __forceinline__ void cpWait() {
#if __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_all;" ::: "memory");
#endif
}

extern "C" __global__ void __launch_bounds__(256) attn(const float* __restrict__ q, const float* __restrict__ k,
    const float* __restrict__ v, const float* __restrict__ mask, float* __restrict__ y, AInfo a) {
  __shared__ __align__(16) float Qs[QB][D];
  __shared__ float Kt[D][KC + 1];
  __shared__ float Vs[KC][DV];
  __shared__ __align__(16) float Ps[NW][QPW][KC];
  const long long b = blockIdx.z, h = blockIdx.y, i0 = (long long)blockIdx.x * QB;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const float* qb = q + b * a.qs[0] + h * a.qs[1];
  const float* kb = k + b * a.ks[0] + h * a.ks[1];
  const float* vb = v + b * a.vs[0] + h * a.vs[1];
  for (int idx = tid; idx < QB * D; idx += blockDim.x) {
    int r = idx / D, d = idx % D;
    long long i = i0 + r;
    cp4(&Qs[r][d], i < a.sq ? qb + i * a.qs[2] + d : qb, i < a.sq);
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
      cp4(&Kt[d][r], j < a.sk ? kb + j * a.ks[2] + d * a.ks[3] : kb, j < a.sk);
    }
    for (int idx = tid; idx < KC * DV; idx += blockDim.x) {
      int r = idx / DV, d = idx % DV;
      long long j = j0 + r;
      cp4(&Vs[r][d], j < a.sk ? vb + j * a.vs[2] + d : vb, j < a.sk);
    }
    cpWait();
    __syncthreads();
    const long long j = j0 + lane;
    float sc[QPW];
#pragma unroll
    for (int t = 0; t < QPW; t++) sc[t] = 0.f;
#if D % 4 == 0
#pragma unroll 4
    for (int d = 0; d < D; d += 4) {
      float k0 = Kt[d][lane], k1 = Kt[d + 1][lane], k2 = Kt[d + 2][lane], k3 = Kt[d + 3][lane];
#pragma unroll
      for (int t = 0; t < QPW; t++) {
        float4 qv = *reinterpret_cast<const float4*>(&Qs[warp + NW * t][d]);
        sc[t] += qv.x * k0 + qv.y * k1 + qv.z * k2 + qv.w * k3;
      }
    }
#pragma unroll
    for (int t = 0; t < QPW; t++) sc[t] *= a.scale;
#else
#pragma unroll 8
    for (int d = 0; d < D; d++) {
      float kv = Kt[d][lane];
#pragma unroll
      for (int t = 0; t < QPW; t++) sc[t] += Qs[warp + NW * t][d] * kv;
    }
#pragma unroll
    for (int t = 0; t < QPW; t++) sc[t] *= a.scale;
#endif
#pragma unroll
    for (int t = 0; t < QPW; t++) {
      const long long i = i0 + warp + NW * t;
      float s = sc[t];
      bool ok = j < a.sk && i < a.sq && (!a.causal || j <= i + a.sk - a.sq);
      if (ok && mask) s += mask[b * a.ms[0] + h * a.ms[1] + i * a.ms[2] + j * a.ms[3]];
      s = ok ? s : -INFINITY;
      float mn = fmaxf(m[t], wmax(s));
      float p = mn == -INFINITY ? 0.f : expf(s - mn);
      float corr = m[t] == -INFINITY ? 0.f : expf(m[t] - mn);
      l[t] = l[t] * corr + wsum(p);
      m[t] = mn;
      Ps[warp][t][lane] = p;
#pragma unroll
      for (int c = 0; c < NDV; c++) acc[t][c] *= corr;
    }
    __syncwarp();
    // P·V: four keys at a time; each V value serves every row, each row's four
    // probabilities come in one broadcast load.
#pragma unroll 2
    for (int jj = 0; jj < KC; jj += 4) {
      float vv[4][NDV];
#pragma unroll
      for (int u = 0; u < 4; u++) {
#pragma unroll
        for (int c = 0; c < NDV; c++) {
          int d = lane + 32 * c;
          vv[u][c] = d < DV ? Vs[jj + u][d] : 0.f;
        }
      }
#pragma unroll
      for (int t = 0; t < QPW; t++) {
        float4 pp = *reinterpret_cast<const float4*>(&Ps[warp][t][jj]);
#pragma unroll
        for (int c = 0; c < NDV; c++) acc[t][c] += pp.x * vv[0][c] + pp.y * vv[1][c] + pp.z * vv[2][c] + pp.w * vv[3][c];
      }
    }
    __syncwarp();
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
	if attnShared(1, d, dv) > 48<<10 {
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
	if q.dt != tensor.Float32 {
		return nil, nil
	}
	// Rows per warp: 1, 4 or 8 (more rows reuse each K and V value more, fewer
	// blocks fill the GPU less); each that fits in 48 KiB of shared memory is timed
	// while the plan is built and the fastest kept.
	var cands []candidate
	for _, qpw := range []int{1, 4, 8} {
		if attnShared(qpw, d, dv) > 48<<10 {
			continue
		}
		src := fmt.Sprintf("#define D %d\n#define DV %d\n#define QPW %d\n", d, dv, qpw) + attnSource
		mod, err := p.d.g.module(&p.d.mods, fmt.Sprintf("attention_d%d_dv%d_q%d", d, dv, qpw), src, "attn")
		if err != nil {
			return nil, err
		}
		f := mod.funcs["attn"]
		grid := [3]int{(sq + 8*qpw - 1) / (8 * qpw), hs, bs}
		qp, kp, vp, yp := q.ptr, k.ptr, v.ptr, out.ptr
		cands = append(cands, candidate{fmt.Sprintf("attention fused, %d rows a warp", qpw), func() error {
			return p.launchArgs(f, grid, [3]int{256, 1, 1}, &qp, &kp, &vp, &maskPtr, &yp, &ai)
		}})
	}
	if p.d.opts.TF32 && p.d.g.ccMajor >= 8 && d%8 == 0 && dv%8 == 0 && d <= 64 && dv <= 64 {
		src := fmt.Sprintf("#define D %d\n#define DV %d\n", d, dv) + attnTCSource
		mod, err := p.d.g.module(&p.d.mods, fmt.Sprintf("attention_tc_d%d_dv%d", d, dv), src, "attn_tc")
		if err != nil {
			return nil, err
		}
		f := mod.funcs["attn_tc"]
		grid := [3]int{(sq + 63) / 64, hs, bs}
		qp, kp, vp, yp := q.ptr, k.ptr, v.ptr, out.ptr
		cands = append(cands, candidate{"attention tensor-core TF32", func() error {
			return p.launchArgs(f, grid, [3]int{128, 1, 1}, &qp, &kp, &vp, &maskPtr, &yp, &ai)
		}})
	}
	if p.d.attnOnly != "" {
		var keep []candidate
		for _, c := range cands {
			if strings.HasPrefix(c.name, p.d.attnOnly) {
				keep = append(keep, c)
			}
		}
		if len(keep) == 0 {
			return nil, fmt.Errorf("no attention kernel %q for these shapes", p.d.attnOnly)
		}
		cands = keep
	}
	c, err := p.fastest(cands)
	if err != nil {
		return nil, err
	}
	p.kinds[c.name]++
	return c.run, nil
}

// attnShared is the attention kernel's static shared memory in bytes.
func attnShared(qpw, d, dv int) int {
	return (8*qpw*d + d*33 + 32*dv + 8*qpw*32) * 4
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
