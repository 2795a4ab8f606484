package cpu

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/lightiam/lightos/backends/cpu/gemm"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// BenchmarkNhwcMaxPoolResNet is the ResNet-50 max pool after the stem (3x3, stride 2,
// pads 1, 112x112x64) channels-last, beside the NCHW kernel on the same data.
func BenchmarkNhwcMaxPoolResNet(b *testing.B) {
	attrs := graph.Attrs{"kernel_shape": graph.Ints(3, 3), "strides": graph.Ints(2, 2), "pads": graph.Ints(1, 1, 1, 1)}
	g, err := ops.PoolGeometry(attrs, []int{112, 112})
	if err != nil {
		b.Fatal(err)
	}
	x := make([]float32, 112*112*64)
	for i := range x {
		x[i] = float32(i%97) - 40
	}
	y := make([]float32, 56*56*64)
	for _, threads := range []int{1, 2} {
		env := &Env{Threads: threads}
		b.Run(fmt.Sprintf("nhwc/threads=%d", threads), func(b *testing.B) {
			for b.Loop() {
				nhwcPool(env, poolMax, false, g, []int{1, 112, 112, 64}, x, y, nil)
			}
		})
		b.Run(fmt.Sprintf("nchw/threads=%d", threads), func(b *testing.B) {
			g3 := toGeo3(g)
			q := poolParams{kind: poolMax, planes: 64, inSz: 112 * 112}
			for b.Loop() {
				poolRun(env, &g3, q, x, y, nil)
			}
		})
	}
}

// BenchmarkTransposeToNHWC is the ResNet-50 input (1x3x224x224) made channels-last,
// beside the general strided transpose on the same data.
func BenchmarkTransposeToNHWC(b *testing.B) {
	x := tensor.New(tensor.Float32, []int{1, 3, 224, 224})
	y := tensor.New(tensor.Float32, []int{1, 224, 224, 3})
	env := &Env{Threads: 1}
	b.Run("small-channels", func(b *testing.B) {
		for b.Loop() {
			transposeToNHWC(env, x, y, ops.NCHWToNHWC)
		}
	})
	b.Run("general", func(b *testing.B) {
		for b.Loop() {
			_ = moveStrided(env, y, x, []int{1, 224, 224, 3}, 0, []int{3 * 224 * 224, 224, 1, 224 * 224})
		}
	})
}

// BenchmarkNhwcGlobalAveragePool is ResNet-50's global pool (7x7x2048, batch 1 and 8)
// channels-last, beside the NCHW kernel on the same data.
func BenchmarkNhwcGlobalAveragePool(b *testing.B) {
	for _, n := range []int{1, 8} {
		x := make([]float32, n*49*2048)
		for i := range x {
			x[i] = float32(i%89) * 0.01
		}
		y := make([]float32, n*2048)
		env := &Env{Threads: 2}
		b.Run(fmt.Sprintf("nhwc/batch=%d", n), func(b *testing.B) {
			for b.Loop() {
				nhwcGlobalAverage(env, n, 49, 2048, x, y)
			}
		})
		b.Run(fmt.Sprintf("nchw/batch=%d", n), func(b *testing.B) {
			for b.Loop() {
				globalPool(env, poolAvg, 2, x, y, n*2048)
			}
		})
	}
}

// BenchmarkNhwcConvBatch runs gemm.ConvNHWC on ResNet-50 layers at batch 1
// and 8 (2 threads) and reports the time per image, which should not grow with the
// batch.
func BenchmarkNhwcConvBatch(b *testing.B) {
	env := &Env{Threads: 2}
	for _, tc := range []struct {
		name string
		s    gemm.Conv2DShape
	}{
		{"3x3_128@28", gemm.Conv2DShape{C: 128, H: 28, W: 28, M: 128, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}},
		{"1x1_128-512@28", gemm.Conv2DShape{C: 128, H: 28, W: 28, M: 512, KH: 1, KW: 1}},
		{"3x3_256@14", gemm.Conv2DShape{C: 256, H: 14, W: 14, M: 256, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}},
		{"3x3_512@7", gemm.Conv2DShape{C: 512, H: 7, W: 7, M: 512, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}},
	} {
		w := make([]float32, tc.s.M*tc.s.C*tc.s.KH*tc.s.KW)
		for i := range w {
			w[i] = float32(i%13) * 0.01
		}
		pw, err := gemm.PackConvNHWCWeights(env.GEMM(), tc.s, w)
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range []int{1, 8} {
			s := tc.s
			s.N = n
			x := make([]float32, n*s.H*s.W*s.C)
			y := make([]float32, n*s.OutH()*s.OutW()*s.M)
			b.Run(fmt.Sprintf("%s/batch=%d", tc.name, n), func(b *testing.B) {
				for b.Loop() {
					if err := gemm.ConvNHWC(env.GEMM(), gemm.ConvNHWCParams{Conv2DShape: s, X: x, W: pw, Y: y, Act: gemm.ActReLU}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/image")
			})
		}
	}
}

// BenchmarkNhwcConvWinogradRoute runs ResNet-50's stride-1 3x3 layers (Relu, bias;
// 64@56 to 512@7) at batch 1 and 8 through NhwcConv's two routes, the direct kernel
// and the channels-last Winograd F(2x2, 3x3) and F(4x4, 3x3), on 2 threads in one process: the
// measurements behind nhwcWinogradMinChannels (pickRoute chooses per shape at run
// time).
func BenchmarkNhwcConvWinogradRoute(b *testing.B) {
	for _, tc := range []struct{ c, hw, batch int }{
		{64, 56, 1}, {128, 28, 1}, {256, 14, 1}, {512, 7, 1}, {64, 56, 8}, {128, 28, 8}, {256, 14, 8}, {512, 7, 8}} {
		x, w, bias, y, attrs, g := resnet3x3Operands(b, tc.batch, tc.c, tc.hw)
		env := &Env{Threads: 2}
		s := gemm.Conv2DShape{N: tc.batch, C: tc.c, H: tc.hw, W: tc.hw, M: tc.c, KH: 3, KW: 3,
			PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1}
		pw, err := gemm.PackConvNHWCWeights(env.GEMM(), s, w.Float32s())
		if err != nil {
			b.Fatal(err)
		}
		conv := &nhwcConv{name: "conv", attrs: attrs, act: gemm.ActReLU}
		name := fmt.Sprintf("3x3_%d@%d/batch=%d", tc.c, tc.hw, tc.batch)
		b.Run(name+"/direct", func(b *testing.B) {
			for b.Loop() {
				p := gemm.ConvNHWCParams{Conv2DShape: s, X: x.Float32s(), W: pw, Bias: bias.Float32s(), Act: gemm.ActReLU, Y: y.Float32s()}
				if err := gemm.ConvNHWC(env.GEMM(), p); err != nil {
					b.Fatal(err)
				}
			}
		})
		for _, size := range []int{2, 4} {
			b.Run(fmt.Sprintf("%s/winograd%d", name, size), func(b *testing.B) {
				for b.Loop() {
					if err := conv.runWinograd(env, g, size, x, w, bias, nil, y); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkWinogradThreadSplit times the ResNet-50 layers at batch 1 whose
// channels-last Winograd has 32 to 127 tiles, with each thread running whole chunks
// of tiles from 16 tiles per thread ("tiles") and with the threads splitting every
// GEMM and transform below 64, the default ("gemms"), alternating call by call on
// 2 threads of one Env, and reports the medians and their ratio (tiles/gemms): the
// measurement behind winogradThreadTiles.
func BenchmarkWinogradThreadSplit(b *testing.B) {
	for _, tc := range []struct{ c, hw, size int }{{128, 28, 4}, {256, 14, 2}} {
		b.Run(fmt.Sprintf("F%d_%d@%d", tc.size, tc.c, tc.hw), func(b *testing.B) {
			x, w, bias, y, attrs, g := resnet3x3Operands(b, 1, tc.c, tc.hw)
			// One Env (one set of GEMM workers) for both: the setting is
			// switched between calls.
			env := &Env{Threads: 2}
			conv := &nhwcConv{name: "conv", attrs: attrs, act: gemm.ActReLU}
			times := [2][]time.Duration{}
			for i := 0; i < b.N+3; i++ {
				for k, perThread := range []int{16, 64} {
					env.winogradThreadTiles = perThread
					t0 := time.Now()
					if err := conv.runWinograd(env, g, tc.size, x, w, bias, nil, y); err != nil {
						b.Fatal(err)
					}
					if i >= 3 {
						times[k] = append(times[k], time.Since(t0))
					}
				}
			}
			med := func(d []time.Duration) float64 {
				slices.Sort(d)
				return d[len(d)/2].Seconds() * 1e3
			}
			mt, mg := med(times[0]), med(times[1])
			b.ReportMetric(mt, "tiles-ms")
			b.ReportMetric(mg, "gemms-ms")
			b.ReportMetric(mt/mg, "tiles/gemms")
		})
	}
}

// resnet3x3Operands makes a channels-last 3x3 layer's operands (pads 1, ReLU,
// c channels in and out, batch images of hw×hw): input, weights, bias, output,
// the node's attributes and its geometry.
func resnet3x3Operands(b *testing.B, batch, c, hw int) (x, w, bias, y *tensor.Tensor, attrs graph.Attrs, g *ops.Geometry) {
	b.Helper()
	x = tensor.New(tensor.Float32, []int{batch, hw, hw, c})
	for i := range x.Float32s() {
		x.Float32s()[i] = float32(i%13) * 0.1
	}
	w = tensor.New(tensor.Float32, []int{c, c, 3, 3})
	for i := range w.Float32s() {
		w.Float32s()[i] = float32(i%17) * 0.01
	}
	bias = tensor.New(tensor.Float32, []int{c})
	y = tensor.New(tensor.Float32, []int{batch, hw, hw, c})
	attrs = graph.Attrs{"pads": graph.Ints(1, 1, 1, 1), "activation": graph.String(ops.ActRelu)}
	g, err := ops.ConvGeometry(attrs, []int{hw, hw}, []int{3, 3})
	if err != nil {
		b.Fatal(err)
	}
	return x, w, bias, y, attrs, g
}
