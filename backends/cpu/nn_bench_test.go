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

// benchKernel prepares the CPU kernel of a one-node graph op(inputs) (constants
// carry data, so weights are pre-packed as in a real plan) and returns it with its
// input and output tensors.
func benchKernel(b *testing.B, dev *cpu.Device, op string, attrs graph.Attrs, inputs ...nodeInput) (backends.Kernel, []*tensor.Tensor, []*tensor.Tensor) {
	b.Helper()
	g := graph.New("bench")
	vals := make([]*graph.Value, len(inputs))
	ins := make([]*tensor.Tensor, len(inputs))
	for i, in := range inputs {
		ins[i] = in.T
		if in.Const {
			vals[i] = g.AddInitializer(fmt.Sprintf("c%d", i), in.T)
		} else {
			vals[i] = g.AddInput(fmt.Sprintf("x%d", i), in.T.DType(), graph.ShapeOf(in.T.Shape()...))
		}
	}
	n := g.AddNode(op, "bench_"+op, vals, []string{"y"}, attrs)
	g.Outputs = n.Outputs
	if err := ops.Infer(g, ops.InferOptions{}); err != nil {
		b.Fatal(err)
	}
	k, err := dev.Kernel(n)
	if err != nil {
		b.Fatal(err)
	}
	out := []*tensor.Tensor{tensor.New(n.Outputs[0].DType, n.Outputs[0].Shape.Ints())}
	return k, ins, out
}

func runBench(b *testing.B, k backends.Kernel, ins, outs []*tensor.Tensor, flops float64) {
	b.Helper()
	ctx := context.Background()
	if err := k.Run(ctx, ins, outs); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := k.Run(ctx, ins, outs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// resnet50Convs are the distinct convolution shapes of ResNet-50 v1.5 at batch 1.
var resnet50Convs = []struct {
	name                    string
	c, h, m, k, stride, pad int
}{
	{"conv1_7x7s2", 3, 224, 64, 7, 2, 3},
	{"l1_1x1_64-64", 64, 56, 64, 1, 1, 0},
	{"l1_3x3_64", 64, 56, 64, 3, 1, 1},
	{"l1_1x1_64-256", 64, 56, 256, 1, 1, 0},
	{"l1_1x1_256-64", 256, 56, 64, 1, 1, 0},
	{"l2_3x3s2_128", 128, 56, 128, 3, 2, 1},
	{"l2_3x3_128", 128, 28, 128, 3, 1, 1},
	{"l2_1x1_128-512", 128, 28, 512, 1, 1, 0},
	{"l3_3x3_256", 256, 14, 256, 3, 1, 1},
	{"l3_1x1_256-1024", 256, 14, 1024, 1, 1, 0},
	{"l4_3x3_512", 512, 7, 512, 3, 1, 1},
	{"l4_1x1_512-2048", 512, 7, 2048, 1, 1, 0},
	{"dw_3x3_256", 256, 28, 256, 3, 1, 1}, // depthwise (MobileNet-style), group 256
}

// BenchmarkConvResNet50 runs the ResNet-50 convolution shapes (float32, NCHW,
// batch 1, weights constant) with all threads and with one.
func BenchmarkConvResNet50(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, threads := range []int{0, 1} {
		dev := cpu.New(cpu.Options{Threads: threads})
		for _, c := range resnet50Convs {
			group := 1
			if c.name[:2] == "dw" {
				group = c.c
			}
			b.Run(fmt.Sprintf("threads=%d/%s", dev.Threads(), c.name), func(b *testing.B) {
				x := randTensor(r, tensor.Float32, 1, c.c, c.h, c.h)
				w := randTensor(r, tensor.Float32, c.m, c.c/group, c.k, c.k)
				bias := randTensor(r, tensor.Float32, c.m)
				attrs := graph.Attrs{"pads": graph.Ints(int64(c.pad), int64(c.pad), int64(c.pad), int64(c.pad)),
					"strides": graph.Ints(int64(c.stride), int64(c.stride)), "group": graph.Int(int64(group))}
				k, ins, outs := benchKernel(b, dev, "Conv", attrs, feed(x), konst(w), konst(bias))
				oh := outs[0].Shape()[2]
				flops := 2 * float64(c.m*oh*oh) * float64(c.c/group*c.k*c.k)
				b.SetBytes(int64(4 * (x.Len() + outs[0].Len())))
				runBench(b, k, ins, outs, flops)
			})
		}
	}
}

// BenchmarkMatMulBERT runs the matrix products of one BERT-base layer at sequence
// length 128, batch 1 (weights constant; attention products batched over 12 heads).
func BenchmarkMatMulBERT(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 1))
	cases := []struct {
		name   string
		a, w   []int
		constW bool
	}{
		{"qkv_768x768", []int{1, 128, 768}, []int{768, 768}, true},
		{"ffn1_768x3072", []int{1, 128, 768}, []int{768, 3072}, true},
		{"ffn2_3072x768", []int{1, 128, 3072}, []int{3072, 768}, true},
		{"scores_QK^T", []int{1, 12, 128, 64}, []int{1, 12, 64, 128}, false},
		{"context_PV", []int{1, 12, 128, 128}, []int{1, 12, 128, 64}, false},
		{"batch8_ffn1", []int{8, 128, 768}, []int{768, 3072}, true},
	}
	for _, threads := range []int{0, 1} {
		dev := cpu.New(cpu.Options{Threads: threads})
		for _, c := range cases {
			b.Run(fmt.Sprintf("threads=%d/%s", dev.Threads(), c.name), func(b *testing.B) {
				a, w := randTensor(r, tensor.Float32, c.a...), randTensor(r, tensor.Float32, c.w...)
				wi := feed(w)
				if c.constW {
					wi = konst(w)
				}
				k, ins, outs := benchKernel(b, dev, "MatMul", nil, feed(a), wi)
				kk := c.a[len(c.a)-1]
				flops := 2 * float64(outs[0].Len()) * float64(kk)
				runBench(b, k, ins, outs, flops)
			})
		}
	}
}

// BenchmarkNNOps covers the memory-bound operators at typical shapes (GFLOP/s here
// counts one operation per input element, a throughput measure).
func BenchmarkNNOps(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 1))
	dev := cpu.New(cpu.Options{})
	x := randTensor(r, tensor.Float32, 1, 64, 112, 112)
	seq := randTensor(r, tensor.Float32, 1, 128, 768)
	scores := randTensor(r, tensor.Float32, 1, 12, 128, 128)
	cases := []struct {
		name  string
		op    string
		attrs graph.Attrs
		ins   []nodeInput
	}{
		{"maxpool_3x3s2_112", "MaxPool", graph.Attrs{"kernel_shape": graph.Ints(3, 3), "strides": graph.Ints(2, 2), "pads": graph.Ints(1, 1, 1, 1)}, []nodeInput{feed(x)}},
		{"gap_2048x7x7", "GlobalAveragePool", nil, []nodeInput{feed(randTensor(r, tensor.Float32, 1, 2048, 7, 7))}},
		{"batchnorm_64x112", "BatchNormalization", nil, []nodeInput{feed(x), konst(randTensor(r, tensor.Float32, 64)), konst(randTensor(r, tensor.Float32, 64)), konst(randTensor(r, tensor.Float32, 64)), konst(nnPositive(r, tensor.Float32, 64))}},
		{"layernorm_128x768", "LayerNormalization", nil, []nodeInput{feed(seq), konst(randTensor(r, tensor.Float32, 768)), konst(randTensor(r, tensor.Float32, 768))}},
		{"softmax_12x128x128", "Softmax", nil, []nodeInput{feed(scores)}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			k, ins, outs := benchKernel(b, dev, c.op, c.attrs, c.ins...)
			b.SetBytes(int64(4 * (ins[0].Len() + outs[0].Len())))
			runBench(b, k, ins, outs, float64(ins[0].Len()))
		})
	}
}

// BenchmarkConvTranspose runs decoder-style transposed convolutions (float32, batch 1,
// weights constant), counting the FLOPs of the equivalent forward convolution.
func BenchmarkConvTranspose(b *testing.B) {
	r := rand.New(rand.NewPCG(4, 1))
	dev := cpu.New(cpu.Options{})
	for _, c := range []struct {
		name               string
		c, h, m, k, stride int
	}{
		{"up_4x4s2_256-128_14", 256, 14, 128, 4, 2},
		{"up_2x2s2_64-32_56", 64, 56, 32, 2, 2},
		{"up_3x3s1_64-64_28", 64, 28, 64, 3, 1},
	} {
		b.Run(c.name, func(b *testing.B) {
			x := randTensor(r, tensor.Float32, 1, c.c, c.h, c.h)
			w := randTensor(r, tensor.Float32, c.c, c.m, c.k, c.k)
			pad := int64((c.k - c.stride) / 2)
			attrs := graph.Attrs{"strides": graph.Ints(int64(c.stride), int64(c.stride)), "pads": graph.Ints(pad, pad, pad, pad)}
			k, ins, outs := benchKernel(b, dev, "ConvTranspose", attrs, feed(x), konst(w))
			flops := 2 * float64(c.c*c.h*c.h) * float64(c.m*c.k*c.k)
			runBench(b, k, ins, outs, flops)
		})
	}
}

// resnet50 builds ResNet-50 v1.5 (batch dims symbolic, random weights) as an
// unoptimized ONNX-style graph: Conv, BatchNormalization, Relu, MaxPool, Add,
// GlobalAveragePool, Flatten, Gemm.
func resnet50(tb testing.TB) *graph.Graph {
	r := rand.New(rand.NewPCG(7, 7))
	b := graph.NewBuilder("resnet50")
	if _, err := b.Input("x", tensor.Float32, graph.Shape{{Size: -1, Param: "N"}, {Size: 3}, {Size: 224}, {Size: 224}}); err != nil {
		tb.Fatal(err)
	}
	serial := 0
	name := func(p string) string { serial++; return fmt.Sprintf("%s%d", p, serial) }
	op := func(o string, ins []string, attrs graph.Attrs) string {
		out := name("t")
		if _, err := b.Op(o, "", ins, []string{out}, attrs); err != nil {
			tb.Fatal(err)
		}
		return out
	}
	konst := func(t *tensor.Tensor) string {
		n := name("w")
		if _, err := b.Const(n, t); err != nil {
			tb.Fatal(err)
		}
		return n
	}
	convBN := func(x string, cin, cout, k, stride int, relu bool) string {
		w := randTensor(r, tensor.Float32, cout, cin, k, k)
		for i := range w.Float32s() {
			w.Float32s()[i] *= float32(1 / math.Sqrt(float64(cin*k*k)))
		}
		p := int64(k / 2)
		y := op("Conv", []string{x, konst(w)}, graph.Attrs{"pads": graph.Ints(p, p, p, p), "strides": graph.Ints(int64(stride), int64(stride))})
		y = op("BatchNormalization", []string{y, konst(randTensor(r, tensor.Float32, cout)), konst(randTensor(r, tensor.Float32, cout)),
			konst(randTensor(r, tensor.Float32, cout)), konst(nnPositive(r, tensor.Float32, cout))}, nil)
		if relu {
			y = op("Relu", []string{y}, nil)
		}
		return y
	}
	x := convBN("x", 3, 64, 7, 2, true)
	x = op("MaxPool", []string{x}, graph.Attrs{"kernel_shape": graph.Ints(3, 3), "strides": graph.Ints(2, 2), "pads": graph.Ints(1, 1, 1, 1)})
	cin := 64
	for stage, blocks := range []int{3, 4, 6, 3} {
		width := 64 << stage
		for blk := 0; blk < blocks; blk++ {
			stride := 1
			if blk == 0 && stage > 0 {
				stride = 2
			}
			y := convBN(x, cin, width, 1, 1, true)
			y = convBN(y, width, width, 3, stride, true)
			y = convBN(y, width, 4*width, 1, 1, false)
			short := x
			if blk == 0 {
				short = convBN(x, cin, 4*width, 1, stride, false)
			}
			x = op("Relu", []string{op("Add", []string{y, short}, nil)}, nil)
			cin = 4 * width
		}
	}
	x = op("GlobalAveragePool", []string{x}, nil)
	x = op("Flatten", []string{x}, nil)
	fc := op("Gemm", []string{x, konst(randTensor(r, tensor.Float32, 1000, 2048)), konst(randTensor(r, tensor.Float32, 1000))}, graph.Attrs{"transB": graph.Int(1)})
	b.Output(fc)
	g, err := b.Finish()
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

// BenchmarkResNet50Session runs the whole unoptimized ResNet-50 (4.1 GFLOP per
// image, counting multiply-adds twice) through exec.Session at batch 1.
func BenchmarkResNet50Session(b *testing.B) {
	g := resnet50(b)
	r := rand.New(rand.NewPCG(8, 8))
	x := randTensor(r, tensor.Float32, 1, 3, 224, 224)
	for _, threads := range []int{0, 1} {
		dev := cpu.New(cpu.Options{Threads: threads})
		sess, err := exec.NewSession(g, dev, exec.Options{HeapOutputs: true})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("threads=%d", dev.Threads()), func(b *testing.B) {
			feeds := map[string]*tensor.Tensor{"x": x}
			if _, err := sess.Run(context.Background(), feeds, nil); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := sess.Run(context.Background(), feeds, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(4.1*float64(b.N)/b.Elapsed().Seconds(), "GFLOP/s")
			b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/image")
		})
	}
}
