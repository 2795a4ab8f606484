// Package passes is the graph optimizer: a pass manager running a named list of passes
// to a fixed point and returning a report of what fired on which nodes.
//
// # Pipeline
//
// Default() lists the passes in order (names as used by Options.Disable, the report
// and LIGHTOS_DUMP_AFTER):
//
//	fold-constants       nodes with constant inputs evaluated once (needs Options.Eval)
//	simplify             Identity, same-dtype Cast, no-op reshapes, constant Where, x+0, x·1
//	dce                  nodes that reach no output, unread initializers
//	cse                  repeated identical nodes merged
//	layernorm            ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div[/Mul/Add] -> LayerNormalization
//	gelu                 x·0.5·(1+Erf(x/√2)) -> Gelu
//	attention            MatMul(Q, Kᵀ), scale, mask, Softmax, MatMul V -> Attention
//	attention-heads      head split/merge Reshape+Transpose absorbed into Attention num_heads
//	layernorm-attention  LayerNormalization feeding Q/K/V projections of one Attention -> LayerNormAttention
//	batchnorm-fold       BatchNormalization folded into the preceding Conv's constant weights
//	conv-activation      Conv + Relu/LeakyRelu -> FusedConv
//	conv-residual        Conv + Add(residual) [+ Relu/LeakyRelu] -> FusedConv with a residual input
//	matmul-fusion        MatMul [+ Add bias] [+ Relu/Gelu] -> FusedMatMul
//	gemm-fusion          Gemm + Relu/Gelu -> FusedMatMul where equivalent
//	layout               transposes inside conv chains moved to the chains' ends
//	channels-last        conv/pool/elementwise regions -> NhwcConv, NhwcMaxPool, ... with
//	                     transposes at the regions' edges (only with Options.ChannelsLast, for the CPU)
//
// Optimize runs the list until a whole round fires nothing (at most MaxRounds).
// Types are inferred (ops.Infer) before and after; with Options.Verify the graph
// verifier (Verify: graph.Validate plus ops.Infer) runs after every pass that changed
// the graph, and the tests always set it. The fused operators' meaning is defined in
// engine/ops/fused.go.
//
// # Rules and the fusion check
//
// Most passes are a Rule: the root operators it starts from and a function that
// matches around a root and rewrites, or returns false. Every fusion calls
// Context.CanFuse before rewriting: each intermediate it removes must be read only
// by the matched nodes and must not be a graph output (and the nodes must share a
// device), so a rewrite never drops a value another consumer needs. Context.Replace
// puts the new node where the last matched node was, keeps the root's output values
// (names, types and graph outputs stay), and records the rewrite in the report.
//
// # Constant folding without a backend
//
// Passes never import a backend. Folding evaluates nodes through Options.Eval (an
// ops.Evaluator); without one it is skipped. Package engine/passes/cpufold builds
// an evaluator from the CPU backend's kernels:
//
//	rep, err := passes.Optimize(g, passes.Options{Eval: cpufold.New()})
//
// # Debugging
//
// LIGHTOS_DUMP_AFTER=matmul-fusion (a comma-separated list, or "all") prints the
// graph's text form to standard error after the named passes; Options.DumpAfter and
// Options.DumpTo do the same from code.
package passes
