package gemm

// jitState holds the per-block ready flags of products whose operands are
// packed inside the compute shares (see dispatchJIT).
type jitState struct{}

// dispatchJIT runs prob if it is one of the shapes whose packing is done
// inside the compute shares, and reports whether it did.
func (c *Context) dispatchJIT(prob problem, parts int) bool { return false }
