// Package tensor holds the engine's data: element types (DType), shapes, and Tensor,
// a dense row-major array whose bytes are either owned by the tensor or borrowed from a
// caller (a NumPy array, a memory-mapped model file) without copying.
//
// Owned storage comes from one of two places: the Go heap (New, for small constants and
// tests) or anonymous memory maps outside the Go heap (NewMapped), which may be handed
// to foreign code such as NumPy without breaking cgo's pointer rules and must be
// released with Release.
package tensor
