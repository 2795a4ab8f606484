// Package pyext is the flat Go surface that gopy binds into the Python extension
// lightos_accelerated._lightos. Python never sees engine types: only ints (handles),
// uintptrs (data pointers), strings (names, JSON descriptions) and errors.
//
// Rules every exported function follows:
//   - it recovers panics and returns them as errors (a Go panic would abort Python);
//   - it never returns a nil struct pointer (handles are int64 keys of a table);
//   - every error message starts with a kind in brackets, "[ShapeError] ...", which the
//     Python layer maps onto its LightOSError hierarchy.
//
// Zero copy: inputs arrive as (pointer, dtype, shape) and are borrowed for the call;
// outputs are written into caller arrays or into pooled buffers mapped outside the Go
// heap, which Python wraps without copying and hands back with BufferRelease.
//
// Python custom ops: SetDispatcher hands Go one Python callable, kept alive by the
// Python module. A custom node calls it with a call id on the goroutine running the
// graph, after locking that goroutine to its OS thread (gopy's callback takes the
// GIL with PyGILState_Ensure, which needs the whole callback on one thread). The
// dispatcher never raises: it stores the exception under the run's token and returns
// nonzero; SessionRun returns a [CustomOpError], and Python re-raises the stored
// exception itself.
//
// The handle table is the one piece of process-wide mutable state: it is what a
// foreign-function boundary needs (like runtime/cgo.Handle), guarded by a mutex.
package pyext
