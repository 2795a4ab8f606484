package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// benchSizes is the shared size table of the GEMM benchmarks (square n×n×n).
var benchSizes = []int{64, 256, 512, 1024, 2048}

func benchGemm(b *testing.B, ctx *Context, m, n, k int, bias bool, act Activation) {
	r := rand.New(rand.NewPCG(1, 2))
	p := Params{M: m, N: n, K: k, A: randSlice(r, m*k), B: randSlice(r, k*n), C: make([]float32, m*n), Act: act}
	if bias {
		p.Bias = randSlice(r, n)
	}
	if err := Sgemm(ctx, p); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(4 * (m*k + k*n + m*n)))
	b.ResetTimer()
	for b.Loop() {
		_ = Sgemm(ctx, p)
	}
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkSgemm: every kernel, 1 thread and all threads, by size.
func BenchmarkSgemm(b *testing.B) {
	for _, name := range Kernels() {
		for _, threads := range []int{1, 0} {
			ctx, err := NewContextKernel(threads, name)
			if err != nil {
				b.Fatal(err)
			}
			for _, s := range benchSizes {
				if name == kernelGo.name && s > 512 {
					continue
				}
				b.Run(fmt.Sprintf("%s/threads=%d/n=%d", name, ctx.Threads(), s), func(b *testing.B) {
					benchGemm(b, ctx, s, s, s, false, ActNone)
				})
			}
			ctx.Close()
		}
	}
}

// BenchmarkSgemmFused: MatMul+bias+ReLU at batch 64, 1024x1024, in the
// epilogue against a separate pass.
func BenchmarkSgemmFused(b *testing.B) {
	ctx := NewContext(0)
	defer ctx.Close()
	b.Run("fused", func(b *testing.B) { benchGemm(b, ctx, 64, 1024, 1024, true, ActReLU) })
	b.Run("unfused", func(b *testing.B) {
		r := rand.New(rand.NewPCG(1, 2))
		m, n, k := 64, 1024, 1024
		p := Params{M: m, N: n, K: k, A: randSlice(r, m*k), B: randSlice(r, k*n), C: make([]float32, m*n)}
		bias := randSlice(r, n)
		for b.Loop() {
			_ = Sgemm(ctx, p)
			for i := 0; i < m; i++ {
				AddBiasAct(p.C[i*n:(i+1)*n], bias, ActReLU)
			}
		}
		b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
}

// BenchmarkConv2D: 3x3, 64->64 channels, 56x56, batch 1, + bias + ReLU.
func BenchmarkConv2D(b *testing.B) {
	for _, threads := range []int{1, 0} {
		ctx := NewContext(threads)
		r := rand.New(rand.NewPCG(1, 2))
		for _, s := range []Conv2DShape{
			{N: 1, C: 64, H: 56, W: 56, M: 64, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
			{N: 1, C: 256, H: 56, W: 56, M: 64, KH: 1, KW: 1},
			{N: 1, C: 3, H: 224, W: 224, M: 64, KH: 7, KW: 7, PadTop: 3, PadLeft: 3, PadBottom: 3, PadRight: 3, StrideH: 2, StrideW: 2},
			{N: 1, C: 128, H: 28, W: 28, M: 128, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Group: 128},
		} {
			pw, err := PackConv2DWeights(ctx, s, randSlice(r, s.M*s.C/max(s.Group, 1)*s.KH*s.KW))
			if err != nil {
				b.Fatal(err)
			}
			p := Conv2DParams{Conv2DShape: s, X: randSlice(r, s.C*s.H*s.W), W: pw, Bias: randSlice(r, s.M), Act: ActReLU,
				Y: make([]float32, s.M*s.OutH()*s.OutW())}
			flops := 2 * float64(s.M*s.C/max(s.Group, 1)*s.KH*s.KW*s.OutH()*s.OutW())
			b.Run(fmt.Sprintf("threads=%d/%dx%dx%d-%d_k%d_s%d_g%d", ctx.Threads(), s.C, s.H, s.W, s.M, s.KH, max(s.StrideH, 1), max(s.Group, 1)), func(b *testing.B) {
				for b.Loop() {
					if err := Conv2D(ctx, p); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
		ctx.Close()
	}
}

// BenchmarkRowOps: the vector helpers against their Go twins, rows of 1024.
func BenchmarkRowOps(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	const n = 1024
	x := randSlice(r, n)
	g, be := randSlice(r, n), randSlice(r, n)
	y := make([]float32, n)
	run := func(name string, f func()) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(4 * n)
			for b.Loop() {
				f()
			}
		})
	}
	run("softmax/asm", func() { copy(y, x); SoftmaxRow(y) })
	run("softmax/go", func() {
		copy(y, x)
		m := y[0]
		for _, v := range y {
			m = max(m, v)
		}
		s := float32(0)
		for i, v := range y {
			y[i] = expf32(v - m)
			s += y[i]
		}
		for i := range y {
			y[i] /= s
		}
	})
	run("layernorm/asm", func() { _ = LayerNormRow(y, x, g, be, 1e-5) })
	run("layernorm/go", func() {
		mean := float32(0)
		for _, v := range x {
			mean += v
		}
		mean /= n
		v2 := float32(0)
		for _, v := range x {
			v2 += (v - mean) * (v - mean)
		}
		rstd := 1 / float32(math.Sqrt(float64(v2/n+1e-5)))
		for i, v := range x {
			y[i] = (v-mean)*rstd*g[i] + be[i]
		}
	})
	run("biasrelu/asm", func() { copy(y, x); AddBiasAct(y, g, ActReLU) })
	run("biasrelu/go", func() { copy(y, x); biasActGo(&y[0], &g[0], 0, n, flagColBias|flagReLU) })
}

// BenchmarkGemv: the products of the MLP 784-512-512-10 (bench/python) at
// batch 1 and 64, B packed once (batch 1: the GEMV kernel) against B unpacked
// (batch 1: axpy over its rows), 1 and 2 threads; and each GEMV kernel variant
// alone on the 784x512 panels.
func BenchmarkGemv(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, threads := range []int{1, 2} {
		ctx := NewContext(threads)
		for _, s := range [][3]int{{1, 784, 512}, {1, 512, 512}, {64, 784, 512}, {64, 512, 512}} {
			m, k, n := s[0], s[1], s[2]
			p := Params{M: m, N: n, K: k, A: randSlice(r, m*k), B: randSlice(r, k*n), C: make([]float32, m*n),
				Bias: randSlice(r, n), Act: ActReLU}
			pb, err := PackB(ctx, k, n, p.B, 0, false)
			if err != nil {
				b.Fatal(err)
			}
			q := p
			q.B, q.PackedB = nil, pb
			for _, c := range []struct {
				name string
				p    Params
			}{{"packed", q}, {"axpy", p}} {
				b.Run(fmt.Sprintf("%s/threads=%d/%dx%dx%d", c.name, threads, m, k, n), func(b *testing.B) {
					for b.Loop() {
						_ = Sgemm(ctx, c.p)
					}
					b.ReportMetric(2*float64(m*k*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
		ctx.Close()
	}
	for _, g := range gemvVariants() {
		k, n := 784, 512
		x, bp, c := randSlice(r, k), randSlice(r, k*n), make([]float32, n)
		b.Run(fmt.Sprintf("kernel=%s-%d/%dx%d", g.name, g.nr, k, n), func(b *testing.B) {
			for b.Loop() {
				g.fn(k, &x[0], &bp[0], n/g.nr, &c[0], 0, nil)
			}
			b.ReportMetric(float64(4*k*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}

// BenchmarkMLP64: the three products of the MLP 784-512-512-10 at batch 64
// (weights packed, bias and ReLU fused) in sequence, as a model run does.
func BenchmarkMLP64(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, threads := range []int{1, 2} {
		ctx := NewContext(threads)
		sizes := []int{784, 512, 512, 10}
		var ps []Params
		x := randSlice(r, 64*784)
		for i := 0; i+1 < len(sizes); i++ {
			k, n := sizes[i], sizes[i+1]
			pb, err := PackB(ctx, k, n, randSlice(r, k*n), 0, false)
			if err != nil {
				b.Fatal(err)
			}
			p := Params{M: 64, N: n, K: k, A: x, C: make([]float32, 64*n), Bias: randSlice(r, n), Act: ActReLU, PackedB: pb}
			ps = append(ps, p)
			x = p.C
		}
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			for b.Loop() {
				for _, p := range ps {
					if err := Sgemm(ctx, p); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(2*64*(784*512+512*512+512*10)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		ctx.Close()
	}
}

// BenchmarkBERTProducts: the linear layers of a BERT-style encoder (hidden
// 512, FFN 2048, sequence 128) at batch 1 and 8 (M = 128, 1024 rows) against
// weights packed once, bias fused (GELU on the FFN's first product and, as
// some exporters fuse it, on a 512x512 one), 1 and 2 threads. Compare runs
// of the old and new code alternately: the box is shared.
func BenchmarkBERTProducts(b *testing.B) {
	shapes := []struct {
		name string
		k, n int
		act  Activation
	}{
		{"512x512", 512, 512, ActNone},
		{"512x512gelu", 512, 512, ActGELU},
		{"512x2048gelu", 512, 2048, ActGELU},
		{"2048x512", 2048, 512, ActNone},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, threads := range []int{1, 2} {
		ctx := NewContext(threads)
		for _, m := range []int{128, 1024} {
			for _, s := range shapes {
				// Weights of scale 1/√K, so the outputs (GELU's
				// inputs) are of unit scale, as in a trained layer.
				w := randSlice(r, s.k*s.n)
				for i := range w {
					w[i] /= float32(math.Sqrt(float64(s.k)))
				}
				pb, err := PackB(ctx, s.k, s.n, w, 0, false)
				if err != nil {
					b.Fatal(err)
				}
				p := Params{M: m, N: s.n, K: s.k, A: randSlice(r, m*s.k), C: make([]float32, m*s.n),
					Bias: randSlice(r, s.n), Act: s.act, PackedB: pb}
				b.Run(fmt.Sprintf("threads=%d/m=%d/%s", threads, m, s.name), func(b *testing.B) {
					for b.Loop() {
						if err := Sgemm(ctx, p); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(2*float64(m)*float64(s.n)*float64(s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
		ctx.Close()
	}
}

// BenchmarkKCBlocks times the default kernel with other K-block sizes (the
// kernel's kc: its kc×nr B micro-panel should stay in L1, 32 KB on Zen 4 and
// 48 KB on Sapphire Rapids, where avx512-12x32's default 384 makes it 48 KB),
// kc=0 meaning the kernel's own, on the products of issues 3 and 4: 512x512
// with both operands fed, and BERT batch 1's layers (128 rows against packed
// weights, K = 512 and 2048). Products with a packed B split K into equal
// blocks of at most kc. Run it on the target machine to pick kc, e.g.
// `taskset -c 0,1 gemm.test -test.bench KCBlocks -test.count 3`.
func BenchmarkKCBlocks(b *testing.B) {
	shapes := []struct {
		name    string
		m, n, k int
		packed  bool
	}{
		{"fed512", 512, 512, 512, false},
		{"m128_512x512", 128, 512, 512, true},
		{"m128_512x2048", 128, 2048, 512, true},
		{"m128_2048x512", 128, 512, 2048, true},
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, threads := range []int{1, 2} {
		for _, kc := range []int{0, 128, 192, 256, 384} {
			ctx := NewContext(threads)
			kern := *ctx.kern
			label := fmt.Sprintf("kc=%d", kc)
			if kc == 0 {
				label = fmt.Sprintf("kc=%d(default)", kern.kc)
			} else {
				kern.kc = kc
			}
			ctx.kern = &kern
			for _, s := range shapes {
				p := Params{M: s.m, N: s.n, K: s.k, A: randSlice(r, s.m*s.k), B: randSlice(r, s.k*s.n),
					C: make([]float32, s.m*s.n), Bias: randSlice(r, s.n)}
				if s.packed {
					pb, err := PackB(ctx, s.k, s.n, p.B, 0, false)
					if err != nil {
						b.Fatal(err)
					}
					p.B, p.PackedB = nil, pb
				}
				b.Run(fmt.Sprintf("%s/threads=%d/%s/%s", kern.name, threads, s.name, label), func(b *testing.B) {
					for b.Loop() {
						if err := Sgemm(ctx, p); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(2*float64(s.m*s.n)*float64(s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
			ctx.Close()
		}
	}
}
