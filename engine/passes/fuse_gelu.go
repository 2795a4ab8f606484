package passes

import (
	"math"

	"github.com/lightiam/lightos/engine/graph"
)

// GeluChains turns the exported erf form of GELU,
//
//	y = x · 0.5 · (1 + Erf(x / √2))     (Div by √2 or Mul by 1/√2; Add or Sum for the
//	                                     1 +; the 0.5 applied to x or to the product)
//
// into Gelu(x), which MatMul fusion can then take into its epilogue. The constants
// must be scalars within 1e-5 of their exact values.
var GeluChains = RulePass("gelu", Rule{Roots: []string{"Erf"}, Apply: fuseGelu})

func near(v *graph.Value, want float64) bool {
	got, ok := constScalar(v)
	return ok && math.Abs(got-want) <= 1e-5*math.Abs(want)
}

func fuseGelu(c *Context, erf *graph.Node) (bool, error) {
	scaled := producedBy(erf.Input(0), "Div", "Mul")
	if scaled == nil {
		return false, nil
	}
	var x *graph.Value
	switch {
	case is(scaled, "Div") && near(scaled.Input(1), math.Sqrt2):
		x = scaled.Input(0)
	case is(scaled, "Mul"):
		for i := 0; i < 2; i++ {
			if near(scaled.Input(i), 1/math.Sqrt2) {
				x = scaled.Input(1 - i)
			}
		}
	}
	if x == nil || !x.DType.IsFloat() {
		return false, nil
	}
	plus := c.SoleConsumer(out0(erf))
	if !is(plus, "Add", "Sum") || len(plus.Inputs) != 2 || !near(other(plus, out0(erf)), 1) {
		return false, nil
	}
	phi := out0(plus)
	m := c.SoleConsumer(phi)
	if !is(m, "Mul") {
		return false, nil
	}
	matched := []*graph.Node{scaled, erf, plus, m}
	o := other(m, phi)
	var y *graph.Value
	switch h := producedBy(o, "Mul"); {
	case o == x:
		half := c.SoleConsumer(out0(m))
		if !is(half, "Mul") || !near(other(half, out0(m)), 0.5) {
			return false, nil
		}
		matched, y = append(matched, half), out0(half)
	case h != nil && (h.Input(0) == x && near(h.Input(1), 0.5) || h.Input(1) == x && near(h.Input(0), 0.5)):
		matched, y = append(matched, h), out0(m)
	default:
		return false, nil
	}
	// y has x's shape when inference says so, or when every constant of the pattern
	// is a rank-0 scalar (broadcasting it changes no shape; exporters that compute
	// shapes at run time leave x's dimensions unknown).
	scalars := true
	for _, n := range matched {
		for _, v := range n.Inputs {
			if v != nil && v.Const != nil && v.Const.Rank() != 0 {
				scalars = false
			}
		}
	}
	if !(sameShape(x, y) || scalars) || y.DType != x.DType {
		return false, nil
	}
	if !c.CanFuse(y.Producer, matched...) {
		return false, nil
	}
	g := c.NewNode("Gelu", "", erf.Name+"_gelu", []*graph.Value{x}, []*graph.Value{y}, nil)
	c.Replace(matched, g)
	return true, nil
}
