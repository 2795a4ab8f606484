// Command lightos is the LightOS command line: run models, benchmark them, convert
// formats, serve them over the network, list devices and install the Jupyter kernel.
package main

import (
	"fmt"
	"os"
	"sort"
)

// command is one subcommand of the CLI.
type command struct {
	summary string
	run     func(args []string) error
}

func commands() map[string]command {
	return map[string]command{
		"run":     {"run a model on inputs (random when none are given) and print its outputs", runCommand},
		"bench":   {"time a model and print latency percentiles", benchCommand},
		"convert": {"convert a model (ONNX, TorchScript) to the native .lightos format", convertCommand},
		"serve":   {"serve models over KServe v2 gRPC and HTTP", serveCommand},
		"devices": {"list devices with live telemetry", devicesCommand},
		"demo":    {"make a small classifier, save, load, optimize and run it; print predictions, latency, fusions, telemetry", demoCommand},
		"kernel":  {"the Jupyter kernel: 'kernel install' or 'kernel run -f CONNECTION_FILE'", kernelCommand},
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: lightos COMMAND [flags]\n\ncommands:")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for name := range cmds {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(os.Stderr, "  %-8s %s\n", name, cmds[name].summary)
	}
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		os.Exit(2)
	}
	cmd, ok := commands()[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "lightos: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err := cmd.run(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "lightos %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
