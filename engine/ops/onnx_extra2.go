package ops

import (
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// More operators beyond the core list: quantization (QuantizeLinear, DequantizeLinear,
// DynamicQuantizeLinear), Swish, SwiGLU, CumProd, TensorScatter
// and MaxUnpool.
func init() {
	xRegisterExtra(Schema{Name: "QuantizeLinear", Doc: "saturating round(x / scale) + zero_point into an 8- or 16-bit integer (per tensor, axis or block)",
		Inputs: Arity{2, 3}, Outputs: Arity{1, 1}, Infer: xInferQuantize})
	xRegisterExtra(Schema{Name: "DequantizeLinear", Doc: "(x - zero_point) * scale (per tensor, axis or block)",
		Inputs: Arity{2, 3}, Outputs: Arity{1, 1}, Infer: xInferDequantize})
	xRegisterExtra(Schema{Name: "DynamicQuantizeLinear", Doc: "uint8 quantization with scale and zero point from the data's range",
		Inputs: Arity{1, 1}, Outputs: Arity{3, 3}, Infer: xInferDynQuant})
	xRegisterExtra(Schema{Name: "Swish", Doc: "x * sigmoid(alpha * x)", Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: Same(0)})
	xRegisterExtra(Schema{Name: "SwiGLU", Doc: "a * sigmoid(alpha * a) * b", Inputs: Arity{2, 2}, Outputs: Arity{1, 1}, Infer: Same(0)})
	xRegisterExtra(Schema{Name: "CumProd", Doc: "cumulative product along axis (exclusive, reverse)",
		Inputs: Arity{2, 2}, Outputs: Arity{1, 1}, Infer: Same(0)})
	xRegisterExtra(Schema{Name: "TensorScatter", Doc: "writes update into a KV cache at per-batch write indices (linear or circular)",
		Inputs: Arity{2, 3}, Outputs: Arity{1, 1}, Infer: Same(0)})
	xRegisterExtra(Schema{Name: "MaxUnpool", Doc: "scatters pooled values back to their argmax positions",
		Inputs: Arity{2, 3}, Outputs: Arity{1, 1}, Infer: xInferMaxUnpool})
}

func xSameShape(dt tensor.DType, x graph.Type) graph.Type {
	return graph.Type{DType: dt, Shape: x.Shape, HasShape: x.HasShape}
}

func xInferQuantize(c *InferContext) ([]graph.Type, error) {
	dt := tensor.Uint8
	if c.Has(2) {
		dt = c.In[2].DType
	} else if c.Attrs().Has("output_dtype") {
		dt = tensor.DType(c.Attrs().GetInt("output_dtype", 2))
	}
	switch dt {
	case tensor.Uint8, tensor.Int8, tensor.Uint16, tensor.Int16:
	default:
		return nil, c.Errorf("quantizing to %v is not supported", dt)
	}
	return []graph.Type{xSameShape(dt, c.In[0])}, nil
}

func xInferDequantize(c *InferContext) ([]graph.Type, error) {
	dt := c.In[1].DType
	if v := c.Attrs().GetInt("output_dtype", 0); v != 0 {
		dt = tensor.DType(v)
	}
	return []graph.Type{xSameShape(dt, c.In[0])}, nil
}

func xInferDynQuant(c *InferContext) ([]graph.Type, error) {
	return []graph.Type{xSameShape(tensor.Uint8, c.In[0]), Typed(c.In[0].DType, graph.Shape{}), Typed(tensor.Uint8, graph.Shape{})}, nil
}

func xInferMaxUnpool(c *InferContext) ([]graph.Type, error) {
	x := c.In[0]
	if c.Has(2) {
		if s := c.Const(2); s != nil {
			return []graph.Type{Typed(x.DType, graph.ShapeOf(xIntsOf(s)...))}, nil
		}
		return []graph.Type{Unranked(x.DType)}, nil
	}
	if !x.HasShape || !x.Shape.Known() {
		return []graph.Type{Unranked(x.DType)}, nil
	}
	k := c.Attrs().GetInts("kernel_shape", nil)
	nd := len(x.Shape) - 2
	if len(k) != nd {
		return nil, c.Errorf("kernel_shape %v does not fit input %v", k, x.Shape)
	}
	pads := c.Attrs().GetInts("pads", make([]int64, 2*nd))
	strides := c.Attrs().GetInts("strides", nil)
	out := append(graph.Shape(nil), x.Shape[:2]...)
	for d := 0; d < nd; d++ {
		s := int64(1)
		if d < len(strides) {
			s = strides[d]
		}
		out = append(out, graph.Dim{Size: (x.Shape[d+2].Size-1)*s - (pads[d] + pads[nd+d]) + k[d]})
	}
	return []graph.Type{Typed(x.DType, out)}, nil
}

func xIntsOf(t *tensor.Tensor) []int {
	out := make([]int, t.Len())
	for i := range out {
		out[i] = int(t.Int64At(i))
	}
	return out
}

func init() {
	xRegisterExtra(Schema{Name: "RotaryEmbedding", Doc: "rotary position embedding of 4-D [B, H, S, D] or 3-D [B, S, H*D] input (opset 23)",
		Inputs: Arity{3, 4}, Outputs: Arity{1, 1}, Infer: Same(0)})
}

func init() {
	xRegisterExtra(Schema{Name: "CausalConvWithState", Doc: "depthwise causal 1-D convolution over [past_state, input] with optional SiLU; output and present state",
		Inputs: Arity{2, 4}, Outputs: Arity{1, 2}, Infer: xInferCausalConv})
}

func xInferCausalConv(c *InferContext) ([]graph.Type, error) {
	x, w := c.In[0], c.In[1]
	state := Unranked(x.DType)
	if x.HasShape && w.HasShape && len(x.Shape) == 3 && len(w.Shape) == 3 && w.Shape[2].Known() {
		state = Typed(x.DType, graph.Shape{x.Shape[0], x.Shape[1], {Size: w.Shape[2].Size - 1}})
	}
	return []graph.Type{x, state}, nil
}

func init() {
	xRegisterExtra(Schema{Name: "LinearAttention", Doc: "recurrent linear attention (linear, gated, delta, gated_delta update rules) over 3-D inputs; output and present state",
		Inputs: Arity{3, 6}, Outputs: Arity{1, 2}, Infer: xInferLinearAttention})
}

func xInferLinearAttention(c *InferContext) ([]graph.Type, error) {
	q, k, v := c.In[0], c.In[1], c.In[2]
	hq, hkv := c.Attrs().GetInt("q_num_heads", 0), c.Attrs().GetInt("kv_num_heads", 0)
	if hq <= 0 || hkv <= 0 || hq%hkv != 0 {
		return nil, c.Errorf("q_num_heads %d must be a positive multiple of kv_num_heads %d", hq, hkv)
	}
	if !q.HasShape || !k.HasShape || !v.HasShape || len(q.Shape) != 3 || !k.Shape[2].Known() || !v.Shape[2].Known() {
		return []graph.Type{Unranked(q.DType), Unranked(q.DType)}, nil
	}
	dk, dv := k.Shape[2].Size/hkv, v.Shape[2].Size/hkv
	stateDT := q.DType
	if c.Has(3) {
		stateDT = c.In[3].DType
	}
	return []graph.Type{
		Typed(q.DType, graph.Shape{q.Shape[0], q.Shape[1], {Size: hq * dv}}),
		Typed(stateDT, graph.Shape{q.Shape[0], {Size: hkv}, {Size: dk}, {Size: dv}}),
	}, nil
}

func init() {
	xRegisterExtra(Schema{Name: "RoiAlign", Doc: "bilinear-sampled average or max pooling of regions of interest: [rois, C, output_height, output_width]",
		Inputs: Arity{3, 3}, Outputs: Arity{1, 1}, Infer: xInferRoiAlign})
}

func xInferRoiAlign(c *InferContext) ([]graph.Type, error) {
	x, idx := c.In[0], c.In[2]
	oh, ow := c.Attrs().GetInt("output_height", 1), c.Attrs().GetInt("output_width", 1)
	n, ch := graph.Dim{Size: -1}, graph.Dim{Size: -1}
	if idx.HasShape && len(idx.Shape) == 1 {
		n = idx.Shape[0]
	}
	if x.HasShape && len(x.Shape) == 4 {
		ch = x.Shape[1]
	}
	return []graph.Type{Typed(x.DType, graph.Shape{n, ch, {Size: oh}, {Size: ow}})}, nil
}

func init() {
	xRegisterExtra(Schema{Name: "BitCast", Doc: "reinterprets each element's bits as dtype `to` of the same width",
		Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: xInferBitCast})
	xRegisterExtra(Schema{Name: "CenterCropPad", Doc: "center crops or zero-pads axes to the given shape",
		Inputs: Arity{2, 2}, Outputs: Arity{1, 1}, Infer: xInferCenterCropPad})
}

func xInferBitCast(c *InferContext) ([]graph.Type, error) {
	dt := tensor.DType(c.Attrs().GetInt("to", 0))
	if !dt.Valid() {
		return nil, c.Errorf("to = %d is not a supported dtype", c.Attrs().GetInt("to", 0))
	}
	if dt.Size() != c.In[0].DType.Size() {
		return nil, c.Errorf("cannot bit-cast %v to %v: element sizes differ", c.In[0].DType, dt)
	}
	return []graph.Type{xSameShape(dt, c.In[0])}, nil
}

// CenterCropPadAxes resolves a CenterCropPad node's axes for an input of the given rank.
func CenterCropPadAxes(n *graph.Node, rank int) ([]int, error) {
	axes := n.Attrs.GetInts("axes", nil)
	if axes == nil {
		for i := 0; i < rank; i++ {
			axes = append(axes, int64(i))
		}
	}
	out := make([]int, len(axes))
	for i, a := range axes {
		ax, err := NormAxis(a, rank)
		if err != nil {
			return nil, err
		}
		out[i] = ax
	}
	return out, nil
}

func xInferCenterCropPad(c *InferContext) ([]graph.Type, error) {
	x := c.In[0]
	if !x.HasShape {
		return []graph.Type{Unranked(x.DType)}, nil
	}
	axes, err := CenterCropPadAxes(c.Node, len(x.Shape))
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	sh := c.Const(1)
	out := append(graph.Shape(nil), x.Shape...)
	for i, ax := range axes {
		if sh == nil || i >= sh.Len() {
			out[ax] = graph.Dim{Size: -1}
		} else {
			out[ax] = graph.Dim{Size: sh.Int64At(i)}
		}
	}
	return []graph.Type{Typed(x.DType, out)}, nil
}

func init() {
	xRegisterExtra(Schema{Name: "TfIdfVectorizer", Doc: "n-gram counts (TF, IDF, TFIDF) of integer token rows against a pool of n-grams",
		Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: xInferTfIdf})
}

func xInferTfIdf(c *InferContext) ([]graph.Type, error) {
	if c.Attrs().Has("pool_strings") {
		return nil, c.Errorf("string pools are not supported")
	}
	size := int64(0)
	for _, i := range c.Attrs().GetInts("ngram_indexes", nil) {
		size = max(size, i+1)
	}
	x := c.In[0]
	if x.HasShape && len(x.Shape) == 2 {
		return []graph.Type{Typed(tensor.Float32, graph.Shape{x.Shape[0], {Size: size}})}, nil
	}
	return []graph.Type{Typed(tensor.Float32, graph.Shape{{Size: size}})}, nil
}
