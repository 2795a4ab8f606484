package main

// This file is compiled into the benchmark and also evaluated, as text, by the
// kernel's interpreter: keep it to what yaegi v0.16.1 runs (no generics, no
// range over integers).

import (
	"fmt"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// resnetBuilder adds ResNet-50 layers to a graph builder.
type resnetBuilder struct {
	b     *graph.Builder
	randn func(n int) []float32
	n     int // layer counter for names
	err   error
}

func (r *resnetBuilder) name(kind string) string {
	r.n++
	return fmt.Sprintf("%s%d", kind, r.n)
}

func (r *resnetBuilder) constant(name string, shape []int, values []float32) {
	if r.err != nil {
		return
	}
	t, err := tensor.FromFloat32(shape, values)
	if err == nil {
		_, err = r.b.Const(name, t)
	}
	r.err = err
}

func (r *resnetBuilder) op(op string, inputs []string, out string, attrs graph.Attrs) {
	if r.err != nil {
		return
	}
	_, r.err = r.b.Op(op, out, inputs, []string{out}, attrs)
}

// convBN is Conv (no bias) + BatchNormalization, with Relu when relu is set.
func (r *resnetBuilder) convBN(in string, cin, cout, k, stride int, relu bool) string {
	w := r.name("w")
	scale := make([]float32, cout)
	shift := make([]float32, cout)
	mean := make([]float32, cout)
	variance := make([]float32, cout)
	for i := 0; i < cout; i++ {
		scale[i], variance[i] = 1, 1
	}
	std := make([]float32, cin*k*k*cout)
	copy(std, r.randn(len(std)))
	r.constant(w, []int{cout, cin, k, k}, std)
	bn := r.name("bn")
	r.constant(bn+"_scale", []int{cout}, scale)
	r.constant(bn+"_shift", []int{cout}, shift)
	r.constant(bn+"_mean", []int{cout}, mean)
	r.constant(bn+"_var", []int{cout}, variance)
	pad := int64(k / 2)
	conv := r.name("conv")
	r.op("Conv", []string{in, w}, conv, graph.Attrs{
		"kernel_shape": graph.Ints(int64(k), int64(k)),
		"strides":      graph.Ints(int64(stride), int64(stride)),
		"pads":         graph.Ints(pad, pad, pad, pad),
	})
	r.op("BatchNormalization", []string{conv, bn + "_scale", bn + "_shift", bn + "_mean", bn + "_var"}, bn, nil)
	if !relu {
		return bn
	}
	out := r.name("relu")
	r.op("Relu", []string{bn}, out, nil)
	return out
}

// bottleneck is a ResNet-50 v1.5 block (stride on the 3x3 convolution).
func (r *resnetBuilder) bottleneck(in string, cin, width, stride int) string {
	cout := 4 * width
	h := r.convBN(in, cin, width, 1, 1, true)
	h = r.convBN(h, width, width, 3, stride, true)
	h = r.convBN(h, width, cout, 1, 1, false)
	short := in
	if stride != 1 || cin != cout {
		short = r.convBN(in, cin, cout, 1, stride, false)
	}
	sum := r.name("add")
	r.op("Add", []string{h, short}, sum, nil)
	out := r.name("relu")
	r.op("Relu", []string{sum}, out, nil)
	return out
}

// BuildResNet50 builds ResNet-50 for [batch, 3, 224, 224] float32 images
// with weights drawn from randn.
func BuildResNet50(batch int, randn func(n int) []float32) (*graph.Graph, error) {
	r := &resnetBuilder{b: graph.NewBuilder("resnet50"), randn: randn}
	if _, err := r.b.Input("x", tensor.Float32, graph.ShapeOf(batch, 3, 224, 224)); err != nil {
		return nil, err
	}
	h := r.convBN("x", 3, 64, 7, 2, true)
	pool := r.name("pool")
	r.op("MaxPool", []string{h}, pool, graph.Attrs{
		"kernel_shape": graph.Ints(3, 3), "strides": graph.Ints(2, 2), "pads": graph.Ints(1, 1, 1, 1),
	})
	h = pool
	cin := 64
	blocks := []int{3, 4, 6, 3}
	widths := []int{64, 128, 256, 512}
	for s := 0; s < len(blocks); s++ {
		for i := 0; i < blocks[s]; i++ {
			stride := 1
			if i == 0 && s > 0 {
				stride = 2
			}
			h = r.bottleneck(h, cin, widths[s], stride)
			cin = 4 * widths[s]
		}
	}
	r.op("GlobalAveragePool", []string{h}, "gap", nil)
	r.op("Flatten", []string{"gap"}, "flat", nil)
	r.constant("fc_w", []int{2048, 1000}, r.randn(2048*1000))
	r.constant("fc_b", []int{1000}, make([]float32, 1000))
	r.op("Gemm", []string{"flat", "fc_w", "fc_b"}, "logits", nil)
	if r.err != nil {
		return nil, fmt.Errorf("resnet50: %w", r.err)
	}
	r.b.Output("logits")
	return r.b.Finish()
}
