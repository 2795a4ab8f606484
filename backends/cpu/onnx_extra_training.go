package cpu

import (
	"math"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// Adagrad, Adam and Momentum after onnx/reference/ops/aionnx_preview_training.

func init() {
	registerExtra(ops.DomainTraining, "Adagrad", xSimple(xRunOptimizer(3)))
	registerExtra(ops.DomainTraining, "Adam", xSimple(xRunOptimizer(4)))
	registerExtra(ops.DomainTraining, "Momentum", xSimple(xRunOptimizer(3)))
}

func xRunOptimizer(groups int) xSimpleRun {
	return func(n *graph.Node, in, out []*tensor.Tensor) error {
		if (len(in)-2)%groups != 0 {
			return xExtraErr(n, "%d inputs do not form R, T and %d groups", len(in), groups)
		}
		cnt := (len(in) - 2) / groups
		r, t := in[0].Float64At(0), float64(in[1].Int64At(0))
		a := n.Attrs
		f := func(name string, def float32) float64 { return float64(a.GetFloat(name, def)) }
		for k := 0; k < cnt; k++ {
			x, g := toFloat64s(in[2+k]), toFloat64s(in[2+cnt+k])
			s1 := toFloat64s(in[2+2*cnt+k])
			var s2 []float64
			if groups == 4 {
				s2 = toFloat64s(in[2+3*cnt+k])
			}
			if len(g) != len(x) || len(s1) != len(x) || (s2 != nil && len(s2) != len(x)) {
				return xExtraErr(n, "tensor group %d has mismatched sizes", k)
			}
			norm := f("norm_coefficient", 0)
			for i := range x {
				gr := norm*x[i] + g[i]
				switch n.Op {
				case "Adagrad":
					rr := r / (1 + t*f("decay_factor", 0))
					s1[i] += gr * gr
					x[i] -= rr * gr / (math.Sqrt(s1[i]) + f("epsilon", 0))
				case "Adam":
					alpha, beta := f("alpha", 0.9), f("beta", 0.999)
					s1[i] = alpha*s1[i] + (1-alpha)*gr
					s2[i] = beta*s2[i] + (1-beta)*gr*gr
					ra := r
					if t > 0 {
						ra = r * math.Sqrt(1-math.Pow(beta, t)) / (1 - math.Pow(alpha, t))
					}
					x[i] = (1 - f("norm_coefficient_post", 0)) * (x[i] - ra*s1[i]/(math.Sqrt(s2[i])+f("epsilon", 0)))
				default: // Momentum
					alpha, beta := f("alpha", 0), f("beta", 0)
					if t <= 0 {
						beta = 1
					}
					s1[i] = alpha*s1[i] + beta*gr
					if a.GetString("mode", "standard") == "nesterov" {
						x[i] -= r * (gr + alpha*s1[i])
					} else {
						x[i] -= r * s1[i]
					}
				}
			}
			put := func(j int, v []float64) {
				if j < len(out) && out[j] != nil {
					fromFloat64s(out[j], v)
				}
			}
			put(k, x)
			put(cnt+k, s1)
			if s2 != nil {
				put(2*cnt+k, s2)
			}
		}
		return nil
	}
}
