package ops

import (
	"github.com/lightiam/lightos/engine/graph"
)

// ONNX's Attention (opset 23+): scaled dot-product attention over 4-D [B, heads, S, d]
// or 3-D [B, S, heads*d] inputs, with masks, causal masking, KV cache, GQA and softcap.
// The engine's fused attention lives in the lightos domain; this is the ONNX operator.
func init() {
	xRegisterExtra(Schema{Name: "Attention", Doc: "ONNX scaled dot-product attention (opset 23-25)",
		Inputs: Arity{3, 7}, Outputs: Arity{1, 4}, Infer: xInferONNXAttention})
}

func xInferONNXAttention(c *InferContext) ([]graph.Type, error) {
	q, k, v := c.In[0], c.In[1], c.In[2]
	if err := RequireFloat(c, 0); err != nil {
		return nil, err
	}
	dt := q.DType
	unk := graph.Dim{Size: -1}
	if !q.HasShape || !k.HasShape || !v.HasShape {
		return []graph.Type{Unranked(dt), Unranked(dt), Unranked(dt), Unranked(dt)}, nil
	}
	r := len(q.Shape)
	if r != len(k.Shape) || r != len(v.Shape) || (r != 3 && r != 4) {
		return nil, c.Errorf("Q, K, V have shapes %v, %v, %v; expected all 3-D or all 4-D", q.Shape, k.Shape, v.Shape)
	}
	b := q.Shape[0]
	var qh, kvh, sq, skv, hd, vhd graph.Dim
	div := func(d graph.Dim, n int64) graph.Dim {
		if !d.Known() || n <= 0 {
			return unk
		}
		return graph.Dim{Size: d.Size / n}
	}
	if r == 4 {
		qh, sq, hd = q.Shape[1], q.Shape[2], q.Shape[3]
		kvh, skv, vhd = k.Shape[1], k.Shape[2], v.Shape[3]
	} else {
		nq, nkv := c.Attrs().GetInt("q_num_heads", 0), c.Attrs().GetInt("kv_num_heads", 0)
		if nq <= 0 || nkv <= 0 {
			return nil, c.Errorf("3-D inputs need q_num_heads and kv_num_heads")
		}
		qh, kvh = graph.Dim{Size: nq}, graph.Dim{Size: nkv}
		sq, skv = q.Shape[1], k.Shape[1]
		hd, vhd = div(k.Shape[2], nkv), div(v.Shape[2], nkv)
	}
	total := skv
	if c.Has(4) && c.In[4].HasShape && len(c.In[4].Shape) == 4 {
		p := c.In[4].Shape[2]
		if p.Known() && skv.Known() {
			total = graph.Dim{Size: p.Size + skv.Size}
		} else {
			total = unk
		}
	}
	var y graph.Shape
	if r == 4 {
		y = graph.Shape{b, qh, sq, vhd}
	} else {
		hidden := unk
		if vhd.Known() {
			hidden = graph.Dim{Size: qh.Size * vhd.Size}
		}
		y = graph.Shape{b, sq, hidden}
	}
	return []graph.Type{
		Typed(dt, y),
		Typed(dt, graph.Shape{b, kvh, total, hd}),
		Typed(dt, graph.Shape{b, kvh, total, vhd}),
		Typed(dt, graph.Shape{b, qh, sq, total}),
	}, nil
}

func init() {
	xRegisterExtra(Schema{Name: "FlexAttention", Domain: "ai.onnx.preview", Doc: "attention with score_mod and prob_mod subgraphs applied to the scores and probabilities",
		Inputs: Arity{3, Variadic}, Outputs: Arity{1, 1}, Infer: xInferFlexAttention})
}

func xInferFlexAttention(c *InferContext) ([]graph.Type, error) {
	q, v := c.In[0], c.In[2]
	if !q.HasShape || !v.HasShape || len(q.Shape) != 4 || len(v.Shape) != 4 {
		return []graph.Type{Unranked(v.DType)}, nil
	}
	return []graph.Type{Typed(v.DType, graph.Shape{q.Shape[0], q.Shape[1], q.Shape[2], v.Shape[3]})}, nil
}
