package ops

import (
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

func init() {
	register(Schema{Name: "MatMul", Doc: "NumPy matmul: batched, broadcasting over leading dimensions",
		Inputs: Arity{2, 2}, Outputs: Arity{1, 1}, Infer: inferMatMul})
}

// MatMulShape returns the output shape of a NumPy-style matmul of a and b.
func MatMulShape(a, b graph.Shape) (graph.Shape, error) {
	if len(a) == 0 || len(b) == 0 {
		return nil, errorf("matmul of a scalar")
	}
	aa, bb := a, b
	if len(aa) == 1 {
		aa = graph.Shape{{Size: 1}, aa[0]}
	}
	if len(bb) == 1 {
		bb = graph.Shape{bb[0], {Size: 1}}
	}
	k1, k2 := aa[len(aa)-1], bb[len(bb)-2]
	if k1.Known() && k2.Known() && k1.Size != k2.Size {
		return nil, errorf("inner dimensions differ: %v is %d, %v is %d", a, k1.Size, b, k2.Size)
	}
	batch, err := BroadcastShapes(aa[:len(aa)-2], bb[:len(bb)-2])
	if err != nil {
		return nil, err
	}
	out := append(graph.Shape{}, batch...)
	if len(a) > 1 {
		out = append(out, aa[len(aa)-2])
	}
	if len(b) > 1 {
		out = append(out, bb[len(bb)-1])
	}
	return out, nil
}

func inferMatMul(c *InferContext) ([]graph.Type, error) {
	if err := SameDTypes(c, 0, 1); err != nil {
		return nil, err
	}
	if !c.In[0].HasShape || !c.In[1].HasShape {
		return []graph.Type{Unranked(c.In[0].DType)}, nil
	}
	s, err := MatMulShape(c.In[0].Shape, c.In[1].Shape)
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	return []graph.Type{Typed(c.In[0].DType, s)}, nil
}

func init() {
	register(Schema{Name: "MatMulInteger", Doc: "integer matmul of int8/uint8 with zero points, int32 result",
		Inputs: Arity{2, 4}, Outputs: Arity{1, 1}, Infer: inferMatMulInteger})
	register(Schema{Name: "QLinearMatMul", Doc: "quantized matmul: (a-a_zp)·a_scale @ (b-b_zp)·b_scale requantized to y_scale, y_zp",
		Inputs: Arity{8, 8}, Outputs: Arity{1, 1}, Infer: inferQLinearMatMul})
}

func isInt8(dt tensor.DType) bool { return dt == tensor.Int8 || dt == tensor.Uint8 }

func inferMatMulInteger(c *InferContext) ([]graph.Type, error) {
	for _, i := range []int{0, 1} {
		if !isInt8(c.In[i].DType) {
			return nil, c.Errorf("input %d is %v; MatMulInteger takes int8 or uint8", i, c.In[i].DType)
		}
	}
	for _, p := range [][2]int{{2, 0}, {3, 1}} {
		if c.Has(p[0]) && c.In[p[0]].DType != c.In[p[1]].DType {
			return nil, c.Errorf("zero point %d is %v but input %d is %v", p[0], c.In[p[0]].DType, p[1], c.In[p[1]].DType)
		}
	}
	if !c.In[0].HasShape || !c.In[1].HasShape {
		return []graph.Type{Unranked(tensor.Int32)}, nil
	}
	s, err := MatMulShape(c.In[0].Shape, c.In[1].Shape)
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	return []graph.Type{Typed(tensor.Int32, s)}, nil
}

func inferQLinearMatMul(c *InferContext) ([]graph.Type, error) {
	a, b, y := c.In[0].DType, c.In[3].DType, c.In[7].DType
	if !isInt8(a) || !isInt8(b) || !isInt8(y) {
		return nil, c.Errorf("a, b and y_zero_point are %v, %v, %v; QLinearMatMul takes int8 or uint8", a, b, y)
	}
	for _, i := range []int{1, 4, 6} {
		if dt := c.In[i].DType; dt != tensor.Float32 && dt != tensor.Float16 && dt != tensor.BFloat16 {
			return nil, c.Errorf("scale input %d is %v; expected float32, float16 or bfloat16", i, dt)
		}
	}
	if c.In[2].DType != a || c.In[5].DType != b {
		return nil, c.Errorf("zero points must match their inputs' dtypes")
	}
	if !c.In[0].HasShape || !c.In[3].HasShape {
		return []graph.Type{Unranked(y)}, nil
	}
	s, err := MatMulShape(c.In[0].Shape, c.In[3].Shape)
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	return []graph.Type{Typed(y, s)}, nil
}
