package cpu_test

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

func TestTrilu(t *testing.T) {
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Int64, tensor.Float16} {
		x := seq(dt, 2, 4, 5)
		x.SetFloat64At(0, 1)
		for _, upper := range []int64{0, 1} {
			for _, k := range []int64{-7, -1, 0, 2, 9} {
				want := refMap(x, x.Shape(), 0, func(idx []int) []int {
					d := int64(idx[2] - idx[1])
					if (upper == 1 && d >= k) || (upper == 0 && d <= k) {
						return idx
					}
					return nil
				})
				out := opRun{op: "Trilu", attrs: graph.Attrs{"upper": graph.Int(upper)}, ins: []*tensor.Tensor{x, i64s(nil, k)}}.mustRun(t)[0]
				checkClose(t, "Trilu", out, x.Shape(), want, 0)
			}
		}
		out := opRun{op: "Trilu", ins: []*tensor.Tensor{x}}.mustRun(t)[0]
		want := refMap(x, x.Shape(), 0, func(idx []int) []int {
			if idx[2] >= idx[1] {
				return idx
			}
			return nil
		})
		checkClose(t, "Trilu default", out, x.Shape(), want, 0)
	}
	opRun{op: "Trilu", ins: []*tensor.Tensor{seq(tensor.Float32, 3)}}.wantErr(t, "rank 1")
}

func TestCumSum(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64, tensor.Int32, tensor.Int64, tensor.Int8, tensor.Float16} {
		x := randT(dt, []int{3, 4, 5}, uniform(r, -4, 4, true))
		for _, axis := range []int64{0, 1, -1} {
			for _, excl := range []int64{0, 1} {
				for _, rev := range []int64{0, 1} {
					ax := int((axis + 3) % 3)
					want := make([]float64, x.Len())
					for i := range want {
						idx := multiIndex(i, x.Shape())
						s := 0.0
						for j := 0; j < x.Shape()[ax]; j++ {
							in := (rev == 0 && (j < idx[ax] || (excl == 0 && j == idx[ax]))) ||
								(rev == 1 && (j > idx[ax] || (excl == 0 && j == idx[ax])))
							if in {
								p := append([]int{}, idx...)
								p[ax] = j
								s += x.Float64At(flatIndex(p, x.Shape()))
							}
						}
						want[i] = s
					}
					attrs := graph.Attrs{"exclusive": graph.Int(excl), "reverse": graph.Int(rev)}
					out := opRun{op: "CumSum", attrs: attrs, ins: []*tensor.Tensor{x, i64s(nil, axis)}}.mustRun(t)[0]
					checkClose(t, "CumSum "+dt.String(), out, x.Shape(), want, 0)
				}
			}
		}
	}
	opRun{op: "CumSum", ins: []*tensor.Tensor{seq(tensor.Float32, 3), i64s(nil, 1)}, consts: map[int]bool{1: true}}.wantErr(t, "axis out of range")
}

func TestTopK(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64, tensor.Int64, tensor.Int32, tensor.Float16} {
		x := randT(dt, []int{3, 7, 4}, uniform(r, 0, 6, true))
		for _, axis := range []int64{1, -1, 0} {
			for _, largest := range []int64{0, 1} {
				for _, k := range []int64{0, 1, 3} {
					ax := int((axis + 3) % 3)
					shape := append([]int{}, x.Shape()...)
					shape[ax] = int(k)
					wantV, wantI := make([]float64, tensor.NumElements(shape)), make([]float64, tensor.NumElements(shape))
					for i := range wantV {
						idx := multiIndex(i, shape)
						order := make([]int, x.Shape()[ax])
						for j := range order {
							order[j] = j
						}
						at := func(j int) float64 {
							p := append([]int{}, idx...)
							p[ax] = j
							return x.Float64At(flatIndex(p, x.Shape()))
						}
						sort.SliceStable(order, func(a, b int) bool {
							if largest == 1 {
								return at(order[a]) > at(order[b])
							}
							return at(order[a]) < at(order[b])
						})
						wantI[i] = float64(order[idx[ax]])
						wantV[i] = at(order[idx[ax]])
					}
					attrs := graph.Attrs{"axis": graph.Int(axis), "largest": graph.Int(largest)}
					outs := opRun{op: "TopK", attrs: attrs, ins: []*tensor.Tensor{x, vec(k)}, consts: map[int]bool{1: true}, nOut: 2}.mustRun(t)
					checkClose(t, "TopK values", outs[0], shape, wantV, 0)
					checkClose(t, "TopK indices", outs[1], shape, wantI, 0)
				}
			}
		}
	}
	x := f32s([]int{4}, 1, 3, 2, 5)
	outs := opRun{op: "TopK", attrs: graph.Attrs{"k": graph.Int(2)}, ins: []*tensor.Tensor{x}, nOut: 2, opset: 9}.mustRun(t)
	checkClose(t, "TopK opset 9", outs[0], []int{2}, []float64{5, 3}, 0)
	opRun{op: "TopK", ins: []*tensor.Tensor{x, vec(5)}, consts: map[int]bool{1: true}, nOut: 2}.wantErr(t, "k too large")
	opRun{op: "TopK", ins: []*tensor.Tensor{x, vec(5)}, nOut: 2}.wantErr(t, "k too large at run time")
}

func TestNonZero(t *testing.T) {
	x := f32s([]int{2, 3}, 0, 1.5, 0, -2, 0, float32(math.NaN()))
	for _, konst := range []bool{false, true} {
		out := opRun{op: "NonZero", ins: []*tensor.Tensor{x}, consts: map[int]bool{0: konst}}.mustRun(t)[0]
		checkClose(t, "NonZero", out, []int{2, 3}, []float64{0, 1, 1, 1, 0, 2}, 0)
	}
	b := tensor.New(tensor.Bool, []int{4})
	out := opRun{op: "NonZero", ins: []*tensor.Tensor{b}}.mustRun(t)[0]
	checkClose(t, "NonZero none", out, []int{1, 0}, nil, 0)
}

func TestScatterElements(t *testing.T) {
	x := seq(tensor.Float32, 3, 3)
	idx := i64s([]int{2, 3}, 1, 0, 2, 0, 2, -2)
	upd := f32s([]int{2, 3}, 10, 20, 30, 40, 50, 60)
	for red, want := range map[string][]float64{
		"none": {40, 20, 2, 10, 4, 60, 6, 50, 30},
		"add":  {40, 21, 2, 13, 4, 65, 6, 57, 38},
		"mul":  {0, 20, 2, 30, 4, 300, 6, 350, 240},
		"max":  {40, 20, 2, 10, 4, 60, 6, 50, 30},
		"min":  {0, 1, 2, 3, 4, 5, 6, 7, 8},
	} {
		out := opRun{op: "ScatterElements", attrs: graph.Attrs{"axis": graph.Int(0), "reduction": graph.String(red)}, ins: []*tensor.Tensor{x, idx, upd}}.mustRun(t)[0]
		checkClose(t, "ScatterElements "+red, out, []int{3, 3}, want, 0)
	}
	out := opRun{op: "ScatterElements", attrs: graph.Attrs{"axis": graph.Int(-1)}, ins: []*tensor.Tensor{x, i64s([]int{1, 2}, 2, 0), f32s([]int{1, 2}, -1, -2)}}.mustRun(t)[0]
	checkClose(t, "ScatterElements axis -1", out, []int{3, 3}, []float64{-2, 1, -1, 3, 4, 5, 6, 7, 8}, 0)
	opRun{op: "ScatterElements", ins: []*tensor.Tensor{x, i64s([]int{1, 1}, 3), f32s([]int{1, 1}, 1)}}.wantErr(t, "index out of range")
	opRun{op: "ScatterElements", attrs: graph.Attrs{"reduction": graph.String("avg")}, ins: []*tensor.Tensor{x, idx, upd}}.wantErr(t, "bad reduction")
}
