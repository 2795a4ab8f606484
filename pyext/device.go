package pyext

import (
	"encoding/json"
	"strings"
	"sync"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/cpu"
	_ "github.com/lightiam/lightos/backends/cuda" // NVIDIA devices for compute (when libcuda loads)
	_ "github.com/lightiam/lightos/backends/nvml" // NVIDIA devices (telemetry) in discovery
	"github.com/lightiam/lightos/backends/sim"
)

type deviceObj struct {
	dev backends.Device
	// computes is false when graphs "on" this device really run on the host CPU.
	computes bool
	// kp runs graphs: the device itself, or the host CPU for devices without kernels
	// (simulated ones compute nothing; their time is charged by the governor).
	kp backends.KernelProvider
}

func newDeviceObj(d backends.Device) *deviceObj {
	if kp, ok := d.(backends.KernelProvider); ok {
		if d.Info().Kind != backends.CPU {
			// operators the accelerator lacks run on the host CPU, node by node
			kp = &backends.Fallback{Primary: kp, Secondary: cpu.New(cpu.Options{})}
		}
		return &deviceObj{dev: d, kp: kp, computes: true}
	}
	return &deviceObj{dev: d, kp: cpu.New(cpu.Options{})}
}

// onCPU reports whether graphs on this device compute on the host CPU (the CPU device,
// or a device without kernels, such as a simulated one).
func (d *deviceObj) onCPU() bool { return !d.computes || d.dev.Info().Kind == backends.CPU }

// DeviceOpenSim makes a simulated device (package backends/sim) of a measured profile
// ("h100" or "photonic"), with an inlet temperature (0: the profile's) and a cooling
// factor (0 or 1: as measured; above 1 cools worse). Graphs run on it compute on the
// host CPU; the governor charges the simulated device's time, power and heat.
func DeviceOpenSim(profile string, id int, inletC, cooling float64) (h int64, err error) {
	defer guard(&err)
	var p sim.Profile
	switch strings.ToLower(profile) {
	case "h100", "":
		p = sim.H100()
	case "photonic", "npu":
		p = sim.PhotonicNPU()
	default:
		return 0, kerr(KindDeviceNotFound, "no simulated profile %q (h100, photonic)", profile)
	}
	d, err := sim.New(p, sim.Options{ID: id, InletC: inletC, Cooling: cooling})
	if err != nil {
		return 0, kerr(KindArgument, "%v", err)
	}
	return put(newDeviceObj(d)), nil
}

// DeviceOpen opens device number id of a kind ("cpu", "nvidia", "amd", "intel",
// "photonic", or "auto" for the best available) and returns its handle.
func DeviceOpen(kind string, id int) (h int64, err error) {
	defer guard(&err)
	dev, err := openDevice(strings.ToLower(kind), id)
	if err != nil {
		return 0, err
	}
	return put(newDeviceObj(dev)), nil
}

func openDevice(kind string, id int) (backends.Device, error) {
	switch kind {
	case "cpu":
		if id != 0 {
			return nil, kerr(KindDeviceNotFound, "cpu device %d: this host has one CPU device (0)", id)
		}
		return cpu.New(cpu.Options{}), nil
	case "auto", "nvidia", "amd", "intel", "photonic":
	default:
		return nil, kerr(KindArgument, "unknown device kind %q (cpu, nvidia, amd, intel, photonic, auto)", kind)
	}
	reg := discovered()
	if kind == "auto" {
		// The best device that can run graphs; the CPU when no accelerator backend has kernels.
		var best backends.Device
		for _, d := range reg.Devices {
			if _, ok := d.(backends.KernelProvider); ok && !d.Info().Simulated && d.Info().Kind != backends.CPU {
				if best == nil || d.Info().PeakGFLOPS > best.Info().PeakGFLOPS {
					best = d
				}
			}
		}
		if best == nil {
			return cpu.New(cpu.Options{}), nil
		}
		return best, nil
	}
	d, err := reg.Select(backends.Kind(kind), id)
	if err != nil {
		return nil, kerr(KindDeviceNotFound, "%v", err)
	}
	return d, nil
}

// The devices found on this host: discovered once, on first use, read-only afterwards
// (NVML stays open for the life of the process).
var (
	discoverOnce sync.Once
	registry     *backends.Registry
)

func discovered() *backends.Registry {
	discoverOnce.Do(func() { registry = backends.Discover(backends.DiscoverOptions{}) })
	return registry
}

// DeviceOpenCPU opens the host CPU with a given intra-op thread count (0: every core).
func DeviceOpenCPU(threads int) (h int64, err error) {
	defer guard(&err)
	if threads < 0 {
		return 0, kerr(KindArgument, "threads must be >= 0, got %d", threads)
	}
	return put(newDeviceObj(cpu.New(cpu.Options{Threads: threads}))), nil
}

// DeviceInfo describes the device as JSON: kind, id, name, simulated, memory_bytes,
// compute_units, peak_gflops, isa, driver.
func DeviceInfo(h int64) (s string, err error) {
	defer guard(&err)
	d, err := get[*deviceObj](h, "device")
	if err != nil {
		return "", err
	}
	i := d.dev.Info()
	b, err := json.Marshal(map[string]any{
		"kind": string(i.Kind), "id": i.ID, "name": i.Name, "simulated": i.Simulated,
		"uuid": i.UUID, "memory_bytes": i.MemoryBytes, "compute_units": i.ComputeUnits,
		"peak_gflops": i.PeakGFLOPS, "isa": i.ISA, "driver": i.Driver, "runs_graphs": d.computes,
	})
	return string(b), err
}

// DeviceTelemetry reads the device's sensors as JSON; a missing sensor is null.
func DeviceTelemetry(h int64) (s string, err error) {
	defer guard(&err)
	d, err := get[*deviceObj](h, "device")
	if err != nil {
		return "", err
	}
	t, err := d.dev.Telemetry()
	if err != nil {
		return "", classify(err, KindExecution)
	}
	r := func(x backends.Reading) any {
		if !x.Valid {
			return nil
		}
		return x.Value
	}
	m := map[string]any{
		"time": float64(t.Time.UnixNano()) / 1e9, "temperature_c": r(t.TemperatureC),
		"slowdown_c": r(t.SlowdownC), "power_w": r(t.PowerW), "power_limit_w": r(t.PowerLimitW),
		"energy_j": r(t.EnergyJ), "utilization": r(t.Utilization), "clock_mhz": r(t.ClockMHz),
		"memory_used_bytes": r(t.MemoryUsedB), "throttle_reasons": nil,
	}
	if t.ThrottleValid {
		m["throttle_reasons"] = t.ThrottleReasons
	}
	b, err := json.Marshal(m)
	return string(b), err
}
