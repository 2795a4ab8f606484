package ops

import (
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// FloatUnaryOps are the elementwise operators of one floating-point input whose output
// has the input's type (ONNX constrains them to float16, bfloat16, float and double).
var FloatUnaryOps = []string{
	"LeakyRelu", "Gelu", "Sigmoid", "Tanh", "Erf", "Exp", "Log", "Sqrt",
	"Reciprocal", "Floor", "Ceil", "Round", "Sin", "Cos", "Tan", "Asin", "Acos",
	"Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Softplus", "Softsign", "Elu",
	"Selu", "Celu", "HardSigmoid", "HardSwish", "Mish", "ThresholdedRelu", "Silu", "Shrink",
}

// NumericUnaryOps are the elementwise operators of one numeric input (integers
// included) whose output has the input's type.
var NumericUnaryOps = []string{"Relu", "Abs", "Neg", "Sign"}

// UnaryOps are all elementwise operators of one input whose output has the input's
// type: FloatUnaryOps, NumericUnaryOps and Identity.
var UnaryOps = append(append(append([]string{}, FloatUnaryOps...), NumericUnaryOps...), "Identity")

// BinaryOps are the broadcasting elementwise operators whose output has the first
// input's type. Pow's exponent may have another numeric type.
var BinaryOps = []string{"Add", "Sub", "Mul", "Div", "Pow", "Mod", "PRelu", "BitShift",
	"BitwiseAnd", "BitwiseOr", "BitwiseXor"}

// CompareOps are broadcasting comparisons producing bool.
var CompareOps = []string{"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"}

// LogicOps are broadcasting boolean operators.
var LogicOps = []string{"And", "Or", "Xor"}

// VariadicOps are the broadcasting operators of one or more inputs of one type.
var VariadicOps = []string{"Sum", "Mean", "Max", "Min"}

func init() {
	for _, name := range FloatUnaryOps {
		register(Schema{Name: name, Doc: "elementwise " + name + " of a floating-point tensor",
			Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: inferUnary(kindFloat)})
	}
	for _, name := range NumericUnaryOps {
		register(Schema{Name: name, Doc: "elementwise " + name + " of a numeric tensor",
			Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: inferUnary(kindNumeric)})
	}
	register(Schema{Name: "Identity", Doc: "copies its input", Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: Same(0)})
	register(Schema{Name: "Not", Doc: "logical not of a bool tensor", Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: inferUnary(kindBool)})
	register(Schema{Name: "BitwiseNot", Doc: "bitwise not of an integer tensor", Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: inferUnary(kindInteger)})
	register(Schema{Name: "IsNaN", Doc: "true where the input is NaN", Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: inferIsX})
	register(Schema{Name: "IsInf", Doc: "true where the input is infinite (detect_negative, detect_positive)", Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: inferIsX})
	for _, name := range BinaryOps {
		register(Schema{Name: name, Doc: "broadcasting elementwise " + name, Inputs: Arity{2, 2}, Outputs: Arity{1, 1}, Infer: inferBinary(false)})
	}
	for _, name := range append(append([]string{}, CompareOps...), LogicOps...) {
		register(Schema{Name: name, Doc: "broadcasting " + name + ", producing bool", Inputs: Arity{2, 2}, Outputs: Arity{1, 1}, Infer: inferBinary(true)})
	}
	for _, name := range VariadicOps {
		register(Schema{Name: name, Doc: "broadcasting elementwise " + name + " of one or more inputs", Inputs: Arity{1, Variadic}, Outputs: Arity{1, 1}, Infer: inferVariadic})
	}
	register(Schema{Name: "Where", Doc: "elementwise select: condition ? X : Y, all three broadcast", Inputs: Arity{3, 3}, Outputs: Arity{1, 1}, Infer: inferWhere})
	register(Schema{Name: "Clip", Doc: "clamps to [min, max]: inputs from opset 11, attributes before", Inputs: Arity{1, 3}, Outputs: Arity{1, 1}, Infer: inferClip})
}

type dtypeKind int

const (
	kindAny dtypeKind = iota
	kindFloat
	kindNumeric
	kindInteger
	kindBool
)

func checkKind(c *InferContext, i int, k dtypeKind) error {
	dt := c.In[i].DType
	ok := true
	switch k {
	case kindFloat:
		ok = dt.IsFloat()
	case kindNumeric:
		ok = dt.IsFloat() || dt.IsInteger()
	case kindInteger:
		ok = dt.IsInteger()
	case kindBool:
		ok = dt == tensor.Bool
	}
	if !ok {
		names := map[dtypeKind]string{kindFloat: "a floating-point", kindNumeric: "a numeric", kindInteger: "an integer", kindBool: "a bool"}
		return c.Errorf("input %d is %v; expected %s tensor", i, dt, names[k])
	}
	return nil
}

func inferUnary(k dtypeKind) func(c *InferContext) ([]graph.Type, error) {
	return func(c *InferContext) ([]graph.Type, error) {
		if err := checkKind(c, 0, k); err != nil {
			return nil, err
		}
		return []graph.Type{c.In[0]}, nil
	}
}

func inferIsX(c *InferContext) ([]graph.Type, error) {
	if err := checkKind(c, 0, kindFloat); err != nil {
		return nil, err
	}
	return []graph.Type{{DType: tensor.Bool, Shape: c.In[0].Shape, HasShape: c.In[0].HasShape}}, nil
}

// broadcastTypes broadcasts the shapes of the given inputs into a type of dtype dt.
func broadcastTypes(c *InferContext, dt tensor.DType, idx ...int) ([]graph.Type, error) {
	shapes := make([]graph.Shape, 0, len(idx))
	for _, i := range idx {
		if !c.In[i].HasShape {
			return []graph.Type{Unranked(dt)}, nil
		}
		shapes = append(shapes, c.In[i].Shape)
	}
	s, err := BroadcastShapes(shapes...)
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	return []graph.Type{Typed(dt, s)}, nil
}

func inferBinary(toBool bool) func(c *InferContext) ([]graph.Type, error) {
	return func(c *InferContext) ([]graph.Type, error) {
		a, b := c.In[0], c.In[1]
		op := c.Node.Op
		switch op {
		case "Pow":
			if err := checkKind(c, 0, kindNumeric); err != nil {
				return nil, err
			}
			if err := checkKind(c, 1, kindNumeric); err != nil {
				return nil, err
			}
		default:
			if a.DType != b.DType {
				return nil, c.Errorf("input dtypes differ: %v and %v", a.DType, b.DType)
			}
			k := kindNumeric
			switch op {
			case "And", "Or", "Xor":
				k = kindBool
			case "Equal":
				k = kindAny
			case "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor":
				k = kindInteger
			}
			if err := checkKind(c, 0, k); err != nil {
				return nil, err
			}
		}
		if op == "BitShift" {
			if d := c.Attrs().GetString("direction", ""); d != "LEFT" && d != "RIGHT" {
				return nil, c.Errorf("attribute direction is %q; expected LEFT or RIGHT", d)
			}
		}
		dt := a.DType
		if toBool {
			dt = tensor.Bool
		}
		return broadcastTypes(c, dt, 0, 1)
	}
}

func inferVariadic(c *InferContext) ([]graph.Type, error) {
	idx := make([]int, len(c.In))
	for i := range c.In {
		if !c.Has(i) {
			return nil, c.Errorf("input %d is missing", i)
		}
		idx[i] = i
	}
	if err := SameDTypes(c, idx...); err != nil {
		return nil, err
	}
	if err := checkKind(c, 0, kindNumeric); err != nil {
		return nil, err
	}
	if c.Node.Op == "Mean" {
		if err := checkKind(c, 0, kindFloat); err != nil {
			return nil, err
		}
	}
	return broadcastTypes(c, c.In[0].DType, idx...)
}

func inferWhere(c *InferContext) ([]graph.Type, error) {
	if c.In[0].DType != tensor.Bool {
		return nil, c.Errorf("condition is %v; expected bool", c.In[0].DType)
	}
	if err := SameDTypes(c, 1, 2); err != nil {
		return nil, err
	}
	return broadcastTypes(c, c.In[1].DType, 0, 1, 2)
}

func inferClip(c *InferContext) ([]graph.Type, error) {
	if err := checkKind(c, 0, kindNumeric); err != nil {
		return nil, err
	}
	if err := SameDTypes(c, 0, 1, 2); err != nil {
		return nil, err
	}
	for i := 1; i <= 2; i++ {
		if c.Has(i) && c.In[i].HasShape && len(c.In[i].Shape) > 1 {
			return nil, c.Errorf("input %d has shape %v; min and max must be scalars", i, c.In[i].Shape)
		}
		if c.Has(i) && c.In[i].HasShape && len(c.In[i].Shape) == 1 && c.In[i].Shape[0].Known() && c.In[i].Shape[0].Size != 1 {
			return nil, c.Errorf("input %d has shape %v; min and max must be scalars", i, c.In[i].Shape)
		}
	}
	return []graph.Type{c.In[0]}, nil
}
