package cpu_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// runDomainOp runs one node of op in domain on the CPU device (threads workers) and
// returns its first output.
func runDomainOp(t *testing.T, threads int, domain, op string, attrs graph.Attrs, inputs ...nodeInput) *tensor.Tensor {
	t.Helper()
	g, _, feeds, err := oneNodeGraph(domain, op, attrs, 1, inputs)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := exec.NewSession(g, cpu.New(cpu.Options{Threads: threads}), exec.Options{HeapOutputs: true})
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	res, err := sess.Run(context.Background(), feeds, nil)
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	return res.Outputs[0]
}

// permute4 returns the float32 4-D tensor x with its axes permuted (out axis i is x's
// axis perm[i]).
func permute4(x *tensor.Tensor, perm []int) *tensor.Tensor {
	xs := x.Shape()
	os := []int{xs[perm[0]], xs[perm[1]], xs[perm[2]], xs[perm[3]]}
	y := tensor.New(tensor.Float32, os)
	src, dst := x.Float32s(), y.Float32s()
	strides := []int{xs[1] * xs[2] * xs[3], xs[2] * xs[3], xs[3], 1}
	i := 0
	for a := 0; a < os[0]; a++ {
		for b := 0; b < os[1]; b++ {
			for c := 0; c < os[2]; c++ {
				for d := 0; d < os[3]; d++ {
					dst[i] = src[a*strides[perm[0]]+b*strides[perm[1]]+c*strides[perm[2]]+d*strides[perm[3]]]
					i++
				}
			}
		}
	}
	return y
}

// sameFloats fails unless got and want agree element by element (NaN equal to NaN)
// within tol relative to max(1, |want|).
func sameFloats(t *testing.T, what string, got, want *tensor.Tensor, tol float64) {
	t.Helper()
	if fmt.Sprint(got.Shape()) != fmt.Sprint(want.Shape()) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape(), want.Shape())
	}
	g, w := got.Float32s(), want.Float32s()
	for i := range w {
		a, b := float64(g[i]), float64(w[i])
		if math.IsNaN(a) || math.IsNaN(b) {
			if math.IsNaN(a) != math.IsNaN(b) {
				t.Fatalf("%s: element %d is %v, want %v", what, i, a, b)
			}
			continue
		}
		if math.Abs(a-b) > tol*max(1, math.Abs(b)) {
			t.Fatalf("%s: element %d is %v, want %v", what, i, a, b)
		}
	}
}

// TestNhwcPoolsMatchNCHW runs NhwcMaxPool, NhwcAveragePool and NhwcGlobalAveragePool
// on random inputs of awkward sizes (channels around the 8- and 32-lane widths,
// strides, pads, dilations, ceil_mode, count_include_pad) and compares them with the
// NCHW pools on the same data: max pooling exactly (NaN where a window holds one),
// averages to float32 rounding.
func TestNhwcPoolsMatchNCHW(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 11))
	ints := graph.Ints
	cases := []struct {
		op    string
		shape []int // NCHW
		attrs graph.Attrs
	}{
		{"MaxPool", []int{1, 64, 112, 112}, graph.Attrs{"kernel_shape": ints(3, 3), "strides": ints(2, 2), "pads": ints(1, 1, 1, 1)}},
		{"MaxPool", []int{2, 13, 11, 9}, graph.Attrs{"kernel_shape": ints(3, 3), "strides": ints(2, 2), "pads": ints(1, 1, 1, 1), "ceil_mode": graph.Int(1)}},
		{"MaxPool", []int{1, 1, 7, 8}, graph.Attrs{"kernel_shape": ints(2, 2)}},
		{"MaxPool", []int{3, 37, 10, 12}, graph.Attrs{"kernel_shape": ints(3, 2), "strides": ints(1, 3), "pads": ints(0, 1, 2, 1)}},
		{"MaxPool", []int{1, 40, 9, 9}, graph.Attrs{"kernel_shape": ints(2, 3), "dilations": ints(2, 2), "pads": ints(1, 2, 1, 0)}},
		{"MaxPool", []int{2, 8, 5, 6}, graph.Attrs{"kernel_shape": ints(2, 2), "auto_pad": graph.String("SAME_UPPER"), "strides": ints(2, 2)}},
		{"MaxPool", []int{1, 33, 6, 5}, graph.Attrs{"kernel_shape": ints(1, 1), "strides": ints(2, 2)}},
		{"AveragePool", []int{2, 13, 11, 9}, graph.Attrs{"kernel_shape": ints(3, 3), "strides": ints(2, 2), "pads": ints(1, 1, 1, 1)}},
		{"AveragePool", []int{2, 13, 11, 9}, graph.Attrs{"kernel_shape": ints(3, 3), "strides": ints(2, 2), "pads": ints(1, 1, 1, 1), "count_include_pad": graph.Int(1)}},
		{"AveragePool", []int{1, 31, 8, 7}, graph.Attrs{"kernel_shape": ints(3, 2), "strides": ints(2, 2), "ceil_mode": graph.Int(1), "count_include_pad": graph.Int(1), "pads": ints(1, 0, 1, 1)}},
		{"AveragePool", []int{1, 9, 7, 7}, graph.Attrs{"kernel_shape": ints(7, 7)}},
		{"GlobalAveragePool", []int{2, 2048, 7, 7}, nil},
		{"GlobalAveragePool", []int{3, 300, 5, 3}, nil},
		{"GlobalAveragePool", []int{1, 7, 1, 1}, nil},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%d/%s%v", i, tc.op, tc.shape), func(t *testing.T) {
			x := randTensor(r, tensor.Float32, tc.shape...)
			if tc.op == "MaxPool" && i == 1 {
				x.Float32s()[r.IntN(x.Len())] = float32(math.NaN())
			}
			want := permute4(runDomainOp(t, 2, "", tc.op, tc.attrs, feed(x)), ops.NCHWToNHWC)
			for _, threads := range []int{1, 3} {
				got := runDomainOp(t, threads, ops.DomainLightOS, "Nhwc"+tc.op, tc.attrs, feed(permute4(x, ops.NCHWToNHWC)))
				tol := 2e-6
				if tc.op == "MaxPool" {
					tol = 0
				}
				sameFloats(t, fmt.Sprintf("Nhwc%s (%d threads)", tc.op, threads), got, want, tol)
			}
		})
	}
}

// TestNhwcConvMatchesConv runs NhwcConv on transposed inputs and compares it with
// the NCHW Conv (plus the residual and activation computed here in float64): group 1
// and depthwise, strides, pads, dilations, with and without bias, each activation.
func TestNhwcConvMatchesConv(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 13))
	ints := graph.Ints
	cases := []struct {
		x, w     []int // NCHW, OIHW
		attrs    graph.Attrs
		bias     bool
		residual bool
		act      graph.Attrs
	}{
		{[]int{1, 3, 23, 21}, []int{16, 3, 7, 7}, graph.Attrs{"strides": ints(2, 2), "pads": ints(3, 3, 3, 3)}, true, false, graph.Attrs{"activation": graph.String("Relu")}},
		{[]int{2, 19, 9, 10}, []int{37, 19, 1, 1}, nil, true, true, graph.Attrs{"activation": graph.String("Relu")}},
		{[]int{1, 24, 8, 7}, []int{24, 1, 3, 3}, graph.Attrs{"group": graph.Int(24), "pads": ints(1, 1, 1, 1)}, true, false,
			graph.Attrs{"activation": graph.String("Clip"), "min": graph.Float(0), "max": graph.Float(6)}},
		{[]int{2, 24, 8, 7}, []int{24, 1, 3, 3}, graph.Attrs{"group": graph.Int(24), "pads": ints(1, 1, 1, 1)}, true, true, graph.Attrs{"activation": graph.String("Relu")}},
		{[]int{2, 13, 11, 9}, []int{13, 1, 3, 3}, graph.Attrs{"group": graph.Int(13), "strides": ints(2, 2), "pads": ints(0, 1, 1, 1)}, false, false, nil},
		{[]int{1, 9, 10, 11}, []int{5, 9, 3, 2}, graph.Attrs{"dilations": ints(2, 1), "pads": ints(2, 1, 1, 0)}, false, true,
			graph.Attrs{"activation": graph.String("LeakyRelu"), "alpha": graph.Float(0.2)}},
		{[]int{1, 64, 14, 14}, []int{70, 64, 3, 3}, graph.Attrs{"auto_pad": graph.String("SAME_UPPER"), "strides": ints(2, 2)}, true, true, nil},
		// 3x3 stride 1 from 64 channels: the Winograd route (pickRoute's first run
		// ends with it), odd planes (partial tiles), batch 1 and 2.
		{[]int{1, 64, 9, 11}, []int{72, 64, 3, 3}, graph.Attrs{"pads": ints(1, 1, 1, 1)}, true, true, graph.Attrs{"activation": graph.String("Relu")}},
		{[]int{2, 128, 7, 6}, []int{136, 128, 3, 3}, graph.Attrs{"pads": ints(1, 1, 1, 1)}, true, true, graph.Attrs{"activation": graph.String("Relu")}},
		{[]int{3, 130, 5, 9}, []int{128, 130, 3, 3}, graph.Attrs{"pads": ints(0, 1, 2, 1)}, false, false,
			graph.Attrs{"activation": graph.String("Clip"), "min": graph.Float(-0.5), "max": graph.Float(2)}},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			x := randTensor(r, tensor.Float32, tc.x...)
			w := randTensor(r, tensor.Float32, tc.w...)
			var b *tensor.Tensor
			inputs := []nodeInput{feed(x), konst(w)}
			nhwcIn := []nodeInput{feed(permute4(x, ops.NCHWToNHWC)), konst(w)}
			if tc.bias {
				b = randTensor(r, tensor.Float32, tc.w[0])
				inputs = append(inputs, konst(b))
			}
			want := runDomainOp(t, 2, "", "Conv", tc.attrs, inputs...)
			want = permute4(want, ops.NCHWToNHWC)
			var res *tensor.Tensor
			if tc.residual {
				res = randTensor(r, tensor.Float32, want.Shape()...)
			}
			wv := want.Float32s()
			scale := 1.0 // of the convolution's output, before the residual and activation
			for _, v := range wv {
				scale = max(scale, math.Abs(float64(v)))
			}
			lo, hi := tc.act.GetFloat("min", 0), tc.act.GetFloat("max", 0)
			alpha := tc.act.GetFloat("alpha", 0.01)
			for j := range wv {
				v := float64(wv[j])
				if res != nil {
					v += float64(res.Float32s()[j])
				}
				switch tc.act.GetString("activation", "") {
				case "Relu":
					v = max(v, 0)
				case "LeakyRelu":
					if v < 0 {
						v *= float64(alpha)
					}
				case "Clip":
					v = min(max(v, float64(lo)), float64(hi))
				}
				wv[j] = float32(v)
			}
			attrs := tc.attrs.Clone()
			if attrs == nil {
				attrs = graph.Attrs{}
			}
			for k, v := range tc.act {
				attrs[k] = v
			}
			if b != nil {
				nhwcIn = append(nhwcIn, konst(b))
			}
			if res != nil {
				if b == nil {
					nhwcIn = append(nhwcIn, omitted)
				}
				nhwcIn = append(nhwcIn, feed(res))
			}
			// The Winograd routes' error is bounded by the convolution's scale:
			// F(4x4, 3x3) is within about 1e-5 of it (TestWinograd4AgainstReference),
			// while some elements are more than 1e-4 of their own value off.
			tol := 1e-4
			if tc.w[1] >= 64 && tc.w[2] == 3 && tc.w[3] == 3 && tc.attrs.GetInts("strides", nil) == nil {
				tol *= scale
			}
			for _, threads := range []int{1, 2} {
				got := runDomainOp(t, threads, ops.DomainLightOS, ops.NhwcConv, attrs, nhwcIn...)
				sameFloats(t, fmt.Sprintf("NhwcConv (%d threads)", threads), got, want, tol)
				if res != nil {
					for run := 0; run < 2; run++ { // the first run of a shape may time the routes
						got := runNhwcConvInPlace(t, threads, attrs, nhwcIn)
						sameFloats(t, fmt.Sprintf("NhwcConv in place (%d threads, run %d)", threads, run), got, want, tol)
					}
				}
			}
		})
	}
}

// runNhwcConvInPlace runs an NhwcConv kernel (inputs as runDomainOp takes them, the
// residual last) with its output in the residual's buffer, as the executor does for a
// backends.InPlacer, and returns the output. The kernel must declare the
// residual (input 3) its in-place input, depthwise ones too; the run is checked
// against the out-of-place result by the caller.
func runNhwcConvInPlace(t *testing.T, threads int, attrs graph.Attrs, inputs []nodeInput) *tensor.Tensor {
	t.Helper()
	_, n, _, err := oneNodeGraph(ops.DomainLightOS, ops.NhwcConv, attrs, 1, inputs)
	if err != nil {
		t.Fatal(err)
	}
	vals := make([]*tensor.Tensor, len(inputs))
	for i, in := range inputs {
		vals[i] = in.T
	}
	k, err := cpu.New(cpu.Options{Threads: threads}).Kernel(n)
	if err != nil {
		t.Fatal(err)
	}
	if ip, ok := k.(backends.InPlacer); !ok || ip.InPlaceInput() != 3 {
		t.Fatalf("an NhwcConv kernel with a residual must offer it (input 3) as its output's buffer")
	}
	y := vals[len(vals)-1].Clone()
	vals[len(vals)-1] = y
	if err := k.Run(context.Background(), vals, []*tensor.Tensor{y}); err != nil {
		t.Fatal(err)
	}
	return y
}

// TestTransposeToNHWC checks the Transpose kernel's NCHW-to-NHWC path for few
// channels (and the general path just above its bound) against a plain index loop,
// on sizes that leave partial pixel chunks.
func TestTransposeToNHWC(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	for _, shape := range [][]int{{1, 3, 224, 224}, {2, 1, 7, 5}, {3, 5, 50, 47}, {1, 16, 3, 3}, {2, 17, 9, 11}, {1, 3, 0, 4}} {
		x := randTensor(r, tensor.Float32, shape...)
		for _, threads := range []int{1, 3} {
			got := runDomainOp(t, threads, "", "Transpose", graph.Attrs{"perm": graph.Ints(0, 2, 3, 1)}, feed(x))
			sameFloats(t, fmt.Sprintf("Transpose %v (%d threads)", shape, threads), got, permute4(x, ops.NCHWToNHWC), 0)
		}
	}
}

// TestNhwcConvChainOneDevice runs a chain of NhwcConvs of ResNet and MobileNetV2
// layer shapes on one device (one GEMM context, whose scratch the calls share), twice,
// and compares the result with the same chain computed node by node through the NCHW
// Conv on fresh devices: state left by one convolution must not leak into the next.
func TestNhwcConvChainOneDevice(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	ints := graph.Ints
	relu := graph.Attrs{"activation": graph.String("Relu")}
	layers := []struct {
		w     []int
		attrs graph.Attrs
	}{
		{[]int{64, 32, 3, 3}, graph.Attrs{"pads": ints(1, 1, 1, 1)}},
		{[]int{128, 64, 1, 1}, nil},
		{[]int{128, 1, 3, 3}, graph.Attrs{"group": graph.Int(128), "strides": ints(2, 2), "pads": ints(1, 1, 1, 1)}},
		{[]int{96, 128, 3, 3}, graph.Attrs{"pads": ints(1, 1, 1, 1)}},
		{[]int{256, 96, 1, 1}, graph.Attrs{"strides": ints(2, 2)}},
	}
	x := randTensor(r, tensor.Float32, 2, 32, 28, 28)
	b := graph.NewBuilder("chain")
	if _, err := b.Input("x", tensor.Float32, graph.ShapeOf(2, 28, 28, 32)); err != nil {
		t.Fatal(err)
	}
	want, prev := x, "x"
	for i, l := range layers {
		w := randTensor(r, tensor.Float32, l.w...)
		fanIn := float32(math.Sqrt(float64(l.w[1] * l.w[2] * l.w[3])))
		for j, v := range w.Float32s() {
			w.Float32s()[j] = v / fanIn
		}
		bias := randTensor(r, tensor.Float32, l.w[0])
		if _, err := b.Const(fmt.Sprint("w", i), w); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Const(fmt.Sprint("b", i), bias); err != nil {
			t.Fatal(err)
		}
		attrs := l.attrs.Clone()
		if attrs == nil {
			attrs = graph.Attrs{}
		}
		want = runDomainOp(t, 1, "", "Conv", attrs, feed(want), konst(w), konst(bias))
		for j, v := range want.Float32s() {
			want.Float32s()[j] = max(v, 0)
		}
		for k, v := range relu {
			attrs[k] = v
		}
		out := fmt.Sprint("y", i)
		n, err := b.Op(ops.NhwcConv, fmt.Sprint("conv", i), []string{prev, fmt.Sprint("w", i), fmt.Sprint("b", i)}, []string{out}, attrs)
		if err != nil {
			t.Fatal(err)
		}
		n.Domain = ops.DomainLightOS
		prev = out
	}
	b.Output(prev)
	g, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	sess, err := exec.NewSession(g, cpu.New(cpu.Options{Threads: 2}), exec.Options{HeapOutputs: true})
	if err != nil {
		t.Fatal(err)
	}
	want = permute4(want, ops.NCHWToNHWC)
	for run := 0; run < 2; run++ {
		res, err := sess.Run(context.Background(), map[string]*tensor.Tensor{"x": permute4(x, ops.NCHWToNHWC)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, scale, worst := res.Outputs[0].Float32s(), 0.0, 0.0
		for j, v := range want.Float32s() {
			scale = max(scale, math.Abs(float64(v)))
			worst = max(worst, math.Abs(float64(got[j]-v)))
		}
		if worst > 1e-5*scale || fmt.Sprint(res.Outputs[0].Shape()) != fmt.Sprint(want.Shape()) {
			t.Fatalf("run %d: shape %v (want %v), largest error %g against the output's scale %g", run, res.Outputs[0].Shape(), want.Shape(), worst, scale)
		}
	}
}
