package pyext

import (
	"encoding/json"
	"strings"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/cpu"
)

type deviceObj struct {
	dev backends.KernelProvider
}

// DeviceOpen opens device number id of a kind ("cpu", "nvidia", "amd", "intel",
// "photonic", or "auto" for the best available) and returns its handle.
func DeviceOpen(kind string, id int) (h int64, err error) {
	defer guard(&err)
	dev, err := openDevice(strings.ToLower(kind), id)
	if err != nil {
		return 0, err
	}
	return put(&deviceObj{dev: dev}), nil
}

func openDevice(kind string, id int) (backends.KernelProvider, error) {
	switch kind {
	case "cpu", "auto":
		if id != 0 {
			return nil, kerr(KindDeviceNotFound, "cpu device %d: this host has one CPU device (0)", id)
		}
		return cpu.New(cpu.Options{}), nil
	case "nvidia", "amd", "intel", "photonic":
		return nil, kerr(KindDeviceNotFound, "no %s device %d on this host (the device registry finds none)", kind, id)
	}
	return nil, kerr(KindArgument, "unknown device kind %q (cpu, nvidia, amd, intel, photonic, auto)", kind)
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
		"peak_gflops": i.PeakGFLOPS, "isa": i.ISA, "driver": i.Driver,
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
