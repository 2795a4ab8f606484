package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/lightiam/lightos/backends"
	_ "github.com/lightiam/lightos/backends/cpu"  // registers the CPU
	_ "github.com/lightiam/lightos/backends/cuda" // registers NVIDIA GPUs for compute (when libcuda loads)
	_ "github.com/lightiam/lightos/backends/nvml" // registers NVIDIA GPUs (when libnvidia-ml loads)
	_ "github.com/lightiam/lightos/backends/sim"  // registers simulated devices (on request)
)

// devicesCommand lists the devices with live telemetry: `lightos devices [-sim N]
// [-photonic N] [-json] [-watch 1s -count N]`. A sensor a device lacks prints as
// "unavailable"; simulated devices say so.
func devicesCommand(args []string) error {
	return devices(args, os.Stdout)
}

func devices(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("devices", flag.ContinueOnError)
	fs.SetOutput(w)
	simN := fs.Int("sim", 0, "add this many simulated H100s")
	photonic := fs.Int("photonic", 0, "add this many simulated photonic NPUs")
	asJSON := fs.Bool("json", false, "print JSON")
	watch := fs.Duration("watch", 0, "repeat the telemetry at this interval")
	count := fs.Int("count", 0, "with -watch: stop after this many rounds (0: forever)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *simN < 0 || *photonic < 0 || *simN > 64 || *photonic > 64 {
		return fmt.Errorf("-sim and -photonic take 0..64, have %d and %d", *simN, *photonic)
	}
	if *watch < 0 {
		return fmt.Errorf("-watch %v is negative", *watch)
	}
	r := backends.Discover(backends.DiscoverOptions{SimulatedH100: *simN, SimulatedPhotonic: *photonic})
	defer r.Close()
	if *asJSON {
		return printJSON(w, r)
	}
	printDevices(w, r)
	for round := 1; *watch > 0 && (*count == 0 || round < *count); round++ {
		time.Sleep(*watch)
		fmt.Fprintf(w, "\n%s\n", time.Now().Format(time.TimeOnly))
		for i, d := range r.Devices {
			fmt.Fprintf(w, "  [%d] %s\n", i, telemetryLine(d))
		}
	}
	return nil
}

func printDevices(w io.Writer, r *backends.Registry) {
	for i, d := range r.Devices {
		in := d.Info()
		fmt.Fprintf(w, "[%d] %s\n", i, in)
		var desc []string
		if in.UUID != "" {
			desc = append(desc, "uuid "+in.UUID)
		}
		if in.PhysicalCores > 0 {
			desc = append(desc, fmt.Sprintf("%d cores / %d threads", in.PhysicalCores, in.ComputeUnits))
		} else if in.ComputeUnits > 0 {
			unit := "compute units"
			switch in.Kind {
			case backends.CPU:
				unit = "threads"
			case backends.NVIDIA:
				unit = "SMs"
			}
			desc = append(desc, fmt.Sprintf("%d %s", in.ComputeUnits, unit))
		}
		if in.MemoryBytes > 0 {
			desc = append(desc, fmt.Sprintf("memory %.1f GiB", float64(in.MemoryBytes)/(1<<30)))
		}
		if in.CacheL1DBytes > 0 || in.CacheL2Bytes > 0 || in.CacheL3Bytes > 0 {
			desc = append(desc, fmt.Sprintf("caches L1d %s L2 %s L3 %s", kib(in.CacheL1DBytes), kib(in.CacheL2Bytes), kib(in.CacheL3Bytes)))
		}
		if len(in.ISA) > 0 {
			desc = append(desc, strings.Join(in.ISA, " "))
		}
		if in.Driver != "" {
			desc = append(desc, "driver "+in.Driver)
		}
		if len(desc) > 0 {
			fmt.Fprintf(w, "    %s\n", strings.Join(desc, ", "))
		}
		fmt.Fprintf(w, "    %s\n", telemetryLine(d))
	}
	names := make([]string, 0, len(r.Unavailable))
	for n := range r.Unavailable {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "%s: unavailable (%v)\n", n, r.Unavailable[n])
	}
	if best, err := r.Best(); err == nil {
		fmt.Fprintf(w, "auto: %s\n", best.Info())
	}
}

func kib(b int64) string {
	switch {
	case b <= 0:
		return "?"
	case b >= 1<<20:
		return fmt.Sprintf("%dMiB", b>>20)
	}
	return fmt.Sprintf("%dKiB", b>>10)
}

// throttleNames decodes NVML clock event reasons (simulated devices use the same bits).
var throttleNames = []struct {
	bit  uint64
	name string
}{{0x1, "gpu-idle"}, {0x2, "app-clocks"}, {0x4, "sw-power-cap"}, {0x8, "hw-slowdown"}, {0x10, "sync-boost"},
	{0x20, "sw-thermal"}, {0x40, "hw-thermal"}, {0x80, "power-brake"}, {0x100, "display-clocks"}}

func throttleString(t backends.Telemetry) string {
	if !t.ThrottleValid {
		return "unavailable"
	}
	if t.ThrottleReasons == 0 {
		return "none"
	}
	var out []string
	for _, n := range throttleNames {
		if t.ThrottleReasons&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	if len(out) == 0 {
		return fmt.Sprintf("%#x", t.ThrottleReasons)
	}
	return strings.Join(out, "+")
}

func unit(r backends.Reading, format string, scale float64) string {
	if !r.Valid {
		return "unavailable"
	}
	return fmt.Sprintf(format, r.Value*scale)
}

func telemetryLine(d backends.Device) string {
	t, err := d.Telemetry()
	if err != nil {
		return "telemetry error: " + err.Error()
	}
	parts := []string{
		"temp " + unit(t.TemperatureC, "%.0f C", 1),
		"slowdown " + unit(t.SlowdownC, "%.0f C", 1),
		"power " + unit(t.PowerW, "%.1f W", 1),
		"limit " + unit(t.PowerLimitW, "%.0f W", 1),
		"energy " + unit(t.EnergyJ, "%.1f J", 1),
		"util " + unit(t.Utilization, "%.0f%%", 100),
		"clock " + unit(t.ClockMHz, "%.0f MHz", 1),
		"mem used " + unit(t.MemoryUsedB, "%.2f GiB", 1.0/(1<<30)),
		"throttle " + throttleString(t),
	}
	return strings.Join(parts, ", ")
}

func jr(r backends.Reading) *float64 {
	if !r.Valid {
		return nil
	}
	v := r.Value
	return &v
}

func printJSON(w io.Writer, r *backends.Registry) error {
	type dev struct {
		Info      backends.Info       `json:"info"`
		Telemetry map[string]*float64 `json:"telemetry"`
		Throttle  string              `json:"throttle"`
	}
	out := struct {
		Devices     []dev             `json:"devices"`
		Unavailable map[string]string `json:"unavailable"`
		Auto        string            `json:"auto"`
	}{Unavailable: map[string]string{}}
	for _, d := range r.Devices {
		t, err := d.Telemetry()
		if err != nil {
			return fmt.Errorf("telemetry of %v: %w", d.Info(), err)
		}
		out.Devices = append(out.Devices, dev{Info: d.Info(), Throttle: throttleString(t), Telemetry: map[string]*float64{
			"temperature_c": jr(t.TemperatureC), "slowdown_c": jr(t.SlowdownC), "shutdown_c": jr(t.ShutdownC),
			"power_w": jr(t.PowerW), "power_limit_w": jr(t.PowerLimitW), "energy_j": jr(t.EnergyJ),
			"utilization": jr(t.Utilization), "clock_mhz": jr(t.ClockMHz), "memory_used_bytes": jr(t.MemoryUsedB),
			"thermal_violation_s": jr(t.ThermalViolationS), "power_violation_s": jr(t.PowerViolationS),
		}})
	}
	for n, err := range r.Unavailable {
		out.Unavailable[n] = err.Error()
	}
	if best, err := r.Best(); err == nil {
		out.Auto = best.Info().String()
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
