package cuda

// attnTCSource is a fused attention kernel on the tensor cores (TF32 mma.sync
// m16n8k8, float32 accumulation), for head sizes D and DV that are multiples of 8
// and at most 64, used only when the device allows TF32. A block of 4 warps takes 64
// query rows of one (batch, head); each warp owns 16 rows, keeps their Q fragments in
// registers (scaled, rounded to TF32) and their running max, sum and output
// accumulators in registers (online softmax). K and V pass through shared memory in
// chunks of 64 keys, copied with cp.async (rows padded by 4 floats: the fragment
// loads are free of bank conflicts). The scores' accumulator fragments feed the P·V product directly as its
// A fragments: within each 8-key step, logical k = t and t+4 are keys 2t and 2t+1,
// and V's rows are read in the same order, so no shuffles are needed.
const attnTCSource = `
#define INFINITY __int_as_float(0x7f800000)
#define KC 64
struct AInfo { long long sq, sk; long long qs[3], ks[4], vs[3], ys[3], ms[4]; float scale; int causal; };

__device__ __forceinline__ unsigned tf32(float x) {
  unsigned u;
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(u) : "f"(x));
  return u;
}

__device__ __forceinline__ void mma(float* c, unsigned a0, unsigned a1, unsigned a2, unsigned a3, unsigned b0, unsigned b1) {
  asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
               : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

__device__ __forceinline__ void cp4(float* dst, const float* src, bool ok) {
#if __CUDA_ARCH__ >= 800
  unsigned d = (unsigned)__cvta_generic_to_shared(dst);
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" :: "r"(d), "l"(src), "r"(ok ? 4 : 0) : "memory");
#else
  *dst = ok ? *src : 0.f;
#endif
}

__device__ __forceinline__ float quadMax(float v) {
  v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, 1));
  return fmaxf(v, __shfl_xor_sync(0xffffffff, v, 2));
}
__device__ __forceinline__ float quadSum(float v) {
  v += __shfl_xor_sync(0xffffffff, v, 1);
  return v + __shfl_xor_sync(0xffffffff, v, 2);
}

extern "C" __global__ void __launch_bounds__(128) attn_tc(const float* __restrict__ q, const float* __restrict__ k,
    const float* __restrict__ v, const float* __restrict__ mask, float* __restrict__ y, AInfo a) {
  __shared__ float Ks[KC][D + 4];
  __shared__ float Vs[KC][DV + 4];
  const long long b = blockIdx.z, h = blockIdx.y;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
  const long long r0 = (long long)blockIdx.x * 64 + warp * 16 + g, r1 = r0 + 8; // this thread's two rows
  const float* qb = q + b * a.qs[0] + h * a.qs[1];
  const float* kb = k + b * a.ks[0] + h * a.ks[1];
  const float* vb = v + b * a.vs[0] + h * a.vs[1];
  unsigned qa[D / 8][4];
#pragma unroll
  for (int s = 0; s < D / 8; s++) {
    int c0 = s * 8 + t, c1 = c0 + 4;
    qa[s][0] = tf32(r0 < a.sq ? qb[r0 * a.qs[2] + c0] * a.scale : 0.f);
    qa[s][1] = tf32(r1 < a.sq ? qb[r1 * a.qs[2] + c0] * a.scale : 0.f);
    qa[s][2] = tf32(r0 < a.sq ? qb[r0 * a.qs[2] + c1] * a.scale : 0.f);
    qa[s][3] = tf32(r1 < a.sq ? qb[r1 * a.qs[2] + c1] * a.scale : 0.f);
  }
  float o[DV / 8][4];
#pragma unroll
  for (int n = 0; n < DV / 8; n++) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.f;
  float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.f, l1 = 0.f;
  for (long long j0 = 0; j0 < a.sk; j0 += KC) {
    __syncthreads();
    for (int idx = tid; idx < KC * D; idx += blockDim.x) {
      int r = idx / D, d = idx % D;
      long long j = j0 + r;
      cp4(&Ks[r][d], j < a.sk ? kb + j * a.ks[2] + d * a.ks[3] : kb, j < a.sk);
    }
    for (int idx = tid; idx < KC * DV; idx += blockDim.x) {
      int r = idx / DV, d = idx % DV;
      long long j = j0 + r;
      cp4(&Vs[r][d], j < a.sk ? vb + j * a.vs[2] + d : vb, j < a.sk);
    }
    asm volatile("cp.async.wait_all;" ::: "memory");
    __syncthreads();
    float s[KC / 8][4];
#pragma unroll
    for (int n = 0; n < KC / 8; n++) {
      s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
#pragma unroll
      for (int ks = 0; ks < D / 8; ks++)
        mma(s[n], qa[ks][0], qa[ks][1], qa[ks][2], qa[ks][3],
            tf32(Ks[n * 8 + g][ks * 8 + t]), tf32(Ks[n * 8 + g][ks * 8 + t + 4]));
    }
    // mask, causal and bounds; the rows' chunk maxima
    float x0 = -INFINITY, x1 = -INFINITY;
#pragma unroll
    for (int n = 0; n < KC / 8; n++) {
#pragma unroll
      for (int e = 0; e < 4; e++) {
        long long i = e < 2 ? r0 : r1, j = j0 + n * 8 + 2 * t + (e & 1);
        bool ok = j < a.sk && i < a.sq && (!a.causal || j <= i + a.sk - a.sq);
        float val = s[n][e];
        if (ok && mask) val += mask[b * a.ms[0] + h * a.ms[1] + i * a.ms[2] + j * a.ms[3]];
        val = ok ? val : -INFINITY;
        s[n][e] = val;
        if (e < 2) x0 = fmaxf(x0, val); else x1 = fmaxf(x1, val);
      }
    }
    float n0 = fmaxf(m0, quadMax(x0)), n1 = fmaxf(m1, quadMax(x1));
    float c0 = m0 == -INFINITY ? 0.f : expf(m0 - n0), c1 = m1 == -INFINITY ? 0.f : expf(m1 - n1);
    float p0 = 0.f, p1 = 0.f;
#pragma unroll
    for (int n = 0; n < KC / 8; n++) {
#pragma unroll
      for (int e = 0; e < 4; e++) {
        float mm = e < 2 ? n0 : n1;
        float p = mm == -INFINITY ? 0.f : expf(s[n][e] - mm);
        s[n][e] = p;
        if (e < 2) p0 += p; else p1 += p;
      }
    }
    l0 = l0 * c0 + quadSum(p0);
    l1 = l1 * c1 + quadSum(p1);
    m0 = n0;
    m1 = n1;
#pragma unroll
    for (int n = 0; n < DV / 8; n++) {
      o[n][0] *= c0; o[n][1] *= c0; o[n][2] *= c1; o[n][3] *= c1;
    }
    // O += P·V: the 8-key step kk takes keys kk*8+2t (k = t) and kk*8+2t+1 (k = t+4).
#pragma unroll
    for (int kk = 0; kk < KC / 8; kk++) {
      unsigned a0 = tf32(s[kk][0]), a1 = tf32(s[kk][2]), a2 = tf32(s[kk][1]), a3 = tf32(s[kk][3]);
#pragma unroll
      for (int n = 0; n < DV / 8; n++)
        mma(o[n], a0, a1, a2, a3, tf32(Vs[kk * 8 + 2 * t][n * 8 + g]), tf32(Vs[kk * 8 + 2 * t + 1][n * 8 + g]));
    }
  }
  float i0 = 1.f / l0, i1 = 1.f / l1;
#pragma unroll
  for (int n = 0; n < DV / 8; n++) {
    int c = n * 8 + 2 * t;
    if (r0 < a.sq) {
      float* yr = y + b * a.ys[0] + h * a.ys[1] + r0 * a.ys[2];
      yr[c] = o[n][0] * i0;
      yr[c + 1] = o[n][1] * i0;
    }
    if (r1 < a.sq) {
      float* yr = y + b * a.ys[0] + h * a.ys[1] + r1 * a.ys[2];
      yr[c] = o[n][2] * i1;
      yr[c + 1] = o[n][3] * i1;
    }
  }
}
`
