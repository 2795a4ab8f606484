package cpu_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

type unaryCase struct {
	op     string
	attrs  graph.Attrs
	lo, hi float64
	ref    func(x float64) float64
}

func sigm(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

var unaryCases = []unaryCase{
	{"Relu", nil, -5, 5, func(x float64) float64 { return math.Max(x, 0) }},
	{"LeakyRelu", nil, -5, 5, func(x float64) float64 { return map[bool]float64{true: float64(float32(0.01)) * x, false: x}[x < 0] }},
	{"LeakyRelu", graph.Attrs{"alpha": graph.Float(0.3)}, -5, 5, func(x float64) float64 {
		if x < 0 {
			return float64(float32(0.3)) * x
		}
		return x
	}},
	{"Gelu", nil, -5, 5, func(x float64) float64 { return x * 0.5 * math.Erfc(-x/math.Sqrt2) }},
	{"Gelu", graph.Attrs{"approximate": graph.String("tanh")}, -5, 5, func(x float64) float64 {
		return 0.5 * x * (1 + math.Tanh(0.7978845608028654*(x+0.044715*math.Pow(x, 3))))
	}},
	{"Sigmoid", nil, -30, 30, sigm},
	{"Tanh", nil, -5, 5, math.Tanh},
	{"Erf", nil, -3, 3, math.Erf},
	{"Exp", nil, -10, 10, math.Exp},
	{"Log", nil, 0.01, 100, math.Log},
	{"Sqrt", nil, 0, 100, math.Sqrt},
	{"Neg", nil, -5, 5, func(x float64) float64 { return -x }},
	{"Abs", nil, -5, 5, math.Abs},
	{"Reciprocal", nil, 0.5, 5, func(x float64) float64 { return 1 / x }},
	{"Floor", nil, -5, 5, math.Floor},
	{"Ceil", nil, -5, 5, math.Ceil},
	{"Round", nil, -5, 5, func(x float64) float64 { return math.RoundToEven(x) }},
	{"Sign", nil, -5, 5, func(x float64) float64 { return float64(map[bool]int{true: 1}[x > 0] - map[bool]int{true: 1}[x < 0]) }},
	{"Sin", nil, -5, 5, math.Sin},
	{"Cos", nil, -5, 5, math.Cos},
	{"Tan", nil, -1.5, 1.5, math.Tan},
	{"Asin", nil, -1, 1, math.Asin},
	{"Acos", nil, -1, 1, math.Acos},
	{"Atan", nil, -5, 5, math.Atan},
	{"Sinh", nil, -5, 5, math.Sinh},
	{"Cosh", nil, -5, 5, math.Cosh},
	{"Asinh", nil, -5, 5, math.Asinh},
	{"Acosh", nil, 1, 5, math.Acosh},
	{"Atanh", nil, -0.99, 0.99, math.Atanh},
	{"Softplus", nil, -30, 30, func(x float64) float64 { return math.Log(1 + math.Exp(x)) }},
	{"Softsign", nil, -5, 5, func(x float64) float64 { return x / (1 + math.Abs(x)) }},
	{"Elu", graph.Attrs{"alpha": graph.Float(2)}, -5, 5, func(x float64) float64 {
		if x < 0 {
			return 2 * (math.Exp(x) - 1)
		}
		return x
	}},
	{"Selu", nil, -5, 5, func(x float64) float64 {
		a, g := float64(float32(1.6732632423543772848170429916717)), float64(float32(1.0507009873554804934193349852946))
		if x <= 0 {
			return g * a * (math.Exp(x) - 1)
		}
		return g * x
	}},
	{"Celu", graph.Attrs{"alpha": graph.Float(0.5)}, -5, 5, func(x float64) float64 {
		return math.Max(0, x) + math.Min(0, 0.5*(math.Exp(x/0.5)-1))
	}},
	{"HardSigmoid", nil, -5, 5, func(x float64) float64 { return math.Max(0, math.Min(1, float64(float32(0.2))*x+0.5)) }},
	{"HardSwish", nil, -5, 5, func(x float64) float64 { return x * math.Max(0, math.Min(1, x/6+0.5)) }},
	{"Mish", nil, -5, 5, func(x float64) float64 { return x * math.Tanh(math.Log(1+math.Exp(x))) }},
	{"ThresholdedRelu", graph.Attrs{"alpha": graph.Float(0.5)}, -2, 2, func(x float64) float64 {
		if x > 0.5 {
			return x
		}
		return 0
	}},
	{"Silu", nil, -5, 5, func(x float64) float64 { return x * sigm(x) }},
	{"Shrink", graph.Attrs{"lambd": graph.Float(1), "bias": graph.Float(0.25)}, -3, 3, func(x float64) float64 {
		switch {
		case x < -1:
			return x + 0.25
		case x > 1:
			return x - 0.25
		}
		return 0
	}},
	{"Identity", nil, -5, 5, func(x float64) float64 { return x }},
	{"Clip", graph.Attrs{"min": graph.Float(-1), "max": graph.Float(2)}, -5, 5, func(x float64) float64 { return math.Max(-1, math.Min(2, x)) }},
}

var unaryShapes = [][]int{{}, {1}, {7}, {3, 5, 2}, {2, 0}, {40013}}

func TestUnaryOpsAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, c := range unaryCases {
		for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16} {
			for _, shape := range unaryShapes {
				if isHalfDT(dt) && len(shape) == 1 && shape[0] > 1000 {
					continue
				}
				x := randT(dt, shape, uniform(r, c.lo, c.hi, false))
				out := opRun{op: c.op, attrs: c.attrs, ins: []*tensor.Tensor{x}}.mustRun(t)[0]
				want := make([]float64, x.Len())
				for i := range want {
					want[i] = c.ref(x.Float64At(i))
					if isHalfDT(dt) {
						want[i] = roundTo(dt, want[i])
					}
				}
				tol := dtypeTol(dt) * 4
				if dt == tensor.Float32 {
					tol = 1e-6
				}
				if isHalfDT(dt) && (c.op == "Round" || c.op == "Floor" || c.op == "Ceil" || c.op == "Sign") {
					tol = 0
				}
				checkClose(t, c.op+" "+dt.String(), out, shape, want, tol)
			}
		}
	}
}

func isHalfDT(dt tensor.DType) bool { return dt == tensor.Float16 || dt == tensor.BFloat16 }

func TestUnaryIntegerOps(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 9))
	for _, op := range []string{"Relu", "Abs", "Neg", "Sign", "Identity"} {
		for _, dt := range []tensor.DType{tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64} {
			x := randT(dt, []int{5, 7}, uniform(r, -50, 50, true))
			out := opRun{op: op, ins: []*tensor.Tensor{x}}.mustRun(t)[0]
			want := make([]float64, x.Len())
			for i := range want {
				v := x.Float64At(i)
				switch op {
				case "Relu":
					v = math.Max(v, 0)
				case "Abs":
					v = math.Abs(v)
				case "Neg":
					v = -v
				case "Sign":
					v = float64(map[bool]int{true: 1}[v > 0] - map[bool]int{true: 1}[v < 0])
				}
				want[i] = v
			}
			checkClose(t, op+" "+dt.String(), out, x.Shape(), want, 0)
		}
	}
}

func TestRoundHalfToEven(t *testing.T) {
	x := f32s([]int{8}, 0.5, 1.5, 2.5, -0.5, -1.5, 2.4, -2.6, 3.5)
	out := opRun{op: "Round", ins: []*tensor.Tensor{x}}.mustRun(t)[0]
	checkClose(t, "Round", out, []int{8}, []float64{0, 2, 2, -0, -2, 2, -3, 4}, 0)
}

func TestIsNaNIsInfNot(t *testing.T) {
	x := f32s([]int{5}, float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, -3)
	out := opRun{op: "IsNaN", ins: []*tensor.Tensor{x}}.mustRun(t)[0]
	if out.DType() != tensor.Bool {
		t.Fatalf("IsNaN gives %v", out.DType())
	}
	checkClose(t, "IsNaN", out, []int{5}, []float64{1, 0, 0, 0, 0}, 0)
	out = opRun{op: "IsInf", ins: []*tensor.Tensor{x}}.mustRun(t)[0]
	checkClose(t, "IsInf", out, []int{5}, []float64{0, 1, 1, 0, 0}, 0)
	out = opRun{op: "IsInf", attrs: graph.Attrs{"detect_positive": graph.Int(0)}, ins: []*tensor.Tensor{x}}.mustRun(t)[0]
	checkClose(t, "IsInf negative", out, []int{5}, []float64{0, 0, 1, 0, 0}, 0)
	b := tensor.New(tensor.Bool, []int{3})
	b.Bools()[1] = true
	out = opRun{op: "Not", ins: []*tensor.Tensor{b}}.mustRun(t)[0]
	checkClose(t, "Not", out, []int{3}, []float64{1, 0, 1}, 0)
}

func TestClipInputs(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64, tensor.Int8, tensor.Int64, tensor.Uint8, tensor.Float16} {
		x := randT(dt, []int{3, 7}, uniform(r, 0, 100, true))
		lo, hi := tensor.New(dt, nil), tensor.New(dt, nil)
		lo.SetFloat64At(0, 20)
		hi.SetFloat64At(0, 60)
		for _, c := range []struct {
			ins    []*tensor.Tensor
			lo, hi float64
		}{
			{[]*tensor.Tensor{x, lo, hi}, 20, 60},
			{[]*tensor.Tensor{x, lo}, 20, math.Inf(1)},
			{[]*tensor.Tensor{x, nil, hi}, math.Inf(-1), 60},
			{[]*tensor.Tensor{x}, math.Inf(-1), math.Inf(1)},
			{[]*tensor.Tensor{x, hi, lo}, 60, 20}, // min > max: everything becomes max
		} {
			want := make([]float64, x.Len())
			for i := range want {
				want[i] = math.Min(math.Max(x.Float64At(i), c.lo), c.hi)
			}
			out := opRun{op: "Clip", ins: c.ins, consts: map[int]bool{2: true}}.mustRun(t)[0]
			checkClose(t, "Clip "+dt.String(), out, x.Shape(), want, 0)
		}
	}
}

func TestUnaryErrors(t *testing.T) {
	opRun{op: "Exp", ins: []*tensor.Tensor{tensor.New(tensor.Int32, []int{3})}}.wantErr(t, "int Exp")
	opRun{op: "IsNaN", ins: []*tensor.Tensor{tensor.New(tensor.Int32, []int{3})}}.wantErr(t, "int IsNaN")
	opRun{op: "Not", ins: []*tensor.Tensor{tensor.New(tensor.Float32, []int{3})}}.wantErr(t, "float Not")
}
