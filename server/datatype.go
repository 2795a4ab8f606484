package server

import (
	"github.com/lightiam/lightos/engine/tensor"
	"google.golang.org/grpc/codes"
)

var v2Types = map[string]tensor.DType{
	"BOOL": tensor.Bool, "UINT8": tensor.Uint8, "UINT16": tensor.Uint16, "UINT32": tensor.Uint32,
	"UINT64": tensor.Uint64, "INT8": tensor.Int8, "INT16": tensor.Int16, "INT32": tensor.Int32,
	"INT64": tensor.Int64, "FP16": tensor.Float16, "FP32": tensor.Float32, "FP64": tensor.Float64,
	"BF16": tensor.BFloat16,
}

// DTypeOf maps a KServe v2 datatype name ("FP32") to the engine's dtype.
func DTypeOf(v2 string) (tensor.DType, error) {
	if dt, ok := v2Types[v2]; ok {
		return dt, nil
	}
	return tensor.Invalid, errorf(codes.InvalidArgument, "unsupported datatype %q", v2)
}

// V2Name maps an engine dtype to its KServe v2 datatype name.
func V2Name(dt tensor.DType) string {
	for name, d := range v2Types {
		if d == dt {
			return name
		}
	}
	return "BYTES"
}
