package ops

import (
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// UnaryOps are the elementwise operators of one input whose output has the input's type.
var UnaryOps = []string{
	"Relu", "LeakyRelu", "Gelu", "Sigmoid", "Tanh", "Erf", "Exp", "Log", "Sqrt", "Neg",
	"Abs", "Reciprocal", "Floor", "Ceil", "Round", "Sin", "Cos", "Tan", "Asin", "Acos",
	"Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Softplus", "Softsign", "Elu",
	"Selu", "Celu", "HardSigmoid", "HardSwish", "Mish", "ThresholdedRelu", "Sign",
	"Identity", "Silu",
}

// BinaryOps are the broadcasting elementwise operators whose output has the inputs' type.
var BinaryOps = []string{"Add", "Sub", "Mul", "Div", "Pow", "Mod", "PRelu", "BitShift"}

// CompareOps are broadcasting comparisons producing bool.
var CompareOps = []string{"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"}

// LogicOps are broadcasting boolean operators.
var LogicOps = []string{"And", "Or", "Xor"}

func init() {
	for _, name := range UnaryOps {
		register(Schema{Name: name, Doc: "elementwise " + name, Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: Same(0)})
	}
	for _, name := range BinaryOps {
		register(Schema{Name: name, Doc: "broadcasting elementwise " + name, Inputs: Arity{2, 2}, Outputs: Arity{1, 1}, Infer: inferBinary(false)})
	}
	for _, name := range append(append([]string{}, CompareOps...), LogicOps...) {
		register(Schema{Name: name, Doc: "broadcasting " + name + ", producing bool", Inputs: Arity{2, 2}, Outputs: Arity{1, 1}, Infer: inferBinary(true)})
	}
	register(Schema{Name: "Not", Doc: "logical not", Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: Same(0)})
}

func inferBinary(toBool bool) func(c *InferContext) ([]graph.Type, error) {
	return func(c *InferContext) ([]graph.Type, error) {
		a, b := c.In[0], c.In[1]
		if a.DType != b.DType && c.Node.Op != "Pow" && c.Node.Op != "PRelu" {
			return nil, c.Errorf("input dtypes differ: %v and %v", a.DType, b.DType)
		}
		dt := a.DType
		if toBool {
			dt = tensor.Bool
		}
		if !a.HasShape || !b.HasShape {
			return []graph.Type{Unranked(dt)}, nil
		}
		s, err := BroadcastShapes(a.Shape, b.Shape)
		if err != nil {
			return nil, c.Errorf("%v", err)
		}
		return []graph.Type{Typed(dt, s)}, nil
	}
}
