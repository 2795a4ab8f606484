package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/lightiam/lightos/backends/cpu/gemm"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
)

// BenchmarkConvPaths compares, on ResNet-50 shapes, package gemm's implicit-GEMM
// Conv2D against im2col + Sgemm, in the same run (the choice between them is made
// per layer shape in conv.go).
func BenchmarkConvPaths(b *testing.B) {
	shapes := []struct {
		name                    string
		c, h, m, k, stride, pad int
	}{
		{"conv1_7x7s2", 3, 224, 64, 7, 2, 3},
		{"l1_3x3_64", 64, 56, 64, 3, 1, 1},
		{"l2_3x3s2_128", 128, 56, 128, 3, 2, 1},
		{"l2_3x3_128", 128, 28, 128, 3, 1, 1},
		{"l3_3x3_256", 256, 14, 256, 3, 1, 1},
		{"l4_3x3_512", 512, 7, 512, 3, 1, 1},
		{"l4_1x1_512-2048", 512, 7, 2048, 1, 1, 0},
		{"l3_1x1s2_512-1024", 512, 28, 1024, 1, 2, 0},
	}
	r := rand.New(rand.NewPCG(1, 1))
	env := &Env{Threads: 0}
	for _, s := range shapes {
		x := make([]float32, s.c*s.h*s.h)
		w := make([]float32, s.m*s.c*s.k*s.k)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		for i := range w {
			w[i] = float32(r.NormFloat64())
		}
		p := int64(s.pad)
		attrs := graph.Attrs{"pads": graph.Ints(p, p, p, p), "strides": graph.Ints(int64(s.stride), int64(s.stride))}
		geo, err := ops.ConvGeometry(attrs, []int{s.h, s.h}, []int{s.k, s.k})
		if err != nil {
			b.Fatal(err)
		}
		oh := geo.Out[0]
		y := make([]float32, s.m*oh*oh)
		flops := 2 * float64(s.m*oh*oh*s.c*s.k*s.k)
		cs, _ := conv2DWeightShape([]int{s.m, s.c, s.k, s.k}, 1)
		pw, err := gemm.PackConv2DWeights(env.GEMM(), cs, w)
		if err != nil {
			b.Fatal(err)
		}
		cs.N, cs.H, cs.W = 1, s.h, s.h
		cs.PadTop, cs.PadBottom, cs.PadLeft, cs.PadRight = s.pad, s.pad, s.pad, s.pad
		cs.StrideH, cs.StrideW, cs.DilationH, cs.DilationW = s.stride, s.stride, 1, 1
		b.Run(fmt.Sprintf("%s/gemm.Conv2D", s.name), func(b *testing.B) {
			for b.Loop() {
				if err := gemm.Conv2D(env.GEMM(), gemm.Conv2DParams{Conv2DShape: cs, X: x, W: pw, Y: y}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run(fmt.Sprintf("%s/im2col", s.name), func(b *testing.B) {
			xs, ws := []int{1, s.c, s.h, s.h}, []int{s.m, s.c, s.k, s.k}
			for b.Loop() {
				if err := convIm2col(env, geo, xs, ws, x, w, y, f32GEMM(env)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
