package main

import (
	"flag"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/passes"
)

// optimizeGraph runs the optimizer the way every command does.
func optimizeGraph(g *graph.Graph) (*passes.Report, error) {
	return passes.Optimize(g, passes.Options{})
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
