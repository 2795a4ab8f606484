package main

import (
	"flag"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/passes"
	"github.com/lightiam/lightos/engine/passes/cpufold"
)

// optimizeGraph runs the optimizer the way every command does: with constant folding
// by the CPU kernels, so that exporters' shape computations fold and the fusions that
// depend on them (attention) fire. channelsLast turns on the channels-last pass, for
// graphs that will run on the CPU (run, bench, demo; not convert, whose file may run
// anywhere).
func optimizeGraph(g *graph.Graph, channelsLast bool) (*passes.Report, error) {
	return passes.Optimize(g, passes.Options{Eval: cpufold.New(), ChannelsLast: channelsLast})
}

// specializer returns the exec.Options.Specialize of the commands: it optimizes a
// plan's copy of the graph again once its input shapes are known, so the fusions
// that need shapes an exporter computes at run time fire then (torch.onnx's attention
// head reshapes).
func specializer(channelsLast bool) func(g *graph.Graph) error {
	return func(g *graph.Graph) error {
		_, err := optimizeGraph(g, channelsLast)
		return err
	}
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
