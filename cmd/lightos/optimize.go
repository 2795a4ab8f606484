package main

import (
	"flag"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/passes"
	"github.com/lightiam/lightos/engine/passes/cpufold"
)

// optimizeGraph runs the optimizer the way every command does: with constant folding
// by the CPU kernels, so that exporters' shape computations fold and the fusions that
// depend on them (attention) fire.
func optimizeGraph(g *graph.Graph) (*passes.Report, error) {
	return passes.Optimize(g, passes.Options{Eval: cpufold.New()})
}

// specializeGraph optimizes a plan's copy of the graph again once its input shapes are
// known (exec.Options.Specialize): the fusions that need shapes an exporter computes at
// run time fire then (torch.onnx's attention head reshapes).
func specializeGraph(g *graph.Graph) error {
	_, err := optimizeGraph(g)
	return err
}

// parseInterleaved parses flags that may come before or after positional arguments
// ("lightos convert model.onnx -o out.lightos") and returns the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
