package passes_test

import (
	"fmt"
	"testing"

	"github.com/lightiam/lightos/engine/passes"
)

// TestRandomGraphsKeepTheirNumbers optimizes random graphs of MatMul, Add, Relu,
// Gelu, Sigmoid and scalings in which values are read by several nodes and some
// intermediates are outputs, and compares the numbers before and after: whatever
// the sharing, the rewrites must keep them.
func TestRandomGraphsKeepTheirNumbers(t *testing.T) {
	const n = 6
	for seed := uint64(0); seed < 40; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			g := newGB(t, 1000+seed)
			vals := []string{g.in("x", 3, n)}
			pick := func() string { return vals[g.r.IntN(len(vals))] }
			for i := 0; i < 4+g.r.IntN(10); i++ {
				var v string
				switch g.r.IntN(7) {
				case 0, 1:
					v = g.op("MatMul", nil, pick(), g.rnd(fmt.Sprintf("w%d", i), n, n))
				case 2:
					v = g.op("Add", nil, pick(), g.rnd(fmt.Sprintf("b%d", i), n))
				case 3:
					v = g.op("Add", nil, pick(), pick())
				case 4:
					v = g.op("Relu", nil, pick())
				case 5:
					v = g.op("Gelu", nil, pick())
				default:
					v = g.op("Mul", nil, pick(), g.scalar(fmt.Sprintf("c%d", i), 0.5))
				}
				vals = append(vals, v)
			}
			outs := []string{vals[len(vals)-1]}
			for _, v := range vals[1 : len(vals)-1] {
				if g.r.IntN(4) == 0 {
					outs = append(outs, v)
				}
			}
			gr := g.finish(outs...)
			optimizeAndCompare(t, gr, passes.Options{})
			if len(gr.Outputs) != len(outs) {
				t.Fatalf("%d outputs after, %d before", len(gr.Outputs), len(outs))
			}
			for i, o := range gr.Outputs {
				if o.Name != outs[i] {
					t.Errorf("output %d is %q after, %q before", i, o.Name, outs[i])
				}
			}
		})
	}
}
