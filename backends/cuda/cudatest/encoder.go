package cudatest

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// Encoder builds a post-LN BERT encoder as the optimizer leaves it: FusedMatMul for
// the projections (act in the FFN: ops.ActGelu or ops.ActGeluTanh), Attention with
// num_heads, Add and LayerNormalization; input "x" [batch, seq, e] with a symbolic
// batch, random weights (a fixed seed). flops counts the products per sequence.
func Encoder(layers, e, heads, ffn, seq int, act string) (*graph.Graph, float64, error) {
	g := &enc{b: graph.NewBuilder("encoder"), r: rand.New(rand.NewPCG(2, 2))}
	if _, err := g.b.Input("x", tensor.Float32, graph.Shape{{Size: -1, Param: "batch"}, graph.Dim{Size: int64(seq)}, graph.Dim{Size: int64(e)}}); err != nil {
		return nil, 0, err
	}
	x := "x"
	ln := func(x string) string {
		gamma, beta := g.konst([]int{e}, 0.1), g.konst([]int{e}, 0.1)
		return g.op("", "LayerNormalization", []string{x, gamma, beta}, graph.Attrs{"axis": graph.Int(-1), "epsilon": graph.Float(1e-12)})
	}
	for i := 0; i < layers; i++ {
		q, k, v := g.linear(x, e, e, ""), g.linear(x, e, e, ""), g.linear(x, e, e, "")
		a := g.op(ops.DomainLightOS, ops.Attention, []string{q, k, v}, graph.Attrs{"num_heads": graph.Int(int64(heads))})
		o := g.linear(a, e, e, "")
		h := ln(g.op("", "Add", []string{x, o}, nil))
		f := g.linear(g.linear(h, e, ffn, act), ffn, e, "")
		x = ln(g.op("", "Add", []string{h, f}, nil))
	}
	if g.err != nil {
		return nil, 0, fmt.Errorf("cudatest: encoder: %w", g.err)
	}
	g.b.Output(x)
	gr, err := g.b.Finish()
	if err != nil {
		return nil, 0, fmt.Errorf("cudatest: encoder: %w", err)
	}
	perLayer := 2*float64(seq)*float64(e)*float64(e)*4 + 2*2*float64(seq)*float64(e)*float64(ffn) + 2*2*float64(seq)*float64(seq)*float64(e)
	return gr, perLayer * float64(layers), nil
}

type enc struct {
	b   *graph.Builder
	r   *rand.Rand
	n   int
	err error
}

func (g *enc) konst(shape []int, scale float64) string {
	g.n++
	name := fmt.Sprintf("c%d", g.n)
	t := tensor.New(tensor.Float32, shape)
	for i := range t.Float32s() {
		t.Float32s()[i] = float32(g.r.NormFloat64() * scale)
	}
	if g.err == nil {
		_, g.err = g.b.Const(name, t)
	}
	return name
}

func (g *enc) op(domain, op string, in []string, attrs graph.Attrs) string {
	g.n++
	out := fmt.Sprintf("v%d", g.n)
	if g.err != nil {
		return out
	}
	n, err := g.b.Op(op, "", in, []string{out}, attrs)
	if err != nil {
		g.err = err
		return out
	}
	n.Domain = domain
	return out
}

func (g *enc) linear(x string, in, out int, act string) string {
	w, b := g.konst([]int{in, out}, 1/math.Sqrt(float64(in))), g.konst([]int{out}, 0.02)
	return g.op(ops.DomainLightOS, ops.FusedMatMul, []string{x, w, b}, graph.Attrs{"activation": graph.String(act)})
}
