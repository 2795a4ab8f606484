package cpu_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// TestNoPanicsOnBadInputs feeds every operator of the elementwise and shape families
// random, mostly invalid, inputs and attributes: wrong ranks, out-of-range axes and
// indices, negative sizes, empty tensors. Errors are expected; a panic (which the
// executor turns into an error saying "panicked") is a bug.
func TestNoPanicsOnBadInputs(t *testing.T) {
	r := rand.New(rand.NewPCG(71, 72))
	dtypes := []tensor.DType{tensor.Float32, tensor.Int64, tensor.Bool, tensor.Float16, tensor.Uint8, tensor.Int32}
	data := func(dt tensor.DType) *tensor.Tensor {
		rank := r.IntN(4)
		shape := make([]int, rank)
		for i := range shape {
			shape[i] = r.IntN(4)
		}
		return randT(dt, shape, uniform(r, -4, 4, true))
	}
	ints := func() *tensor.Tensor {
		n := r.IntN(4)
		v := make([]int64, n)
		for i := range v {
			v[i] = int64(r.IntN(11) - 5)
		}
		if r.IntN(4) == 0 {
			return i64s(nil, int64(r.IntN(11)-5))
		}
		return vec(v...)
	}
	attrs := func() graph.Attrs {
		a := graph.Attrs{}
		for _, name := range []string{"axis", "keepdims", "exclusive", "reverse", "upper", "largest", "select_last_index", "allowzero", "num_outputs", "start", "end", "to", "fmod", "noop_with_empty_axes"} {
			if r.IntN(3) == 0 {
				a[name] = graph.Int(int64(r.IntN(13) - 6))
			}
		}
		if r.IntN(3) == 0 {
			a["perm"] = graph.Ints(int64(r.IntN(4)), int64(r.IntN(4)), int64(r.IntN(4)))
		}
		if r.IntN(3) == 0 {
			a["axes"] = graph.Ints(int64(r.IntN(7) - 3))
		}
		if r.IntN(4) == 0 {
			a["split"] = graph.Ints(1, int64(r.IntN(3)))
		}
		if r.IntN(4) == 0 {
			a["mode"] = graph.String([]string{"constant", "reflect", "edge", "wrap", "bad"}[r.IntN(5)])
		}
		if r.IntN(4) == 0 {
			a["equation"] = graph.String([]string{"ij->ji", "i,i", "...i->i", "ii", "ab,bc->ac", "a->b"}[r.IntN(6)])
		}
		if r.IntN(4) == 0 {
			a["direction"] = graph.String([]string{"LEFT", "RIGHT", "UP"}[r.IntN(3)])
		}
		if r.IntN(4) == 0 {
			a["reduction"] = graph.String([]string{"none", "add", "max", "avg"}[r.IntN(4)])
		}
		return a
	}
	type sig struct {
		op   string
		args string // d: data tensor, i: int64 tensor, b: bool tensor, o: omitted-or-int
		nOut int
	}
	sigs := []sig{
		{"Add", "dd", 1}, {"Div", "dd", 1}, {"Pow", "dd", 1}, {"Mod", "dd", 1}, {"PRelu", "dd", 1}, {"BitShift", "dd", 1},
		{"Equal", "dd", 1}, {"Less", "dd", 1}, {"And", "dd", 1}, {"Not", "d", 1}, {"Sum", "ddd", 1}, {"Mean", "dd", 1},
		{"Max", "d", 1}, {"Where", "bdd", 1}, {"Where", "ddd", 1}, {"Clip", "ddd", 1}, {"Relu", "d", 1}, {"Exp", "d", 1},
		{"Abs", "d", 1}, {"IsNaN", "d", 1}, {"IsInf", "d", 1}, {"Identity", "d", 1}, {"BitwiseAnd", "dd", 1},
		{"ReduceSum", "di", 1}, {"ReduceMean", "d", 1}, {"ReduceMax", "di", 1}, {"ReduceLogSumExp", "di", 1},
		{"ArgMax", "d", 1}, {"ArgMin", "d", 1},
		{"Reshape", "di", 1}, {"Flatten", "d", 1}, {"Squeeze", "di", 1}, {"Unsqueeze", "di", 1}, {"Shape", "d", 1},
		{"Size", "d", 1}, {"Expand", "di", 1}, {"ConstantOfShape", "i", 1}, {"Range", "iii", 1}, {"Cast", "d", 1},
		{"CastLike", "dd", 1}, {"Dropout", "d", 2}, {"Transpose", "d", 1}, {"Concat", "dd", 1}, {"Split", "di", 2},
		{"Split", "d", 3}, {"Slice", "diiii", 1}, {"Slice", "dii", 1}, {"Gather", "di", 1}, {"GatherElements", "di", 1},
		{"ScatterElements", "did", 1}, {"Tile", "di", 1}, {"Pad", "di", 1}, {"Pad", "didi", 1}, {"Trilu", "di", 1},
		{"CumSum", "di", 1}, {"TopK", "di", 2}, {"NonZero", "d", 1}, {"Einsum", "dd", 1}, {"Einsum", "d", 1},
	}
	ran := 0
	for _, s := range sigs {
		for trial := 0; trial < 60; trial++ {
			ins := make([]*tensor.Tensor, len(s.args))
			dt := tensor.Float32 // one dtype per trial, so that most trials get past dtype checks
			if r.IntN(2) == 0 {
				dt = dtypes[r.IntN(len(dtypes))]
			}
			consts := map[int]bool{}
			for i, k := range s.args {
				switch k {
				case 'd':
					ins[i] = data(dt)
				case 'i':
					ins[i] = ints()
				case 'b':
					ins[i] = data(tensor.Bool)
				}
				consts[i] = r.IntN(2) == 0
			}
			_, err := opRun{op: s.op, attrs: attrs(), ins: ins, consts: consts, nOut: s.nOut}.run()
			if err != nil && strings.Contains(err.Error(), "panic") {
				t.Fatalf("%s with inputs %v: %v", s.op, ins, err)
			}
			if err == nil {
				ran++
			}
		}
	}
	t.Logf("%d of %d random cases ran without error", ran, 60*len(sigs))
}
