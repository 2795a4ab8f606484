package pyext

import (
	"strings"

	"github.com/lightiam/lightos/engine/ops"
)

// OpNames lists every engine operator, comma-separated, as "op" for the default
// (ONNX) domain and "domain.op" for others (fused operators are "lightos.Fused...").
func OpNames() (s string, err error) {
	defer guard(&err)
	return strings.Join(ops.Names(), ","), nil
}

// Version is the extension's version string.
func Version() string { return "0.1.0" }
