package cpu_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// BenchmarkAttentionBERT times the Attention kernel at the shapes of the BERT-style
// encoder of scripts/make_onnx_models.py: 8 heads of 64 in merged [B, 128, 512]
// inputs with an additive [B, 1, 1, 128] padding mask, batch 1 and 8.
func BenchmarkAttentionBERT(b *testing.B) {
	const h, d, s = 8, 64, 128
	for _, batch := range []int{1, 8} {
		for _, threads := range []int{1, 0} {
			b.Run(fmt.Sprintf("B%d/threads%d", batch, threads), func(b *testing.B) {
				r := rand.New(rand.NewPCG(1, 2))
				g := graph.New("attn")
				feeds := map[string]*tensor.Tensor{}
				var ins []*graph.Value
				for _, name := range []string{"q", "k", "v"} {
					feeds[name] = randF32(r, batch, s, h*d)
					ins = append(ins, g.AddInput(name, tensor.Float32, graph.ShapeOf(batch, s, h*d)))
				}
				mask := tensor.New(tensor.Float32, []int{batch, 1, 1, s})
				for i := range mask.Float32s() {
					if i%s > s-20 {
						mask.Float32s()[i] = -10000
					}
				}
				feeds["mask"] = mask
				ins = append(ins, g.AddInput("mask", tensor.Float32, graph.ShapeOf(batch, 1, 1, s)))
				n := g.AddNode(ops.Attention, "attn", ins, []string{"y"}, graph.Attrs{"num_heads": graph.Int(h)})
				n.Domain = ops.DomainLightOS
				g.Outputs = n.Outputs
				sess, err := exec.NewSession(g, cpu.New(cpu.Options{Threads: threads}), exec.Options{HeapOutputs: true})
				if err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				if _, err := sess.Run(ctx, feeds, nil); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := sess.Run(ctx, feeds, nil); err != nil {
						b.Fatal(err)
					}
				}
				flops := float64(2 * 2 * batch * h * s * s * d)
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
