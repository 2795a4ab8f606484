// Package kernel is the LightOS Jupyter kernel: the messaging protocol (5.3)
// over ZeroMQ sockets from github.com/go-zeromq/zmq4 (pure Go), with cells of
// Go evaluated by package eval (yaegi) and rich output from package display.
//
// Layout: connection.go reads the connection file; kernel.go owns the sockets;
// serve.go holds the receive loops; send.go signs and sends (iopub publishing,
// the display publisher); handlers.go answers requests; execute.go runs cells;
// streams.go coalesces stdout/stderr into stream messages and capture_unix.go
// redirects descriptors 1 and 2 into them; comm.go, history.go and input.go
// hold the comm, history and stdin features.
//
// Every shell and control request is answered between status "busy" and
// "idle" messages on iopub whose parent is the request, kernel_info included
// (jupyter_client waits for an iopub message before it calls a kernel ready).
// Every incoming message's signature is checked in constant time; messages
// with a bad signature are logged and dropped.
//
// Interrupts (interrupt_request on control, or SIGINT with
// Options.HandleSIGINT) cancel the running cell's context: interpreted code
// stops within about 300 ms, and compiled engine calls stop when they were
// given cell.Context(). Compiled code that ignores the context keeps running
// in the background after the cell has been reported interrupted.
//
// After a cell fails with stop_on_error, execute requests already queued are
// answered "aborted". The kernel exits when its launcher (JPY_PARENT_PID)
// goes away.
package kernel
