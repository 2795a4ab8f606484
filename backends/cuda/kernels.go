package cuda

// coreSource is the CUDA C of the generic kernels, compiled once per device by NVRTC.
// Everything is float32 unless named otherwise; indices are 64-bit.
const coreSource = `
#define MAXR 6
#define INFINITY __int_as_float(0x7f800000)
struct BInfo { long long n, rank; long long shape[MAXR]; long long sa[MAXR]; long long sb[MAXR]; };
struct TInfo { long long n, rank; long long shape[MAXR]; long long stride[MAXR]; };

__device__ __forceinline__ float act(int op, float x, float alpha) {
  switch (op) {
  case 0: return x > 0.f ? x : 0.f;
  case 1: return 0.5f * x * (1.f + erff(x * 0.70710678118654752f));
  case 2: { float u = 0.7978845608028654f * (x + 0.044715f * x * x * x); return 0.5f * x * (1.f + tanhf(u)); }
  case 3: return tanhf(x);
  case 4: return 1.f / (1.f + expf(-x));
  case 5: return expf(x);
  case 6: return sqrtf(x);
  case 7: return -x;
  case 8: return erff(x);
  case 9: return fabsf(x);
  case 10: return logf(x);
  case 11: return x >= 0.f ? x : alpha * x;
  case 12: return 1.f / x;
  default: return x;
  }
}

extern "C" __global__ void unary(int op, const float* __restrict__ x, float* __restrict__ y, long long n, float alpha) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    y[i] = act(op, x[i], alpha);
}

__device__ __forceinline__ float bin(int op, float a, float b) {
  switch (op) {
  case 0: return a + b;
  case 1: return a - b;
  case 2: return a * b;
  case 3: return a / b;
  case 4: return powf(a, b);
  case 5: return fmaxf(a, b);
  case 6: return fminf(a, b);
  default: return a;
  }
}

extern "C" __global__ void binary(int op, const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ y, BInfo in) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < in.n; i += (long long)gridDim.x * blockDim.x) {
    long long r = i, ia = 0, ib = 0;
    for (int d = (int)in.rank - 1; d >= 0; d--) {
      long long c = r % in.shape[d];
      r /= in.shape[d];
      ia += c * in.sa[d];
      ib += c * in.sb[d];
    }
    y[i] = bin(op, a[ia], b[ib]);
  }
}

// Binary op when b repeats every bn elements of a (a bias over the last axes) or is a scalar (bn 1).
extern "C" __global__ void binary_tail(int op, const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ y, long long n, long long bn) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    y[i] = bin(op, a[i], b[bn == n ? i : i % bn]);
}

extern "C" __global__ void transpose(const float* __restrict__ x, float* __restrict__ y, TInfo in) {
  if (in.n < 2147483647) { // 32-bit index arithmetic: 64-bit division is slow
    for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < (unsigned)in.n; i += gridDim.x * blockDim.x) {
      unsigned r = i, src = 0;
      for (int d = (int)in.rank - 1; d >= 0; d--) {
        unsigned c = r % (unsigned)in.shape[d];
        r /= (unsigned)in.shape[d];
        src += c * (unsigned)in.stride[d];
      }
      y[i] = x[src];
    }
    return;
  }
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < in.n; i += (long long)gridDim.x * blockDim.x) {
    long long r = i, src = 0;
    for (int d = (int)in.rank - 1; d >= 0; d--) {
      long long c = r % in.shape[d];
      r /= in.shape[d];
      src += c * in.stride[d];
    }
    y[i] = x[src];
  }
}

__device__ float blockSum(float v, float* sh) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
  int w = threadIdx.x >> 5, l = threadIdx.x & 31;
  __syncthreads();
  if (l == 0) sh[w] = v;
  __syncthreads();
  int nw = (blockDim.x + 31) >> 5;
  v = l < nw ? sh[l] : 0.f;
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
  return v;
}

__device__ float blockMax(float v, float* sh) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, o));
  int w = threadIdx.x >> 5, l = threadIdx.x & 31;
  __syncthreads();
  if (l == 0) sh[w] = v;
  __syncthreads();
  int nw = (blockDim.x + 31) >> 5;
  v = l < nw ? sh[l] : -INFINITY;
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, o));
  return v;
}

// Softmax over rows of length cols; scores are scaled first. With causal, row r is
// query q = r % sq and column j is masked when j > q + sk - sq (sk == cols).
extern "C" __global__ void softmax(const float* __restrict__ x, float* __restrict__ y, long long cols, float scale, int causal, long long sq) {
  __shared__ float sh[32];
  long long row = blockIdx.x;
  const float* xr = x + row * cols;
  float* yr = y + row * cols;
  long long lim = cols;
  if (causal) lim = (row % sq) + cols - sq + 1;
  float m = -INFINITY;
  for (long long j = threadIdx.x; j < cols; j += blockDim.x) if (j < lim) m = fmaxf(m, xr[j] * scale);
  m = blockMax(m, sh);
  float s = 0.f;
  for (long long j = threadIdx.x; j < cols; j += blockDim.x) if (j < lim) s += expf(xr[j] * scale - m);
  s = blockSum(s, sh);
  float inv = 1.f / s;
  for (long long j = threadIdx.x; j < cols; j += blockDim.x) yr[j] = j < lim ? expf(xr[j] * scale - m) * inv : 0.f;
}

__device__ __forceinline__ float warpSum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
  return v;
}

__device__ __forceinline__ float warpMax(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, o));
  return v;
}

// One warp per row for rows of at most 1024 values, held in registers: one read, one
// write, no block barriers. Same results as softmax.
extern "C" __global__ void softmax_warp(const float* __restrict__ x, float* __restrict__ y, long long rows, int cols, float scale, int causal, long long sq) {
  long long row = blockIdx.x * (long long)(blockDim.x >> 5) + (threadIdx.x >> 5);
  if (row >= rows) return;
  int lane = threadIdx.x & 31;
  const float* xr = x + row * cols;
  float* yr = y + row * cols;
  long long lim = cols;
  if (causal) lim = (row % sq) + cols - sq + 1;
  float v[32];
  float m = -INFINITY;
#pragma unroll
  for (int k = 0; k < 32; k++) {
    int j = lane + 32 * k;
    v[k] = (j < cols && j < lim) ? xr[j] * scale : -INFINITY;
    m = fmaxf(m, v[k]);
  }
  m = warpMax(m);
  float s = 0.f;
#pragma unroll
  for (int k = 0; k < 32; k++) {
    int j = lane + 32 * k;
    float e = (j < cols && j < lim) ? expf(v[k] - m) : 0.f;
    v[k] = e;
    s += e;
  }
  float inv = 1.f / warpSum(s);
#pragma unroll
  for (int k = 0; k < 32; k++) {
    int j = lane + 32 * k;
    if (j < cols) yr[j] = v[k] * inv;
  }
}

// One warp per row for rows of at most 1024 values. Same results as layernorm. With
// ADD, the row normalized is x + r (a residual Add fused in, rounded as the separate
// Add would round it); layernorm_warp and layernorm_add_warp are its two versions.
#define LN_WARP(NAME, ADD) \
extern "C" __global__ void NAME(const float* __restrict__ x, const float* __restrict__ r, const float* __restrict__ g, const float* __restrict__ b, float* __restrict__ y, long long rows, int cols, float eps) { \
  long long row = blockIdx.x * (long long)(blockDim.x >> 5) + (threadIdx.x >> 5); \
  if (row >= rows) return; \
  int lane = threadIdx.x & 31; \
  const float* xr = x + row * cols; \
  const float* rr = r + (ADD ? row * cols : 0); \
  float* yr = y + row * cols; \
  float v[32]; \
  float s = 0.f; \
  _Pragma("unroll") \
  for (int k = 0; k < 32; k++) { \
    int j = lane + 32 * k; \
    v[k] = j < cols ? (ADD ? xr[j] + rr[j] : xr[j]) : 0.f; \
    s += v[k]; \
  } \
  layernormRow(v, s, g, b, yr, lane, cols, eps); \
}

__device__ __forceinline__ void layernormRow(float* v, float s, const float* __restrict__ g, const float* __restrict__ b, float* __restrict__ yr, int lane, int cols, float eps) {
  float mean = warpSum(s) / (float)cols;
  float q = 0.f;
#pragma unroll
  for (int k = 0; k < 32; k++) {
    int j = lane + 32 * k;
    float d = j < cols ? v[k] - mean : 0.f;
    q += d * d;
  }
  float inv = rsqrtf(warpSum(q) / (float)cols + eps);
#pragma unroll
  for (int k = 0; k < 32; k++) {
    int j = lane + 32 * k;
    if (j < cols) {
      float o = (v[k] - mean) * inv;
      if (g) o *= g[j];
      if (b) o += b[j];
      yr[j] = o;
    }
  }
}
LN_WARP(layernorm_warp, 0)
LN_WARP(layernorm_add_warp, 1)

extern "C" __global__ void layernorm(const float* __restrict__ x, const float* __restrict__ g, const float* __restrict__ b, float* __restrict__ y, long long cols, float eps) {
  __shared__ float sh[32];
  long long row = blockIdx.x;
  const float* xr = x + row * cols;
  float* yr = y + row * cols;
  float s = 0.f;
  for (long long j = threadIdx.x; j < cols; j += blockDim.x) s += xr[j];
  float mean = blockSum(s, sh) / (float)cols;
  float v = 0.f;
  for (long long j = threadIdx.x; j < cols; j += blockDim.x) { float d = xr[j] - mean; v += d * d; }
  float inv = rsqrtf(blockSum(v, sh) / (float)cols + eps);
  for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
    float o = (xr[j] - mean) * inv;
    if (g) o *= g[j];
    if (b) o += b[j];
    yr[j] = o;
  }
}

// Reduce each row of length cols: 0 sum, 1 mean, 2 max.
extern "C" __global__ void reduce_rows(int op, const float* __restrict__ x, float* __restrict__ y, long long cols) {
  __shared__ float sh[32];
  long long row = blockIdx.x;
  const float* xr = x + row * cols;
  if (op == 2) {
    float m = -INFINITY;
    for (long long j = threadIdx.x; j < cols; j += blockDim.x) m = fmaxf(m, xr[j]);
    m = blockMax(m, sh);
    if (threadIdx.x == 0) y[row] = m;
    return;
  }
  float s = 0.f;
  for (long long j = threadIdx.x; j < cols; j += blockDim.x) s += xr[j];
  s = blockSum(s, sh);
  if (threadIdx.x == 0) y[row] = op == 1 ? s / (float)cols : s;
}

extern "C" __global__ void f32_to_bf16(const float* __restrict__ x, unsigned short* __restrict__ y, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    unsigned int u = __float_as_uint(x[i]);
    if ((u & 0x7fffffff) > 0x7f800000) { y[i] = (unsigned short)((u >> 16) | 0x40); continue; }
    u += 0x7fff + ((u >> 16) & 1);
    y[i] = (unsigned short)(u >> 16);
  }
}

extern "C" __global__ void bf16_to_f32(const unsigned short* __restrict__ x, float* __restrict__ y, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    y[i] = __uint_as_float(((unsigned int)x[i]) << 16);
}

__device__ __forceinline__ float hashUniform(unsigned long long i, unsigned long long seed) {
  unsigned long long z = i * 0x9E3779B97F4A7C15ull + seed;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (float)(z >> 40) * (2.f / 16777216.f) - 1.f;
}

// Fill with uniform values in [-1, 1) from a hash of the index: for benchmarks.
extern "C" __global__ void fill_uniform_f32(float* y, long long n, unsigned long long seed) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    y[i] = hashUniform(i, seed);
}

extern "C" __global__ void fill_uniform_bf16(unsigned short* y, long long n, unsigned long long seed) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    y[i] = (unsigned short)(__float_as_uint(hashUniform(i, seed)) >> 16);
}
`

var coreFuncs = []string{"unary", "binary", "binary_tail", "transpose", "softmax", "layernorm", "reduce_rows",
	"softmax_warp", "layernorm_warp", "layernorm_add_warp",
	"f32_to_bf16", "bf16_to_f32", "fill_uniform_f32", "fill_uniform_bf16"}

const maxRank = 6

// bInfo and tInfo mirror the C structs BInfo and TInfo (passed by value).
type bInfo struct {
	N, Rank int64
	Shape   [maxRank]int64
	SA, SB  [maxRank]int64
}

type tInfo struct {
	N, Rank int64
	Shape   [maxRank]int64
	Stride  [maxRank]int64
}

// Unary operator codes of the unary kernel.
var unaryCodes = map[string]int32{"Relu": 0, "Gelu": 1, "GeluTanh": 2, "Tanh": 3, "Sigmoid": 4, "Exp": 5,
	"Sqrt": 6, "Neg": 7, "Erf": 8, "Abs": 9, "Log": 10, "LeakyRelu": 11, "Reciprocal": 12, "Identity": 13}

// Binary operator codes of the binary kernels.
var binaryCodes = map[string]int32{"Add": 0, "Sub": 1, "Mul": 2, "Div": 3, "Pow": 4, "Max": 5, "Min": 6}
