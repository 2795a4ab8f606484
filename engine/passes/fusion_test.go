package passes_test

import (
	"bytes"
	"fmt"
	"github.com/lightiam/lightos/engine/tensor"
	"strings"
	"testing"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/passes"
)

func TestMatMulFusion(t *testing.T) {
	cases := []struct {
		name  string
		build func(g *gb) string
		fired int
		nodes map[string]int
	}{
		{"bias-relu", func(g *gb) string {
			y := g.op("MatMul", nil, g.in("x", 7, 13), g.rnd("w", 13, 5))
			return g.op("Relu", nil, g.op("Add", nil, y, g.rnd("b", 5)))
		}, 1, map[string]int{ops.FusedMatMul: 1, "MatMul": 0, "Add": 0, "Relu": 0}},
		{"bias-first-gelu-batched", func(g *gb) string {
			y := g.op("MatMul", nil, g.in("x", 2, 3, 11), g.rnd("w", 11, 9))
			return g.op("Gelu", nil, g.op("Add", nil, g.rnd("b", 1, 9), y))
		}, 1, map[string]int{ops.FusedMatMul: 1}},
		{"relu-only", func(g *gb) string {
			return g.op("Relu", nil, g.op("MatMul", nil, g.in("x", 1, 3), g.rnd("w", 3, 1)))
		}, 1, map[string]int{ops.FusedMatMul: 1}},
		{"gelu-tanh", func(g *gb) string {
			y := g.op("MatMul", nil, g.in("x", 4, 6), g.rnd("w", 6, 3))
			return g.op("Gelu", graph.Attrs{"approximate": graph.String("tanh")}, g.op("Add", nil, y, g.rnd("b", 3)))
		}, 1, map[string]int{ops.FusedMatMul: 1}},
		{"bias-not-a-row", func(g *gb) string { // a [M, N] addend is not a bias: only the Relu fuses? no: nothing
			y := g.op("MatMul", nil, g.in("x", 4, 6), g.rnd("w", 6, 3))
			return g.op("Add", nil, y, g.rnd("b", 4, 3))
		}, 0, map[string]int{"MatMul": 1, "Add": 1}},
		{"mlp", func(g *gb) string {
			h := g.in("x", 8, 16)
			for i := 0; i < 3; i++ {
				h = g.op("Relu", nil, g.op("Add", nil, g.op("MatMul", nil, h, g.rnd("w"+string(rune('0'+i)), 16, 16)), g.rnd("b"+string(rune('0'+i)), 16)))
			}
			return h
		}, 3, map[string]int{ops.FusedMatMul: 3}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newGB(t, uint64(i))
			gr := g.finish(tc.build(g))
			rep, got := optimizeAndCompare(t, gr, passes.Options{})
			expectCounts(t, rep, got, map[string]int{"matmul-fusion": tc.fired}, tc.nodes)
		})
	}
}

// A rewrite never fires when an intermediate has another consumer or is an output.
func TestMatMulFusionKeepsSharedIntermediates(t *testing.T) {
	t.Run("matmul-output-is-graph-output", func(t *testing.T) {
		g := newGB(t, 10)
		y := g.op("MatMul", nil, g.in("x", 5, 4), g.rnd("w", 4, 3))
		z := g.op("Relu", nil, g.op("Add", nil, y, g.rnd("b", 3)))
		rep, got := optimizeAndCompare(t, g.finish(z, y), passes.Options{})
		expectCounts(t, rep, got, map[string]int{"matmul-fusion": 0}, map[string]int{"MatMul": 1, "Add": 1, "Relu": 1})
	})
	t.Run("add-output-read-twice", func(t *testing.T) {
		g := newGB(t, 11)
		y := g.op("Add", nil, g.op("MatMul", nil, g.in("x", 5, 4), g.rnd("w", 4, 3)), g.rnd("b", 3))
		z := g.op("Relu", nil, y)
		s := g.op("Sigmoid", nil, y)
		rep, got := optimizeAndCompare(t, g.finish(z, s), passes.Options{})
		// MatMul+Add fuses (its output feeds only the Add); the Relu must stay.
		expectCounts(t, rep, got, map[string]int{"matmul-fusion": 1}, map[string]int{ops.FusedMatMul: 1, "Relu": 1, "Sigmoid": 1, "Add": 0})
	})
}

func TestGemmFusion(t *testing.T) {
	for i, tc := range []struct {
		name   string
		attrs  graph.Attrs
		bShape []int
		fired  int
	}{
		{"plain", graph.Attrs{}, []int{6, 5}, 1},
		{"transB-alpha-beta", graph.Attrs{"transB": graph.Int(1), "alpha": graph.Float(0.5), "beta": graph.Float(2)}, []int{5, 6}, 1},
		{"transA-not-fused", graph.Attrs{"transA": graph.Int(1)}, []int{6, 5}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGB(t, uint64(20+i))
			x := g.in("x", 7, 6)
			if tc.fired == 0 {
				x = g.in("xt", 6, 7)
			}
			y := g.op("Relu", nil, g.op("Gemm", tc.attrs, x, g.rnd("w", tc.bShape...), g.rnd("c", 5)))
			rep, got := optimizeAndCompare(t, g.finish(y), passes.Options{})
			expectCounts(t, rep, got, map[string]int{"gemm-fusion": tc.fired}, map[string]int{ops.FusedMatMul: tc.fired})
		})
	}
}

func TestConvBatchNormRelu(t *testing.T) {
	bnInputs := func(g *gb, c int) []string {
		v := randT(g.r, c)
		for i := range v.Float32s() {
			v.Float32s()[i] = 0.5 + v.Float32s()[i]*v.Float32s()[i] // positive variance
		}
		return []string{g.rnd("scale", c), g.rnd("bnb", c), g.rnd("mean", c), g.konst("var", v)}
	}
	conv := graph.Attrs{"pads": graph.Ints(1, 1, 1, 1), "kernel_shape": graph.Ints(3, 3)}
	t.Run("conv-bn-relu", func(t *testing.T) {
		g := newGB(t, 30)
		y := g.op("Conv", conv, g.in("x", 2, 3, 9, 7), g.rnd("w", 8, 3, 3, 3), g.rnd("b", 8))
		y = g.op("BatchNormalization", graph.Attrs{"epsilon": graph.Float(1e-3)}, append([]string{y}, bnInputs(g, 8)...)...)
		rep, got := optimizeAndCompare(t, g.finish(g.op("Relu", nil, y)), passes.Options{})
		expectCounts(t, rep, got, map[string]int{"batchnorm-fold": 1, "conv-activation": 1},
			map[string]int{ops.FusedConv: 1, "Conv": 0, "BatchNormalization": 0, "Relu": 0})
		if len(got) != 1 {
			t.Errorf("nodes after: %v, want one FusedConv", got)
		}
	})
	t.Run("conv-nobias-bn-leakyrelu-1d", func(t *testing.T) {
		g := newGB(t, 31)
		y := g.op("Conv", graph.Attrs{"strides": graph.Ints(2)}, g.in("x", 1, 4, 17), g.rnd("w", 5, 4, 3))
		y = g.op("BatchNormalization", nil, append([]string{y}, bnInputs(g, 5)...)...)
		rep, got := optimizeAndCompare(t, g.finish(g.op("LeakyRelu", graph.Attrs{"alpha": graph.Float(0.1)}, y)), passes.Options{})
		expectCounts(t, rep, got, map[string]int{"batchnorm-fold": 1, "conv-activation": 1}, map[string]int{ops.FusedConv: 1})
	})
	t.Run("conv-output-read-twice", func(t *testing.T) {
		g := newGB(t, 32)
		c := g.op("Conv", conv, g.in("x", 1, 3, 6, 6), g.rnd("w", 4, 3, 3, 3))
		y := g.op("BatchNormalization", nil, append([]string{c}, bnInputs(g, 4)...)...)
		z := g.op("Sigmoid", nil, c)
		rep, got := optimizeAndCompare(t, g.finish(g.op("Relu", nil, y), z), passes.Options{})
		expectCounts(t, rep, got, map[string]int{"batchnorm-fold": 0, "conv-activation": 0},
			map[string]int{"Conv": 1, "BatchNormalization": 1, "Relu": 1})
	})
}

func TestLayerNormChain(t *testing.T) {
	build := func(g *gb, mulForm, affine bool, axesInput ...bool) string {
		x := g.in("x", 2, 5, 12)
		axes := graph.Attrs{"axes": graph.Ints(-1)}
		reduce := func(v string) string { return g.op("ReduceMean", axes, v) }
		if len(axesInput) > 0 { // opset 18: axes as a constant input
			ax := g.konst("axes", int64s(2))
			reduce = func(v string) string { return g.op("ReduceMean", nil, v, ax) }
		}
		mean := reduce(x)
		d := g.op("Sub", nil, x, mean)
		var sq string
		if mulForm {
			sq = g.op("Mul", nil, d, d)
		} else {
			sq = g.op("Pow", nil, d, g.scalar("two", 2))
		}
		v := reduce(sq)
		std := g.op("Sqrt", nil, g.op("Add", nil, v, g.scalar("eps", 1e-5)))
		y := g.op("Div", nil, d, std)
		if affine {
			y = g.op("Add", nil, g.op("Mul", nil, y, g.rnd("gamma", 12)), g.rnd("beta", 12))
		}
		return y
	}
	for _, tc := range []struct {
		name            string
		mulForm, affine bool
		axesInput       bool
	}{{"pow-affine", false, true, false}, {"mul-plain", true, false, false}, {"axes-input", false, true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGB(t, 40)
			var y string
			if tc.axesInput {
				y = build(g, tc.mulForm, tc.affine, true)
			} else {
				y = build(g, tc.mulForm, tc.affine)
			}
			rep, got := optimizeAndCompare(t, g.finish(y), passes.Options{})
			expectCounts(t, rep, got, map[string]int{"layernorm": 1}, map[string]int{"LayerNormalization": 1, "ReduceMean": 0})
			if len(got) != 1 {
				t.Errorf("nodes after: %v", got)
			}
		})
	}
	t.Run("centered-value-read-elsewhere", func(t *testing.T) {
		g := newGB(t, 41)
		y := build(g, false, true)
		d := g.b.Graph().Nodes[1].Outputs[0].Name // the Sub
		rep, got := optimizeAndCompare(t, g.finish(y, g.op("Relu", nil, d)), passes.Options{})
		expectCounts(t, rep, got, map[string]int{"layernorm": 0}, map[string]int{"LayerNormalization": 0, "ReduceMean": 2})
	})
}

// attentionGraph builds MatMul(Q, Transpose(K)) / sqrt(d) + mask -> Softmax -> MatMul V
// over split heads [B, H, S, D].
func attentionGraph(g *gb, q, k, v string, d int, mask string) string {
	kt := g.op("Transpose", graph.Attrs{"perm": graph.Ints(0, 1, 3, 2)}, k)
	s := g.op("Div", nil, g.op("MatMul", nil, q, kt), g.scalar("sqrtd", float32(sqrt(float64(d)))))
	if mask != "" {
		s = g.op("Add", nil, s, mask)
	}
	return g.op("MatMul", nil, g.op("Softmax", graph.Attrs{"axis": graph.Int(-1)}, s), v)
}

func sqrt(x float64) float64 {
	r := x
	for i := 0; i < 50; i++ {
		r = 0.5 * (r + x/r)
	}
	return r
}

func TestAttentionFusion(t *testing.T) {
	t.Run("masked", func(t *testing.T) {
		g := newGB(t, 50)
		y := attentionGraph(g, g.in("q", 2, 3, 5, 4), g.in("k", 2, 3, 7, 4), g.in("v", 2, 3, 7, 6), 4, g.in("mask", 2, 1, 5, 7))
		rep, got := optimizeAndCompare(t, g.finish(y), passes.Options{})
		expectCounts(t, rep, got, map[string]int{"attention": 1}, map[string]int{ops.Attention: 1, "Softmax": 0, "MatMul": 0, "Transpose": 0})
	})
	t.Run("prescaled-q-pretransposed-k", func(t *testing.T) {
		g := newGB(t, 51)
		q := g.op("Mul", nil, g.in("q", 3, 6, 8), g.scalar("c", 0.25))
		s := g.op("MatMul", nil, q, g.in("kt", 3, 8, 6))
		y := g.op("MatMul", nil, g.op("Softmax", nil, s), g.in("v", 3, 6, 5))
		rep, got := optimizeAndCompare(t, g.finish(y), passes.Options{})
		expectCounts(t, rep, got, map[string]int{"attention": 1}, map[string]int{ops.Attention: 1, "Mul": 0})
	})
	t.Run("dynamic-batch", func(t *testing.T) {
		g := newGB(t, 53)
		y := attentionGraph(g, g.inBatch("q", 1, 2, 5, 4), g.inBatch("k", 1, 2, 7, 4), g.inBatch("v", 1, 2, 7, 3), 4, g.rnd("mask", 5, 7))
		rep, got := optimizeAndCompare(t, g.finish(y), passes.Options{})
		expectCounts(t, rep, got, map[string]int{"attention": 1}, map[string]int{ops.Attention: 1})
	})
	t.Run("legacy-softmax-default-axis", func(t *testing.T) {
		for _, tc := range []struct {
			attrs graph.Attrs
			fired int
		}{
			{graph.Attrs{ops.OpsetAttr: graph.Int(11)}, 0},                       // axis 1: flattens [H, Sq, Sk]
			{graph.Attrs{ops.OpsetAttr: graph.Int(11), "axis": graph.Int(3)}, 1}, // the last axis
		} {
			g := newGB(t, 54)
			kt := g.op("Transpose", graph.Attrs{"perm": graph.Ints(0, 1, 3, 2)}, g.in("k", 1, 2, 3, 4))
			p := g.op("Softmax", tc.attrs, g.op("MatMul", nil, g.in("q", 1, 2, 3, 4), kt))
			rep, got := optimizeAndCompare(t, g.finish(g.op("MatMul", nil, p, g.in("v", 1, 2, 3, 4))), passes.Options{})
			expectCounts(t, rep, got, map[string]int{"attention": tc.fired}, map[string]int{ops.Attention: tc.fired})
		}
	})
	t.Run("probabilities-are-an-output", func(t *testing.T) {
		g := newGB(t, 52)
		y := attentionGraph(g, g.in("q", 1, 2, 3, 4), g.in("k", 1, 2, 3, 4), g.in("v", 1, 2, 3, 4), 4, "")
		p := g.b.Lookup(y).Producer.Inputs[0].Name
		rep, got := optimizeAndCompare(t, g.finish(y, p), passes.Options{})
		expectCounts(t, rep, got, map[string]int{"attention": 0}, map[string]int{"Softmax": 1})
	})
}

func TestAttentionHeads(t *testing.T) {
	g := newGB(t, 60)
	const b, s, h, d = 2, 5, 3, 4
	x := g.in("x", b, s, h*d)
	split := func(name string) string {
		p := g.op("MatMul", nil, x, g.rnd("w"+name, h*d, h*d))
		r := g.op("Reshape", nil, p, g.konst("shape"+name, int64s(b, s, h, d)))
		return g.op("Transpose", graph.Attrs{"perm": graph.Ints(0, 2, 1, 3)}, r)
	}
	a := attentionGraph(g, split("q"), split("k"), split("v"), d, "")
	y := g.op("Reshape", nil, g.op("Transpose", graph.Attrs{"perm": graph.Ints(0, 2, 1, 3)}, a), g.konst("merged", int64s(b, s, h*d)))
	rep, got := optimizeAndCompare(t, g.finish(y), passes.Options{})
	expectCounts(t, rep, got, map[string]int{"attention": 1, "attention-heads": 1},
		map[string]int{ops.Attention: 1, "Reshape": 0, "Transpose": 0})
}

func TestLayerNormAttentionFusion(t *testing.T) {
	build := func(g *gb, extra bool) (string, string) {
		const b, s, c, e = 2, 6, 8, 8
		xn := g.op("LayerNormalization", graph.Attrs{"axis": graph.Int(-1), "epsilon": graph.Float(1e-5)}, g.in("x", b, s, c), g.rnd("gamma", c), g.rnd("beta", c))
		proj := func(name string) string {
			return g.op("Add", nil, g.op("MatMul", nil, xn, g.rnd("w"+name, c, e)), g.rnd("b"+name, e))
		}
		q, k, v := proj("q"), proj("k"), proj("v")
		kt := g.op("Transpose", graph.Attrs{"perm": graph.Ints(0, 2, 1)}, k)
		sc := g.op("Mul", nil, g.op("MatMul", nil, q, kt), g.scalar("scale", 0.3))
		y := g.op("MatMul", nil, g.op("Softmax", nil, g.op("Add", nil, sc, g.in("mask", b, s, s))), v)
		if extra {
			return y, g.op("Sigmoid", nil, xn)
		}
		return y, ""
	}
	t.Run("fuses", func(t *testing.T) {
		g := newGB(t, 70)
		y, _ := build(g, false)
		rep, got := optimizeAndCompare(t, g.finish(y), passes.Options{})
		expectCounts(t, rep, got, map[string]int{"layernorm-attention": 1}, map[string]int{ops.LayerNormAttention: 1})
		if len(got) != 1 {
			t.Errorf("nodes after: %v", got)
		}
	})
	t.Run("normalized-input-read-elsewhere", func(t *testing.T) {
		g := newGB(t, 71)
		y, z := build(g, true)
		rep, got := optimizeAndCompare(t, g.finish(y, z), passes.Options{})
		expectCounts(t, rep, got, map[string]int{"layernorm-attention": 0}, map[string]int{"LayerNormalization": 1, ops.Attention: 1})
	})
}

func TestLayoutMovesTransposesToChainEnds(t *testing.T) {
	g := newGB(t, 80)
	x := g.in("x", 1, 9, 9, 3) // NHWC
	toNCHW, toNHWC := graph.Attrs{"perm": graph.Ints(0, 3, 1, 2)}, graph.Attrs{"perm": graph.Ints(0, 2, 3, 1)}
	conv := graph.Attrs{"pads": graph.Ints(1, 1, 1, 1)}
	h := x
	for i := 0; i < 3; i++ {
		c := g.op("Conv", conv, g.op("Transpose", toNCHW, h), g.rnd("w"+string(rune('0'+i)), 3, 3, 3, 3))
		h = g.op("Relu", nil, g.op("Transpose", toNHWC, c))
	}
	rep, got := optimizeAndCompare(t, g.finish(h), passes.Options{})
	if rep.Count("layout") == 0 {
		t.Errorf("layout did not fire: %+v", rep.Fired)
	}
	expectCounts(t, rep, got, nil, map[string]int{"Transpose": 2, ops.FusedConv: 3})
}

func TestCleanupPasses(t *testing.T) {
	t.Run("cse-and-dce", func(t *testing.T) {
		g := newGB(t, 90)
		x, w := g.in("x", 3, 4), g.rnd("w", 4, 4)
		a, b := g.op("MatMul", nil, x, w), g.op("MatMul", nil, x, w)
		_ = g.op("Sigmoid", nil, a) // dead
		y := g.op("Add", nil, a, b)
		rep, got := optimizeAndCompare(t, g.finish(y), passes.Options{})
		expectCounts(t, rep, got, map[string]int{"cse": 1}, map[string]int{"MatMul": 1, "Sigmoid": 0})
		if rep.Count("dce") == 0 {
			t.Errorf("dce did not fire: %+v", rep.Fired)
		}
	})
	t.Run("fold-constants", func(t *testing.T) {
		g := newGB(t, 91)
		w := g.op("Mul", nil, g.rnd("w", 4, 4), g.scalar("two", 2))
		y := g.op("MatMul", nil, g.in("x", 3, 4), w)
		rep, got := optimizeAndCompare(t, g.finish(y), passes.Options{})
		expectCounts(t, rep, got, map[string]int{"fold-constants": 1}, map[string]int{"Mul": 0, "MatMul": 1})
	})
	t.Run("no-evaluator-no-folding", func(t *testing.T) {
		g := newGB(t, 92)
		w := g.op("Mul", nil, g.rnd("w", 4, 4), g.scalar("two", 2))
		gr := g.finish(g.op("MatMul", nil, g.in("x", 3, 4), w))
		rep, err := passes.Optimize(gr, passes.Options{Verify: true})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Count("fold-constants") != 0 || countOps(gr)["Mul"] != 1 {
			t.Errorf("folded without an evaluator: %+v", rep.Fired)
		}
	})
}

func TestDumpAfterAndDisable(t *testing.T) {
	g := newGB(t, 100)
	y := g.op("Relu", nil, g.op("Add", nil, g.op("MatMul", nil, g.in("x", 2, 3), g.rnd("w", 3, 4)), g.rnd("b", 4)))
	gr := g.finish(y)
	var buf bytes.Buffer
	rep, err := passes.Optimize(gr.Clone(), passes.Options{DumpAfter: "matmul-fusion", DumpTo: &buf})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "# after pass matmul-fusion") || !strings.Contains(buf.String(), ops.FusedMatMul) {
		t.Errorf("dump missing or wrong:\n%s", buf.String())
	}
	if strings.Contains(buf.String(), "after pass dce") {
		t.Errorf("dumped a pass that was not asked for")
	}
	if rep.Count("matmul-fusion") != 1 {
		t.Errorf("report: %+v", rep.Fired)
	}
	rep, err = passes.Optimize(gr, passes.Options{Disable: []string{"matmul-fusion"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Count("matmul-fusion") != 0 || countOps(gr)["MatMul"] != 1 {
		t.Errorf("a disabled pass fired: %+v", rep.Fired)
	}
}

func TestAttentionHeadsTransposedKey(t *testing.T) {
	g := newGB(t, 61)
	const b, s, h, d = 1, 4, 2, 3
	x := g.in("x", b, s, h*d)
	split := func(name string, perm ...int64) string {
		p := g.op("MatMul", nil, x, g.rnd("w"+name, h*d, h*d))
		r := g.op("Reshape", nil, p, g.konst("shape"+name, int64s(b, s, h, d)))
		return g.op("Transpose", graph.Attrs{"perm": graph.Ints(perm...)}, r)
	}
	q, kt, v := split("q", 0, 2, 1, 3), split("k", 0, 2, 3, 1), split("v", 0, 2, 1, 3)
	sc := g.op("Mul", nil, g.op("MatMul", nil, q, kt), g.scalar("scale", 0.5))
	a := g.op("MatMul", nil, g.op("Softmax", nil, sc), v)
	y := g.op("Reshape", nil, g.op("Transpose", graph.Attrs{"perm": graph.Ints(0, 2, 1, 3)}, a), g.konst("merged", int64s(b, s, h*d)))
	rep, got := optimizeAndCompare(t, g.finish(y), passes.Options{})
	expectCounts(t, rep, got, map[string]int{"attention": 1, "attention-heads": 1}, map[string]int{ops.Attention: 1, "Transpose": 0})
}

func TestOptimizeIsIdempotentAndReportsNodes(t *testing.T) {
	g := newGB(t, 110)
	y := g.op("Relu", nil, g.op("Add", nil, g.op("MatMul", nil, g.in("x", 2, 3), g.rnd("w", 3, 4)), g.rnd("b", 4)))
	gr := g.finish(y)
	names := []string{}
	for _, n := range gr.Nodes {
		names = append(names, n.Name)
	}
	rep, err := passes.Optimize(gr, passes.Options{Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Fired) != 1 || strings.Join(rep.Fired[0].Nodes, ",") != strings.Join(names, ",") || rep.Fired[0].Result != gr.Nodes[0].Name {
		t.Errorf("report %+v, want one rewrite of %v into %s", rep.Fired, names, gr.Nodes[0].Name)
	}
	if rep.NodesBefore != 3 || rep.NodesAfter != 1 {
		t.Errorf("nodes %d -> %d, want 3 -> 1", rep.NodesBefore, rep.NodesAfter)
	}
	text := gr.String()
	rep, err = passes.Optimize(gr, passes.Options{Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Fired) != 0 || gr.String() != text {
		t.Errorf("second run changed the graph: %+v", rep.Fired)
	}
}

func TestUnknownOperatorsAreLeftAlone(t *testing.T) {
	g := graph.New("unknown")
	x := g.AddInput("x", tensor.Float32, graph.ShapeOf(2, 3))
	w := g.AddInitializer("w", randT(newGB(t, 120).r, 3, 4))
	mm := g.AddNode("MatMul", "mm", []*graph.Value{x, w}, []string{"y"}, nil)
	relu := g.AddNode("Relu", "relu", mm.Outputs, []string{"z"}, nil)
	odd := g.AddNode("NoSuchOp", "odd", relu.Outputs, []string{"out"}, nil)
	g.Outputs = odd.Outputs
	rep, err := passes.Optimize(g, passes.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Count("matmul-fusion") != 1 || countOps(g)["NoSuchOp"] != 1 {
		t.Errorf("report %+v, graph:\n%v", rep.Fired, g)
	}
	if err := g.Validate(); err != nil {
		t.Error(err)
	}
}

func TestDumpAfterEnvironment(t *testing.T) {
	t.Setenv(passes.DumpEnv, "dce,layout")
	g := newGB(t, 130)
	gr := g.finish(g.op("Relu", nil, g.in("x", 2)))
	var buf bytes.Buffer
	if _, err := passes.Optimize(gr, passes.Options{DumpTo: &buf}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "# after pass dce") || !strings.Contains(buf.String(), "# after pass layout") || strings.Contains(buf.String(), "after pass cse") {
		t.Errorf("dump:\n%s", buf.String())
	}
}

// TestGeluOnUnknownDims: torch.onnx computes reshape targets at run time, so x's
// dimensions are unknown and unnamed; with rank-0 constants (as torch writes them) the
// GELU still fuses, with a [1] constant (which could broadcast) it is left alone.
func TestGeluOnUnknownDims(t *testing.T) {
	for _, rank0 := range []bool{true, false} {
		g := newGB(t, 145)
		if _, err := g.b.Input("x", tensor.Float32, graph.Shape{{Size: -1}, {Size: 7}}); err != nil {
			t.Fatal(err)
		}
		one := g.scalar("one", 1)
		if !rank0 {
			one = g.konst("one1", tensor.New(tensor.Float32, []int{1}))
			one = g.op("Add", nil, one, g.scalar("one0", 1)) // folded to a [1] constant
		}
		x := g.op("Relu", nil, "x")
		phi := g.op("Add", nil, g.op("Erf", nil, g.op("Div", nil, x, g.scalar("sqrt2", 1.4142135))), one)
		y := g.op("Mul", nil, g.op("Mul", nil, x, phi), g.scalar("half", 0.5))
		rep, got := optimizeAndCompare(t, g.finish(y), passes.Options{})
		want := map[string]int{"gelu": 0}
		if rank0 {
			want["gelu"] = 1
		}
		expectCounts(t, rep, got, want, map[string]int{"Erf": 1 - want["gelu"]})
	}
}

func TestGeluChainThenMatMulFusion(t *testing.T) {
	for i, halfOnX := range []bool{false, true} {
		g := newGB(t, uint64(140+i))
		x := g.op("Add", nil, g.op("MatMul", nil, g.in("x", 5, 7), g.rnd("w", 7, 6)), g.rnd("b", 6))
		phi := g.op("Add", nil, g.op("Erf", nil, g.op("Div", nil, x, g.scalar("sqrt2", 1.4142135))), g.scalar("one", 1))
		var y string
		if halfOnX {
			y = g.op("Mul", nil, g.op("Mul", nil, g.scalar("half", 0.5), x), phi)
		} else {
			y = g.op("Mul", nil, g.op("Mul", nil, x, phi), g.scalar("half", 0.5))
		}
		rep, got := optimizeAndCompare(t, g.finish(y), passes.Options{})
		expectCounts(t, rep, got, map[string]int{"gelu": 1, "matmul-fusion": 1}, map[string]int{ops.FusedMatMul: 1, "Erf": 0})
		if len(got) != 1 {
			t.Errorf("nodes after: %v", got)
		}
	}
}

// TestTransformerBlock runs the whole pipeline on an exported-style encoder layer:
// LayerNorm, Q/K/V projections split into heads, attention, heads merged, output
// projection with a residual, LayerNorm, and an FFN with an erf GELU.
// The symbolic variant has a batch dimension named "batch" (as exporters write it)
// and Reshapes that copy it with 0: every fusion must still fire.
func TestTransformerBlock(t *testing.T) {
	for _, symbolic := range []bool{false, true} {
		t.Run(fmt.Sprintf("symbolic=%v", symbolic), func(t *testing.T) { transformerBlock(t, symbolic) })
	}
}

func transformerBlock(t *testing.T, symbolic bool) {
	g := newGB(t, 150)
	const s, h, d = 5, 2, 4
	const e = h * d
	b := 2
	x, mask := "x", "mask"
	if symbolic {
		b = 0 // Reshape copies the batch dimension
		g.inBatch(x, 2, s, e)
		g.inBatch(mask, 2, 1, 1, s)
	} else {
		g.in(x, 2, s, e)
		g.in(mask, 2, 1, 1, s)
	}
	ln := func(name, in string) string {
		return g.op("LayerNormalization", graph.Attrs{"axis": graph.Int(-1), "epsilon": graph.Float(1e-5)}, in, g.rnd(name+"_g", e), g.rnd(name+"_b", e))
	}
	linear := func(name, in string, n int) string {
		return g.op("Add", nil, g.op("MatMul", nil, in, g.rnd(name+"_w", e, n)), g.rnd(name+"_b", n))
	}
	xn := ln("ln1", x)
	split := func(name string) string {
		r := g.op("Reshape", nil, linear(name, xn, e), g.konst(name+"_shape", int64s(b, s, h, d)))
		return g.op("Transpose", graph.Attrs{"perm": graph.Ints(0, 2, 1, 3)}, r)
	}
	a := attentionGraph(g, split("q"), split("k"), split("v"), d, mask)
	merged := g.op("Reshape", nil, g.op("Transpose", graph.Attrs{"perm": graph.Ints(0, 2, 1, 3)}, a), g.konst("merged", int64s(b, s, e)))
	res := g.op("Add", nil, x, linear("o", merged, e))
	hn := ln("ln2", res)
	u := linear("up", hn, e)
	gelu := g.op("Mul", nil, g.op("Mul", nil, u, g.op("Add", nil, g.op("Erf", nil, g.op("Div", nil, u, g.scalar("sqrt2", 1.4142135))), g.scalar("one", 1))), g.scalar("half", 0.5))
	y := g.op("Add", nil, res, linear("down", gelu, e))
	rep, got := optimizeAndCompare(t, g.finish(y), passes.Options{})
	expectCounts(t, rep, got, map[string]int{"attention": 1, "attention-heads": 1, "layernorm-attention": 1, "gelu": 1},
		map[string]int{ops.LayerNormAttention: 1, ops.FusedMatMul: 3, "Softmax": 0, "Transpose": 0, "Reshape": 0, "Erf": 0})
	t.Logf("%d nodes after: %v", len(g.b.Graph().Nodes), got)
}

func TestConvActivation3D(t *testing.T) {
	g := newGB(t, 160)
	y := g.op("Relu", nil, g.op("Conv", nil, g.in("x", 1, 3, 4, 5, 3), g.rnd("w", 2, 3, 2, 2, 2)))
	rep, got := optimizeAndCompare(t, g.finish(y), passes.Options{})
	expectCounts(t, rep, got, map[string]int{"conv-activation": 1}, map[string]int{ops.FusedConv: 1})
}

func TestSimplify(t *testing.T) {
	g := newGB(t, 170)
	x := g.in("x", 2, 3, 4)
	y := g.op("Identity", nil, x)
	y = g.op("Cast", graph.Attrs{"to": graph.Int(1)}, y) // float32 to float32
	y = g.op("Reshape", nil, g.op("Reshape", nil, y, g.konst("s1", int64s(6, 4))), g.konst("s2", int64s(2, 3, 4)))
	y = g.op("Add", nil, y, g.konst("zeros", tensor.New(tensor.Float32, []int{4})))
	cond := tensor.New(tensor.Bool, []int{2, 3, 4})
	y = g.op("Where", nil, g.konst("cond", cond), g.rnd("other", 2, 3, 4), y)
	y = g.op("Relu", nil, y)
	kept := g.op("Identity", nil, x) // a graph output: its name stays
	rep, got := optimizeAndCompare(t, g.finish(y, kept), passes.Options{})
	if rep.Count("simplify") < 5 {
		t.Errorf("simplify fired %d times: %+v", rep.Count("simplify"), rep.Fired)
	}
	expectCounts(t, rep, got, nil, map[string]int{"Relu": 1, "Identity": 1, "Cast": 0, "Reshape": 0, "Add": 0, "Where": 0})
}

// Negative tests for the rules not covered above: an intermediate with a second
// reader blocks each rewrite.
func TestSharedIntermediatesBlockRewrites(t *testing.T) {
	t.Run("gemm-output-read-twice", func(t *testing.T) {
		g := newGB(t, 180)
		y := g.op("Gemm", graph.Attrs{"transB": graph.Int(1)}, g.in("x", 4, 6), g.rnd("w", 5, 6), g.rnd("c", 5))
		rep, got := optimizeAndCompare(t, g.finish(g.op("Relu", nil, y), g.op("Sigmoid", nil, y)), passes.Options{})
		expectCounts(t, rep, got, map[string]int{"gemm-fusion": 0}, map[string]int{"Gemm": 1, "Relu": 1})
	})
	t.Run("gelu-erf-read-twice", func(t *testing.T) {
		g := newGB(t, 181)
		x := g.in("x", 3, 5)
		erf := g.op("Erf", nil, g.op("Div", nil, x, g.scalar("sqrt2", 1.4142135)))
		y := g.op("Mul", nil, g.op("Mul", nil, x, g.op("Add", nil, erf, g.scalar("one", 1))), g.scalar("half", 0.5))
		rep, got := optimizeAndCompare(t, g.finish(y, g.op("Relu", nil, erf)), passes.Options{})
		expectCounts(t, rep, got, map[string]int{"gelu": 0}, map[string]int{"Erf": 1, "Gelu": 0})
	})
	t.Run("head-split-read-twice", func(t *testing.T) {
		g := newGB(t, 182)
		const b, s, h, d = 1, 3, 2, 2
		x := g.in("x", b, s, h*d)
		split := func(name string) string {
			r := g.op("Reshape", nil, g.op("MatMul", nil, x, g.rnd("w"+name, h*d, h*d)), g.konst("shape"+name, int64s(b, s, h, d)))
			return g.op("Transpose", graph.Attrs{"perm": graph.Ints(0, 2, 1, 3)}, r)
		}
		q := split("q")
		a := attentionGraph(g, q, split("k"), split("v"), d, "")
		y := g.op("Reshape", nil, g.op("Transpose", graph.Attrs{"perm": graph.Ints(0, 2, 1, 3)}, a), g.konst("merged", int64s(b, s, h*d)))
		rep, got := optimizeAndCompare(t, g.finish(y, g.op("Relu", nil, q)), passes.Options{})
		expectCounts(t, rep, got, map[string]int{"attention": 1, "attention-heads": 0}, map[string]int{ops.Attention: 1})
	})
	t.Run("transpose-read-twice", func(t *testing.T) {
		g := newGB(t, 183)
		toNCHW, toNHWC := graph.Attrs{"perm": graph.Ints(0, 3, 1, 2)}, graph.Attrs{"perm": graph.Ints(0, 2, 3, 1)}
		c := g.op("Conv", nil, g.op("Transpose", toNCHW, g.in("x", 1, 5, 5, 2)), g.rnd("w", 2, 2, 1, 1))
		tr := g.op("Transpose", toNHWC, c)
		y := g.op("Transpose", toNCHW, g.op("Sigmoid", nil, tr))
		rep, got := optimizeAndCompare(t, g.finish(y, tr), passes.Options{})
		expectCounts(t, rep, got, map[string]int{"layout": 0}, map[string]int{"Transpose": 3})
	})
}
