package ops

import (
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

func init() {
	register(Schema{Name: "Gemm", Doc: "Y = alpha·op(A)·op(B) + beta·C, C broadcast to [M, N] (ONNX Gemm)",
		Inputs: Arity{2, 3}, Outputs: Arity{1, 1}, Infer: inferGemm})
}

// GemmDims returns M, K, N of a Gemm node from its 2-D input shapes and transA/transB
// (sizes may be -1 when unknown). It fails when K disagrees.
func GemmDims(a graph.Attrs, as, bs []int) (m, k, n int, err error) {
	if len(as) != 2 || len(bs) != 2 {
		return 0, 0, 0, errorf("A %v and B %v must both be matrices", as, bs)
	}
	m, k = as[0], as[1]
	if a.GetInt("transA", 0) != 0 {
		m, k = k, m
	}
	k2, n := bs[0], bs[1]
	if a.GetInt("transB", 0) != 0 {
		k2, n = n, k2
	}
	if k >= 0 && k2 >= 0 && k != k2 {
		return 0, 0, 0, errorf("inner dimensions differ: op(A) is %dx%d, op(B) is %dx%d", m, k, k2, n)
	}
	if k < 0 {
		k = k2
	}
	return m, k, n, nil
}

func inferGemm(c *InferContext) ([]graph.Type, error) {
	if err := SameDTypes(c, 0, 1, 2); err != nil {
		return nil, err
	}
	dt := c.In[0].DType
	if !dt.IsFloat() && dt != tensor.Int32 && dt != tensor.Int64 && dt != tensor.Uint32 && dt != tensor.Uint64 {
		return nil, c.Errorf("dtype %v is not supported by Gemm", dt)
	}
	if !c.In[0].HasShape || !c.In[1].HasShape {
		return []graph.Type{Unranked(dt)}, nil
	}
	_, _, _, err := GemmDims(c.Attrs(), dims(c.In[0].Shape), dims(c.In[1].Shape))
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	// Keep symbolic dimensions' names: take M and N from the input shapes.
	as, bs := c.In[0].Shape, c.In[1].Shape
	out := graph.Shape{as[0], bs[1]}
	if c.Attrs().GetInt("transA", 0) != 0 {
		out[0] = as[1]
	}
	if c.Attrs().GetInt("transB", 0) != 0 {
		out[1] = bs[0]
	}
	if c.Has(2) && c.In[2].HasShape {
		cs := c.In[2].Shape
		if len(cs) > 2 {
			return nil, c.Errorf("C has shape %v; it must broadcast to the output %v", cs, out)
		}
		if _, err := BroadcastShapes(out, cs); err != nil || len(cs) > 0 && !broadcastsTo(cs, out) {
			return nil, c.Errorf("C of shape %v does not broadcast to the output [%v]", cs, out)
		}
	}
	return []graph.Type{Typed(dt, out)}, nil
}

// broadcastsTo reports whether s broadcasts unidirectionally to target (known dims only).
func broadcastsTo(s, target graph.Shape) bool {
	if len(s) > len(target) {
		return false
	}
	off := len(target) - len(s)
	for i, d := range s {
		t := target[off+i]
		if d.Known() && d.Size != 1 && t.Known() && d.Size != t.Size {
			return false
		}
	}
	return true
}
