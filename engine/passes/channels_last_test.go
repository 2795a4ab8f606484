package passes_test

import (
	"strings"
	"testing"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/passes"
	"github.com/lightiam/lightos/engine/tensor"
)

// TestChannelsLast runs small convolution graphs before and after the optimizer with
// Options.ChannelsLast on the CPU (random inputs, outputs compared) and checks which
// nodes became channels-last and where the transposes went.
func TestChannelsLast(t *testing.T) {
	k3 := graph.Attrs{"pads": graph.Ints(1, 1, 1, 1)}
	on := passes.Options{ChannelsLast: true}
	bn := func(g *gb, name string, c int) []string {
		return []string{g.rnd(name+"_s", c), g.rnd(name+"_b", c), g.rnd(name+"_m", c), g.konst(name+"_v", absT(randT(g.r, c)))}
	}
	t.Run("resnet-stem-and-block", func(t *testing.T) {
		g := newGB(t, 70)
		x := g.inBatch("x", 1, 3, 20, 18)
		s := g.op("Conv", graph.Attrs{"strides": graph.Ints(2, 2), "pads": graph.Ints(3, 3, 3, 3)}, x, g.rnd("w0", 8, 3, 7, 7))
		s = g.op("Relu", nil, g.op("BatchNormalization", nil, append([]string{s}, bn(g, "bn0", 8)...)...))
		p := g.op("MaxPool", graph.Attrs{"kernel_shape": graph.Ints(3, 3), "strides": graph.Ints(2, 2), "pads": graph.Ints(1, 1, 1, 1)}, s)
		h := g.op("Relu", nil, g.op("Conv", k3, p, g.rnd("w1", 8, 8, 3, 3), g.rnd("b1", 8)))
		h = g.op("Conv", k3, h, g.rnd("w2", 8, 8, 3, 3), g.rnd("b2", 8))
		y := g.op("Relu", nil, g.op("Add", nil, h, p))
		gap := g.op("GlobalAveragePool", nil, y)
		out := g.op("Flatten", graph.Attrs{"axis": graph.Int(1)}, gap)
		rep, got := optimizeAndCompare(t, g.finish(out), on)
		expectCounts(t, rep, got, map[string]int{"channels-last": 1},
			map[string]int{ops.NhwcConv: 3, ops.NhwcMaxPool: 1, ops.NhwcGlobalAveragePool: 1, "Conv": 0, ops.FusedConv: 0,
				"MaxPool": 0, "Relu": 0, "Add": 0, "Transpose": 1, "Reshape": 1})
	})
	t.Run("mobilenet-block-clip-residual", func(t *testing.T) {
		g := newGB(t, 71)
		x := g.in("x", 2, 16, 10, 10)
		lo, hi := g.scalar("lo", 0), g.scalar("hi", 6)
		e := g.op("Clip", nil, g.op("Conv", nil, x, g.rnd("we", 96, 16, 1, 1), g.rnd("be", 96)), lo, hi)
		d := g.op("Clip", nil, g.op("Conv", graph.Attrs{"group": graph.Int(96), "pads": graph.Ints(1, 1, 1, 1)}, e, g.rnd("wd", 96, 1, 3, 3), g.rnd("bd", 96)), lo, hi)
		pr := g.op("Conv", nil, d, g.rnd("wp", 16, 96, 1, 1), g.rnd("bp", 16))
		y := g.op("Add", nil, pr, x)
		rep, got := optimizeAndCompare(t, g.finish(y), on)
		// Clip joins its convolution, the Add is the projection's residual; the
		// input enters once and the sum leaves once.
		expectCounts(t, rep, got, map[string]int{"channels-last": 3},
			map[string]int{ops.NhwcConv: 3, "Clip": 0, "Add": 0, "Transpose": 2})
	})
	t.Run("branch-leaves-and-output-in-the-middle", func(t *testing.T) {
		g := newGB(t, 72)
		x := g.in("x", 1, 16, 8, 7)
		a := g.op("Relu", nil, g.op("Conv", k3, x, g.rnd("w1", 32, 16, 3, 3)))
		side := g.op("ReduceMean", graph.Attrs{"axes": graph.Ints(2, 3)}, a) // reads the NCHW value
		b := g.op("Conv", graph.Attrs{"strides": graph.Ints(2, 2)}, a, g.rnd("w2", 32, 32, 1, 1))
		c := g.op("Sigmoid", nil, b)
		avg := g.op("AveragePool", graph.Attrs{"kernel_shape": graph.Ints(2, 2), "ceil_mode": graph.Int(1)}, c)
		rep, got := optimizeAndCompare(t, g.finish(side, b, avg), on)
		// a leaves for ReduceMean, b is a graph output and avg the last one: three
		// exits and one entry.
		expectCounts(t, rep, got, map[string]int{"channels-last": 1},
			map[string]int{ops.NhwcConv: 2, "Sigmoid": 1, ops.NhwcAveragePool: 1, "ReduceMean": 1, "Transpose": 4})
	})
	t.Run("no-convolution-no-rewrite", func(t *testing.T) {
		g := newGB(t, 73)
		x := g.in("x", 1, 4, 8, 8)
		y := g.op("Relu", nil, g.op("MaxPool", graph.Attrs{"kernel_shape": graph.Ints(2, 2)}, x))
		rep, got := optimizeAndCompare(t, g.finish(y), on)
		expectCounts(t, rep, got, map[string]int{"channels-last": 0}, map[string]int{"MaxPool": 1, "Transpose": 0})
	})
	t.Run("nhwc-model-loses-its-transposes", func(t *testing.T) {
		// A model exported from an NHWC framework wraps its convolutions in
		// transposes; the region's edge transposes cancel them (layout merges).
		g := newGB(t, 78)
		x := g.in("x", 2, 9, 10, 16) // NHWC
		h := g.op("Transpose", graph.Attrs{"perm": graph.Ints(0, 3, 1, 2)}, x)
		h = g.op("Relu", nil, g.op("Conv", k3, h, g.rnd("w1", 24, 16, 3, 3), g.rnd("b1", 24)))
		h = g.op("MaxPool", graph.Attrs{"kernel_shape": graph.Ints(2, 2), "strides": graph.Ints(2, 2)}, h)
		y := g.op("Transpose", graph.Attrs{"perm": graph.Ints(0, 2, 3, 1)}, h)
		rep, got := optimizeAndCompare(t, g.finish(y), on)
		expectCounts(t, rep, got, map[string]int{"channels-last": 1},
			map[string]int{ops.NhwcConv: 1, ops.NhwcMaxPool: 1, "Transpose": 0})
	})
	t.Run("too-little-convolution-for-the-transposes", func(t *testing.T) {
		g := newGB(t, 77)
		x := g.in("x", 1, 2, 8, 8)
		y := g.op("Relu", nil, g.op("Conv", nil, x, g.rnd("w", 2, 2, 1, 1)))
		rep, got := optimizeAndCompare(t, g.finish(y), on)
		expectCounts(t, rep, got, map[string]int{"channels-last": 0}, map[string]int{ops.FusedConv: 1, "Transpose": 0})
	})
	t.Run("grouped-conv-stays-nchw", func(t *testing.T) {
		g := newGB(t, 74)
		x := g.in("x", 1, 8, 6, 6)
		y := g.op("Conv", graph.Attrs{"group": graph.Int(2), "pads": graph.Ints(1, 1, 1, 1)}, x, g.rnd("w", 64, 4, 3, 3))
		rep, got := optimizeAndCompare(t, g.finish(y), on)
		expectCounts(t, rep, got, map[string]int{"channels-last": 0}, map[string]int{"Conv": 1, ops.NhwcConv: 0})
	})
	t.Run("off-by-default", func(t *testing.T) {
		g := newGB(t, 75)
		x := g.in("x", 1, 4, 8, 8)
		y := g.op("Relu", nil, g.op("Conv", k3, x, g.rnd("w", 4, 4, 3, 3)))
		rep, got := optimizeAndCompare(t, g.finish(y), passes.Options{})
		expectCounts(t, rep, got, map[string]int{"channels-last": 0}, map[string]int{ops.FusedConv: 1, ops.NhwcConv: 0})
	})
	t.Run("second-optimize-changes-nothing", func(t *testing.T) {
		g := newGB(t, 76)
		x := g.inBatch("x", 1, 8, 8, 8)
		y := g.op("Relu", nil, g.op("Conv", k3, x, g.rnd("w", 8, 8, 3, 3)))
		y = g.op("Relu", nil, g.op("Add", nil, g.op("Conv", k3, y, g.rnd("w2", 8, 8, 3, 3)), x))
		gr := g.finish(y)
		rep, _ := optimizeAndCompare(t, gr, on)
		if rep.Count("channels-last") != 1 {
			t.Fatalf("channels-last fired %d times, want 1", rep.Count("channels-last"))
		}
		text := gr.String()
		rep2, err := passes.Optimize(gr, passes.Options{ChannelsLast: true, Verify: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep2.Fired) != 0 || gr.String() != text {
			t.Fatalf("second optimization fired %+v\nbefore:\n%s\nafter:\n%v", rep2.Fired, text, gr)
		}
		for _, n := range gr.Nodes {
			if n.Op == ops.NhwcConv && !strings.HasPrefix(n.Name, "Conv") && !strings.Contains(n.Name, "conv") {
				t.Errorf("NhwcConv node %q is not named after its convolution", n.Name)
			}
		}
	})
}

// absT makes t's values non-negative (batch-norm variances).
func absT(t *tensor.Tensor) *tensor.Tensor {
	for i, v := range t.Float32s() {
		t.Float32s()[i] = max(v, -v) + 0.1
	}
	return t
}
