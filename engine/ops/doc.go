// Package ops holds the operator schemas: for each operator its name, domain, input
// and output counts, and a shape-and-dtype inference function. Loaders map their
// operators onto these names, passes and backends look them up, and Infer runs the
// inference over a whole graph.
//
// Schemas register themselves from init functions in this package's files, one file
// per operator family; the registry is read-only after initialization.
//
// Fused operators (FusedMatMul, FusedConv, Attention, LayerNormAttention) are ordinary
// schemas in the "lightos" domain, so every backend and the native format treat them
// like any other node.
package ops
