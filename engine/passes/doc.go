// Package passes is the graph optimizer: a pass manager running named passes to a
// fixed point (constant folding, dead-code elimination, common-subexpression
// elimination, fusions, layout) and returning a report of what fired on which nodes.
package passes
