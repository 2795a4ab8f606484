package cuda_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/backends/cuda"
	"github.com/lightiam/lightos/backends/cuda/cudatest"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/passes"
	"github.com/lightiam/lightos/engine/passes/cpufold"
	"github.com/lightiam/lightos/engine/tensor"
)

// TestResNet50MatchesCPU runs ResNet-50 as the optimizer leaves it (FusedConv with
// residual and ReLU, Conv, MaxPool, GlobalAveragePool, Flatten, Gemm) on the GPU
// (cuDNN where installed, full float32; then TF32) and on the CPU engine.
func TestResNet50MatchesCPU(t *testing.T) {
	gpu(t, false)
	if testing.Short() {
		t.Skip("short")
	}
	g, _, err := cudatest.ResNet50(2, 7)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := passes.Optimize(g, passes.Options{Eval: cpufold.New()}); err != nil {
		t.Fatal(err)
	}
	x := randT(rand.New(rand.NewPCG(5, 6)), []int{2, 3, 224, 224}, false)
	feeds := map[string]*tensor.Tensor{"x": x}
	want := cpuRun(t, g, feeds)["logits"].Float32s()
	for _, c := range []struct {
		name string
		d    *cuda.Device
		tol  float64
		o    cuda.PlanOptions
	}{{"float32", gpu(t, false), 1e-4, cuda.PlanOptions{}}, {"tf32", gpu(t, true), 1e-2, cuda.PlanOptions{}},
		{"float32 NCHW", gpu(t, false), 1e-4, cuda.PlanOptions{NoChannelsLast: true}},
		{"nvrtc conv", devs[3], 1e-4, cuda.PlanOptions{}}} {
		p, err := c.d.Compile(g, map[string][]int{"x": {2, 3, 224, 224}}, c.o)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		res, err := p.Run(context.Background(), feeds)
		p.Close()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		e := relErr(res["logits"].Float32s(), want)
		if !(e <= c.tol) {
			t.Errorf("%s: relative error %.3g > %.0g", c.name, e, c.tol)
		}
		t.Logf("%s: relative error %.3g, plan %.1f MiB, %v", c.name, e, float64(p.Bytes)/(1<<20), p.Kernels())
	}
}

// TestChannelsLastChain runs a chain of convolutions and pooling whose inner values
// the plan keeps NHWC (cuDNN convolutions, the direct kernel for asymmetric pads,
// max and average pooling with pads, global pooling, the layout transposes at the
// ends) against the CPU engine.
func TestChannelsLastChain(t *testing.T) {
	d := gpu(t, false)
	r := rand.New(rand.NewPCG(14, 15))
	b := graph.NewBuilder("chain")
	b.Input("x", tensor.Float32, graph.ShapeOf(2, 5, 23, 21))
	steps := []struct {
		op, in, out string
		w           []int
		attrs       graph.Attrs
	}{
		{"Conv", "x", "c1", []int{12, 5, 3, 3}, graph.Attrs{"pads": graph.Ints(1, 1, 1, 1)}},
		{"MaxPool", "c1", "p1", nil, graph.Attrs{"kernel_shape": graph.Ints(3, 3), "strides": graph.Ints(2, 2), "pads": graph.Ints(1, 1, 1, 1)}},
		{"Conv", "p1", "c2", []int{12, 6, 3, 2}, graph.Attrs{"pads": graph.Ints(0, 1, 2, 0), "group": graph.Int(2)}}, // direct kernel
		{"FusedConv", "c2", "c3", []int{12, 12, 3, 3}, graph.Attrs{"pads": graph.Ints(1, 1, 1, 1), "activation": graph.String("Relu")}},
		{"AveragePool", "c3", "p2", nil, graph.Attrs{"kernel_shape": graph.Ints(3, 3), "strides": graph.Ints(2, 2), "pads": graph.Ints(1, 1, 1, 1),
			"count_include_pad": graph.Int(1)}},
		{"FusedConv", "p2", "c4", []int{12, 12, 1, 1}, graph.Attrs{"activation": graph.String("Relu")}}, // 1x1 + residual p2
		{"FusedConv", "c4", "c5", []int{12, 12, 1, 1}, graph.Attrs{"activation": graph.String("LeakyRelu")}},
		{"GlobalAveragePool", "c5", "y", nil, nil},
	}
	for i, st := range steps {
		in := []string{st.in}
		if st.w != nil {
			w := "w" + st.out
			constT(b, r, w, st.w...)
			in = append(in, w)
			if st.op == "FusedConv" {
				bb := "b" + st.out
				constT(b, r, bb, st.w[0])
				in = append(in, bb)
				switch i {
				case 3:
					in = append(in, "c2") // residual
				case 5:
					in = append(in, "p2")
				}
			}
		}
		var err error
		if st.op == "FusedConv" {
			err = lop(b, st.op, in, st.out, st.attrs)
		} else {
			err = op(b, st.op, in, st.out, st.attrs)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	b.Output("y")
	g, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	feeds := map[string]*tensor.Tensor{"x": randT(r, []int{2, 5, 23, 21}, false)}
	want := cpuRun(t, g, feeds)["y"]
	p, err := d.Compile(g, nil, cuda.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	got, err := p.Run(context.Background(), feeds)
	if err != nil {
		t.Fatal(err)
	}
	if e := relErr(got["y"].Float32s(), want.Float32s()); !(e <= 1e-5) {
		t.Errorf("relative error %.3g", e)
	}
	t.Logf("steps: %v", p.Kernels())
}

// TestBufferReuse checks that a plan reusing dead values' buffers computes what a
// plan with a buffer per value computes, in less memory.
func TestBufferReuse(t *testing.T) {
	d := gpu(t, false)
	r := rand.New(rand.NewPCG(8, 9))
	b := graph.NewBuilder("chain")
	b.Input("x", tensor.Float32, graph.ShapeOf(2, 8, 20, 20))
	x := "x"
	for i := 0; i < 6; i++ {
		w := "w" + string(rune('a'+i))
		constT(b, r, w, 8, 8, 3, 3)
		c := "c" + string(rune('a'+i))
		if err := op(b, "Conv", []string{x, w}, c, graph.Attrs{"pads": graph.Ints(1, 1, 1, 1)}); err != nil {
			t.Fatal(err)
		}
		y := "r" + string(rune('a'+i))
		if err := op(b, "Relu", []string{c}, y, nil); err != nil {
			t.Fatal(err)
		}
		s := "s" + string(rune('a'+i))
		if err := op(b, "Add", []string{y, x}, s, nil); err != nil {
			t.Fatal(err)
		}
		x = s
	}
	if err := op(b, "Flatten", []string{x}, "f", nil); err != nil {
		t.Fatal(err)
	}
	if err := op(b, "Sigmoid", []string{"f"}, "y", nil); err != nil {
		t.Fatal(err)
	}
	b.Output("y")
	b.Output("rc") // an intermediate that is also an output must survive
	g, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	feeds := map[string]*tensor.Tensor{"x": randT(r, []int{2, 8, 20, 20}, false)}
	want := cpuRun(t, g, feeds)
	var bytes [2]int64
	for i, noReuse := range []bool{false, true} {
		p, err := d.Compile(g, nil, cuda.PlanOptions{NoReuse: noReuse})
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.Run(context.Background(), feeds)
		bytes[i] = p.Bytes
		p.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"y", "rc"} {
			if e := relErr(got[name].Float32s(), want[name].Float32s()); !(e <= 1e-5) {
				t.Errorf("noReuse=%v: %s: relative error %.3g", noReuse, name, e)
			}
		}
	}
	if bytes[0] >= bytes[1] {
		t.Errorf("with reuse the plan takes %d bytes, without %d", bytes[0], bytes[1])
	}
	t.Logf("device bytes with reuse %d, without %d", bytes[0], bytes[1])
}

// TestDeviceFeeds runs a plan on inputs already in device memory: the plan's own
// input buffer (no copy) and a separate device buffer (copied on the device).
func TestDeviceFeeds(t *testing.T) {
	d := gpu(t, false)
	r := rand.New(rand.NewPCG(10, 11))
	b := graph.NewBuilder("mm")
	b.Input("a", tensor.Float32, graph.ShapeOf(19, 23))
	constT(b, r, "w", 23, 17)
	if err := op(b, "MatMul", []string{"a", "w"}, "m", nil); err != nil {
		t.Fatal(err)
	}
	if err := op(b, "Tanh", []string{"m"}, "y", nil); err != nil {
		t.Fatal(err)
	}
	b.Output("y")
	g, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	p, err := d.Compile(g, nil, cuda.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	in, err := p.Input("a")
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ {
		a := randT(r, []int{19, 23}, false)
		want := cpuRun(t, g, map[string]*tensor.Tensor{"a": a})["y"]
		var feeds map[string]*cuda.Buffer
		if round == 0 {
			if err := in.CopyFrom(a); err != nil {
				t.Fatal(err)
			}
			feeds = map[string]*cuda.Buffer{"a": in}
		} else {
			buf, err := d.Upload(a)
			if err != nil {
				t.Fatal(err)
			}
			defer buf.Close()
			feeds = map[string]*cuda.Buffer{"a": buf}
		}
		outs, err := p.RunDevice(context.Background(), feeds)
		if err != nil {
			t.Fatal(err)
		}
		got, err := outs["y"].Download()
		if err != nil {
			t.Fatal(err)
		}
		if e := relErr(got.Float32s(), want.Float32s()); !(e <= 1e-5) {
			t.Errorf("round %d: relative error %.3g", round, e)
		}
	}
	bad, err := d.NewBuffer(tensor.Float32, []int{23, 19})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if _, err := p.RunDevice(context.Background(), map[string]*cuda.Buffer{"a": bad}); err == nil {
		t.Error("a feed of the wrong shape was accepted")
	}
}

// TestFallbackRunsWhatTheGPULacks runs a graph with an operator the GPU does not
// have (CumSum) through backends.Fallback: the other nodes on the GPU, CumSum on the
// CPU, the result as the CPU engine's.
func TestFallbackRunsWhatTheGPULacks(t *testing.T) {
	d := gpu(t, false)
	r := rand.New(rand.NewPCG(12, 13))
	b := graph.NewBuilder("mixed")
	b.Input("a", tensor.Float32, graph.ShapeOf(7, 31))
	constT(b, r, "w", 31, 9)
	if _, err := b.Const("axis", tensorInts(1)); err != nil {
		t.Fatal(err)
	}
	if err := op(b, "MatMul", []string{"a", "w"}, "m", nil); err != nil {
		t.Fatal(err)
	}
	if err := op(b, "CumSum", []string{"m", "axis"}, "c", nil); err != nil {
		t.Fatal(err)
	}
	if err := op(b, "Tanh", []string{"c"}, "y", nil); err != nil {
		t.Fatal(err)
	}
	b.Output("y")
	g, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range g.Nodes {
		if _, err := d.Kernel(n); n.Op == "CumSum" && err == nil {
			t.Fatal("the GPU now runs CumSum: pick another operator for this test")
		}
	}
	feeds := map[string]*tensor.Tensor{"a": randT(r, []int{7, 31}, false)}
	want := cpuRun(t, g, feeds)["y"]
	f := &backends.Fallback{Primary: d, Secondary: cpu.New(cpu.Options{})}
	s, err := exec.NewSession(g, f, exec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Run(context.Background(), feeds, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e := relErr(res.Outputs[0].Float32s(), want.Float32s()); !(e <= 1e-5) {
		t.Errorf("relative error %.3g", e)
	}
}

// TestTensorCoreAttention checks the TF32 tensor-core attention kernel (forced; the
// plan would otherwise keep whichever kernel is fastest) against the CPU engine.
func TestTensorCoreAttention(t *testing.T) {
	gpu(t, false)
	d, err := cuda.Open(0, cuda.Options{TF32: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cuda.SetAttentionKernel(d, "attention tensor-core")
	r := rand.New(rand.NewPCG(16, 17))
	for _, c := range []struct {
		name       string
		q, k, v, m []int
		attrs      graph.Attrs
	}{
		{"bert-like+mask", []int{3, 130, 256}, []int{3, 130, 256}, []int{3, 130, 256}, []int{3, 1, 1, 130}, graph.Attrs{"num_heads": graph.Int(4)}},
		{"heads+causal", []int{2, 19, 32}, []int{2, 23, 32}, []int{2, 23, 64}, nil, graph.Attrs{"num_heads": graph.Int(4), "causal": graph.Int(1)}},
		{"3d+transK+causal", []int{5, 33, 8}, []int{5, 8, 70}, []int{5, 70, 16}, nil, graph.Attrs{"transpose_k": graph.Int(1), "causal": graph.Int(1)}},
		{"4d+mask d24 dv48", []int{2, 3, 67, 24}, []int{2, 3, 65, 24}, []int{2, 3, 65, 48}, []int{2, 1, 67, 65}, graph.Attrs{"scale": graph.Float(0.2)}},
	} {
		b := graph.NewBuilder(c.name)
		names := []string{"q", "k", "v"}
		shapes := map[string][]int{"q": c.q, "k": c.k, "v": c.v}
		if c.m != nil {
			names = append(names, "m")
			shapes["m"] = c.m
		}
		feeds := map[string]*tensor.Tensor{}
		for _, n := range names {
			b.Input(n, tensor.Float32, graph.ShapeOf(shapes[n]...))
			feeds[n] = randT(r, shapes[n], false)
		}
		if err := lop(b, "Attention", names, "y", c.attrs); err != nil {
			t.Fatal(err)
		}
		b.Output("y")
		g, err := b.Finish()
		if err != nil {
			t.Fatal(err)
		}
		want := cpuRun(t, g, feeds)["y"]
		p, err := d.Compile(g, nil, cuda.PlanOptions{})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, err := p.Run(context.Background(), feeds)
		kinds := p.Kernels()
		p.Close()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if kinds["attention tensor-core TF32"] != 1 {
			t.Fatalf("%s: kernels %v", c.name, kinds)
		}
		e := relErr(got["y"].Float32s(), want.Float32s())
		if !(e <= 1e-3) {
			t.Errorf("%s: relative error %.3g > 1e-3", c.name, e)
		}
		t.Logf("%s: relative error %.3g", c.name, e)
	}
}

// TestAddLayerNorm checks the residual Add fused into the LayerNormalization that
// reads it (and left alone where the sum has another reader) against the CPU engine.
func TestAddLayerNorm(t *testing.T) {
	d := gpu(t, false)
	r := rand.New(rand.NewPCG(18, 19))
	b := graph.NewBuilder("addln")
	for _, n := range []string{"x", "h"} {
		b.Input(n, tensor.Float32, graph.ShapeOf(3, 17, 200))
	}
	constT(b, r, "g", 200)
	constT(b, r, "bb", 200)
	steps := []struct {
		op  string
		in  []string
		out string
	}{
		{"Add", []string{"x", "h"}, "s1"},
		{"LayerNormalization", []string{"s1", "g", "bb"}, "n1"}, // fused
		{"Add", []string{"n1", "x"}, "s2"},
		{"LayerNormalization", []string{"s2", "g"}, "n2"}, // not fused: s2 is read twice
		{"Mul", []string{"s2", "n2"}, "y"},
	}
	for _, st := range steps {
		if err := op(b, st.op, st.in, st.out, nil); err != nil {
			t.Fatal(err)
		}
	}
	b.Output("y")
	g, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	feeds := map[string]*tensor.Tensor{"x": randT(r, []int{3, 17, 200}, false), "h": randT(r, []int{3, 17, 200}, false)}
	want := cpuRun(t, g, feeds)["y"]
	for _, noGraph := range []bool{false, true} {
		p, err := d.Compile(g, nil, cuda.PlanOptions{NoGraph: noGraph})
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.Run(context.Background(), feeds)
		k := p.Kernels()
		p.Close()
		if err != nil {
			t.Fatal(err)
		}
		if k["Add fused into LayerNormalization"] != 1 {
			t.Errorf("kernels %v, want one fused Add", k)
		}
		if e := relErr(got["y"].Float32s(), want.Float32s()); !(e <= 1e-5) {
			t.Errorf("relative error %.3g", e)
		}
	}
}

// TestEncoderMatchesCPU runs two BERT-base layers (sequence 128, batch 3) as the
// optimizer leaves them (FusedMatMul with exact GELU, Attention, Add fused into
// LayerNormalization) on the GPU, full float32 and TF32, against the CPU engine.
func TestEncoderMatchesCPU(t *testing.T) {
	gpu(t, false)
	if testing.Short() {
		t.Skip("short")
	}
	g, _, err := cudatest.Encoder(2, 768, 12, 3072, 128, "Gelu")
	if err != nil {
		t.Fatal(err)
	}
	shape := []int{3, 128, 768}
	feeds := map[string]*tensor.Tensor{"x": randT(rand.New(rand.NewPCG(20, 21)), shape, false)}
	want := cpuRun(t, g, feeds)
	var name string
	for n := range want {
		name = n
	}
	for _, c := range []struct {
		name string
		d    *cuda.Device
		tol  float64
	}{{"float32", gpu(t, false), 1e-4}, {"tf32", gpu(t, true), 1e-2}} {
		p, err := c.d.Compile(g, map[string][]int{"x": shape}, cuda.PlanOptions{})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, err := p.Run(context.Background(), feeds)
		k := p.Kernels()
		p.Close()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		e := relErr(got[name].Float32s(), want[name].Float32s())
		if !(e <= c.tol) {
			t.Errorf("%s: relative error %.3g > %.0g", c.name, e, c.tol)
		}
		t.Logf("%s: relative error %.3g, %v", c.name, e, k)
	}
}
