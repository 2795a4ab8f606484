package ops

import (
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// Operators the ONNX conformance suite and exporters need beyond the engine's core
// list: data movement (DepthToSpace, GatherND, ScatterND, ...), losses, RMS norm,
// Dropout at inference, and small utilities. Kernels live in backends/cpu/onnx_extra*.go.

// xRegisterExtra adds a schema to the extras table, which core schemas override
// (see Lookup), so an operator moving into the core list needs no change here.
func xRegisterExtra(s Schema) {
	extras[key{normDomain(s.Domain), s.Name}] = &s
}

func init() {
	xRegisterExtra(Schema{Name: "DepthToSpace", Doc: "moves channel blocks into spatial blocks (DCR or CRD)",
		Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: xInferSpaceDepth(true)})
	xRegisterExtra(Schema{Name: "SpaceToDepth", Doc: "moves spatial blocks into channels",
		Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: xInferSpaceDepth(false)})
	xRegisterExtra(Schema{Name: "GatherND", Doc: "gathers slices of data addressed by index tuples",
		Inputs: Arity{2, 2}, Outputs: Arity{1, 1}, Infer: xInferGatherND})
	xRegisterExtra(Schema{Name: "ScatterND", Doc: "copies data and writes updates at index tuples (reduction none, add, mul, max, min)",
		Inputs: Arity{3, 3}, Outputs: Arity{1, 1}, Infer: Same(0)})
	xRegisterExtra(Schema{Name: "ScatterElements", Doc: "copies data and writes updates along axis at indices",
		Inputs: Arity{3, 3}, Outputs: Arity{1, 1}, Infer: Same(0)})
	xRegisterExtra(Schema{Name: "Scatter", Doc: "ScatterElements before opset 11",
		Inputs: Arity{3, 3}, Outputs: Arity{1, 1}, Infer: Same(0)})
	xRegisterExtra(Schema{Name: "OneHot", Doc: "one-hot encoding of indices with depth and [off, on] values",
		Inputs: Arity{3, 3}, Outputs: Arity{1, 1}, Infer: xInferOneHot})
	xRegisterExtra(Schema{Name: "Compress", Doc: "selects slices along axis (or of the flattened input) where condition is true",
		Inputs: Arity{2, 2}, Outputs: Arity{1, 1}, Infer: xInferCompress})
	xRegisterExtra(Schema{Name: "EyeLike", Doc: "a 2-D identity-like matrix shaped like the input, ones on diagonal k",
		Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: xInferEyeLike})
	xRegisterExtra(Schema{Name: "ReverseSequence", Doc: "reverses the first seq_len[i] steps of each batch entry along time_axis",
		Inputs: Arity{2, 2}, Outputs: Arity{1, 1}, Infer: Same(0)})
	xRegisterExtra(Schema{Name: "Det", Doc: "determinant of square matrices over the last two axes",
		Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: xInferDet})
	xRegisterExtra(Schema{Name: "RMSNormalization", Doc: "x / sqrt(mean(x^2 over axes from axis) + epsilon) * scale",
		Inputs: Arity{2, 2}, Outputs: Arity{1, 1}, Infer: Same(0)})
	xRegisterExtra(Schema{Name: "LpNormalization", Doc: "x / ||x||_p along axis (p 1 or 2)",
		Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: Same(0)})
	xRegisterExtra(Schema{Name: "MeanVarianceNormalization", Doc: "(x - mean) / sqrt(var) over axes (default 0, 2, 3)",
		Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: Same(0)})
	xRegisterExtra(Schema{Name: "NegativeLogLikelihoodLoss", Doc: "-input[n, target[n], ...] * weight, reduced by none, sum or mean",
		Inputs: Arity{2, 3}, Outputs: Arity{1, 1}, Infer: xInferNLL})
	xRegisterExtra(Schema{Name: "SoftmaxCrossEntropyLoss", Doc: "NegativeLogLikelihoodLoss of LogSoftmax(scores, axis 1); optional log_prob output",
		Inputs: Arity{2, 3}, Outputs: Arity{1, 2}, Infer: xInferNLL})
	for _, w := range []string{"HannWindow", "HammingWindow", "BlackmanWindow"} {
		xRegisterExtra(Schema{Name: w, Doc: "a window of the given size (periodic by default), in output_datatype",
			Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: xInferWindow})
	}
}

func xInferSpaceDepth(toSpace bool) func(c *InferContext) ([]graph.Type, error) {
	return func(c *InferContext) ([]graph.Type, error) {
		x := c.In[0]
		b := c.Attrs().GetInt("blocksize", 0)
		if b <= 0 {
			return nil, c.Errorf("blocksize %d must be positive", b)
		}
		if !x.HasShape {
			return []graph.Type{Unranked(x.DType)}, nil
		}
		if len(x.Shape) != 4 {
			return nil, c.Errorf("input has shape %v; expected [N, C, H, W]", x.Shape)
		}
		s := append(graph.Shape(nil), x.Shape...)
		scale := func(d graph.Dim, mul bool, f int64) (graph.Dim, error) {
			if !d.Known() {
				return graph.Dim{Size: -1}, nil
			}
			if mul {
				return graph.Dim{Size: d.Size * f}, nil
			}
			if d.Size%f != 0 {
				return d, c.Errorf("dimension %d is not divisible by %d", d.Size, f)
			}
			return graph.Dim{Size: d.Size / f}, nil
		}
		var err error
		if s[1], err = scale(s[1], !toSpace, b*b); err != nil {
			return nil, err
		}
		for i := 2; i < 4; i++ {
			if s[i], err = scale(s[i], toSpace, b); err != nil {
				return nil, err
			}
		}
		return []graph.Type{Typed(x.DType, s)}, nil
	}
}

func xInferGatherND(c *InferContext) ([]graph.Type, error) {
	data, idx := c.In[0], c.In[1]
	if idx.DType != tensor.Int64 {
		return nil, c.Errorf("indices are %v, expected int64", idx.DType)
	}
	if !data.HasShape || !idx.HasShape || len(idx.Shape) == 0 || !idx.Shape[len(idx.Shape)-1].Known() {
		return []graph.Type{Unranked(data.DType)}, nil
	}
	bd := int(c.Attrs().GetInt("batch_dims", 0))
	k := int(idx.Shape[len(idx.Shape)-1].Size)
	if bd < 0 || bd+k > len(data.Shape) || bd >= len(idx.Shape) {
		return nil, c.Errorf("indices %v with batch_dims %d do not fit data %v", idx.Shape, bd, data.Shape)
	}
	out := append(graph.Shape(nil), idx.Shape[:len(idx.Shape)-1]...)
	out = append(out, data.Shape[bd+k:]...)
	return []graph.Type{Typed(data.DType, out)}, nil
}

func xInferOneHot(c *InferContext) ([]graph.Type, error) {
	idx, vals := c.In[0], c.In[2]
	if !idx.HasShape {
		return []graph.Type{Unranked(vals.DType)}, nil
	}
	depth := graph.Dim{Size: -1}
	if d := c.Const(1); d != nil && d.Len() == 1 {
		depth = graph.Dim{Size: int64(d.Float64At(0))}
		if depth.Size <= 0 {
			return nil, c.Errorf("depth %d must be positive", depth.Size)
		}
	}
	rank := len(idx.Shape) + 1
	axis, err := NormAxis(c.Attrs().GetInt("axis", -1), rank)
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	out := make(graph.Shape, 0, rank)
	out = append(out, idx.Shape[:axis]...)
	out = append(out, depth)
	out = append(out, idx.Shape[axis:]...)
	return []graph.Type{Typed(vals.DType, out)}, nil
}

func xInferCompress(c *InferContext) ([]graph.Type, error) {
	x, cond := c.In[0], c.In[1]
	if cond.DType != tensor.Bool {
		return nil, c.Errorf("condition is %v, expected bool", cond.DType)
	}
	if !x.HasShape {
		return []graph.Type{Unranked(x.DType)}, nil
	}
	selected := graph.Dim{Size: -1}
	if ct := c.Const(1); ct != nil {
		var n int64
		for _, b := range ct.Bools() {
			if b {
				n++
			}
		}
		selected = graph.Dim{Size: n}
	}
	if !c.Attrs().Has("axis") {
		return []graph.Type{Typed(x.DType, graph.Shape{selected})}, nil
	}
	axis, err := NormAxis(c.Attrs().GetInt("axis", 0), len(x.Shape))
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	out := append(graph.Shape(nil), x.Shape...)
	out[axis] = selected
	return []graph.Type{Typed(x.DType, out)}, nil
}

func xInferEyeLike(c *InferContext) ([]graph.Type, error) {
	x := c.In[0]
	dt := x.DType
	if c.Attrs().Has("dtype") {
		dt = tensor.DType(c.Attrs().GetInt("dtype", 1))
		if !dt.Valid() {
			return nil, c.Errorf("dtype %d is not supported", c.Attrs().GetInt("dtype", 1))
		}
	}
	if x.HasShape && len(x.Shape) != 2 {
		return nil, c.Errorf("input has shape %v; expected rank 2", x.Shape)
	}
	return []graph.Type{{DType: dt, Shape: x.Shape, HasShape: x.HasShape}}, nil
}

func xInferDet(c *InferContext) ([]graph.Type, error) {
	x := c.In[0]
	if err := RequireFloat(c, 0); err != nil {
		return nil, err
	}
	if !x.HasShape {
		return []graph.Type{Unranked(x.DType)}, nil
	}
	r := len(x.Shape)
	if r < 2 {
		return nil, c.Errorf("input has shape %v; expected [..., M, M]", x.Shape)
	}
	return []graph.Type{Typed(x.DType, append(graph.Shape(nil), x.Shape[:r-2]...))}, nil
}

func xInferNLL(c *InferContext) ([]graph.Type, error) {
	x, t := c.In[0], c.In[1]
	if err := RequireFloat(c, 0); err != nil {
		return nil, err
	}
	if !t.DType.IsInteger() {
		return nil, c.Errorf("target is %v, expected an integer type", t.DType)
	}
	loss := Typed(x.DType, graph.Shape{})
	if c.Attrs().GetString("reduction", "mean") == "none" {
		loss = graph.Type{DType: x.DType, Shape: t.Shape, HasShape: t.HasShape}
	}
	return []graph.Type{loss, x}, nil
}

func xInferWindow(c *InferContext) ([]graph.Type, error) {
	dt := tensor.DType(c.Attrs().GetInt("output_datatype", int64(tensor.Float32)))
	if !dt.Valid() {
		return nil, c.Errorf("output_datatype %d is not supported", c.Attrs().GetInt("output_datatype", 1))
	}
	n := graph.Dim{Size: -1}
	if s := c.Const(0); s != nil && s.Len() == 1 {
		n = graph.Dim{Size: s.Int64At(0)}
		if n.Size < 0 {
			return nil, c.Errorf("size %d is negative", n.Size)
		}
	}
	return []graph.Type{Typed(dt, graph.Shape{n})}, nil
}
