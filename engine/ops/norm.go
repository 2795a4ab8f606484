package ops

import (
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

func init() {
	register(Schema{Name: "BatchNormalization", Doc: "batch normalization with running statistics, or with batch statistics and updated running ones when training_mode is 1 (opset 7-15 forms)",
		Inputs: Arity{5, 5}, Outputs: Arity{1, 5}, Infer: inferBatchNorm})
	register(Schema{Name: "LayerNormalization", Doc: "normalization over the axes from axis on, with optional Mean and InvStdDev outputs",
		Inputs: Arity{2, 3}, Outputs: Arity{1, 3}, Infer: inferLayerNorm})
	register(Schema{Name: "InstanceNormalization", Doc: "per-sample, per-channel normalization over the spatial axes",
		Inputs: Arity{3, 3}, Outputs: Arity{1, 1}, Infer: inferChannelNorm})
	register(Schema{Name: "GroupNormalization", Doc: "per-sample normalization over groups of channels (scale per group before opset 21, per channel from 21)",
		Inputs: Arity{3, 3}, Outputs: Arity{1, 1}, Infer: inferChannelNorm})
	register(Schema{Name: "LRN", Doc: "local response normalization across channels",
		Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: inferLRN})
}

// StatsDType is the dtype of LayerNormalization's Mean and InvStdDev outputs for input
// dtype dt: float32 for the half types (stash_type 1), else dt.
func StatsDType(dt tensor.DType) tensor.DType {
	if dt == tensor.Float16 || dt == tensor.BFloat16 {
		return tensor.Float32
	}
	return dt
}

func inferBatchNorm(c *InferContext) ([]graph.Type, error) {
	if err := RequireFloat(c, 0); err != nil {
		return nil, err
	}
	x := c.In[0]
	types := []graph.Type{x}
	if !x.HasShape {
		return append(types, c.In[3], c.In[4], c.In[3], c.In[4]), nil
	}
	if len(x.Shape) < 2 {
		return nil, c.Errorf("input X has shape %v; expected [N, C, ...]", x.Shape)
	}
	for i, name := range []string{"", "scale", "B", "mean", "var"} {
		if i == 0 {
			continue
		}
		p := c.In[i]
		if !p.HasShape {
			continue
		}
		ch := x.Shape[1]
		ok := len(p.Shape) == 1 && (!p.Shape[0].Known() || !ch.Known() || p.Shape[0].Size == ch.Size)
		// opset < 9 with spatial=0: parameters of shape X.shape[1:].
		if !ok && len(p.Shape) == len(x.Shape)-1 && len(p.Shape) > 1 {
			ok = true
			for j, d := range p.Shape {
				if d.Known() && x.Shape[j+1].Known() && d.Size != x.Shape[j+1].Size {
					ok = false
				}
			}
		}
		if !ok {
			return nil, c.Errorf("%s has shape %v; expected [%v] (one value per channel of X %v)", name, p.Shape, ch, x.Shape)
		}
	}
	// Optional outputs: running mean and variance (passed through, or updated in
	// training mode), then the batch mean and variance (opset < 14).
	return append(types, c.In[3], c.In[4], c.In[3], c.In[4]), nil
}

func inferLayerNorm(c *InferContext) ([]graph.Type, error) {
	if err := RequireFloat(c, 0); err != nil {
		return nil, err
	}
	if err := SameDTypes(c, 0, 1, 2); err != nil {
		return nil, err
	}
	x := c.In[0]
	sdt := StatsDType(x.DType)
	if !x.HasShape {
		return []graph.Type{x, Unranked(sdt), Unranked(sdt)}, nil
	}
	ax, err := NormAxis(c.Attrs().GetInt("axis", -1), len(x.Shape))
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	norm := x.Shape[ax:]
	for i, name := range []string{"Scale", "B"} {
		if c.Has(i+1) && c.In[i+1].HasShape && !broadcastsTo(c.In[i+1].Shape, norm) {
			return nil, c.Errorf("%s of shape %v does not broadcast to the normalized shape %v", name, c.In[i+1].Shape, norm)
		}
	}
	stats := append(graph.Shape{}, x.Shape[:ax]...)
	for range norm {
		stats = append(stats, graph.Dim{Size: 1})
	}
	return []graph.Type{x, Typed(sdt, stats), Typed(sdt, stats)}, nil
}

func inferChannelNorm(c *InferContext) ([]graph.Type, error) {
	if err := RequireFloat(c, 0); err != nil {
		return nil, err
	}
	if err := SameDTypes(c, 0, 1, 2); err != nil {
		return nil, err
	}
	x := c.In[0]
	if !x.HasShape {
		return []graph.Type{x}, nil
	}
	if len(x.Shape) < 2 {
		return nil, c.Errorf("input X has shape %v; expected [N, C, ...]", x.Shape)
	}
	ch := x.Shape[1]
	groups := int64(0)
	if c.Node.Op == "GroupNormalization" {
		if !c.Attrs().Has("num_groups") {
			return nil, c.Errorf("attribute num_groups is required")
		}
		groups = c.Attrs().GetInt("num_groups", 0)
		if groups < 1 || (ch.Known() && ch.Size%groups != 0) {
			return nil, c.Errorf("num_groups %d must be positive and divide the %v channels", groups, ch)
		}
	}
	for i, name := range []string{"scale", "B"} {
		p := c.In[i+1]
		if !p.HasShape {
			continue
		}
		if len(p.Shape) != 1 {
			return nil, c.Errorf("%s has shape %v; expected a vector", name, p.Shape)
		}
		if d := p.Shape[0]; d.Known() && ch.Known() && d.Size != ch.Size && (groups == 0 || d.Size != groups) {
			return nil, c.Errorf("%s has %d values; expected one per channel (%d)", name, d.Size, ch.Size)
		}
	}
	return []graph.Type{x}, nil
}

func inferLRN(c *InferContext) ([]graph.Type, error) {
	if err := RequireFloat(c, 0); err != nil {
		return nil, err
	}
	if c.Attrs().GetInt("size", 0) < 1 {
		return nil, c.Errorf("attribute size is required and must be positive")
	}
	x := c.In[0]
	if x.HasShape && len(x.Shape) < 3 {
		return nil, c.Errorf("input X has shape %v; expected [N, C, spatial...]", x.Shape)
	}
	return []graph.Type{x}, nil
}
