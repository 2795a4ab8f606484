// Package onnx loads ONNX models (ModelProto, IR version 3 and later, any opset) into
// the engine's graph IR.
//
// # Decoding
//
// The protobuf wire format is decoded by hand with protowire (wire.go, proto.go)
// rather than through generated code: byte fields stay sub-slices of the input, so an
// initializer's raw_data becomes a tensor over the file's bytes (tensor.FromBytes)
// without a copy, and files over 2 GB, which protobuf-go refuses, decode like any
// other. Open maps the file read-only and borrows every weight from the mapping (and
// from mapped external data files); Load reads the file into one buffer and borrows
// from it. Measured on a 2-core AMD EPYC (shared, best of 7) with the 102 MB ResNet-50
// of scripts/make_onnx_models.py: protobuf-go's Unmarshal into code generated from
// onnx.proto takes 15.6 ms (it copies every bytes field) before any graph exists,
// Decode of the same bytes to a graph 0.43 ms, and Open, mapping included, 0.8 ms;
// `lightos run --load-only` gives 1.2 ms for Open against 2.2-2.6 ms for the same
// model in the native .lightos format. Nothing in the load is proportional to the
// weight bytes.
// Unaligned raw_data is borrowed as is: element types hold no pointers and amd64 and
// arm64 load unaligned words.
//
// Also read: float_data/int32_data/int64_data/double_data/uint64_data (packed or
// not), external data (location, offset, length; paths may not leave the model's
// directory), sparse initializers and sparse Constant values (densified), model-local
// functions (inlined where the engine has no schema of that name, with ref_attr_name
// substitution), and subgraphs of If, Loop and Scan (nodes read enclosing values
// directly; the control-flow node lists them as implicit inputs after its declared
// ones, with attribute _explicit_inputs giving the declared count).
//
// # Mapping to the IR
//
// Value and node names are kept (empty or repeated node names get op_index names).
// Constant nodes become constant values. Graph.Opset is the default domain's opset
// and every node carries an int attribute _opset with its domain's opset, for kernels
// whose semantics changed between opsets. Operators without an engine schema make
// Load fail with one ErrUnsupported error listing each of them as domain.op (opset N),
// unless Options.CustomOps names them: such nodes keep their op name and domain and
// get attribute _custom = 1 (ops.CustomAttr) for the custom-op kernels. Element types
// the engine lacks (string, complex, float8, int4, int2, float4) and sequence, map and
// optional values are ErrUnsupported too; malformed or truncated files give ErrFormat
// errors, never panics (FuzzDecode).
//
// # Conformance
//
// conformance_test.go runs the ONNX backend node tests from
// ../shared/conformance/onnx/node (or $LIGHTOS_ONNX_CONFORMANCE) and, with
// LIGHTOS_ONNX_REPORT=1, writes docs/onnx-conformance.md:
//
//	LIGHTOS_ONNX_REPORT=1 go test -count=1 -run TestONNXConformance -v ./engine/formats/onnx
//
// LIGHTOS_ONNX_FILTER=substring runs a subset; LIGHTOS_ONNX_MIN_PASS=N fails the test
// below N passes.
package onnx
