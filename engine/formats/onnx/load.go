package onnx

import (
	"errors"

	"github.com/lightiam/lightos/engine/graph"
)

// Options tunes loading.
type Options struct {
	// CustomOps names operators the caller has registered as custom ops: nodes of those
	// names become custom nodes instead of "unsupported operator" errors.
	CustomOps []string
}

// Load reads the ONNX model at path. External data files are resolved relative to it.
func Load(path string, opts Options) (*graph.Graph, error) {
	return nil, errors.New("onnx: loader not implemented yet")
}

// Decode reads an ONNX model from bytes (external data is resolved against dir).
func Decode(data []byte, dir string, opts Options) (*graph.Graph, error) {
	return nil, errors.New("onnx: loader not implemented yet")
}
