package cpu_test

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// refReduce groups the input values by output element (reduced axes set to 0 in a
// keepdims shape) and applies f to each group.
func refReduce(x *tensor.Tensor, axes []int, keep bool, f func(v []float64) float64) ([]int, []float64) {
	shape := x.Shape()
	red := make([]bool, len(shape))
	for _, a := range axes {
		if a < 0 {
			a += len(shape)
		}
		red[a] = true
	}
	kshape := make([]int, len(shape))
	var oshape []int
	for d, n := range shape {
		kshape[d] = n
		if red[d] {
			kshape[d] = 1
			if keep {
				oshape = append(oshape, 1)
			}
		} else {
			oshape = append(oshape, n)
		}
	}
	groups := make([][]float64, tensor.NumElements(kshape))
	for i := 0; i < x.Len(); i++ {
		idx := multiIndex(i, shape)
		for d := range idx {
			if red[d] {
				idx[d] = 0
			}
		}
		o := flatIndex(idx, kshape)
		groups[o] = append(groups[o], x.Float64At(i))
	}
	want := make([]float64, len(groups))
	for i, g := range groups {
		want[i] = f(g)
	}
	if oshape == nil {
		oshape = []int{}
	}
	return oshape, want
}

func sum(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s
}

var reduceRefs = map[string]func(v []float64) float64{
	"ReduceSum":  sum,
	"ReduceMean": func(v []float64) float64 { return sum(v) / float64(len(v)) },
	"ReduceMax": func(v []float64) float64 {
		m := math.Inf(-1)
		for _, x := range v {
			m = math.Max(m, x)
		}
		return m
	},
	"ReduceMin": func(v []float64) float64 {
		m := math.Inf(1)
		for _, x := range v {
			m = math.Min(m, x)
		}
		return m
	},
	"ReduceProd": func(v []float64) float64 {
		p := 1.0
		for _, x := range v {
			p *= x
		}
		return p
	},
	"ReduceL1": func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += math.Abs(x)
		}
		return s
	},
	"ReduceL2": func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x * x
		}
		return math.Sqrt(s)
	},
	"ReduceSumSquare": func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x * x
		}
		return s
	},
	"ReduceLogSum": func(v []float64) float64 { return math.Log(sum(v)) },
	"ReduceLogSumExp": func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += math.Exp(x)
		}
		return math.Log(s)
	},
}

func TestReduceAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	shapes := [][]int{{7}, {3, 5}, {2, 3, 4, 5}, {1, 13, 1}, {3, 1, 2049}, {5000, 3}}
	axesSets := [][]int64{nil, {0}, {-1}, {0, 2}, {1, 3}, {1}, {0, 1, 2, 3}}
	for op, ref := range reduceRefs {
		for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64, tensor.Float16} {
			for _, shape := range shapes {
				lo, hi := -2.0, 2.0
				if op == "ReduceLogSum" || op == "ReduceProd" {
					lo, hi = 0.5, 1.5
				}
				x := randT(dt, shape, uniform(r, lo, hi, false))
				for _, axes := range axesSets {
					ok := true
					for _, a := range axes {
						if int(a) >= len(shape) || int(a) < -len(shape) {
							ok = false
						}
					}
					if !ok {
						continue
					}
					for _, keep := range []bool{true, false} {
						var ia []int
						for _, a := range axes {
							ia = append(ia, int(a))
						}
						if axes == nil {
							for d := range shape {
								ia = append(ia, d)
							}
						}
						oshape, want := refReduce(x, ia, keep, ref)
						attrs := graph.Attrs{"keepdims": graph.Int(map[bool]int64{true: 1, false: 0}[keep])}
						tol := 1e-5
						if dt == tensor.Float16 {
							tol = 3e-3
							for i := range want {
								want[i] = roundTo(dt, want[i])
							}
						}
						if op == "ReduceProd" && len(x.Shape()) > 0 && x.Len() > 1000 {
							continue // the product of thousands of values over- or underflows
						}
						// opset 18 form: axes as a (constant) input.
						ins := []*tensor.Tensor{x}
						if axes != nil {
							ins = append(ins, vec(axes...))
						}
						out := opRun{op: op, attrs: attrs, ins: ins, consts: map[int]bool{1: true}}.mustRun(t)[0]
						checkClose(t, op+" "+dt.String(), out, oshape, want, tol)
						// opset 13 form: axes as an attribute.
						if axes != nil && op != "ReduceSum" {
							a2 := graph.Attrs{"keepdims": attrs["keepdims"], "axes": graph.Ints(axes...)}
							out = opRun{op: op, attrs: a2, ins: []*tensor.Tensor{x}, opset: 13}.mustRun(t)[0]
							checkClose(t, op+" (axes attribute) "+dt.String(), out, oshape, want, tol)
						}
					}
				}
			}
		}
	}
}

func TestReduceIntegers(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	for _, op := range []string{"ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceMean", "ReduceL1", "ReduceSumSquare"} {
		for _, dt := range []tensor.DType{tensor.Int32, tensor.Int64, tensor.Uint8, tensor.Int8} {
			x := randT(dt, []int{3, 4, 5}, uniform(r, 0, 4, true))
			oshape, want := refReduce(x, []int{1}, true, reduceRefs[op])
			if op == "ReduceMean" {
				for i := range want {
					want[i] = math.Trunc(want[i])
				}
			}
			if dt == tensor.Uint8 || dt == tensor.Int8 {
				for i := range want {
					want[i] = roundTo(dt, math.Mod(want[i], 256))
				}
				if op == "ReduceProd" {
					continue
				}
			}
			out := opRun{op: op, ins: []*tensor.Tensor{x, vec(1)}}.mustRun(t)[0]
			checkClose(t, op+" "+dt.String(), out, oshape, want, 0)
		}
	}
}

func TestReduceEdgeCases(t *testing.T) {
	// Reducing an empty axis gives each reduction's identity.
	empty := tensor.New(tensor.Float32, []int{2, 0, 3})
	for op, want := range map[string]float64{"ReduceSum": 0, "ReduceProd": 1, "ReduceMax": math.Inf(-1), "ReduceMin": math.Inf(1),
		"ReduceL1": 0, "ReduceL2": 0, "ReduceSumSquare": 0, "ReduceLogSum": math.Inf(-1), "ReduceLogSumExp": math.Inf(-1)} {
		out := opRun{op: op, ins: []*tensor.Tensor{empty, vec(1)}, consts: map[int]bool{1: true}}.mustRun(t)[0]
		w := make([]float64, 6)
		for i := range w {
			w[i] = want
		}
		checkClose(t, op+" of an empty axis", out, []int{2, 1, 3}, w, 0)
	}
	out := opRun{op: "ReduceSum", ins: []*tensor.Tensor{empty, vec(0)}, consts: map[int]bool{1: true}}.mustRun(t)[0]
	checkClose(t, "ReduceSum keeping an empty axis", out, []int{1, 0, 3}, nil, 0)
	// Empty axes: everything, or nothing with noop_with_empty_axes.
	x := seq(tensor.Float32, 2, 3)
	out = opRun{op: "ReduceSum", ins: []*tensor.Tensor{x, vec()}, consts: map[int]bool{1: true}}.mustRun(t)[0]
	checkClose(t, "ReduceSum empty axes", out, []int{1, 1}, []float64{15}, 0)
	out = opRun{op: "ReduceSum", attrs: graph.Attrs{"noop_with_empty_axes": graph.Int(1)}, ins: []*tensor.Tensor{x, vec()}, consts: map[int]bool{1: true}}.mustRun(t)[0]
	checkClose(t, "ReduceSum noop", out, []int{2, 3}, x.AsFloat64s(), 0)
	// Axes fed at run time.
	out = opRun{op: "ReduceMax", attrs: graph.Attrs{"keepdims": graph.Int(0)}, ins: []*tensor.Tensor{x, vec(-1)}}.mustRun(t)[0]
	checkClose(t, "ReduceMax fed axes", out, []int{2}, []float64{2, 5}, 0)
	// Bool Max/Min (opset 20).
	b := tensor.New(tensor.Bool, []int{2, 2})
	b.Bools()[1] = true
	out = opRun{op: "ReduceMax", ins: []*tensor.Tensor{b, vec(1)}, consts: map[int]bool{1: true}}.mustRun(t)[0]
	checkClose(t, "ReduceMax bool", out, []int{2, 1}, []float64{1, 0}, 0)
	out = opRun{op: "ReduceMin", ins: []*tensor.Tensor{b, vec(1)}, consts: map[int]bool{1: true}}.mustRun(t)[0]
	checkClose(t, "ReduceMin bool", out, []int{2, 1}, []float64{0, 0}, 0)
	// LogSumExp of large values stays finite.
	big := f32s([]int{2}, 1000, 1000)
	out = opRun{op: "ReduceLogSumExp", ins: []*tensor.Tensor{big}}.mustRun(t)[0]
	checkClose(t, "ReduceLogSumExp large", out, []int{1}, []float64{1000 + math.Ln2}, 1e-6)

	opRun{op: "ReduceSum", ins: []*tensor.Tensor{x, vec(2)}, consts: map[int]bool{1: true}}.wantErr(t, "axis out of range")
	opRun{op: "ReduceSum", ins: []*tensor.Tensor{x, vec(0, -2)}, consts: map[int]bool{1: true}}.wantErr(t, "duplicate axis")
	opRun{op: "ReduceMean", ins: []*tensor.Tensor{b}}.wantErr(t, "bool mean")
	opRun{op: "ArgMax", attrs: graph.Attrs{"axis": graph.Int(2)}, ins: []*tensor.Tensor{x}}.wantErr(t, "axis out of range")
}

func TestArgMaxMin(t *testing.T) {
	r := rand.New(rand.NewPCG(35, 36))
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64, tensor.Int32, tensor.Int64, tensor.Uint8, tensor.Float16} {
		x := randT(dt, []int{4, 5, 3}, uniform(r, 0, 5, true)) // integral values: many ties
		for _, op := range []string{"ArgMax", "ArgMin"} {
			for _, axis := range []int{0, 1, -1} {
				for _, last := range []int64{0, 1} {
					for _, keep := range []int64{0, 1} {
						ax := (axis + 3) % 3
						oshape, want := refReduceIdx(x, ax, keep == 1, func(v []float64) float64 {
							best := 0
							for i, e := range v {
								better := (op == "ArgMax" && e > v[best]) || (op == "ArgMin" && e < v[best]) || (last == 1 && e == v[best])
								if better {
									best = i
								}
							}
							return float64(best)
						})
						attrs := graph.Attrs{"axis": graph.Int(int64(axis)), "keepdims": graph.Int(keep), "select_last_index": graph.Int(last)}
						out := opRun{op: op, attrs: attrs, ins: []*tensor.Tensor{x}}.mustRun(t)[0]
						if out.DType() != tensor.Int64 {
							t.Fatalf("%s gave %v", op, out.DType())
						}
						checkClose(t, op, out, oshape, want, 0)
					}
				}
			}
		}
	}
}

// refReduceIdx applies f to the values along axis for each output position, in axis order.
func refReduceIdx(x *tensor.Tensor, axis int, keep bool, f func(v []float64) float64) ([]int, []float64) {
	shape, want := refReduce(x, []int{axis}, keep, func(v []float64) float64 { return 0 })
	groups := map[int][]float64{}
	kshape := append([]int{}, x.Shape()...)
	kshape[axis] = 1
	keys := []int{}
	for i := 0; i < x.Len(); i++ {
		idx := multiIndex(i, x.Shape())
		idx[axis] = 0
		k := flatIndex(idx, kshape)
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], x.Float64At(i))
	}
	sort.Ints(keys)
	for _, k := range keys {
		want[k] = f(groups[k])
	}
	return shape, want
}
