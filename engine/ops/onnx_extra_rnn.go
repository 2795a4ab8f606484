package ops

import (
	"github.com/lightiam/lightos/engine/graph"
)

// The recurrent operators RNN, GRU and LSTM (opset 7-22 attributes, layout 0 and 1).
func init() {
	for _, op := range []string{"RNN", "GRU", "LSTM"} {
		outs := 2
		if op == "LSTM" {
			outs = 3
		}
		xRegisterExtra(Schema{Name: op, Doc: "recurrent layer " + op + ": Y, Y_h" + map[bool]string{true: ", Y_c", false: ""}[op == "LSTM"],
			Inputs: Arity{3, 8}, Outputs: Arity{0, outs}, Infer: xInferRNN})
	}
}

func xInferRNN(c *InferContext) ([]graph.Type, error) {
	x, r := c.In[0], c.In[2]
	dt := x.DType
	unk := graph.Dim{Size: -1}
	dirs := graph.Dim{Size: 1}
	if c.Attrs().GetString("direction", "forward") == "bidirectional" {
		dirs = graph.Dim{Size: 2}
	}
	hidden := graph.Dim{Size: c.Attrs().GetInt("hidden_size", -1)}
	if hidden.Size < 0 && r.HasShape && len(r.Shape) == 3 {
		hidden = r.Shape[2]
	}
	seq, batch := unk, unk
	if x.HasShape && len(x.Shape) == 3 {
		seq, batch = x.Shape[0], x.Shape[1]
		if c.Attrs().GetInt("layout", 0) == 1 {
			seq, batch = x.Shape[1], x.Shape[0]
		}
	}
	y := graph.Shape{seq, dirs, batch, hidden}
	h := graph.Shape{dirs, batch, hidden}
	if c.Attrs().GetInt("layout", 0) == 1 {
		y = graph.Shape{batch, seq, dirs, hidden}
		h = graph.Shape{batch, dirs, hidden}
	}
	return []graph.Type{Typed(dt, y), Typed(dt, h), Typed(dt, h)}, nil
}
