package cpu_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// shapePairs are broadcast cases of awkward sizes: equal, scalar, size 1, rows,
// columns, rank change, middle broadcast, both sides broadcast, empty.
var shapePairs = [][2][]int{
	{{7, 5}, {7, 5}},
	{{13}, {}},
	{{}, {2, 3}},
	{{1}, {1}},
	{{3, 1, 5}, {4, 1}},
	{{2, 3, 4, 5}, {3, 1, 1}},
	{{17, 1}, {1, 19}},
	{{2, 3, 7}, {7}},
	{{5, 1, 3}, {5, 11, 3}},
	{{2, 0, 3}, {3}},
	{{131, 257}, {257}},
}

func refBroadcast(a, b *tensor.Tensor, f func(x, y float64) float64) ([]int, []float64) {
	out := broadcastShape(a.Shape(), b.Shape())
	n := tensor.NumElements(out)
	want := make([]float64, n)
	for i := range want {
		idx := multiIndex(i, out)
		want[i] = f(a.Float64At(bcastIndex(idx, a.Shape())), b.Float64At(bcastIndex(idx, b.Shape())))
	}
	return out, want
}

func broadcastShape(shapes ...[]int) []int {
	r := 0
	for _, s := range shapes {
		r = max(r, len(s))
	}
	out := make([]int, r)
	for i := range out {
		out[i] = 1
	}
	for _, s := range shapes {
		for d, v := range s {
			o := &out[r-len(s)+d]
			if v != 1 {
				*o = v
			}
		}
	}
	return out
}

type binCase struct {
	op     string
	attrs  graph.Attrs
	dtypes []tensor.DType
	lo, hi float64
	ref    func(dt tensor.DType, x, y float64) float64
	bools  bool // output is bool
}

var allNumeric = []tensor.DType{tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16, tensor.Int8, tensor.Int16,
	tensor.Int32, tensor.Int64, tensor.Uint8, tensor.Uint16, tensor.Uint32, tensor.Uint64}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func truncDiv(dt tensor.DType, x, y float64) float64 {
	if !dt.IsFloat() {
		if y == 0 {
			return 0
		}
		return math.Trunc(x / y)
	}
	return x / y
}

var binCases = []binCase{
	{op: "Add", dtypes: allNumeric, lo: 0, hi: 50, ref: func(_ tensor.DType, x, y float64) float64 { return x + y }},
	{op: "Sub", dtypes: []tensor.DType{tensor.Float32, tensor.Float64, tensor.Float16, tensor.Int8, tensor.Int32, tensor.Int64}, lo: -50, hi: 50,
		ref: func(_ tensor.DType, x, y float64) float64 { return x - y }},
	{op: "Mul", dtypes: allNumeric, lo: 0, hi: 11, ref: func(_ tensor.DType, x, y float64) float64 { return x * y }},
	{op: "Div", dtypes: allNumeric, lo: 1, hi: 100, ref: truncDiv},
	{op: "Div", dtypes: []tensor.DType{tensor.Int32, tensor.Int8}, lo: -9, hi: 9, ref: truncDiv},
	{op: "Max", dtypes: allNumeric, lo: 0, hi: 100, ref: func(_ tensor.DType, x, y float64) float64 { return math.Max(x, y) }},
	{op: "Min", dtypes: allNumeric, lo: 0, hi: 100, ref: func(_ tensor.DType, x, y float64) float64 { return math.Min(x, y) }},
	{op: "Sum", dtypes: []tensor.DType{tensor.Float32, tensor.Int64}, lo: -9, hi: 9, ref: func(_ tensor.DType, x, y float64) float64 { return x + y }},
	{op: "Mean", dtypes: []tensor.DType{tensor.Float32, tensor.Float64}, lo: -9, hi: 9, ref: func(_ tensor.DType, x, y float64) float64 { return (x + y) / 2 }},
	{op: "Pow", dtypes: []tensor.DType{tensor.Float32, tensor.Float64, tensor.Float16}, lo: 0.1, hi: 3, ref: func(_ tensor.DType, x, y float64) float64 { return math.Pow(x, y) }},
	{op: "Pow", dtypes: []tensor.DType{tensor.Int32, tensor.Int64}, lo: 0, hi: 6, ref: func(_ tensor.DType, x, y float64) float64 { return math.Pow(x, y) }},
	{op: "Mod", dtypes: []tensor.DType{tensor.Int8, tensor.Int32, tensor.Int64}, lo: -20, hi: 20, ref: func(_ tensor.DType, x, y float64) float64 {
		if y == 0 {
			return 0
		}
		r := math.Mod(x, y)
		if r != 0 && (r < 0) != (y < 0) {
			r += y
		}
		return r
	}},
	{op: "Mod", attrs: graph.Attrs{"fmod": graph.Int(1)}, dtypes: []tensor.DType{tensor.Float32, tensor.Float64, tensor.Int32}, lo: -20, hi: 20,
		ref: func(dt tensor.DType, x, y float64) float64 {
			if y == 0 && !dt.IsFloat() {
				return 0
			}
			return math.Mod(x, y)
		}},
	{op: "PRelu", dtypes: []tensor.DType{tensor.Float32, tensor.Float64, tensor.Int32}, lo: -10, hi: 10, ref: func(_ tensor.DType, x, y float64) float64 {
		if x < 0 {
			return x * y
		}
		return x
	}},
	{op: "BitShift", attrs: graph.Attrs{"direction": graph.String("LEFT")}, dtypes: []tensor.DType{tensor.Uint8, tensor.Uint32, tensor.Uint64}, lo: 0, hi: 4,
		ref: func(dt tensor.DType, x, y float64) float64 {
			return math.Mod(x*math.Pow(2, y), math.Pow(2, float64(8*dt.Size())))
		}},
	{op: "BitShift", attrs: graph.Attrs{"direction": graph.String("RIGHT")}, dtypes: []tensor.DType{tensor.Uint16, tensor.Uint64}, lo: 0, hi: 7,
		ref: func(_ tensor.DType, x, y float64) float64 { return math.Floor(x / math.Pow(2, y)) }},
	{op: "Equal", dtypes: []tensor.DType{tensor.Float32, tensor.Int64, tensor.Bool, tensor.Uint8}, lo: 0, hi: 2, bools: true,
		ref: func(_ tensor.DType, x, y float64) float64 { return b2f(x == y) }},
	{op: "Less", dtypes: allNumeric, lo: 0, hi: 4, bools: true, ref: func(_ tensor.DType, x, y float64) float64 { return b2f(x < y) }},
	{op: "Greater", dtypes: []tensor.DType{tensor.Float32, tensor.Int32}, lo: 0, hi: 4, bools: true, ref: func(_ tensor.DType, x, y float64) float64 { return b2f(x > y) }},
	{op: "LessOrEqual", dtypes: []tensor.DType{tensor.Float64, tensor.Int16}, lo: 0, hi: 4, bools: true, ref: func(_ tensor.DType, x, y float64) float64 { return b2f(x <= y) }},
	{op: "GreaterOrEqual", dtypes: []tensor.DType{tensor.Float32, tensor.Uint64}, lo: 0, hi: 4, bools: true, ref: func(_ tensor.DType, x, y float64) float64 { return b2f(x >= y) }},
	{op: "And", dtypes: []tensor.DType{tensor.Bool}, lo: 0, hi: 2, bools: true, ref: func(_ tensor.DType, x, y float64) float64 { return b2f(x != 0 && y != 0) }},
	{op: "Or", dtypes: []tensor.DType{tensor.Bool}, lo: 0, hi: 2, bools: true, ref: func(_ tensor.DType, x, y float64) float64 { return b2f(x != 0 || y != 0) }},
	{op: "Xor", dtypes: []tensor.DType{tensor.Bool}, lo: 0, hi: 2, bools: true, ref: func(_ tensor.DType, x, y float64) float64 { return b2f((x != 0) != (y != 0)) }},
	{op: "BitwiseAnd", dtypes: []tensor.DType{tensor.Int32, tensor.Uint8}, lo: 0, hi: 100, ref: func(_ tensor.DType, x, y float64) float64 { return float64(int64(x) & int64(y)) }},
	{op: "BitwiseXor", dtypes: []tensor.DType{tensor.Int64}, lo: 0, hi: 100, ref: func(_ tensor.DType, x, y float64) float64 { return float64(int64(x) ^ int64(y)) }},
}

func TestBinaryOpsAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, c := range binCases {
		for _, dt := range c.dtypes {
			integral := !dt.IsFloat()
			for _, sp := range shapePairs {
				a := randT(dt, sp[0], uniform(r, c.lo, c.hi, integral))
				b := randT(dt, sp[1], uniform(r, c.lo, c.hi, integral))
				if dt.IsFloat() && (c.op == "Div" || c.op == "Mod") {
					// keep divisors away from zero
					for i := 0; i < b.Len(); i++ {
						if math.Abs(b.Float64At(i)) < 0.5 {
							b.SetFloat64At(i, 1.5)
						}
					}
				}
				outs := opRun{op: c.op, attrs: c.attrs, ins: []*tensor.Tensor{a, b}}.mustRun(t)
				shape, want := refBroadcast(a, b, func(x, y float64) float64 { return c.ref(dt, x, y) })
				odt := dt
				if c.bools {
					odt = tensor.Bool
				}
				if outs[0].DType() != odt {
					t.Fatalf("%s %v: output dtype %v, want %v", c.op, dt, outs[0].DType(), odt)
				}
				tol := dtypeTol(dt)
				if c.op == "Pow" || c.op == "Mean" {
					tol *= 4
				}
				if dt.IsFloat() && !c.bools && (dt == tensor.Float16 || dt == tensor.BFloat16) {
					for i := range want {
						want[i] = roundTo(dt, want[i])
					}
				}
				if c.bools {
					tol = 0
				}
				checkClose(t, c.op+" "+dt.String(), outs[0], shape, want, tol)
			}
		}
	}
}

func TestPowMixedTypes(t *testing.T) {
	base := f32s([]int{2, 3}, 1, 2, 3, -2, 0.5, 4)
	exp := i64s([]int{3}, 2, 3, -1)
	out := opRun{op: "Pow", ins: []*tensor.Tensor{base, exp}}.mustRun(t)[0]
	checkClose(t, "Pow float32^int64", out, []int{2, 3}, []float64{1, 8, 1.0 / 3, 4, 0.125, 0.25}, 1e-6)
	ib := i64s([]int{3}, 2, 3, 4)
	fe := f32s([]int{1}, 2)
	out = opRun{op: "Pow", ins: []*tensor.Tensor{ib, fe}}.mustRun(t)[0]
	if out.DType() != tensor.Int64 {
		t.Fatalf("Pow int64^float32 gave %v", out.DType())
	}
	checkClose(t, "Pow int64^float32", out, []int{3}, []float64{4, 9, 16}, 0)
}

func TestVariadicThreeInputs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	a := randT(tensor.Float32, []int{3, 1, 4}, uniform(r, -1, 1, false))
	b := randT(tensor.Float32, []int{5, 1}, uniform(r, -1, 1, false))
	c := randT(tensor.Float32, []int{4}, uniform(r, -1, 1, false))
	shape := []int{3, 5, 4}
	for op, f := range map[string]func(x, y, z float64) float64{
		"Sum":  func(x, y, z float64) float64 { return x + y + z },
		"Mean": func(x, y, z float64) float64 { return (x + y + z) / 3 },
		"Max":  func(x, y, z float64) float64 { return math.Max(x, math.Max(y, z)) },
		"Min":  func(x, y, z float64) float64 { return math.Min(x, math.Min(y, z)) },
	} {
		want := make([]float64, tensor.NumElements(shape))
		for i := range want {
			idx := multiIndex(i, shape)
			want[i] = f(a.Float64At(bcastIndex(idx, a.Shape())), b.Float64At(bcastIndex(idx, b.Shape())), c.Float64At(bcastIndex(idx, c.Shape())))
		}
		out := opRun{op: op, ins: []*tensor.Tensor{a, b, c}}.mustRun(t)[0]
		checkClose(t, op, out, shape, want, 1e-6)
		one := opRun{op: op, ins: []*tensor.Tensor{c}}.mustRun(t)[0]
		checkClose(t, op+" of one", one, c.Shape(), c.AsFloat64s(), 0)
	}
}

func TestWhere(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Int64, tensor.Uint8, tensor.Float16, tensor.Bool} {
		cond := randT(tensor.Bool, []int{3, 1, 7}, uniform(r, 0, 2, true))
		x := randT(dt, []int{5, 1}, uniform(r, 0, 2, true))
		y := randT(dt, []int{7}, uniform(r, 0, 2, true))
		shape := []int{3, 5, 7}
		want := make([]float64, tensor.NumElements(shape))
		for i := range want {
			idx := multiIndex(i, shape)
			if cond.Float64At(bcastIndex(idx, cond.Shape())) != 0 {
				want[i] = x.Float64At(bcastIndex(idx, x.Shape()))
			} else {
				want[i] = y.Float64At(bcastIndex(idx, y.Shape()))
			}
		}
		out := opRun{op: "Where", ins: []*tensor.Tensor{cond, x, y}}.mustRun(t)[0]
		checkClose(t, "Where "+dt.String(), out, shape, want, 0)
	}
}

func TestBinaryErrors(t *testing.T) {
	a := tensor.New(tensor.Float32, []int{3, 4})
	b := tensor.New(tensor.Float32, []int{5})
	opRun{op: "Add", ins: []*tensor.Tensor{a, b}}.wantErr(t, "incompatible broadcast")
	opRun{op: "Mul", ins: []*tensor.Tensor{a, tensor.New(tensor.Int32, []int{4})}}.wantErr(t, "mixed dtypes")
	opRun{op: "And", ins: []*tensor.Tensor{a, a}}.wantErr(t, "float And")
	opRun{op: "Where", ins: []*tensor.Tensor{a, a, a}}.wantErr(t, "float condition")
	opRun{op: "BitShift", ins: []*tensor.Tensor{tensor.New(tensor.Uint8, []int{2}), tensor.New(tensor.Uint8, []int{2})}}.wantErr(t, "no direction")
	opRun{op: "Clip", ins: []*tensor.Tensor{a, tensor.New(tensor.Float32, []int{2})}}.wantErr(t, "vector min")
}
