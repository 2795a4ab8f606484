package ops

import "github.com/lightiam/lightos/engine/graph"

// DomainTraining is the domain of ONNX's optimizer operators.
const DomainTraining = "ai.onnx.preview.training"

// The optimizer update rules (Adagrad, Adam, Momentum): deterministic elementwise
// functions of R, T and per-tensor groups X, G (and V, H), as the ONNX reference
// defines them.
func init() {
	for op, groups := range map[string]int{"Adagrad": 3, "Adam": 4, "Momentum": 3} {
		g := groups
		xRegisterExtra(Schema{Name: op, Domain: DomainTraining, Doc: op + " update of n tensors: inputs R, T and " + map[int]string{3: "X, G, state", 4: "X, G, V, H"}[g] + " groups; outputs the new X and states",
			Inputs: Arity{2 + g, Variadic}, Outputs: Arity{1, Variadic}, Infer: xInferOptimizer(g)})
	}
}

// xInferOptimizer: inputs R, T, then groups of n tensors (X first); outputs are the
// new X then the new states, each typed like its X.
func xInferOptimizer(groups int) func(c *InferContext) ([]graph.Type, error) {
	return func(c *InferContext) ([]graph.Type, error) {
		if (len(c.In)-2)%groups != 0 {
			return nil, c.Errorf("%d inputs do not form R, T and %d groups", len(c.In), groups)
		}
		n := (len(c.In) - 2) / groups
		out := make([]graph.Type, len(c.Node.Outputs))
		for i := range out {
			src := 2 + i%n
			if i >= n {
				src = 2 + (i/n+1)*n + i%n // the state input of the same tensor
			}
			if src >= len(c.In) {
				return nil, c.Errorf("output %d has no matching input", i)
			}
			out[i] = c.In[src]
		}
		return out, nil
	}
}
