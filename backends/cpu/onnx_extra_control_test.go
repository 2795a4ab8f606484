package cpu_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// scanSumBody is a Scan body carrying a running sum of d-vectors: state' = state + x,
// scan output = state'·2.
func scanSumBody(t *testing.T, d int) *graph.Graph {
	t.Helper()
	b := graph.NewBuilder("scan_body")
	for _, in := range []string{"sum_in", "next"} {
		if _, err := b.Input(in, tensor.Float32, graph.ShapeOf(d)); err != nil {
			t.Fatal(err)
		}
	}
	two := tensor.New(tensor.Float32, []int{1})
	two.SetFloat64At(0, 2)
	if _, err := b.Const("two", two); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Op("Add", "add", []string{"sum_in", "next"}, []string{"sum_out"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Op("Mul", "mul", []string{"sum_out", "two"}, []string{"scan_out"}, nil); err != nil {
		t.Fatal(err)
	}
	b.Output("sum_out")
	b.Output("scan_out")
	g, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestScanAgainstReference runs a running-sum Scan in the opset 9 form (scan axis and
// direction attributes) and the opset 8 batched form (sequence_lens, batch axis 0),
// comparing states and stacked scan outputs with float64 loops.
func TestScanAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 9))
	const d = 3
	for _, tc := range []struct {
		opset, batch, seq int
		axis, reverse     int64
	}{
		{9, 1, 1, 0, 0}, {9, 1, 7, 0, 0}, {9, 1, 5, 1, 0}, {9, 1, 6, 0, 1},
		{8, 1, 4, 0, 0}, {8, 3, 5, 0, 0}, {8, 2, 1, 0, 0},
	} {
		t.Run(fmt.Sprintf("opset%d/batch%d/seq%d/axis%d/rev%d", tc.opset, tc.batch, tc.seq, tc.axis, tc.reverse), func(t *testing.T) {
			attrs := graph.Attrs{"body": {Kind: graph.AttrGraph, Graph: scanSumBody(t, d)}, "num_scan_inputs": graph.Int(1), "_opset": graph.Int(int64(tc.opset))}
			var init, x *tensor.Tensor
			var ins []nodeInput
			xShape := []int{tc.seq, d}
			if tc.axis == 1 {
				xShape = []int{d, tc.seq}
			}
			if tc.opset >= 9 {
				attrs["scan_input_axes"] = graph.Ints(tc.axis)
				attrs["scan_input_directions"] = graph.Ints(tc.reverse)
				init, x = randTensor(r, tensor.Float32, d), randTensor(r, tensor.Float32, xShape...)
				ins = []nodeInput{feed(init), feed(x)}
			} else {
				init, x = randTensor(r, tensor.Float32, tc.batch, d), randTensor(r, tensor.Float32, tc.batch, tc.seq, d)
				ins = []nodeInput{{}, feed(init), feed(x)}
			}
			out, err := runOp("Scan", attrs, 2, ins...)
			if err != nil {
				t.Fatal(err)
			}
			wantSum := make([]float64, tc.batch*d)
			wantScan := make([]float64, tc.batch*tc.seq*d)
			for bi := 0; bi < tc.batch; bi++ {
				for j := 0; j < d; j++ {
					s := init.Float64At(bi*d + j)
					for it := 0; it < tc.seq; it++ {
						step := it
						if tc.reverse != 0 {
							step = tc.seq - 1 - it
						}
						xi := (bi*tc.seq+step)*d + j
						if tc.axis == 1 {
							xi = j*tc.seq + step
						}
						s += x.Float64At(xi)
						wantScan[(bi*tc.seq+it)*d+j] = 2 * s
					}
					wantSum[bi*d+j] = s
				}
			}
			sumShape, scanShape := []int{d}, []int{tc.seq, d}
			if tc.opset < 9 {
				sumShape, scanShape = []int{tc.batch, d}, []int{tc.batch, tc.seq, d}
			}
			closeTo(t, "Scan state", out[0], sumShape, wantSum, float64(tc.seq))
			closeTo(t, "Scan output", out[1], scanShape, wantScan, float64(tc.seq))
		})
	}
}
