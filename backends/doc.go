// Package backends defines what a compute device offers the engine: a description
// (Info), live readings (Telemetry, each field possibly unavailable), and kernels that
// run graph nodes. Implementations live in subpackages: cpu, cuda, sim.
//
// The Device interface is small on purpose; extra abilities are optional interfaces
// found by type assertion (KernelProvider for devices that run nodes).
package backends
