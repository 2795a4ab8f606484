// Package graph is the engine's one intermediate representation: a Graph of Nodes that
// read and write SSA Values. Every loader produces it, every optimizer pass transforms
// it, the executor runs it and the native format stores it.
//
// A Value is written by exactly one node (or is a graph input or an initializer holding
// constant data). Shapes may have symbolic dimensions ("batch"). Shape and dtype
// inference lives with the operator schemas in package ops, which imports this one.
//
// The Builder accepts the in-place style of the product description (an op that reads
// and writes the same tensor id) and renames such writes into fresh SSA values.
package graph
