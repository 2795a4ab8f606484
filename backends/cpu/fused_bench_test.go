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

// BenchmarkAttention times the Attention kernel on BERT-base shapes (12 heads of 64,
// merged [B, S, 768] inputs) at a few sequence lengths, reporting GFLOP/s of the two
// products.
func BenchmarkAttention(b *testing.B) {
	for _, s := range []int{64, 128, 384} {
		for _, threads := range []int{1, 0} {
			b.Run(fmt.Sprintf("S%d/threads%d", s, threads), func(b *testing.B) {
				const h, d = 12, 64
				r := rand.New(rand.NewPCG(1, 2))
				g := graph.New("attn")
				feeds := map[string]*tensor.Tensor{}
				var ins []*graph.Value
				for _, name := range []string{"q", "k", "v"} {
					feeds[name] = randF32(r, 1, s, h*d)
					ins = append(ins, g.AddInput(name, tensor.Float32, graph.ShapeOf(1, s, h*d)))
				}
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
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := sess.Run(ctx, feeds, nil); err != nil {
						b.Fatal(err)
					}
				}
				flops := float64(2 * 2 * h * s * s * d)
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
