package ops

import (
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// The engine's channels-last operators (domain DomainLightOS). The optimizer's
// channels-last pass (engine/passes, off by default, turned on for the CPU) produces
// them from regions of 2-D convolutions, pools and elementwise operators, with a
// Transpose where an NCHW value enters a region and one where a value leaves it. Each
// is the ONNX operator of the same name without the prefix (or FusedConv), applied to
// the tensor transposed to NCHW, with the result transposed back:
//
//	NhwcOp(x) = Transpose(Op(Transpose(x, perm 0,3,1,2)), perm 0,2,3,1)
//
// Every tensor they read or write is N×H×W×C (rank 4, float32), except the
// convolution's weights and bias, which stay as in Conv (OIHW and [M]), so a
// backend packs them exactly as before.
const (
	// NhwcConv(X, W, [B], [residual]) -> Y: FusedConv over channels-last tensors.
	// X is [N, H, W, C], W is [M, C/group, KH, KW] (OIHW), B holds M values, residual
	// (optional) and Y are [N, OH, OW, M]. Attributes are Conv's (auto_pad, dilations,
	// group, kernel_shape, pads, strides, with their meaning for the H and W axes),
	// plus activation as in FusedConv ("" | "Relu" | "LeakyRelu" with alpha) or
	// "Clip" with attributes min and max (floats; ReLU6 is min 0, max 6):
	//
	//	Y = act(Conv(X, W, B) + residual)
	NhwcConv = "NhwcConv"
	// NhwcMaxPool(X) -> Y: 2-D MaxPool (auto_pad, ceil_mode, dilations, kernel_shape,
	// pads, strides) over [N, H, W, C]; no Indices output.
	NhwcMaxPool = "NhwcMaxPool"
	// NhwcAveragePool(X) -> Y: 2-D AveragePool (AveragePool's attributes, with
	// count_include_pad) over [N, H, W, C].
	NhwcAveragePool = "NhwcAveragePool"
	// NhwcGlobalAveragePool(X) -> Y: the mean over H and W of [N, H, W, C], shaped
	// [N, 1, 1, C].
	NhwcGlobalAveragePool = "NhwcGlobalAveragePool"
)

// ActClip is the activation of NhwcConv that clamps to [min, max] (attributes).
const ActClip = "Clip"

// NCHWToNHWC is the Transpose permutation from NCHW to NHWC; NHWCToNCHW its inverse.
var (
	NCHWToNHWC = []int{0, 2, 3, 1}
	NHWCToNCHW = []int{0, 3, 1, 2}
)

func init() {
	register(Schema{Name: NhwcConv, Domain: DomainLightOS, Doc: "FusedConv (plus Clip) over N×H×W×C tensors; see ops.NhwcConv",
		Inputs: Arity{2, 4}, Outputs: Arity{1, 1}, Infer: inferNhwcConv})
	register(Schema{Name: NhwcMaxPool, Domain: DomainLightOS, Doc: "2-D MaxPool over N×H×W×C; see ops.NhwcMaxPool",
		Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: inferNhwcPool})
	register(Schema{Name: NhwcAveragePool, Domain: DomainLightOS, Doc: "2-D AveragePool over N×H×W×C; see ops.NhwcAveragePool",
		Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: inferNhwcPool})
	register(Schema{Name: NhwcGlobalAveragePool, Domain: DomainLightOS, Doc: "GlobalAveragePool over N×H×W×C to N×1×1×C; see ops.NhwcGlobalAveragePool",
		Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: inferNhwcGlobalPool})
}

// nhwcInput checks that input 0 is a float32 rank-4 tensor (or of unknown rank) and
// returns the context with it seen as NCHW, for the NCHW operators' inference.
func nhwcInput(c *InferContext) (*InferContext, error) {
	if err := requireFloat32(c, 0); err != nil {
		return nil, err
	}
	x := c.In[0]
	if x.HasShape && len(x.Shape) != 4 {
		return nil, c.Errorf("input X has shape %v; expected [N, H, W, C]", x.Shape)
	}
	nc := *c
	nc.In = append([]graph.Type(nil), c.In...)
	if x.HasShape {
		nc.In[0].Shape = x.Shape.Permute(NHWCToNCHW)
	}
	return &nc, nil
}

// nhwcOutput turns the NCHW operators' first inferred output back to NHWC.
func nhwcOutput(out []graph.Type) []graph.Type {
	y := out[0]
	if y.HasShape && len(y.Shape) == 4 {
		y.Shape = y.Shape.Permute(NCHWToNHWC)
	}
	return []graph.Type{y}
}

func inferNhwcConv(c *InferContext) ([]graph.Type, error) {
	if err := requireFloat32(c, 0, 1, 2, 3); err != nil {
		return nil, err
	}
	switch act := c.Attrs().GetString("activation", ""); act {
	case ActNone, ActRelu, ActLeakyRelu:
	case ActClip:
		if lo, hi := c.Attrs().GetFloat("min", 0), c.Attrs().GetFloat("max", 0); !(lo <= hi) {
			return nil, c.Errorf("Clip activation: min %v is above max %v", lo, hi)
		}
	default:
		return nil, c.Errorf("activation %q is not one of \"\", Relu, LeakyRelu, Clip", act)
	}
	if w := c.In[1]; w.HasShape && len(w.Shape) != 4 {
		return nil, c.Errorf("weights W have shape %v; expected [M, C/group, KH, KW]", w.Shape)
	}
	nc, err := nhwcInput(c)
	if err != nil {
		return nil, err
	}
	out, err := inferConv(nc)
	if err != nil {
		return nil, err
	}
	out = nhwcOutput(out)
	if c.Has(3) {
		if r, y := c.In[3], out[0]; r.HasShape && y.HasShape && !sameKnownDims(r.Shape, y.Shape) {
			return nil, c.Errorf("residual (input 3) has shape %v; expected the output's %v", r.Shape, y.Shape)
		}
	}
	return out, nil
}

// sameKnownDims reports whether a and b have the same rank and no two known
// dimensions differ.
func sameKnownDims(a, b graph.Shape) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Known() && b[i].Known() && a[i].Size != b[i].Size {
			return false
		}
	}
	return true
}

func inferNhwcPool(c *InferContext) ([]graph.Type, error) {
	nc, err := nhwcInput(c)
	if err != nil {
		return nil, err
	}
	out, err := inferPool(nc)
	if err != nil {
		return nil, err
	}
	return nhwcOutput(out), nil
}

func inferNhwcGlobalPool(c *InferContext) ([]graph.Type, error) {
	if _, err := nhwcInput(c); err != nil {
		return nil, err
	}
	x := c.In[0]
	if !x.HasShape {
		return []graph.Type{Unranked(tensor.Float32)}, nil
	}
	return []graph.Type{Typed(tensor.Float32, graph.Shape{x.Shape[0], {Size: 1}, {Size: 1}, x.Shape[3]})}, nil
}
