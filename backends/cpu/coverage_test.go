package cpu_test

import (
	"testing"

	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/ops"
)

// TestElementwiseFamiliesHaveKernels checks that every operator of the elementwise,
// activation, reduction and shape/movement families has both a schema and a CPU kernel.
func TestElementwiseFamiliesHaveKernels(t *testing.T) {
	var names []string
	for _, l := range [][]string{ops.UnaryOps, ops.BinaryOps, ops.CompareOps, ops.LogicOps, ops.VariadicOps, ops.ReduceOps} {
		names = append(names, l...)
	}
	names = append(names, "Not", "BitwiseNot", "IsNaN", "IsInf", "Where", "Clip", "ArgMax", "ArgMin",
		"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Shape", "Size", "Expand", "ConstantOfShape", "Constant", "Range",
		"Cast", "CastLike", "Dropout", "Transpose", "Concat", "Split", "Slice", "Gather", "GatherElements",
		"ScatterElements", "Scatter", "Tile", "Pad", "Trilu", "CumSum", "TopK", "NonZero", "Einsum")
	for _, n := range names {
		if _, ok := ops.Lookup("", n); !ok {
			t.Errorf("%s has no schema", n)
		}
		if !cpu.HasKernel("", n) {
			t.Errorf("%s has no CPU kernel", n)
		}
	}
}
