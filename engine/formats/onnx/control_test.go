package onnx

import (
	"context"
	"testing"

	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/tensor"
)

// TestIfRunsTheChosenBranch loads If(c) { Relu(x) } else { Neg(x) }, whose branches
// read x from the enclosing graph, and runs it both ways.
func TestIfRunsTheChosenBranch(t *testing.T) {
	then := graphParts{name: "then", nodes: []pb{node("Relu", "tr", []string{"x"}, []string{"t"})}, outputs: []pb{vinfo("t", tFloat, 3)}}
	els := graphParts{name: "else", nodes: []pb{node("Neg", "en", []string{"x"}, []string{"e"})}, outputs: []pb{vinfo("e", tFloat, 3)}}
	attrG := func(name string, g graphParts) pb {
		return pb(nil).str(1, name).varint(20, atGraph).bytes(6, g.encode())
	}
	g := graphParts{name: "if",
		nodes:   []pb{node("If", "if", []string{"c"}, []string{"y"}, attrG("then_branch", then), attrG("else_branch", els))},
		inputs:  []pb{vinfo("c", tBool), vinfo("x", tFloat, 3)},
		outputs: []pb{vinfo("y", tFloat, 3)}}
	gr, err := Decode(model(8, g.encode(), opset("", 17)), "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := gr.Nodes[0]; len(n.Inputs) != 2 || n.Inputs[1] != gr.Value("x") || n.Attrs.GetInt(ExplicitInputsAttr, 0) != 1 {
		t.Fatalf("If should list x as an implicit input: %v", n)
	}
	sess, err := exec.NewSession(gr, cpu.New(cpu.Options{Threads: 1}), exec.Options{HeapOutputs: true})
	if err != nil {
		t.Fatal(err)
	}
	x, _ := tensor.FromFloat32([]int{3}, []float32{-1.5, 0, 2})
	for _, tc := range []struct {
		cond bool
		want []float32
	}{{true, []float32{0, 0, 2}}, {false, []float32{1.5, 0, -2}}} {
		c := tensor.New(tensor.Bool, nil)
		c.Bools()[0] = tc.cond
		res, err := sess.Run(context.Background(), map[string]*tensor.Tensor{"c": c, "x": x}, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := res.Outputs[0].Float32s()
		for i := range tc.want {
			if got[i] != tc.want[i] {
				t.Fatalf("cond %v: y = %v, want %v", tc.cond, got, tc.want)
			}
		}
	}
}
