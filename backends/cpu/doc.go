// Package cpu is the CPU backend: a Device describing the host processor and a table
// of kernels, one factory per (operator, domain), that run graph nodes on host memory.
//
// Heavy kernels (GEMM, convolution) call package gemm's vectorized routines; the rest
// are written in Go, generic over element types where the operator allows, and split
// across cores with the Pool of the device.
//
// Kernel factories register from init functions, one file per operator family; the
// table is read-only afterwards.
package cpu
