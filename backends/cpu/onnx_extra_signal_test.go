package cpu_test

import (
	"fmt"
	"testing"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// TestMelWeightMatrixAgainstONNXReference compares with the nonzero entries that
// onnx.reference.ops.op_mel_weight_matrix (ONNX 1.23) gives for the same arguments;
// every other entry is zero.
func TestMelWeightMatrixAgainstONNXReference(t *testing.T) {
	type entry struct {
		row, col int
		v        float64
	}
	f32 := func(v float32) *tensor.Tensor {
		x := tensor.New(tensor.Float32, nil)
		x.SetFloat64At(0, float64(v))
		return x
	}
	for _, tc := range []struct {
		mels, dft, rate int64
		lo, hi          float32
		nonzero         []entry
	}{
		{6, 40, 8000, 20, 3900, []entry{{1, 0, 1}, {2, 1, 1}, {3, 2, 1}, {4, 2, 0.5}, {4, 3, 0.5}, {5, 3, 1}, {6, 3, 0.666666687}, {6, 4, 0.333333343},
			{7, 3, 0.333333343}, {7, 4, 0.666666687}, {8, 4, 1}, {9, 4, 0.666666687}, {9, 5, 0.333333343}, {10, 4, 0.333333343}, {10, 5, 0.666666687},
			{11, 5, 1}, {12, 5, 0.75}, {13, 5, 0.5}, {14, 5, 0.25}}},
		{5, 31, 16000, 100, 7000, []entry{{0, 0, 1}, {1, 1, 1}, {2, 2, 1}, {3, 2, 0.5}, {3, 3, 0.5}, {4, 3, 1}, {5, 3, 0.5}, {5, 4, 0.5}, {6, 4, 1},
			{7, 4, 0.666666687}, {8, 4, 0.333333343}}},
	} {
		t.Run(fmt.Sprintf("%d/%d/%d", tc.mels, tc.dft, tc.rate), func(t *testing.T) {
			out, err := runOp("MelWeightMatrix", nil, 1, feed(i64s(nil, tc.mels)), feed(i64s(nil, tc.dft)), feed(i64s(nil, tc.rate)), feed(f32(tc.lo)), feed(f32(tc.hi)))
			if err != nil {
				t.Fatal(err)
			}
			bins := int(tc.dft/2 + 1)
			want := make([]float64, bins*int(tc.mels))
			for _, e := range tc.nonzero {
				want[e.row*int(tc.mels)+e.col] = e.v
			}
			closeTo(t, "MelWeightMatrix", out[0], []int{bins, int(tc.mels)}, want, 1)
		})
	}
	_, err := runOp("MelWeightMatrix", nil, 1, feed(i64s(nil, 4)), feed(i64s(nil, 16)), feed(i64s(nil, 8000)), feed(f32(0)), feed(f32(40000)))
	wantErr(t, "upper edge above Nyquist", err)
	_, err = runOp("MelWeightMatrix", graph.Attrs{"output_datatype": graph.Int(11)}, 1, feed(i64s(nil, 0)), feed(i64s(nil, 16)), feed(i64s(nil, 8000)), feed(f32(0)), feed(f32(4000)))
	wantErr(t, "no mel bins", err)
}
