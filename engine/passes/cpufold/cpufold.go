// Package cpufold builds the constant-folding evaluator of engine/passes from the CPU
// backend's kernels. It sits beside the optimizer, not inside it, so that package
// passes never imports a backend: callers (pyext, cmd, tests) write
//
//	passes.Optimize(g, passes.Options{Eval: cpufold.New()})
package cpufold

import (
	"context"
	"fmt"

	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// New returns an evaluator that runs a node on one CPU thread (folding happens once,
// at optimization time). A node without a CPU kernel gives an error wrapping
// backends.ErrUnsupported, and the optimizer leaves it in the graph.
func New() ops.Evaluator { return With(cpu.New(cpu.Options{Threads: 1})) }

// With returns an evaluator running kernels of dev.
func With(dev *cpu.Device) ops.Evaluator {
	return func(n *graph.Node, ins []*tensor.Tensor, types []graph.Type) (outs []*tensor.Tensor, err error) {
		defer func() {
			if r := recover(); r != nil {
				outs, err = nil, fmt.Errorf("cpufold: node %q (%s): kernel panicked: %v", n.Name, n.Op, r)
			}
		}()
		k, err := dev.Kernel(n)
		if err != nil {
			return nil, err
		}
		outs = make([]*tensor.Tensor, len(types))
		for i, t := range types {
			if i < len(n.Outputs) && n.Outputs[i] != nil {
				if !t.HasShape || !t.Shape.Known() {
					return nil, fmt.Errorf("cpufold: node %q (%s): output %d has no known shape", n.Name, n.Op, i)
				}
				outs[i] = tensor.New(t.DType, t.Shape.Ints())
			}
		}
		if err := k.Run(context.Background(), ins, outs); err != nil {
			return nil, fmt.Errorf("cpufold: node %q (%s): %w", n.Name, n.Op, err)
		}
		return outs, nil
	}
}
