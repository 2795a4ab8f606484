// Package exectest holds test doubles for code that runs graphs through exec: a CPU
// device that also compiles whole graphs (backends.GraphCompiler), standing in for the
// GPU backend in tests that have no GPU.
package exectest
