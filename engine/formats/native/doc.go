// Package native reads and writes the .lightos format: one file holding a graph and
// its weights, laid out so that loading maps the file and tensors borrow their bytes
// from the map without copying.
//
// Layout (little-endian):
//
//	offset 0   magic "LIGHTOS\x00" (8 bytes)
//	offset 8   format version, uint32 (Version)
//	offset 12  CRC-32 (IEEE) of the header bytes, uint32
//	offset 16  header length in bytes, uint64
//	offset 24  header: JSON describing the graph (values, nodes, attributes) and, for
//	           every tensor, its dtype, shape, and byte offset and length in the file
//	...        tensor data, each tensor starting at a multiple of 64 bytes
//
// A truncated or corrupted file gives an error naming what is wrong, never a panic:
// the header is checksummed and every tensor's range is checked against the file size.
package native
