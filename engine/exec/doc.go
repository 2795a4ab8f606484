// Package exec turns a graph into something that runs: a Plan (a topological schedule,
// a memory plan that reuses buffers by liveness, a kernel per node) and a Session that
// holds plans per input shape and runs them.
//
// Sessions are safe for concurrent Run calls: plans are immutable once built and each
// run takes its own arena (pooled per plan; on Linux an arena of 4 MB or more asks for
// transparent huge pages, which large activations need to avoid TLB misses). A context
// cancels a run between nodes (and inside kernels that watch it). Feeds are validated
// against the graph's inputs before anything runs.
//
// When a shape depends on data (NonZero, a Reshape fed by a computed tensor), the plan
// marks the node dynamic: its output shapes are inferred at run time from the actual
// tensors and its outputs are allocated on the heap.
//
// View operators (Reshape, Flatten, Squeeze, Unsqueeze, Identity) run no kernel: their
// output is their input's buffer under the new shape. The memory plan keeps a shared
// arena buffer until the last reader of any of its aliases has run. A view that is a
// graph output copies (outputs own their memory: the caller's buffer or one handed to
// NumPy). Views of graph inputs and constants are only read: no kernel writes its
// inputs, and the executor never gives a kernel an output buffer that a live value
// (or an alias of one) still occupies. Options.NoAlias turns aliasing off.
//
// Options.Specialize rewrites each plan's private copy of the graph once the input
// shapes are concrete (the CLI passes the optimizer), so that rewrites needing shapes
// an exporter computes at run time still happen; the session's graph is not touched.
package exec
