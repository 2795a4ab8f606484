// Package cudatest builds the model graphs that the GPU tests (backends/cuda) and the
// GPU benchmark (bench/gpu) share, with random weights.
package cudatest

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

type resnet struct {
	b     *graph.Builder
	r     *rand.Rand
	n     int
	flops float64
	hw    int // current spatial size
	err   error
}

func (r *resnet) name(kind string) string {
	r.n++
	return fmt.Sprintf("%s%d", kind, r.n)
}

func (r *resnet) konst(shape []int, f func(i int) float64) string {
	name := r.name("c")
	t := tensor.New(tensor.Float32, shape)
	for i := range t.Float32s() {
		t.Float32s()[i] = float32(f(i))
	}
	if r.err == nil {
		_, r.err = r.b.Const(name, t)
	}
	return name
}

func (r *resnet) op(op string, in []string, attrs graph.Attrs) string {
	out := r.name("v")
	if r.err == nil {
		_, r.err = r.b.Op(op, out, in, []string{out}, attrs)
	}
	return out
}

// convBN is Conv (He-initialized, no bias) + BatchNormalization (+ Relu); gamma
// scales the normalization (small on a block's last convolution keeps the residual
// sums from growing through the 16 blocks).
func (r *resnet) convBN(in string, cin, cout, k, stride int, relu bool, gamma float64) string {
	std := math.Sqrt(2 / float64(cin*k*k))
	w := r.konst([]int{cout, cin, k, k}, func(int) float64 { return r.r.NormFloat64() * std })
	pad := int64(k / 2)
	c := r.op("Conv", []string{in, w}, graph.Attrs{"kernel_shape": graph.Ints(int64(k), int64(k)),
		"strides": graph.Ints(int64(stride), int64(stride)), "pads": graph.Ints(pad, pad, pad, pad)})
	r.hw = (r.hw+2*int(pad)-k)/stride + 1
	r.flops += 2 * float64(cin*k*k*cout*r.hw*r.hw)
	bn := r.op("BatchNormalization", []string{c,
		r.konst([]int{cout}, func(int) float64 { return gamma * (0.8 + 0.4*r.r.Float64()) }),
		r.konst([]int{cout}, func(int) float64 { return 0.1 * r.r.NormFloat64() }),
		r.konst([]int{cout}, func(int) float64 { return 0.1 * r.r.NormFloat64() }),
		r.konst([]int{cout}, func(int) float64 { return 0.5 + r.r.Float64() })}, nil)
	if !relu {
		return bn
	}
	return r.op("Relu", []string{bn}, nil)
}

// bottleneck is a ResNet-50 v1.5 block (the stride on the 3x3 convolution).
func (r *resnet) bottleneck(in string, cin, width, stride int) string {
	cout := 4 * width
	hw := r.hw
	h := r.convBN(in, cin, width, 1, 1, true, 1)
	h = r.convBN(h, width, width, 3, stride, true, 1)
	h = r.convBN(h, width, cout, 1, 1, false, 0.3)
	out := r.hw
	short := in
	if stride != 1 || cin != cout {
		r.hw = hw
		short = r.convBN(in, cin, cout, 1, stride, false, 1)
		r.hw = out
	}
	return r.op("Relu", []string{r.op("Add", []string{h, short}, nil)}, nil)
}

// ResNet50 builds ResNet-50 v1.5 for [batch, 3, 224, 224] float32 images, input "x",
// output "logits" [batch, 1000], as an exporter writes it (Conv, BatchNormalization,
// Relu, Add, MaxPool, GlobalAveragePool, Flatten, Gemm), with random weights from
// seed. flops counts the multiply-adds of the convolutions and the classifier (x2)
// for the whole batch.
func ResNet50(batch int, seed uint64) (g *graph.Graph, flops float64, err error) {
	r := &resnet{b: graph.NewBuilder("resnet50"), r: rand.New(rand.NewPCG(seed, 50)), hw: 224}
	if _, err := r.b.Input("x", tensor.Float32, graph.ShapeOf(batch, 3, 224, 224)); err != nil {
		return nil, 0, err
	}
	h := r.convBN("x", 3, 64, 7, 2, true, 1)
	h = r.op("MaxPool", []string{h}, graph.Attrs{"kernel_shape": graph.Ints(3, 3), "strides": graph.Ints(2, 2),
		"pads": graph.Ints(1, 1, 1, 1)})
	r.hw = 56
	cin := 64
	for s, blocks := range []int{3, 4, 6, 3} {
		width := 64 << s
		for i := 0; i < blocks; i++ {
			stride := 1
			if i == 0 && s > 0 {
				stride = 2
			}
			h = r.bottleneck(h, cin, width, stride)
			cin = 4 * width
		}
	}
	h = r.op("Flatten", []string{r.op("GlobalAveragePool", []string{h}, nil)}, nil)
	fw := r.konst([]int{1000, 2048}, func(int) float64 { return r.r.NormFloat64() / math.Sqrt(2048) })
	fb := r.konst([]int{1000}, func(int) float64 { return 0.01 * r.r.NormFloat64() })
	out := r.b
	if r.err == nil {
		_, r.err = out.Op("Gemm", "fc", []string{h, fw, fb}, []string{"logits"}, graph.Attrs{"transB": graph.Int(1)})
	}
	r.flops += 2 * 2048 * 1000
	if r.err != nil {
		return nil, 0, fmt.Errorf("cudatest: resnet50: %w", r.err)
	}
	out.Output("logits")
	g, err = out.Finish()
	if err != nil {
		return nil, 0, fmt.Errorf("cudatest: resnet50: %w", err)
	}
	return g, r.flops * float64(batch), nil
}
