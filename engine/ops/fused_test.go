package ops_test

import (
	"strings"
	"testing"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// inferFused builds one lightos-domain node over float32 inputs of the given shapes
// (nil: omitted) and infers it.
func inferFused(op string, attrs graph.Attrs, shapes ...[]int) (graph.Type, error) {
	g := graph.New("fused")
	ins := make([]*graph.Value, len(shapes))
	for i, s := range shapes {
		if s != nil {
			ins[i] = g.AddInput("in"+string(rune('a'+i)), tensor.Float32, graph.ShapeOf(s...))
		}
	}
	n := g.AddNode(op, "node", ins, []string{"y"}, attrs)
	n.Domain = ops.DomainLightOS
	err := ops.InferNode(g, n, ops.InferOptions{})
	return n.Outputs[0].Type, err
}

func TestFusedSchemas(t *testing.T) {
	act := func(a string) graph.Attrs { return graph.Attrs{"activation": graph.String(a)} }
	heads := func(h int64) graph.Attrs { return graph.Attrs{"num_heads": graph.Int(h)} }
	for _, tc := range []struct {
		name    string
		op      string
		attrs   graph.Attrs
		shapes  [][]int
		want    string // output type, or the start of the error
		wantErr bool
	}{
		{"matmul", ops.FusedMatMul, act("Relu"), [][]int{{2, 3, 5}, {5, 7}, {7}}, "float32[2,3,7]", false},
		{"matmul-row-bias", ops.FusedMatMul, act(""), [][]int{{5}, {5, 7}, {1, 7}}, "float32[7]", false},
		{"matmul-bad-act", ops.FusedMatMul, act("Tanh"), [][]int{{2, 5}, {5, 7}}, "activation", true},
		{"matmul-batched-b", ops.FusedMatMul, act(""), [][]int{{2, 5}, {3, 5, 7}}, "B has shape", true},
		{"matmul-bad-bias", ops.FusedMatMul, act(""), [][]int{{2, 5}, {5, 7}, {6}}, "bias", true},
		{"conv", ops.FusedConv, graph.Attrs{"activation": graph.String("LeakyRelu"), "pads": graph.Ints(1, 1, 1, 1)}, [][]int{{1, 3, 8, 8}, {4, 3, 3, 3}}, "float32[1,4,8,8]", false},
		{"conv-bad-act", ops.FusedConv, act("Gelu"), [][]int{{1, 3, 8, 8}, {4, 3, 3, 3}}, "activation", true},
		{"attention-split", ops.Attention, nil, [][]int{{2, 3, 5, 4}, {2, 3, 7, 4}, {2, 3, 7, 6}, {1, 1, 5, 7}}, "float32[2,3,5,6]", false},
		{"attention-transposed-k", ops.Attention, graph.Attrs{"transpose_k": graph.Int(1)}, [][]int{{3, 5, 4}, {3, 4, 7}, {3, 7, 2}}, "float32[3,5,2]", false},
		{"attention-heads", ops.Attention, heads(2), [][]int{{2, 5, 8}, {2, 7, 8}, {2, 7, 6}, {2, 2, 5, 7}}, "float32[2,5,6]", false},
		{"attention-heads-not-dividing", ops.Attention, heads(3), [][]int{{2, 5, 8}, {2, 7, 8}, {2, 7, 6}}, "num_heads 3", true},
		{"attention-key-width", ops.Attention, nil, [][]int{{2, 5, 4}, {2, 7, 3}, {2, 7, 6}}, "K", true},
		{"attention-bad-mask", ops.Attention, nil, [][]int{{2, 5, 4}, {2, 7, 4}, {2, 7, 6}, {5, 6}}, "mask", true},
		{"lnattention", ops.LayerNormAttention, heads(2), [][]int{{2, 5, 6}, {6}, {6}, {6, 8}, {8}, {6, 8}, {8}, {6, 4}, {4}}, "float32[2,5,4]", false},
		{"lnattention-no-biases", ops.LayerNormAttention, nil, [][]int{{2, 5, 6}, {6}, nil, {6, 8}, nil, {6, 8}, nil, {6, 4}, nil}, "float32[2,5,4]", false},
		{"lnattention-missing-weight", ops.LayerNormAttention, nil, [][]int{{2, 5, 6}, {6}, nil, {6, 8}, nil, nil, nil, {6, 4}, nil}, "weight input 5", true},
		{"lnattention-bad-weight", ops.LayerNormAttention, nil, [][]int{{2, 5, 6}, {6}, nil, {5, 8}, nil, {6, 8}, nil, {6, 4}, nil}, "weight 3", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			typ, err := inferFused(tc.op, tc.attrs, tc.shapes...)
			switch {
			case tc.wantErr && err == nil:
				t.Fatalf("inferred %v, want an error about %q", typ, tc.want)
			case tc.wantErr && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("error %q does not mention %q", err, tc.want)
			case tc.wantErr:
				if !strings.Contains(err.Error(), `"node"`) {
					t.Errorf("error %q does not name the node", err)
				}
			case err != nil:
				t.Fatal(err)
			case typ.String() != tc.want:
				t.Fatalf("inferred %v, want %s", typ, tc.want)
			}
		})
	}
}
