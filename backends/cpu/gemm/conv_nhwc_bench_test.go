package gemm

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// resnet50Convs are ResNet-50's convolution shapes at batch 1 (the stem, and
// one of each kind per stage).
var resnet50Convs = []struct {
	name string
	s    Conv2DShape
}{
	{"stem7x7s2", Conv2DShape{N: 1, C: 3, H: 224, W: 224, M: 64, KH: 7, KW: 7, PadTop: 3, PadLeft: 3, PadBottom: 3, PadRight: 3, StrideH: 2, StrideW: 2}},
	{"1x1_64-64@56", Conv2DShape{N: 1, C: 64, H: 56, W: 56, M: 64, KH: 1, KW: 1}},
	{"1x1_64-256@56", Conv2DShape{N: 1, C: 64, H: 56, W: 56, M: 256, KH: 1, KW: 1}},
	{"1x1_256-64@56", Conv2DShape{N: 1, C: 256, H: 56, W: 56, M: 64, KH: 1, KW: 1}},
	{"3x3_64@56", Conv2DShape{N: 1, C: 64, H: 56, W: 56, M: 64, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}},
	{"3x3_128@28", Conv2DShape{N: 1, C: 128, H: 28, W: 28, M: 128, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}},
	{"3x3_128s2@56", Conv2DShape{N: 1, C: 128, H: 56, W: 56, M: 128, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, StrideH: 2, StrideW: 2}},
	{"1x1_256-1024@14", Conv2DShape{N: 1, C: 256, H: 14, W: 14, M: 1024, KH: 1, KW: 1}},
	{"3x3_256@14", Conv2DShape{N: 1, C: 256, H: 14, W: 14, M: 256, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}},
	{"1x1_512-2048@7", Conv2DShape{N: 1, C: 512, H: 7, W: 7, M: 2048, KH: 1, KW: 1}},
	{"3x3_512@7", Conv2DShape{N: 1, C: 512, H: 7, W: 7, M: 512, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}},
}

// BenchmarkConvNHWC runs ResNet-50's layer shapes (batch 1, bias + ReLU) on a
// two-thread Context, alternating ConvNHWC and today's NCHW Conv2D call by
// call, and reports each one's GFLOP/s (from its median call, and from its
// fastest) and the ratio of the medians, nhwc/nchw (above 1: ConvNHWC is
// faster).
func BenchmarkConvNHWC(b *testing.B) {
	ctx := NewContext(2)
	defer ctx.Close()
	for _, tc := range resnet50Convs {
		b.Run(tc.name, func(b *testing.B) {
			s := tc.s
			s.defaults()
			r := rand.New(rand.NewPCG(1, 2))
			w := randSlice(r, s.M*s.C/s.Group*s.KH*s.KW)
			x := randSlice(r, s.N*s.C*s.H*s.W)
			bias := randSlice(r, s.M)
			ny := s.N * s.M * s.OutH() * s.OutW()
			pw, err := PackConv2DWeights(ctx, s, w)
			if err != nil {
				b.Fatal(err)
			}
			pn, err := PackConvNHWCWeights(ctx, s, w)
			if err != nil {
				b.Fatal(err)
			}
			pc := Conv2DParams{Conv2DShape: s, X: x, W: pw, Bias: bias, Act: ActReLU, Y: make([]float32, ny)}
			pnhwc := ConvNHWCParams{Conv2DShape: s, X: x, W: pn, Bias: bias, Act: ActReLU, Y: make([]float32, ny)}
			var tc, tn []time.Duration
			run := func() {
				t0 := time.Now()
				if err := Conv2D(ctx, pc); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := ConvNHWC(ctx, pnhwc); err != nil {
					b.Fatal(err)
				}
				tc, tn = append(tc, t1.Sub(t0)), append(tn, time.Since(t1))
			}
			run() // warm up: scratch buffers, transposed weights
			tc, tn = tc[:0], tn[:0]
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				run()
			}
			flops := 2 * float64(ny) * float64(s.C/s.Group*s.KH*s.KW)
			median := func(d []time.Duration) float64 {
				slices.Sort(d)
				return d[len(d)/2].Seconds()
			}
			mc, mn := median(tc), median(tn)
			b.ReportMetric(flops/mc/1e9, "nchw-GFLOP/s")
			b.ReportMetric(flops/mn/1e9, "nhwc-GFLOP/s")
			b.ReportMetric(mc/mn, "nhwc/nchw")
			b.ReportMetric(mn*1e3, "nhwc-ms")
			// The fastest calls, less disturbed by other processes on a
			// shared machine.
			b.ReportMetric(flops/tc[0].Seconds()/1e9, "nchw-best-GFLOP/s")
			b.ReportMetric(flops/tn[0].Seconds()/1e9, "nhwc-best-GFLOP/s")
		})
	}
}

// BenchmarkConvNHWCDepthwise runs MobileNetV2's depthwise 3x3 shapes against
// Conv2D's NCHW depthwise loop, as BenchmarkConvNHWC does.
func BenchmarkConvNHWCDepthwise(b *testing.B) {
	ctx := NewContext(2)
	defer ctx.Close()
	for _, tc := range []struct {
		c, h, stride int
	}{{96, 112, 2}, {144, 56, 1}, {192, 28, 1}, {384, 14, 1}, {960, 7, 1}} {
		b.Run(fmt.Sprintf("%dch@%ds%d", tc.c, tc.h, tc.stride), func(b *testing.B) {
			s := Conv2DShape{N: 1, C: tc.c, H: tc.h, W: tc.h, M: tc.c, KH: 3, KW: 3, PadTop: 1, PadLeft: 1,
				PadBottom: 1, PadRight: 1, StrideH: tc.stride, StrideW: tc.stride, Group: tc.c}
			s.defaults()
			r := rand.New(rand.NewPCG(1, 3))
			w := randSlice(r, s.M*9)
			x := randSlice(r, s.C*s.H*s.W)
			bias := randSlice(r, s.M)
			ny := s.M * s.OutH() * s.OutW()
			pw, _ := PackConv2DWeights(ctx, s, w)
			pn, _ := PackConvNHWCWeights(ctx, s, w)
			pc := Conv2DParams{Conv2DShape: s, X: x, W: pw, Bias: bias, Act: ActReLU, Y: make([]float32, ny)}
			pnhwc := ConvNHWCParams{Conv2DShape: s, X: x, W: pn, Bias: bias, Act: ActReLU, Y: make([]float32, ny)}
			var tc, tn []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				_ = Conv2D(ctx, pc)
				t1 := time.Now()
				_ = ConvNHWC(ctx, pnhwc)
				tc, tn = append(tc, t1.Sub(t0)), append(tn, time.Since(t1))
			}
			slices.Sort(tc)
			slices.Sort(tn)
			mc, mn := tc[len(tc)/2].Seconds(), tn[len(tn)/2].Seconds()
			b.ReportMetric(mc*1e6, "nchw-us")
			b.ReportMetric(mn*1e6, "nhwc-us")
			b.ReportMetric(mc/mn, "nhwc/nchw")
		})
	}
}

// nhwcBenchConv is a benchmarked convolution: a name, its shape, and
// whether it adds a residual.
type nhwcBenchConv struct {
	name     string
	s        Conv2DShape
	residual bool
}

// resnet50Batch8Convs are the ResNet-50 layers that read and write more
// than the L2 caches hold at batch 8 (56x56 and 28x28 planes).
var resnet50Batch8Convs = []nhwcBenchConv{
	{"1x1_64-256@56+res", Conv2DShape{N: 8, C: 64, H: 56, W: 56, M: 256, KH: 1, KW: 1}, true},
	{"1x1_64-256@56", Conv2DShape{N: 8, C: 64, H: 56, W: 56, M: 256, KH: 1, KW: 1}, false},
	{"1x1_256-64@56", Conv2DShape{N: 8, C: 256, H: 56, W: 56, M: 64, KH: 1, KW: 1}, false},
	{"1x1_256-128@56", Conv2DShape{N: 8, C: 256, H: 56, W: 56, M: 128, KH: 1, KW: 1}, false},
	{"3x3_128s2@56", Conv2DShape{N: 8, C: 128, H: 56, W: 56, M: 128, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, StrideH: 2, StrideW: 2}, false},
	{"3x3_64@56", Conv2DShape{N: 8, C: 64, H: 56, W: 56, M: 64, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}, false},
	{"1x1_128-512@28+res", Conv2DShape{N: 8, C: 128, H: 28, W: 28, M: 512, KH: 1, KW: 1}, true},
	{"1x1_512-128@28", Conv2DShape{N: 8, C: 512, H: 28, W: 28, M: 128, KH: 1, KW: 1}, false},
	{"stem7x7s2", Conv2DShape{N: 8, C: 3, H: 224, W: 224, M: 64, KH: 7, KW: 7, PadTop: 3, PadLeft: 3, PadBottom: 3, PadRight: 3, StrideH: 2, StrideW: 2}, false},
}

// nhwcVariant is a setting of ConvNHWC's measurement hooks (nhwcScratch)
// that a benchmark alternates with the default.
type nhwcVariant struct {
	name string
	set  func(sc *nhwcScratch, on bool)
}

// BenchmarkConvNHWCBatch8 runs ResNet-50's big-plane layers at batch 8,
// each followed by a 1x1 convolution to 64 channels that reads its output
// (as the next layer would), alternating call by call the default ConvNHWC
// and one with non-temporal stores turned off (nhwcScratch.noStream). It
// reports each one's median layer and next-layer times and the ratio of the
// pairs' medians, nostream/default (above 1: the default is faster): on one
// thread (t1) the thread's CPU time, less disturbed by other processes on a
// shared machine, and on a two-thread Context (t2) the wall time.
func BenchmarkConvNHWCBatch8(b *testing.B) {
	benchConvNHWCVariant(b, resnet50Batch8Convs, nhwcVariant{"nostream", func(sc *nhwcScratch, on bool) { sc.noStream = on }})
}

// BenchmarkConvNHWCPrefetchX is BenchmarkConvNHWCBatch8's measurement for
// the input prefetch (flagPrefetchX) on ResNet-50's layers at batch 1 and 8:
// nopfx/default above 1 means the prefetch made the pair faster.
func BenchmarkConvNHWCPrefetchX(b *testing.B) {
	var convs []nhwcBenchConv
	for _, n := range []int{1, 8} {
		for _, c := range append(resnet50Batch8Convs[:len(resnet50Batch8Convs):len(resnet50Batch8Convs)], resnet50SmallPlaneConvs...) {
			c.s.N = n
			c.name = fmt.Sprintf("%s/batch=%d", c.name, n)
			convs = append(convs, c)
		}
	}
	benchConvNHWCVariant(b, convs, nhwcVariant{"nopfx", func(sc *nhwcScratch, on bool) { sc.noPrefetchX = on }})
}

// resnet50SmallPlaneConvs are ResNet-50's 14x14 and 7x7 layers (N is set by
// the benchmark).
var resnet50SmallPlaneConvs = []nhwcBenchConv{
	{"1x1_256-1024@14+res", Conv2DShape{C: 256, H: 14, W: 14, M: 1024, KH: 1, KW: 1}, true},
	{"1x1_1024-256@14", Conv2DShape{C: 1024, H: 14, W: 14, M: 256, KH: 1, KW: 1}, false},
	{"3x3_256@14", Conv2DShape{C: 256, H: 14, W: 14, M: 256, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}, false},
	{"1x1_512-2048@7+res", Conv2DShape{C: 512, H: 7, W: 7, M: 2048, KH: 1, KW: 1}, true},
	{"1x1_2048-512@7", Conv2DShape{C: 2048, H: 7, W: 7, M: 512, KH: 1, KW: 1}, false},
	{"3x3_512@7", Conv2DShape{C: 512, H: 7, W: 7, M: 512, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}, false},
}

// benchConvNHWCVariant times each of convs and the 1x1 layer to 64 channels
// after it, alternating call by call v and the default, and reports the
// medians and v/default (see BenchmarkConvNHWCBatch8).
func benchConvNHWCVariant(b *testing.B, convs []nhwcBenchConv, v nhwcVariant) {
	variants := []string{v.name, "default"}
	for _, tc := range convs {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/t%d", tc.name, threads), func(b *testing.B) {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				ctx := NewContext(threads)
				defer ctx.Close()
				clock := func() time.Duration {
					if threads > 1 {
						return time.Duration(time.Now().UnixNano())
					}
					var ts unix.Timespec
					_ = unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
					return time.Duration(ts.Nano())
				}
				s := tc.s
				s.defaults()
				r := rand.New(rand.NewPCG(1, 2))
				w := randSlice(r, s.M*s.C/s.Group*s.KH*s.KW)
				x := randSlice(r, s.N*s.C*s.H*s.W)
				bias := randSlice(r, s.M)
				ny := s.N * s.M * s.OutH() * s.OutW()
				pn, err := PackConvNHWCWeights(ctx, s, w)
				if err != nil {
					b.Fatal(err)
				}
				p := ConvNHWCParams{Conv2DShape: s, X: x, W: pn, Bias: bias, Act: ActReLU, Y: alignedFloats(ny)}
				if tc.residual {
					p.Residual = randSlice(r, ny)
				}
				ns := Conv2DShape{N: s.N, C: s.M, H: s.OutH(), W: s.OutW(), M: 64, KH: 1, KW: 1}
				ns.defaults()
				pnext, err := PackConvNHWCWeights(ctx, ns, randSlice(r, ns.M*ns.C))
				if err != nil {
					b.Fatal(err)
				}
				next := ConvNHWCParams{Conv2DShape: ns, X: p.Y, W: pnext, Act: ActReLU, Y: alignedFloats(ns.N * ns.H * ns.W * ns.M)}
				ts := make([][]time.Duration, len(variants))    // the layer
				tnext := make([][]time.Duration, len(variants)) // the next one
				tpair := make([][]time.Duration, len(variants))
				run := func() {
					for i := range variants {
						v.set(&ctx.nhwc, i == 0)
						t0 := clock()
						if err := ConvNHWC(ctx, p); err != nil {
							b.Fatal(err)
						}
						t1 := clock()
						if err := ConvNHWC(ctx, next); err != nil {
							b.Fatal(err)
						}
						t2 := clock()
						ts[i], tnext[i], tpair[i] = append(ts[i], t1-t0), append(tnext[i], t2-t1), append(tpair[i], t2-t0)
					}
				}
				run() // warm up: scratch buffers
				for i := range ts {
					ts[i], tnext[i], tpair[i] = ts[i][:0], tnext[i][:0], tpair[i][:0]
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					run()
				}
				median := func(d []time.Duration) float64 {
					slices.Sort(d)
					return d[len(d)/2].Seconds()
				}
				for i, name := range variants {
					b.ReportMetric(median(ts[i])*1e3, name+"-ms")
					b.ReportMetric(median(tnext[i])*1e3, name+"-next-ms")
				}
				b.ReportMetric(median(tpair[0])/median(tpair[1]), v.name+"/default")
			})
		}
	}
}
