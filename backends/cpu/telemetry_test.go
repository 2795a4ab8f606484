package cpu

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeFS writes files (path relative to root -> content) under a temporary root.
func fakeFS(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestSensorsHwmonAndRAPL(t *testing.T) {
	root := fakeFS(t, map[string]string{
		"sys/class/hwmon/hwmon0/name":                          "nvme",
		"sys/class/hwmon/hwmon0/temp1_input":                   "99000",
		"sys/class/hwmon/hwmon1/name":                          "coretemp",
		"sys/class/hwmon/hwmon1/temp1_input":                   "47000",
		"sys/class/hwmon/hwmon1/temp1_label":                   "Package id 0",
		"sys/class/hwmon/hwmon1/temp1_max":                     "84000",
		"sys/class/hwmon/hwmon1/temp1_crit":                    "100000",
		"sys/class/hwmon/hwmon1/temp2_input":                   "52000",
		"sys/class/hwmon/hwmon1/temp2_label":                   "Core 0",
		"sys/class/hwmon/hwmon1/temp3_input":                   "51000",
		"sys/class/hwmon/hwmon1/temp3_label":                   "Package id 1",
		"sys/class/powercap/intel-rapl:0/name":                 "package-0",
		"sys/class/powercap/intel-rapl:0/energy_uj":            "262143000000",
		"sys/class/powercap/intel-rapl:0/max_energy_range_uj":  "262143328850",
		"sys/class/powercap/intel-rapl:0:0/name":               "core",
		"sys/class/powercap/intel-rapl:0:0/energy_uj":          "5",
		"sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq": "2000000",
		"sys/devices/system/cpu/cpu1/cpufreq/scaling_cur_freq": "3000000",
		"proc/stat":    "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 1 2 3 4",
		"proc/meminfo": "MemTotal:       1000 kB\nMemFree:         100 kB\nMemAvailable:    400 kB",
	})
	s := newSensors(filepath.Join(root, "sys"), filepath.Join(root, "proc"))
	tel, err := s.read()
	if err != nil {
		t.Fatal(err)
	}
	// Package temperatures only (max of the two packages), not the NVMe drive or a core.
	if !tel.TemperatureC.Valid || tel.TemperatureC.Value != 51 {
		t.Errorf("temperature %v, want 51", tel.TemperatureC)
	}
	if tel.SlowdownC.Value != 84 || tel.ShutdownC.Value != 100 {
		t.Errorf("thresholds %v %v", tel.SlowdownC, tel.ShutdownC)
	}
	if tel.ClockMHz.Value != 2500 || tel.MemoryUsedB.Value != 600*1024 {
		t.Errorf("clock %v, memory %v", tel.ClockMHz, tel.MemoryUsedB)
	}
	if !tel.EnergyJ.Valid || tel.EnergyJ.Value != 0 || !tel.PowerW.Valid || tel.PowerW.Value != 0 {
		t.Errorf("first read: energy %v power %v", tel.EnergyJ, tel.PowerW)
	}
	// The counter wraps: 262143000000 -> 1000000 µJ is 328850+1000000 µJ ≈ 1.33 J.
	os.WriteFile(filepath.Join(root, "sys/class/powercap/intel-rapl:0/energy_uj"), []byte("1000000\n"), 0o644)
	os.WriteFile(filepath.Join(root, "proc/stat"), []byte("cpu  200 0 200 1400 200 0 0 0 0 0\n"), 0o644)
	time.Sleep(20 * time.Millisecond) // power needs at least 10 ms between samples
	tel, _ = s.read()
	if want := 1.32885; tel.EnergyJ.Value < want-1e-9 || tel.EnergyJ.Value > want+1e-9 {
		t.Errorf("energy after wrap %v, want %v J", tel.EnergyJ, want)
	}
	if !tel.PowerW.Valid || tel.PowerW.Value <= 0 {
		t.Errorf("power %v", tel.PowerW)
	}
	// busy went 200 -> 400 (+200) of 1000 -> 2000 (+1000) jiffies.
	if !tel.Utilization.Valid || tel.Utilization.Value != 0.2 {
		t.Errorf("utilization %v, want 0.2", tel.Utilization)
	}
}

func TestSensorsThermalZoneFallback(t *testing.T) {
	root := fakeFS(t, map[string]string{
		"sys/class/thermal/thermal_zone0/type":              "acpitz",
		"sys/class/thermal/thermal_zone0/temp":              "27800",
		"sys/class/thermal/thermal_zone1/type":              "x86_pkg_temp",
		"sys/class/thermal/thermal_zone1/temp":              "61500",
		"sys/class/thermal/thermal_zone1/trip_point_0_type": "passive",
		"sys/class/thermal/thermal_zone1/trip_point_0_temp": "95000",
		"sys/class/thermal/thermal_zone1/trip_point_1_type": "critical",
		"sys/class/thermal/thermal_zone1/trip_point_1_temp": "105000",
		"sys/class/powercap/intel-rapl:0/name":              "package-0",
		"proc/cpuinfo":                                      "processor : 0\ncpu MHz : 1000.5\nprocessor : 1\ncpu MHz : 3000.5",
	})
	tel, _ := newSensors(filepath.Join(root, "sys"), filepath.Join(root, "proc")).read()
	if tel.TemperatureC.Value != 61.5 || tel.SlowdownC.Value != 95 || tel.ShutdownC.Value != 105 {
		t.Errorf("temperature %v slowdown %v shutdown %v", tel.TemperatureC, tel.SlowdownC, tel.ShutdownC)
	}
	// RAPL zone without a readable counter (root-only): energy and power unavailable.
	if tel.EnergyJ.Valid || tel.PowerW.Valid {
		t.Errorf("energy %v power %v should be unavailable", tel.EnergyJ, tel.PowerW)
	}
	if tel.ClockMHz.Value != 2000.5 {
		t.Errorf("clock %v", tel.ClockMHz)
	}
}

// TestSensorsNothing: without sensors every reading is unavailable, not zero.
func TestSensorsNothing(t *testing.T) {
	root := t.TempDir()
	tel, err := newSensors(filepath.Join(root, "sys"), filepath.Join(root, "proc")).read()
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]bool{"temperature": tel.TemperatureC.Valid, "power": tel.PowerW.Valid,
		"energy": tel.EnergyJ.Valid, "utilization": tel.Utilization.Valid, "clock": tel.ClockMHz.Valid, "slowdown": tel.SlowdownC.Valid} {
		if r {
			t.Errorf("%s is valid without a sensor", name)
		}
	}
	if got := tel.TemperatureC.String(); got != "unavailable" {
		t.Errorf("missing temperature prints %q", got)
	}
}

func TestDescribe(t *testing.T) {
	info := New(Options{Threads: 1}).Info()
	if info.Kind != "cpu" || info.ComputeUnits < 1 || info.Name == "" {
		t.Errorf("info %+v", info)
	}
	if info.PhysicalCores < 0 || info.CacheL1DBytes < 0 {
		t.Errorf("negative sizes in %+v", info)
	}
	if kb, ok := meminfoKB("MemTotal:  16384 kB\n", "MemTotal"); !ok || kb != 16384 {
		t.Errorf("meminfo parse %d %v", kb, ok)
	}
	if _, ok := meminfoKB("MemTotal: x kB\n", "MemTotal"); ok {
		t.Error("bad meminfo accepted")
	}
	if v, ok := cpuinfoField("model name\t: Some CPU @ 2GHz\n", "model name"); !ok || !strings.HasPrefix(v, "Some CPU") {
		t.Errorf("cpuinfo parse %q", v)
	}
}
