package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/lightiam/lightos/backends/cpu/gemm"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// BenchmarkWinogradResNet times ResNet-50's 3x3 stride-1 convolutions (pads 1, bias,
// ReLU, constant weights) through the implicit GEMM ("old") and Winograd ("new")
// alternately in one process, and reports the best time of each and the range of
// the per-round new/old ratio (ops: one round is 3 calls of each).
func BenchmarkWinogradResNet(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range []struct{ c, hw int }{{64, 56}, {128, 28}, {256, 14}, {512, 7}} {
		for _, batch := range []int{1, 8} {
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("c%d_%dx%d_n%d_t%d", s.c, s.hw, s.hw, batch, threads), func(b *testing.B) {
					mk := func(shape ...int) *tensor.Tensor {
						tt := tensor.New(tensor.Float32, shape)
						v := tt.Float32s()
						for i := range v {
							v[i] = float32(r.NormFloat64())
						}
						return tt
					}
					x, w, bias := mk(batch, s.c, s.hw, s.hw), mk(s.c, s.c, 3, 3), mk(s.c)
					y := tensor.New(tensor.Float32, []int{batch, s.c, s.hw, s.hw})
					epi := convEpilogue{Bias: bias, Act: gemm.ActReLU}
					var runs [2]func()
					for i, off := range []bool{true, false} {
						env := &Env{Threads: threads, NoWinograd: off, winogradMinChannels: 64} // 64: measured too
						n := &graph.Node{Name: "conv", Op: "Conv", Attrs: graph.Attrs{"pads": graph.Ints(1, 1, 1, 1)},
							Inputs: []*graph.Value{{Type: graph.Type{DType: tensor.Float32}},
								{Type: graph.Type{DType: tensor.Float32, Shape: graph.ShapeOf(s.c, s.c, 3, 3), HasShape: true}, Const: w}}}
						core, err := prepareConv(n, env)
						if err != nil {
							b.Fatal(err)
						}
						runs[i] = func() {
							if err := core.run(env, x, w, y, epi); err != nil {
								b.Fatal(err)
							}
						}
						runs[i]() // warm up: weights transformed, scratch made
					}
					best := [2]time.Duration{1 << 62, 1 << 62}
					lo, hi := 1e9, 0.0
					for i := 0; i < b.N; i++ {
						var round [2]time.Duration
						for k := 0; k < 3; k++ {
							for j := range runs {
								t0 := time.Now()
								runs[j]()
								d := time.Since(t0)
								if round[j] == 0 || d < round[j] {
									round[j] = d
								}
							}
						}
						for j := range best {
							best[j] = min(best[j], round[j])
						}
						ratio := float64(round[1]) / float64(round[0])
						lo, hi = min(lo, ratio), max(hi, ratio)
					}
					b.ReportMetric(float64(best[0].Microseconds())/1000, "old-ms")
					b.ReportMetric(float64(best[1].Microseconds())/1000, "new-ms")
					b.ReportMetric(float64(best[1])/float64(best[0]), "new/old")
					b.ReportMetric(lo, "ratio-lo")
					b.ReportMetric(hi, "ratio-hi")
				})
			}
		}
	}
}
