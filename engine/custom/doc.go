// Package custom runs caller-implemented operators as graph nodes.
//
// A custom node is any node marked with the attribute ops.CustomAttr = 1 (see
// engine/ops/custom.go for how its output types are declared). Its kernel is looked up
// by op name in a Registry, which holds two forms of implementation:
//
//   - Go: a Func called with the node's input and output tensors.
//   - Foreign: a Foreign dispatcher plus an integer handle, for functions that live in
//     another runtime (Python, through pyext). The dispatcher is called on the goroutine
//     that runs the node; it must itself make sure the foreign runtime may be entered
//     from there (pyext locks the OS thread and takes the GIL).
//
// Wrap puts a Registry in front of any backends.KernelProvider: custom nodes get
// kernels from the registry, every other node from the device. Errors from a custom
// function come back as *Error, naming the node and wrapping the function's error.
//
// A Registry is an ordinary value (not global state): each session or Python module
// builds its own and fills it before running.
package custom
