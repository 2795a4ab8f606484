package custom_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/custom"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/exec/exectest"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// TestWrapKeepsWholeGraphCompilation: wrapping a device that compiles whole graphs
// keeps that ability for graphs without custom nodes (one compilation, one
// "GraphPlan" profile entry) and runs graphs with custom nodes node by node, the custom
// node through the registry; both agree with the plain CPU device.
func TestWrapKeepsWholeGraphCompilation(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	reg := custom.NewRegistry()
	neg := func(_ context.Context, _ *graph.Node, in, out []*tensor.Tensor) error {
		for i, v := range in[0].Float32s() {
			out[0].Float32s()[i] = -v
		}
		return nil
	}
	if err := reg.Register(custom.Op{Name: "Negate", Go: neg}); err != nil {
		t.Fatal(err)
	}
	w := randTensor(r, 9, 5)
	b := graph.NewBuilder("plain")
	b.Input("x", tensor.Float32, graph.ShapeOf(3, 9))
	b.Const("w", w)
	b.Op("MatMul", "mm", []string{"x", "w"}, []string{"h"}, nil)
	b.Op("Relu", "relu", []string{"h"}, []string{"y"}, nil)
	plain, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		g        *graph.Graph
		compiles int32
		profile  string // the first profile entry's op
	}{
		{"no custom node", plain, 1, "GraphPlan"},
		{"a custom node", buildGraph(t, "Negate", 9, 5, w, nil), 0, "MatMul"},
	} {
		dev := exectest.NewWholeDevice()
		s, err := exec.NewSession(tc.g, custom.Wrap(dev, reg), exec.Options{HeapOutputs: true, Profile: true})
		if err != nil {
			t.Fatal(err)
		}
		ref, err := exec.NewSession(tc.g, custom.Wrap(cpu.New(cpu.Options{}), reg), exec.Options{HeapOutputs: true})
		if err != nil {
			t.Fatal(err)
		}
		feeds := map[string]*tensor.Tensor{"x": randTensor(r, 3, 9)}
		got, err := s.Run(context.Background(), feeds, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		want, err := ref.Run(context.Background(), feeds, nil)
		if err != nil {
			t.Fatal(err)
		}
		if n := dev.Compiles.Load(); n != tc.compiles {
			t.Errorf("%s: %d whole-graph compilations, want %d", tc.name, n, tc.compiles)
		}
		if op := got.Profile.Nodes[0].Op; op != tc.profile {
			t.Errorf("%s: first profile entry %q, want %q", tc.name, op, tc.profile)
		}
		for i, v := range got.Outputs[0].Float32s() {
			if v != want.Outputs[0].Float32s()[i] {
				t.Fatalf("%s: y[%d] = %v, want %v", tc.name, i, v, want.Outputs[0].Float32s()[i])
			}
		}
		s.Close()
	}
}
