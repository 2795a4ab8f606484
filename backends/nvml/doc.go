// Package nvml reads NVIDIA GPU telemetry through NVML (libnvidia-ml.so.1), loaded at
// run time with github.com/ebitengine/purego: no CUDA SDK or cgo at build time, so a
// CGO_ENABLED=0 binary built on a machine without a GPU runs on one with a GPU.
//
// Only NVML's read-only calls (nvmlInit, nvmlShutdown, nvmlErrorString,
// nvmlSystemGet*, nvmlDeviceGet*) are bound by default. Every Set/Reset/Clear call
// changes the card for everyone on a shared machine, so such a symbol is looked up
// only when Options.AllowSet is true; bind refuses it otherwise, and
// TestNoSetterWithoutOptIn fails if the default binding ever asks for one.
//
// Devices report name, UUID, memory, SM count (from a table of known boards; NVML
// gives it only for MIG instances), compute capability, temperature and its slowdown
// and shutdown thresholds, power (nvmlDeviceGetPowerUsage, a 1 s average on H100),
// the enforced limit, the total energy counter (exact energy by difference), SM
// clock, utilization, memory used, clock event (throttle) reasons and the power and
// thermal violation counters. A reading NVML refuses is reported unavailable.
package nvml
