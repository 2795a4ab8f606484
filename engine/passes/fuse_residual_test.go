package passes_test

import (
	"testing"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/passes"
)

// TestConvResidual runs residual blocks before and after the optimizer on random
// inputs and checks which Conv + Add [+ Relu] chains became one FusedConv.
func TestConvResidual(t *testing.T) {
	k3 := graph.Attrs{"pads": graph.Ints(1, 1, 1, 1)}
	t.Run("projection-block", func(t *testing.T) {
		g := newGB(t, 40)
		x := g.in("x", 2, 4, 7, 5)
		a := g.op("Conv", k3, x, g.rnd("w1", 6, 4, 3, 3), g.rnd("b1", 6))
		s := g.op("Conv", nil, x, g.rnd("w2", 6, 4, 1, 1))
		rep, got := optimizeAndCompare(t, g.finish(g.op("Relu", nil, g.op("Add", nil, a, s))), passes.Options{})
		expectCounts(t, rep, got, map[string]int{"conv-residual": 1},
			map[string]int{ops.FusedConv: 1, "Conv": 1, "Add": 0, "Relu": 0})
	})
	t.Run("identity-block-batch", func(t *testing.T) {
		g := newGB(t, 41)
		x := g.inBatch("x", 1, 5, 6, 6)
		h := g.op("Relu", nil, g.op("Conv", k3, x, g.rnd("w1", 5, 5, 3, 3), g.rnd("b1", 5)))
		y := g.op("Conv", k3, h, g.rnd("w2", 5, 5, 3, 3), g.rnd("b2", 5))
		rep, got := optimizeAndCompare(t, g.finish(g.op("Relu", nil, g.op("Add", nil, x, y))), passes.Options{})
		expectCounts(t, rep, got, map[string]int{"conv-residual": 1, "conv-activation": 1},
			map[string]int{ops.FusedConv: 2, "Conv": 0, "Add": 0, "Relu": 0})
	})
	t.Run("no-activation-1d-leaky-after-graph-output", func(t *testing.T) {
		g := newGB(t, 42)
		x, r := g.in("x", 3, 2, 11), g.in("r", 3, 4, 11)
		sum := g.op("Add", nil, g.op("Conv", graph.Attrs{"pads": graph.Ints(1, 1)}, x, g.rnd("w", 4, 2, 3)), r)
		// The sum is a graph output too: the LeakyRelu stays outside.
		rep, got := optimizeAndCompare(t, g.finish(sum, g.op("LeakyRelu", nil, sum)), passes.Options{})
		expectCounts(t, rep, got, map[string]int{"conv-residual": 1},
			map[string]int{ops.FusedConv: 1, "Add": 0, "LeakyRelu": 1})
	})
	t.Run("leaky", func(t *testing.T) {
		g := newGB(t, 43)
		x, r := g.in("x", 1, 3, 5, 5), g.in("r", 1, 2, 5, 5)
		y := g.op("LeakyRelu", graph.Attrs{"alpha": graph.Float(0.3)}, g.op("Add", nil, r, g.op("Conv", k3, x, g.rnd("w", 2, 3, 3, 3))))
		rep, got := optimizeAndCompare(t, g.finish(y), passes.Options{})
		expectCounts(t, rep, got, map[string]int{"conv-residual": 1}, map[string]int{ops.FusedConv: 1, "Add": 0, "LeakyRelu": 0})
	})
	t.Run("broadcast-add-not-fused", func(t *testing.T) {
		g := newGB(t, 44)
		x, r := g.in("x", 1, 3, 5, 5), g.in("r", 1, 2, 1, 5)
		y := g.op("Relu", nil, g.op("Add", nil, g.op("Conv", k3, x, g.rnd("w", 2, 3, 3, 3)), r))
		rep, got := optimizeAndCompare(t, g.finish(y), passes.Options{})
		expectCounts(t, rep, got, map[string]int{"conv-residual": 0}, map[string]int{"Conv": 1, "Add": 1})
	})
	t.Run("conv-read-twice-not-fused", func(t *testing.T) {
		g := newGB(t, 45)
		x, r := g.in("x", 1, 3, 5, 5), g.in("r", 1, 2, 5, 5)
		c := g.op("Conv", k3, x, g.rnd("w", 2, 3, 3, 3))
		rep, got := optimizeAndCompare(t, g.finish(g.op("Add", nil, c, r), g.op("Sigmoid", nil, c)), passes.Options{})
		expectCounts(t, rep, got, map[string]int{"conv-residual": 0}, map[string]int{"Conv": 1, "Add": 1})
	})
	t.Run("add-of-itself-not-fused", func(t *testing.T) {
		g := newGB(t, 46)
		c := g.op("Conv", k3, g.in("x", 1, 3, 5, 5), g.rnd("w", 2, 3, 3, 3))
		rep, got := optimizeAndCompare(t, g.finish(g.op("Add", nil, c, c)), passes.Options{})
		expectCounts(t, rep, got, map[string]int{"conv-residual": 0}, map[string]int{"Conv": 1, "Add": 1})
	})
}
