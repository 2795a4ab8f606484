// Package onnx loads ONNX models (ModelProto) into the engine's graph IR.
package onnx
