package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lightiam/lightos/engine/formats/native"
	"github.com/lightiam/lightos/engine/formats/onnx"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/server"
)

// convertCommand converts a model to the native format, optionally optimized.
func convertCommand(args []string) error {
	fs := flag.NewFlagSet("convert", flag.ContinueOnError)
	out := fs.String("o", "", "output .lightos path (default: the input with .lightos)")
	optimize := fs.Bool("optimize", true, "run the optimizer before saving")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: lightos convert [-o OUT] [-optimize=false] MODEL.{onnx,pt,lightos}")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errors.New("convert needs one model path")
	}
	in := pos[0]
	start := time.Now()
	g, closeFn, err := openModel(in)
	if err != nil {
		return err
	}
	defer closeFn()
	fmt.Printf("loaded %s: %d nodes, %d initializers in %v\n", in, len(g.Nodes), len(g.Initializers), time.Since(start).Round(time.Microsecond))
	if *optimize {
		rep, err := optimizeGraph(g, false) // the file may run on any device
		if err != nil {
			return err
		}
		fmt.Printf("optimized: %d -> %d nodes, %d rewrites\n", rep.NodesBefore, rep.NodesAfter, len(rep.Fired))
	}
	if *out == "" {
		*out = strings.TrimSuffix(in, filepath.Ext(in)) + ".lightos"
	}
	if err := native.Save(g, *out); err != nil {
		return err
	}
	st, _ := os.Stat(*out)
	fmt.Printf("wrote %s (%.1f MB)\n", *out, float64(st.Size())/1e6)
	return nil
}

// openModel opens a model by its extension with the loaders the server uses
// (server.DefaultLoaders); ONNX models are mapped with ZipMap read as the tensor of
// probabilities it is. The returned function releases the model.
func openModel(path string) (*graph.Graph, func(), error) {
	ext := strings.ToLower(filepath.Ext(path))
	switch ext {
	case ".onnx":
		m, err := onnx.Open(path, onnx.Options{ZipMapAsTensor: true})
		if err != nil {
			return nil, nil, err
		}
		return m.Graph, func() { m.Close() }, nil
	case ".pth", ".torchscript":
		ext = ".pt"
	}
	load, ok := server.DefaultLoaders(nil)["model"+ext]
	if !ok {
		return nil, nil, fmt.Errorf("%s: unknown model format (want .onnx, .pt or .lightos)", path)
	}
	g, closer, err := load(path)
	if err != nil {
		return nil, nil, err
	}
	return g, func() {
		if closer != nil {
			closer.Close()
		}
	}, nil
}
