package cuda_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/backends/cuda"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

var (
	devOnce sync.Once
	devs    [4]*cuda.Device // full float32, TF32, unfused attention, no cuDNN
	devErr  error
)

// gpu returns the first GPU (tf32: with TF32 products), or skips the test saying why
// there is none.
func gpu(t *testing.T, tf32 bool) *cuda.Device {
	t.Helper()
	devOnce.Do(func() {
		devs[0], devErr = cuda.Open(0, cuda.Options{})
		if devErr == nil {
			devs[1], devErr = cuda.Open(0, cuda.Options{TF32: true})
		}
		if devErr == nil {
			devs[2], devErr = cuda.Open(0, cuda.Options{UnfusedAttention: true})
		}
		if devErr == nil {
			devs[3], devErr = cuda.Open(0, cuda.Options{NoCuDNN: true})
		}
	})
	if devErr != nil {
		if errors.Is(devErr, cuda.ErrDeviceNotFound) {
			t.Skipf("no NVIDIA GPU: %v", devErr)
		}
		t.Fatalf("GPU present but failed to open: %v", devErr)
	}
	if tf32 {
		return devs[1]
	}
	return devs[0]
}

// gpuUnfused is the GPU with attention as products and a softmax.
func gpuUnfused(t *testing.T) *cuda.Device {
	gpu(t, false)
	return devs[2]
}

func TestMissingDriverIsDeviceNotFound(t *testing.T) {
	d, err := cuda.Open(0, cuda.Options{})
	if err == nil {
		d.Close()
		t.Skip("a GPU is present")
	}
	if !errors.Is(err, cuda.ErrDeviceNotFound) {
		t.Fatalf("error %v does not wrap ErrDeviceNotFound", err)
	}
	if len(err.Error()) < 30 {
		t.Fatalf("error %q gives no reason", err)
	}
}

type opCase struct {
	name   string
	inputs map[string][]int
	pos    map[string]bool // inputs drawn positive (0.5..2)
	build  func(b *graph.Builder) error
	tol    float64
	tf32   bool
}

func op(b *graph.Builder, op string, in []string, out string, attrs graph.Attrs) error {
	_, err := b.Op(op, "", in, []string{out}, attrs)
	return err
}

func lop(b *graph.Builder, name string, in []string, out string, attrs graph.Attrs) error {
	n, err := b.Op(name, "", in, []string{out}, attrs)
	if err == nil {
		n.Domain = ops.DomainLightOS
	}
	return err
}

func randT(r *rand.Rand, shape []int, pos bool) *tensor.Tensor {
	t := tensor.New(tensor.Float32, shape)
	for i := range t.Float32s() {
		if pos {
			t.Float32s()[i] = float32(0.5 + 1.5*r.Float64())
		} else {
			t.Float32s()[i] = float32(r.NormFloat64())
		}
	}
	return t
}

func constT(b *graph.Builder, r *rand.Rand, name string, shape ...int) {
	if _, err := b.Const(name, randT(r, shape, false)); err != nil {
		panic(err)
	}
}

func relErr(got, want []float32) float64 {
	var num, den float64
	for i := range want {
		d := float64(got[i]) - float64(want[i])
		if math.IsNaN(float64(got[i])) != math.IsNaN(float64(want[i])) {
			return math.Inf(1)
		}
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	return math.Sqrt(num / max(den, 1e-30))
}

func cases(r *rand.Rand) []opCase {
	un := func(name string, attrs graph.Attrs, pos bool) opCase {
		return opCase{name: name, inputs: map[string][]int{"x": {3, 37, 41}}, pos: map[string]bool{"x": pos},
			build: func(b *graph.Builder) error { return op(b, name, []string{"x"}, "y", attrs) }}
	}
	bin := func(name string, sa, sb []int, posB bool) opCase {
		return opCase{name: fmt.Sprintf("%s%v%v", name, sa, sb), inputs: map[string][]int{"a": sa, "b": sb}, pos: map[string]bool{"b": posB},
			build: func(b *graph.Builder) error { return op(b, name, []string{"a", "b"}, "y", nil) }}
	}
	pow := func() opCase {
		c := bin("Pow", []int{3, 8}, []int{8}, false)
		c.pos = map[string]bool{"a": true} // a negative base with a fractional exponent is NaN
		return c
	}
	mm := func(sa, sb []int, tf32 bool) opCase {
		c := bin("MatMul", sa, sb, false)
		c.tf32 = tf32
		if tf32 {
			c.name += "/tf32"
			c.tol = 1e-3
		}
		return c
	}
	fused := func(act string) opCase {
		return opCase{name: "FusedMatMul/" + act, inputs: map[string][]int{"a": {3, 29, 67}},
			build: func(b *graph.Builder) error {
				constT(b, r, "w", 67, 45)
				constT(b, r, "bias", 45)
				return lop(b, ops.FusedMatMul, []string{"a", "w", "bias"}, "y", graph.Attrs{"activation": graph.String(act)})
			}}
	}
	att := func(name string, q, k, v []int, mask []int, attrs graph.Attrs) opCase {
		in := map[string][]int{"q": q, "k": k, "v": v}
		names := []string{"q", "k", "v"}
		if mask != nil {
			in["m"] = mask
			names = append(names, "m")
		}
		return opCase{name: "Attention/" + name, inputs: in,
			build: func(b *graph.Builder) error { return lop(b, ops.Attention, names, "y", attrs) }}
	}
	cs := []opCase{
		un("Relu", nil, false), un("Gelu", nil, false), un("Gelu", graph.Attrs{"approximate": graph.String("tanh")}, false),
		un("Tanh", nil, false), un("Sigmoid", nil, false), un("Exp", nil, false), un("Sqrt", nil, true),
		un("Neg", nil, false), un("Erf", nil, false), un("Abs", nil, false), un("Log", nil, true),
		un("LeakyRelu", graph.Attrs{"alpha": graph.Float(0.2)}, false), un("Reciprocal", nil, true),
		bin("Add", []int{5, 7, 33}, []int{5, 7, 33}, false), bin("Add", []int{5, 7, 33}, []int{33}, false),
		bin("Mul", []int{3, 1, 5}, []int{1, 4, 1}, false), bin("Sub", []int{6, 1}, []int{2, 6, 9}, false),
		bin("Div", []int{4, 9}, []int{4, 1}, true), bin("Max", []int{2, 3, 4, 5, 6}, []int{3, 1, 5, 1}, false),
		bin("Min", []int{7}, []int{3, 7}, false), pow(),
		mm([]int{37, 53}, []int{53, 29}, false), mm([]int{3, 17, 23}, []int{23, 19}, false),
		mm([]int{2, 3, 17, 23}, []int{2, 3, 23, 19}, false), mm([]int{17, 23}, []int{4, 23, 9}, false),
		mm([]int{23}, []int{23, 9}, false), mm([]int{65, 130}, []int{130, 77}, true),
		fused(ops.ActNone), fused(ops.ActRelu), fused(ops.ActGelu), fused(ops.ActGeluTanh),
		{name: "Gemm/trans/bias", inputs: map[string][]int{"a": {31, 19}},
			build: func(b *graph.Builder) error {
				constT(b, r, "w", 27, 31)
				constT(b, r, "c", 27)
				return op(b, "Gemm", []string{"a", "w", "c"}, "y", graph.Attrs{"transA": graph.Int(1), "transB": graph.Int(1), "alpha": graph.Float(0.7)})
			}},
		{name: "Softmax", inputs: map[string][]int{"x": {7, 13, 131}},
			build: func(b *graph.Builder) error { return op(b, "Softmax", []string{"x"}, "y", nil) }},
		{name: "Softmax/wide", inputs: map[string][]int{"x": {3, 3000}},
			build: func(b *graph.Builder) error { return op(b, "Softmax", []string{"x"}, "y", nil) }},
		{name: "LayerNormalization", inputs: map[string][]int{"x": {5, 9, 77}},
			build: func(b *graph.Builder) error {
				constT(b, r, "g", 77)
				constT(b, r, "bb", 77)
				return op(b, "LayerNormalization", []string{"x", "g", "bb"}, "y", graph.Attrs{"epsilon": graph.Float(1e-5)})
			}},
		{name: "LayerNormalization/wide", inputs: map[string][]int{"x": {3, 2000}},
			build: func(b *graph.Builder) error {
				constT(b, r, "g", 2000)
				return op(b, "LayerNormalization", []string{"x", "g"}, "y", nil)
			}},
		{name: "ReduceMean/last2", inputs: map[string][]int{"x": {4, 9, 77}},
			build: func(b *graph.Builder) error {
				return op(b, "ReduceMean", []string{"x"}, "y", graph.Attrs{"axes": graph.Ints(-1, -2), "keepdims": graph.Int(1)})
			}},
		{name: "ReduceSum/last", inputs: map[string][]int{"x": {4, 9, 1077}},
			build: func(b *graph.Builder) error {
				return op(b, "ReduceSum", []string{"x"}, "y", graph.Attrs{"axes": graph.Ints(2), "keepdims": graph.Int(0)})
			}},
		{name: "ReduceMax/last", inputs: map[string][]int{"x": {13, 70}},
			build: func(b *graph.Builder) error {
				return op(b, "ReduceMax", []string{"x"}, "y", graph.Attrs{"axes": graph.Ints(1)})
			}},
		{name: "Transpose", inputs: map[string][]int{"x": {3, 5, 7, 11}},
			build: func(b *graph.Builder) error {
				return op(b, "Transpose", []string{"x"}, "y", graph.Attrs{"perm": graph.Ints(2, 0, 3, 1)})
			}},
		{name: "Reshape+Relu", inputs: map[string][]int{"x": {6, 35}},
			build: func(b *graph.Builder) error {
				if _, err := b.Const("s", tensorInts(2, 3, 35)); err != nil {
					return err
				}
				if err := op(b, "Reshape", []string{"x", "s"}, "r", nil); err != nil {
					return err
				}
				return op(b, "Relu", []string{"r"}, "y", nil)
			}},
		{name: "Cast/bf16 round trip", inputs: map[string][]int{"x": {9, 131}}, tol: 1e-2,
			build: func(b *graph.Builder) error {
				if err := op(b, "Cast", []string{"x"}, "h", graph.Attrs{"to": graph.Int(int64(tensor.BFloat16))}); err != nil {
					return err
				}
				return op(b, "Cast", []string{"h"}, "y", graph.Attrs{"to": graph.Int(int64(tensor.Float32))})
			}},
		att("plain+mask", []int{2, 3, 17, 16}, []int{2, 3, 21, 16}, []int{2, 3, 21, 24}, []int{2, 1, 17, 21}, nil),
		att("heads+causal", []int{2, 19, 32}, []int{2, 23, 32}, []int{2, 23, 40}, nil,
			graph.Attrs{"num_heads": graph.Int(4), "causal": graph.Int(1)}),
		att("heads+transK+mask", []int{3, 11, 24}, []int{3, 24, 13}, []int{3, 13, 12}, []int{3, 1, 1, 13},
			graph.Attrs{"num_heads": graph.Int(3), "transpose_k": graph.Int(1), "scale": graph.Float(0.3)}),
		att("bert-like", []int{3, 70, 256}, []int{3, 70, 256}, []int{3, 70, 256}, []int{3, 1, 1, 70},
			graph.Attrs{"num_heads": graph.Int(4)}),
		att("3d+transK+causal", []int{5, 33, 8}, []int{5, 8, 40}, []int{5, 40, 7}, nil,
			graph.Attrs{"transpose_k": graph.Int(1), "causal": graph.Int(1)}),
		att("head 160 (unfused)", []int{1, 2, 5, 160}, []int{1, 2, 6, 160}, []int{1, 2, 6, 8}, nil, nil),
	}
	return append(cs, convCases(r)...)
}

func convCases(r *rand.Rand) []opCase {
	conv := func(name string, x, w []int, bias bool, attrs graph.Attrs) opCase {
		return opCase{name: "Conv/" + name, inputs: map[string][]int{"x": x},
			build: func(b *graph.Builder) error {
				constT(b, r, "w", w...)
				in := []string{"x", "w"}
				if bias {
					constT(b, r, "bias", w[0])
					in = append(in, "bias")
				}
				return op(b, "Conv", in, "y", attrs)
			}}
	}
	fconv := func(name string, x, w []int, bias, residual bool, attrs graph.Attrs) opCase {
		c := opCase{name: "FusedConv/" + name, inputs: map[string][]int{"x": x},
			build: func(b *graph.Builder) error {
				constT(b, r, "w", w...)
				in := []string{"x", "w", "", ""}
				if bias {
					constT(b, r, "bias", w[0])
					in[2] = "bias"
				}
				if residual {
					in[3] = "z"
				}
				for len(in) > 2 && in[len(in)-1] == "" {
					in = in[:len(in)-1]
				}
				return lop(b, ops.FusedConv, in, "y", attrs)
			}}
		if residual {
			geo, _ := ops.ConvGeometry(attrs, x[2:], w[2:])
			c.inputs["z"] = []int{x[0], w[0], geo.Out[0], geo.Out[1]}
		}
		return c
	}
	pool := func(name, op_ string, x []int, attrs graph.Attrs) opCase {
		return opCase{name: op_ + "/" + name, inputs: map[string][]int{"x": x},
			build: func(b *graph.Builder) error { return op(b, op_, []string{"x"}, "y", attrs) }}
	}
	k3 := graph.Ints(3, 3)
	relu := graph.String(ops.ActRelu)
	tf := conv("tf32 3x3", []int{2, 32, 17, 19}, []int{48, 32, 3, 3}, true, graph.Attrs{"pads": graph.Ints(1, 1, 1, 1)})
	tf.name, tf.tf32, tf.tol = tf.name+"/tf32", true, 1e-3
	ftf := fconv("tf32 relu+residual", []int{3, 64, 14, 14}, []int{64, 64, 3, 3}, true, true,
		graph.Attrs{"pads": graph.Ints(1, 1, 1, 1), "activation": relu})
	ftf.name, ftf.tf32, ftf.tol = ftf.name+"/tf32", true, 1e-3
	return []opCase{
		conv("3x3 pad stride bias", []int{2, 5, 13, 11}, []int{7, 5, 3, 3}, true,
			graph.Attrs{"pads": graph.Ints(1, 1, 1, 1), "strides": graph.Ints(2, 2)}),
		conv("1x1", []int{3, 17, 9, 7}, []int{23, 17, 1, 1}, false, nil),
		conv("groups dilation", []int{2, 6, 12, 10}, []int{9, 2, 3, 3}, true,
			graph.Attrs{"group": graph.Int(3), "dilations": graph.Ints(2, 2), "pads": graph.Ints(2, 2, 2, 2)}),
		conv("depthwise 5x5", []int{1, 8, 15, 15}, []int{8, 1, 5, 5}, true,
			graph.Attrs{"group": graph.Int(8), "pads": graph.Ints(2, 2, 2, 2)}),
		conv("asymmetric pads", []int{2, 4, 10, 9}, []int{5, 4, 3, 2}, true, graph.Attrs{"pads": graph.Ints(0, 1, 2, 1)}),
		conv("same_upper stride 3", []int{1, 3, 16, 17}, []int{4, 3, 4, 4}, false,
			graph.Attrs{"auto_pad": graph.String("SAME_UPPER"), "strides": graph.Ints(3, 3)}),
		conv("7x7 stride 2 (ResNet stem)", []int{2, 3, 45, 45}, []int{16, 3, 7, 7}, true,
			graph.Attrs{"pads": graph.Ints(3, 3, 3, 3), "strides": graph.Ints(2, 2)}),
		tf,
		fconv("relu bias", []int{2, 8, 11, 13}, []int{12, 8, 3, 3}, true, false, graph.Attrs{"pads": graph.Ints(1, 1, 1, 1), "activation": relu}),
		fconv("relu no bias", []int{2, 8, 11, 13}, []int{12, 8, 1, 1}, false, false, graph.Attrs{"activation": relu}),
		fconv("relu bias residual", []int{2, 16, 10, 10}, []int{16, 16, 3, 3}, true, true,
			graph.Attrs{"pads": graph.Ints(1, 1, 1, 1), "activation": relu}),
		fconv("relu residual stride 2", []int{2, 16, 11, 11}, []int{32, 16, 1, 1}, true, true,
			graph.Attrs{"strides": graph.Ints(2, 2), "activation": relu}),
		fconv("leakyrelu residual", []int{2, 6, 9, 9}, []int{10, 6, 3, 3}, true, true,
			graph.Attrs{"pads": graph.Ints(1, 1, 1, 1), "activation": graph.String(ops.ActLeakyRelu), "alpha": graph.Float(0.2)}),
		fconv("no activation residual", []int{1, 6, 9, 9}, []int{10, 6, 3, 3}, false, true, graph.Attrs{"pads": graph.Ints(1, 1, 1, 1)}),
		ftf,
		pool("3x3 s2 p1", "MaxPool", []int{2, 5, 17, 16}, graph.Attrs{"kernel_shape": k3, "strides": graph.Ints(2, 2), "pads": graph.Ints(1, 1, 1, 1)}),
		pool("ceil dilation", "MaxPool", []int{1, 3, 14, 13}, graph.Attrs{"kernel_shape": graph.Ints(2, 3), "strides": graph.Ints(2, 2),
			"dilations": graph.Ints(2, 1), "ceil_mode": graph.Int(1)}),
		pool("pads exclude", "AveragePool", []int{2, 4, 11, 12}, graph.Attrs{"kernel_shape": k3, "strides": graph.Ints(2, 2), "pads": graph.Ints(1, 1, 1, 1)}),
		pool("pads include ceil", "AveragePool", []int{2, 4, 11, 12}, graph.Attrs{"kernel_shape": k3, "strides": graph.Ints(2, 2),
			"pads": graph.Ints(1, 0, 1, 1), "count_include_pad": graph.Int(1), "ceil_mode": graph.Int(1)}),
		pool("7x7 planes", "GlobalAveragePool", []int{3, 37, 7, 7}, nil),
		pool("wide planes", "GlobalAveragePool", []int{2, 3, 33, 31}, nil),
		pool("planes", "GlobalMaxPool", []int{2, 5, 9, 8}, nil),
	}
}

func tensorInts(v ...int64) *tensor.Tensor {
	t := tensor.New(tensor.Int64, []int{len(v)})
	copy(t.Int64s(), v)
	return t
}

func buildGraph(t *testing.T, c opCase) *graph.Graph {
	t.Helper()
	b := graph.NewBuilder(c.name)
	for _, name := range sortedKeys(c.inputs) {
		if _, err := b.Input(name, tensor.Float32, graph.ShapeOf(c.inputs[name]...)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.build(b); err != nil {
		t.Fatal(err)
	}
	b.Output("y")
	g, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func sortedKeys(m map[string][]int) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j] < ks[i] {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	return ks
}

func cpuRun(t *testing.T, g *graph.Graph, feeds map[string]*tensor.Tensor) map[string]*tensor.Tensor {
	t.Helper()
	s, err := exec.NewSession(g, cpu.New(cpu.Options{}), exec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Run(context.Background(), feeds, nil)
	if err != nil {
		t.Fatalf("cpu reference: %v", err)
	}
	out := map[string]*tensor.Tensor{}
	for i, n := range res.Names {
		out[n] = res.Outputs[i]
	}
	return out
}

// TestOpsMatchCPU runs every case through a GPU plan (eager and as a CUDA graph) and
// through exec.Session with the GPU as kernel provider, against the CPU engine.
func TestOpsMatchCPU(t *testing.T) {
	gpu(t, false)
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range cases(r) {
		t.Run(c.name, func(t *testing.T) {
			d := gpu(t, c.tf32)
			g := buildGraph(t, c)
			feeds := map[string]*tensor.Tensor{}
			shapes := map[string][]int{}
			for name, s := range c.inputs {
				feeds[name] = randT(r, s, c.pos[name])
				shapes[name] = s
			}
			want := cpuRun(t, g, feeds)
			tol := c.tol
			if tol == 0 {
				tol = 1e-5
			}
			modes := []string{"graph", "eager", "session"}
			if strings.HasPrefix(c.name, "Attention") {
				modes = append(modes, "unfused")
			}
			if strings.Contains(c.name, "Conv/") && !c.tf32 {
				modes = append(modes, "nvrtc")
			}
			for _, mode := range modes {
				var got map[string]*tensor.Tensor
				switch mode {
				case "unfused", "nvrtc":
					dd := gpuUnfused(t)
					if mode == "nvrtc" {
						dd = devs[3]
					}
					p, err := dd.Compile(g, shapes, cuda.PlanOptions{})
					if err != nil {
						t.Fatalf("%s: %v", mode, err)
					}
					defer p.Close()
					if got, err = p.Run(context.Background(), feeds); err != nil {
						t.Fatalf("%s: %v", mode, err)
					}
				case "session":
					s, err := exec.NewSession(g, d, exec.Options{})
					if err != nil {
						t.Fatal(err)
					}
					res, err := s.Run(context.Background(), feeds, nil)
					if err != nil {
						t.Fatalf("%s: %v", mode, err)
					}
					got = map[string]*tensor.Tensor{}
					for i, n := range res.Names {
						got[n] = res.Outputs[i]
					}
				default:
					p, err := d.Compile(g, shapes, cuda.PlanOptions{NoGraph: mode == "eager"})
					if err != nil {
						t.Fatalf("%s: %v", mode, err)
					}
					defer p.Close()
					if got, err = p.Run(context.Background(), feeds); err != nil {
						t.Fatalf("%s: %v", mode, err)
					}
				}
				for name, w := range want {
					gt := got[name]
					if gt == nil || !sameShape(gt.Shape(), w.Shape()) {
						t.Fatalf("%s: output %s: got %v, want shape %v", mode, name, gt, w.Shape())
					}
					if e := relErr(gt.Float32s(), w.Float32s()); !(e <= tol) {
						t.Errorf("%s: output %s: relative error %.3g > %.0g", mode, name, e, tol)
					}
				}
			}
		})
	}
}

func sameShape(a, b []int) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// TestBFloat16MatMul checks bf16 products (the engine's FusedMatMul is float32
// only, so a plain MatMul) against float64.
func TestBFloat16MatMul(t *testing.T) {
	d := gpu(t, false)
	r := rand.New(rand.NewPCG(3, 4))
	const m, k, n = 70, 130, 90
	toBF := func(s []int) *tensor.Tensor {
		x := tensor.New(tensor.BFloat16, s)
		for i := range x.Halfs() {
			x.Halfs()[i] = tensor.Float32ToBFloat16(float32(r.NormFloat64()))
		}
		return x
	}
	a, w := toBF([]int{3, m, k}), toBF([]int{k, n})
	b := graph.NewBuilder("bf16")
	b.Input("a", tensor.BFloat16, graph.ShapeOf(3, m, k))
	b.Const("w", w)
	if err := op(b, "MatMul", []string{"a", "w"}, "y", nil); err != nil {
		t.Fatal(err)
	}
	b.Output("y")
	g, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	p, err := d.Compile(g, map[string][]int{"a": {3, m, k}}, cuda.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	res, err := p.Run(context.Background(), map[string]*tensor.Tensor{"a": a})
	if err != nil {
		t.Fatal(err)
	}
	bf := func(x *tensor.Tensor, i int) float64 { return float64(tensor.BFloat16ToFloat32(x.Halfs()[i])) }
	got, want := make([]float32, 3*m*n), make([]float32, 3*m*n)
	for i := 0; i < 3*m; i++ {
		for j := 0; j < n; j++ {
			s := 0.0
			for l := 0; l < k; l++ {
				s += bf(a, i*k+l) * bf(w, l*n+j)
			}
			want[i*n+j] = float32(s)
			got[i*n+j] = tensor.BFloat16ToFloat32(res["y"].Halfs()[i*n+j])
		}
	}
	e := relErr(got, want)
	if !(e <= 1e-2) {
		t.Fatalf("bf16 relative error %.3g > 1e-2", e)
	}
	t.Logf("bf16 relative error %.3g", e)
}

// TestUnsupportedNamesTheNode checks the fallback error (3-D convolution is not on
// the GPU).
func TestUnsupportedNamesTheNode(t *testing.T) {
	d := gpu(t, false)
	b := graph.NewBuilder("conv3d")
	b.Input("x", tensor.Float32, graph.ShapeOf(1, 1, 5, 5, 5))
	b.Const("w", tensor.New(tensor.Float32, []int{1, 1, 3, 3, 3}))
	b.Op("Conv", "myconv", []string{"x", "w"}, []string{"y"}, nil)
	b.Output("y")
	g, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Compile(g, nil, cuda.PlanOptions{})
	if !errors.Is(err, backends.ErrUnsupported) || !strings.Contains(err.Error(), "myconv") {
		t.Fatalf("got %v, want ErrUnsupported naming myconv", err)
	}
}

// TestRegistryFindsTheGPU checks discovery offers the CUDA device as NVIDIA 0.
func TestRegistryFindsTheGPU(t *testing.T) {
	gpu(t, false)
	reg := backends.Discover(backends.DiscoverOptions{})
	defer reg.Close()
	d, err := reg.Select(backends.NVIDIA, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.(*cuda.Device); !ok {
		t.Fatalf("NVIDIA 0 is %T, want *cuda.Device", d)
	}
	t.Logf("%s: %+v", d.Info(), d.Info())
}
