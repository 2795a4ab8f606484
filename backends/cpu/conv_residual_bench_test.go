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

// BenchmarkConvResidual times the end of a ResNet-50 bottleneck block, a 1x1
// convolution (with bias) whose output is added to the block's input and then
// rectified, as three nodes (Conv, Add, Relu) and as one FusedConv with the residual
// input, at the shapes of stages 2 and 4 (batch 1 and 8).
func BenchmarkConvResidual(b *testing.B) {
	shapes := []struct{ n, cin, cout, hw int }{{1, 64, 256, 56}, {1, 512, 2048, 7}, {8, 64, 256, 56}}
	for _, s := range shapes {
		for _, fused := range []bool{false, true} {
			name := fmt.Sprintf("N%d_C%d_M%d_HW%d/fused=%v", s.n, s.cin, s.cout, s.hw, fused)
			b.Run(name, func(b *testing.B) {
				r := rand.New(rand.NewPCG(4, 4))
				g := graph.New("res")
				x := g.AddInput("x", tensor.Float32, graph.ShapeOf(s.n, s.cin, s.hw, s.hw))
				res := g.AddInput("r", tensor.Float32, graph.ShapeOf(s.n, s.cout, s.hw, s.hw))
				w := g.AddInitializer("w", randF32(r, s.cout, s.cin, 1, 1))
				bias := g.AddInitializer("b", randF32(r, s.cout))
				if fused {
					n := g.AddNode(ops.FusedConv, "conv", []*graph.Value{x, w, bias, res}, []string{"y"},
						graph.Attrs{"activation": graph.String(ops.ActRelu)})
					n.Domain = ops.DomainLightOS
					g.Outputs = n.Outputs
				} else {
					c := g.AddNode("Conv", "conv", []*graph.Value{x, w, bias}, []string{"c"}, nil)
					a := g.AddNode("Add", "add", []*graph.Value{c.Outputs[0], res}, []string{"a"}, nil)
					g.Outputs = g.AddNode("Relu", "relu", a.Outputs, []string{"y"}, nil).Outputs
				}
				sess, err := exec.NewSession(g, cpu.New(cpu.Options{}), exec.Options{})
				if err != nil {
					b.Fatal(err)
				}
				feeds := map[string]*tensor.Tensor{"x": randF32(r, s.n, s.cin, s.hw, s.hw), "r": randF32(r, s.n, s.cout, s.hw, s.hw)}
				ctx := context.Background()
				for i := 0; i < 2; i++ {
					if _, err := sess.Run(ctx, feeds, nil); err != nil {
						b.Fatal(err)
					}
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := sess.Run(ctx, feeds, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
