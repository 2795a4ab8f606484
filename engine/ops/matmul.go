package ops

import (
	"github.com/lightiam/lightos/engine/graph"
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
