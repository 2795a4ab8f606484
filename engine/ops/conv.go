package ops

import (
	"fmt"

	"github.com/lightiam/lightos/engine/graph"
)

func init() {
	register(Schema{Name: "Conv", Doc: "N-D convolution, NC[D]HW layout (ONNX Conv)",
		Inputs: Arity{2, 3}, Outputs: Arity{1, 1}, Infer: inferConv})
	register(Schema{Name: "ConvTranspose", Doc: "N-D transposed convolution, NC[D]HW layout (ONNX ConvTranspose)",
		Inputs: Arity{2, 3}, Outputs: Arity{1, 1}, Infer: inferConvTranspose})
}

// Geometry is the resolved spatial geometry of a Conv, ConvTranspose or pooling node
// for concrete input sizes. Every slice has one entry per spatial axis. Kernels and
// inference both derive it with ConvGeometry, ConvTransposeGeometry or PoolGeometry,
// so that shapes and loops always agree.
type Geometry struct {
	In, Out, Kernel    []int
	Strides, Dilations []int
	PadsBegin, PadsEnd []int
	// OutputPadding is ConvTranspose's extra size at the end of each axis (else zeros).
	OutputPadding []int
	Group         int
}

// Spatial is the number of spatial axes.
func (g *Geometry) Spatial() int { return len(g.In) }

// ints converts an int64 attribute list of the expected length (or the default).
func spatialInts(a graph.Attrs, name string, n int, def int) ([]int, error) {
	v := a.GetInts(name, nil)
	out := make([]int, n)
	if v == nil {
		for i := range out {
			out[i] = def
		}
		return out, nil
	}
	if len(v) != n {
		return nil, fmt.Errorf("attribute %s has %d values, expected %d (one per spatial axis)", name, len(v), n)
	}
	for i, x := range v {
		out[i] = int(x)
	}
	return out, nil
}

// commonGeometry reads kernel_shape, strides, dilations and pads, checking them.
func commonGeometry(a graph.Attrs, in, kernel []int) (*Geometry, error) {
	n := len(in)
	g := &Geometry{In: append([]int(nil), in...), Group: 1}
	if ks := a.GetInts("kernel_shape", nil); ks != nil {
		if len(ks) != n {
			return nil, fmt.Errorf("attribute kernel_shape has %d values, expected %d", len(ks), n)
		}
		g.Kernel = make([]int, n)
		for i, k := range ks {
			g.Kernel[i] = int(k)
			if kernel != nil && kernel[i] >= 0 && kernel[i] != int(k) {
				return nil, fmt.Errorf("attribute kernel_shape %v disagrees with the weights' spatial shape %v", ks, kernel)
			}
		}
	} else {
		if kernel == nil {
			return nil, fmt.Errorf("attribute kernel_shape is required")
		}
		g.Kernel = append([]int(nil), kernel...)
	}
	var err error
	if g.Strides, err = spatialInts(a, "strides", n, 1); err != nil {
		return nil, err
	}
	if g.Dilations, err = spatialInts(a, "dilations", n, 1); err != nil {
		return nil, err
	}
	pads, err := spatialInts(a, "pads", 2*n, 0)
	if err != nil {
		return nil, err
	}
	g.PadsBegin, g.PadsEnd = pads[:n], pads[n:]
	for i := 0; i < n; i++ {
		switch {
		case g.Kernel[i] < 1:
			return nil, fmt.Errorf("kernel size %d on axis %d must be positive", g.Kernel[i], i)
		case g.Strides[i] < 1:
			return nil, fmt.Errorf("stride %d on axis %d must be positive", g.Strides[i], i)
		case g.Dilations[i] < 1:
			return nil, fmt.Errorf("dilation %d on axis %d must be positive", g.Dilations[i], i)
		case g.PadsBegin[i] < 0 || g.PadsEnd[i] < 0:
			return nil, fmt.Errorf("pads %v must not be negative", pads)
		}
	}
	g.OutputPadding = make([]int, n)
	return g, nil
}

// autoPad fills pads from auto_pad for a forward window (Conv, pooling). It returns
// true when auto_pad chose the output size (SAME_*), which is then ceil(in/stride).
func (g *Geometry) autoPad(mode string) (bool, error) {
	switch mode {
	case "", "NOTSET":
		return false, nil
	case "VALID":
		for i := range g.PadsBegin {
			g.PadsBegin[i], g.PadsEnd[i] = 0, 0
		}
		return false, nil
	case "SAME_UPPER", "SAME_LOWER":
		for i, in := range g.In {
			if in < 0 {
				continue
			}
			out := (in + g.Strides[i] - 1) / g.Strides[i]
			ek := (g.Kernel[i]-1)*g.Dilations[i] + 1
			total := max(0, (out-1)*g.Strides[i]+ek-in)
			small := total / 2
			if mode == "SAME_UPPER" {
				g.PadsBegin[i], g.PadsEnd[i] = small, total-small
			} else {
				g.PadsBegin[i], g.PadsEnd[i] = total-small, small
			}
		}
		return true, nil
	}
	return false, fmt.Errorf("attribute auto_pad %q is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID", mode)
}

// windowOut computes forward output sizes (floor or ceil mode). Unknown inputs (-1)
// give unknown outputs.
func (g *Geometry) windowOut(ceil bool) error {
	g.Out = make([]int, len(g.In))
	for i, in := range g.In {
		if in < 0 {
			g.Out[i] = -1
			continue
		}
		ek := (g.Kernel[i]-1)*g.Dilations[i] + 1
		span := in + g.PadsBegin[i] + g.PadsEnd[i] - ek
		if span < 0 {
			return fmt.Errorf("axis %d: the (dilated) kernel %d is larger than the padded input %d", i, ek, in+g.PadsBegin[i]+g.PadsEnd[i])
		}
		s := g.Strides[i]
		out := span/s + 1
		if ceil {
			out = (span+s-1)/s + 1
			// The last window must start inside the input or the left padding.
			if (out-1)*s >= in+g.PadsBegin[i] {
				out--
			}
		}
		g.Out[i] = out
	}
	return nil
}

// ConvGeometry resolves a Conv node's attributes for spatial input sizes in (-1 for
// unknown) and the weights' spatial sizes kernel.
func ConvGeometry(a graph.Attrs, in, kernel []int) (*Geometry, error) {
	g, err := commonGeometry(a, in, kernel)
	if err != nil {
		return nil, err
	}
	g.Group = int(a.GetInt("group", 1))
	if g.Group < 1 {
		return nil, fmt.Errorf("attribute group %d must be positive", g.Group)
	}
	same, err := g.autoPad(a.GetString("auto_pad", "NOTSET"))
	if err != nil {
		return nil, err
	}
	if err := g.windowOut(false); err != nil {
		return nil, err
	}
	if same {
		for i, in := range g.In {
			if in >= 0 {
				g.Out[i] = (in + g.Strides[i] - 1) / g.Strides[i]
			}
		}
	}
	return g, nil
}

// ConvTransposeGeometry resolves a ConvTranspose node's attributes: output sizes come
// from output_shape when given (the pads are then derived from it, SAME_UPPER putting
// the odd extra at the end, otherwise at the beginning), else from pads and
// output_padding, or as in*stride under auto_pad SAME_*.
func ConvTransposeGeometry(a graph.Attrs, in, kernel []int) (*Geometry, error) {
	g, err := commonGeometry(a, in, kernel)
	if err != nil {
		return nil, err
	}
	n := len(in)
	g.Group = int(a.GetInt("group", 1))
	if g.Group < 1 {
		return nil, fmt.Errorf("attribute group %d must be positive", g.Group)
	}
	if g.OutputPadding, err = spatialInts(a, "output_padding", n, 0); err != nil {
		return nil, err
	}
	for i, op := range g.OutputPadding {
		if op < 0 || (op >= g.Strides[i] && op >= g.Dilations[i]) {
			return nil, fmt.Errorf("output_padding %d on axis %d must be in [0, max(stride, dilation))", op, i)
		}
	}
	mode := a.GetString("auto_pad", "NOTSET")
	switch mode {
	case "", "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER":
	default:
		return nil, fmt.Errorf("attribute auto_pad %q is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID", mode)
	}
	if mode == "VALID" {
		for i := range g.PadsBegin {
			g.PadsBegin[i], g.PadsEnd[i] = 0, 0
		}
	}
	var target []int
	if os := a.GetInts("output_shape", nil); os != nil {
		if len(os) != n && len(os) != n+2 {
			return nil, fmt.Errorf("attribute output_shape has %d values, expected %d", len(os), n)
		}
		os = os[len(os)-n:]
		target = make([]int, n)
		for i, v := range os {
			target[i] = int(v)
		}
	} else if mode == "SAME_UPPER" || mode == "SAME_LOWER" {
		target = make([]int, n)
		for i, in := range g.In {
			target[i] = in * g.Strides[i]
			if in < 0 {
				target[i] = -1
			}
		}
	}
	g.Out = make([]int, n)
	for i, in := range g.In {
		ek := (g.Kernel[i]-1)*g.Dilations[i] + 1
		if in < 0 {
			g.Out[i] = -1
			if target != nil {
				g.Out[i] = target[i]
			}
			continue
		}
		full := g.Strides[i]*(in-1) + g.OutputPadding[i] + ek
		if target != nil {
			// A target larger than full gives negative pads: the extra positions get
			// no contribution (only the bias), as in the ONNX reference.
			total := full - target[i]
			if target[i] < 1 {
				return nil, fmt.Errorf("axis %d: output_shape %d must be positive", i, target[i])
			}
			small := total / 2
			if total < 0 && total%2 != 0 {
				small-- // floor division, as the ONNX reference splits the pads
			}
			if mode == "SAME_UPPER" {
				g.PadsBegin[i], g.PadsEnd[i] = small, total-small
			} else {
				g.PadsBegin[i], g.PadsEnd[i] = total-small, small
			}
			g.Out[i] = target[i]
			continue
		}
		g.Out[i] = full - g.PadsBegin[i] - g.PadsEnd[i]
		if g.Out[i] < 1 {
			return nil, fmt.Errorf("axis %d: pads %d+%d leave no output", i, g.PadsBegin[i], g.PadsEnd[i])
		}
	}
	return g, nil
}

// dims returns the sizes of a shape's dimensions (-1 for unknown).
func dims(s graph.Shape) []int { return s.Ints() }

func inferConv(c *InferContext) ([]graph.Type, error) {
	return inferConvLike(c, false)
}

func inferConvTranspose(c *InferContext) ([]graph.Type, error) {
	return inferConvLike(c, true)
}

func inferConvLike(c *InferContext, transpose bool) ([]graph.Type, error) {
	if err := RequireFloat(c, 0); err != nil {
		return nil, err
	}
	if err := SameDTypes(c, 0, 1, 2); err != nil {
		return nil, err
	}
	x, w := c.In[0], c.In[1]
	dt := x.DType
	if !x.HasShape || !w.HasShape {
		return []graph.Type{Unranked(dt)}, nil
	}
	if len(x.Shape) < 3 {
		return nil, c.Errorf("input X has shape %v; expected [N, C, spatial...] with at least one spatial axis", x.Shape)
	}
	if len(w.Shape) != len(x.Shape) {
		return nil, c.Errorf("weights W have shape %v, rank %d; expected rank %d like X %v", w.Shape, len(w.Shape), len(x.Shape), x.Shape)
	}
	xs, ws := dims(x.Shape), dims(w.Shape)
	var g *Geometry
	var err error
	if transpose {
		g, err = ConvTransposeGeometry(c.Attrs(), xs[2:], ws[2:])
	} else {
		g, err = ConvGeometry(c.Attrs(), xs[2:], ws[2:])
	}
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	cin, outC := xs[1], -1
	if transpose {
		// W is [C, M/group, k...]; output channels M = W[1]*group.
		if cin >= 0 && ws[0] >= 0 && cin != ws[0] {
			return nil, c.Errorf("X has %d channels but W %v expects %d (W is [C, M/group, k...])", cin, w.Shape, ws[0])
		}
		if cin >= 0 && cin%g.Group != 0 {
			return nil, c.Errorf("X's %d channels are not divisible by group %d", cin, g.Group)
		}
		if ws[1] >= 0 {
			outC = ws[1] * g.Group
		}
	} else {
		// W is [M, C/group, k...].
		if cin >= 0 && ws[1] >= 0 && cin != ws[1]*g.Group {
			return nil, c.Errorf("X has %d channels but W %v with group %d expects %d", cin, w.Shape, g.Group, ws[1]*g.Group)
		}
		if ws[0] >= 0 && ws[0]%g.Group != 0 {
			return nil, c.Errorf("W's %d output channels are not divisible by group %d", ws[0], g.Group)
		}
		outC = ws[0]
	}
	if c.Has(2) && c.In[2].HasShape {
		b := c.In[2].Shape
		if len(b) != 1 || (b[0].Known() && outC >= 0 && int(b[0].Size) != outC) {
			return nil, c.Errorf("bias B has shape %v, expected [%d]", b, outC)
		}
	}
	out := graph.Shape{x.Shape[0], {Size: int64(outC)}}
	for _, o := range g.Out {
		out = append(out, graph.Dim{Size: int64(o)})
	}
	return []graph.Type{Typed(dt, out)}, nil
}
