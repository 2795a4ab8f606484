package ops

import (
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// DomainML is the ONNX-ML operator domain that scikit-learn exporters use.
const DomainML = "ai.onnx.ml"

// ai.onnx.ml operators with numeric labels. String class labels and ZipMap (which
// produces a sequence of maps) have no place in a tensor-only IR and are rejected.
func init() {
	xRegisterExtra(Schema{Name: "LinearRegressor", Domain: DomainML, Doc: "X @ coefficients^T + intercepts, then post_transform",
		Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: xInferMLRows("targets", 1)})
	xRegisterExtra(Schema{Name: "LinearClassifier", Domain: DomainML, Doc: "linear scores per class; labels (int64) and scores",
		Inputs: Arity{1, 1}, Outputs: Arity{1, 2}, Infer: xInferMLClassifier})
	xRegisterExtra(Schema{Name: "Normalizer", Domain: DomainML, Doc: "row normalization by MAX, L1 or L2 norm",
		Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: xInferMLFloatSame})
	xRegisterExtra(Schema{Name: "Scaler", Domain: DomainML, Doc: "(X - offset) * scale per feature",
		Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: xInferMLFloatSame})
	xRegisterExtra(Schema{Name: "Binarizer", Domain: DomainML, Doc: "1 where X > threshold, else 0",
		Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: Same(0)})
	xRegisterExtra(Schema{Name: "ArrayFeatureExtractor", Domain: DomainML, Doc: "selects elements of the last axis at indices",
		Inputs: Arity{2, 2}, Outputs: Arity{1, 1}, Infer: xInferArrayFeature})
	xRegisterExtra(Schema{Name: "TreeEnsembleRegressor", Domain: DomainML, Doc: "sum, average, min or max of decision-tree leaf values per target",
		Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: xInferMLRows("n_targets", 1)})
	xRegisterExtra(Schema{Name: "TreeEnsembleClassifier", Domain: DomainML, Doc: "decision-tree class scores; labels (int64) and scores",
		Inputs: Arity{1, 1}, Outputs: Arity{1, 2}, Infer: xInferMLClassifier})
}

func xMlBatch(x graph.Type) graph.Dim {
	if x.HasShape && len(x.Shape) == 2 {
		return x.Shape[0]
	}
	if x.HasShape && len(x.Shape) == 1 {
		return graph.Dim{Size: 1}
	}
	return graph.Dim{Size: -1}
}

func xInferMLRows(attr string, def int64) func(c *InferContext) ([]graph.Type, error) {
	return func(c *InferContext) ([]graph.Type, error) {
		t := c.Attrs().GetInt(attr, def)
		return []graph.Type{Typed(tensor.Float32, graph.Shape{xMlBatch(c.In[0]), {Size: t}})}, nil
	}
}

// MLClassCount is the number of classes of a LinearClassifier or TreeEnsembleClassifier.
func MLClassCount(n *graph.Node) int {
	if s := n.Attrs["classlabels_strings"]; s.Kind == graph.AttrStrings {
		return len(s.Strings)
	}
	return len(n.Attrs.GetInts("classlabels_ints", n.Attrs.GetInts("classlabels_int64s", nil)))
}

func xInferMLClassifier(c *InferContext) ([]graph.Type, error) {
	if c.Attrs().Has("classlabels_strings") {
		return nil, c.Errorf("string class labels are not supported (tensors of strings have no dtype here)")
	}
	classes := MLClassCount(c.Node)
	if classes == 0 {
		return nil, c.Errorf("no classlabels_ints")
	}
	b := xMlBatch(c.In[0])
	return []graph.Type{Typed(tensor.Int64, graph.Shape{b}), Typed(tensor.Float32, graph.Shape{b, {Size: int64(classes)}})}, nil
}

func xInferMLFloatSame(c *InferContext) ([]graph.Type, error) {
	x := c.In[0]
	return []graph.Type{{DType: tensor.Float32, Shape: x.Shape, HasShape: x.HasShape}}, nil
}

func xInferArrayFeature(c *InferContext) ([]graph.Type, error) {
	x, idx := c.In[0], c.In[1]
	if !x.HasShape || !idx.HasShape {
		return []graph.Type{Unranked(x.DType)}, nil
	}
	k := graph.Dim{Size: -1}
	if idx.Shape.Known() {
		k = graph.Dim{Size: int64(tensor.NumElements(idx.Shape.Ints()))}
	}
	if len(x.Shape) <= 1 {
		return []graph.Type{Typed(x.DType, graph.Shape{{Size: 1}, k})}, nil
	}
	out := append(graph.Shape(nil), x.Shape[:len(x.Shape)-1]...)
	return []graph.Type{Typed(x.DType, append(out, k))}, nil
}

func init() {
	xRegisterExtra(Schema{Name: "TreeEnsemble", Domain: DomainML, Doc: "ai.onnx.ml opset 5 tree ensemble (tensor attributes, set membership splits)",
		Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: xInferTreeEnsemble5})
}

func xInferTreeEnsemble5(c *InferContext) ([]graph.Type, error) {
	x := c.In[0]
	return []graph.Type{Typed(x.DType, graph.Shape{xMlBatch(x), {Size: c.Attrs().GetInt("n_targets", 1)}})}, nil
}
