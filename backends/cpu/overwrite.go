package cpu

import (
	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
)

// overwritingOps are the operators whose kernels write every element of every output
// (no accumulation into the output, no elements left untouched), so the executor can
// skip zeroing their arena buffers before each run (backends.OutputOverwriter). Each
// is checked by TestOverwritingKernelsWriteEveryElement, which runs it on outputs
// filled with garbage and compares with zeroed ones. Kernels not listed get zeroed
// outputs, the safe default.
var overwritingOps = map[opKey]bool{
	{ops.DomainLightOS, ops.FusedMatMul}: true, {ops.DomainLightOS, ops.Attention}: true,
	{ops.DomainLightOS, ops.LayerNormAttention}: true,
	{"", "MatMul"}: true, {"", "LayerNormalization"}: true, {"", "Softmax"}: true,
	{"", "Add"}: true, {"", "Sub"}: true, {"", "Mul"}: true, {"", "Div"}: true,
	{"", "Relu"}: true, {"", "Gelu"}: true, {"", "Erf"}: true, {"", "Sigmoid"}: true, {"", "Tanh"}: true,
	{"", "Transpose"}: true, {"", "Gather"}: true, {"", "Concat"}: true, {"", "Cast"}: true,
	{"", "Conv"}: true, {ops.DomainLightOS, ops.FusedConv}: true, {"", "MaxPool"}: true,
	{ops.DomainLightOS, ops.NhwcConv}: true, {ops.DomainLightOS, ops.NhwcMaxPool}: true,
	{ops.DomainLightOS, ops.NhwcAveragePool}: true, {ops.DomainLightOS, ops.NhwcGlobalAveragePool}: true,
}

// overwriting marks a kernel of overwritingOps as a backends.OutputOverwriter.
type overwriting struct{ backends.Kernel }

// OverwritesOutputs reports true: see overwritingOps.
func (overwriting) OverwritesOutputs() bool { return true }

var _ backends.OutputOverwriter = overwriting{}

// inPlaceInput returns the input of n whose buffer n's kernel may write its output
// into (backends.InPlacer), or -1. Only NhwcConv's residual qualifies: gemm.ConvNHWC
// reads each residual element before writing that output element (Residual may be
// Y), which saves the residual's separate stream through memory in ResNet's residual
// layers. TestNhwcConvMatchesConv checks it.
func inPlaceInput(n *graph.Node) int {
	if n.Domain == ops.DomainLightOS && n.Op == ops.NhwcConv && len(n.Inputs) > 3 && n.Inputs[3] != nil {
		return 3
	}
	return -1
}

// inPlaceOverwriting is an overwriting kernel that may also write output 0 into
// input in's buffer.
type inPlaceOverwriting struct {
	overwriting
	in int
}

// InPlaceInput returns the input whose buffer output 0 may share.
func (k inPlaceOverwriting) InPlaceInput() int { return k.in }

var _ backends.InPlacer = inPlaceOverwriting{}
