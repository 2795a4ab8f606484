package cpu

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lightiam/lightos/backends"
)

// sensors reads CPU telemetry from Linux: temperature from hwmon (coretemp,
// k10temp, zenpower, cpu_thermal) or thermal zones (x86_pkg_temp, cpu-thermal),
// package energy from RAPL (powercap intel-rapl, also used by AMD), power from
// energy deltas or hwmon power sensors, utilization from /proc/stat, clocks from
// cpufreq, memory from /proc/meminfo. Whatever is missing or unreadable (RAPL is
// root-only on many kernels) is reported unavailable, never guessed.
type sensors struct {
	sys, proc string

	// discovered once: file paths (immutable afterwards)
	tempPaths    []string // millidegrees C; the maximum is reported
	slowdownPath string   // millidegrees C
	shutdownPath string
	raplZones    []raplZone
	hwmonPower   string // microwatts
	freqPaths    []string

	mu       sync.Mutex
	lastRaw  []uint64
	energyJ  float64
	lastE    time.Time
	haveE    bool
	powerW   backends.Reading
	lastBusy uint64
	lastAll  uint64
	haveStat bool
	util     backends.Reading
}

type raplZone struct {
	energy string  // energy_uj
	wrap   float64 // max_energy_range_uj
}

func newSensors(sys, proc string) *sensors {
	s := &sensors{sys: sys, proc: proc}
	s.discoverTemp()
	s.discoverRAPL()
	s.freqPaths, _ = filepath.Glob(filepath.Join(sys, "devices/system/cpu/cpu[0-9]*/cpufreq/scaling_cur_freq"))
	return s
}

func readFloat(path string) (float64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
	return v, err == nil
}

func readString(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// hwmon sensor chips that measure the CPU, best first.
var cpuHwmon = []string{"coretemp", "k10temp", "zenpower", "cpu_thermal", "cpu-thermal", "soc_thermal"}

// labels that name the package temperature on those chips.
var packageLabels = []string{"Package id", "Tctl", "Tdie", "Physical id"}

func (s *sensors) discoverTemp() {
	chips, _ := filepath.Glob(filepath.Join(s.sys, "class/hwmon/hwmon*"))
	sort.Strings(chips)
	for _, want := range cpuHwmon {
		for _, chip := range chips {
			if readString(filepath.Join(chip, "name")) != want {
				continue
			}
			inputs, _ := filepath.Glob(filepath.Join(chip, "temp*_input"))
			sort.Strings(inputs)
			var pkg []string
			for _, in := range inputs {
				label := readString(strings.TrimSuffix(in, "_input") + "_label")
				for _, l := range packageLabels {
					if strings.HasPrefix(label, l) {
						pkg = append(pkg, in)
					}
				}
			}
			if len(pkg) == 0 {
				pkg = inputs
			}
			if len(pkg) == 0 {
				continue
			}
			s.tempPaths = pkg
			base := strings.TrimSuffix(pkg[0], "_input")
			for _, suf := range []string{"_max", "_crit"} {
				if _, ok := readFloat(base + suf); ok && s.slowdownPath == "" {
					s.slowdownPath = base + suf
				}
			}
			if _, ok := readFloat(base + "_crit"); ok {
				s.shutdownPath = base + "_crit"
			}
			if ps, _ := filepath.Glob(filepath.Join(chip, "power*_average")); len(ps) > 0 {
				s.hwmonPower = ps[0]
			} else if ps, _ := filepath.Glob(filepath.Join(chip, "power*_input")); len(ps) > 0 {
				s.hwmonPower = ps[0]
			}
			return
		}
	}
	zones, _ := filepath.Glob(filepath.Join(s.sys, "class/thermal/thermal_zone*"))
	sort.Strings(zones)
	for _, want := range []string{"x86_pkg_temp", "cpu-thermal", "cpu_thermal", "soc-thermal", "cpu"} {
		for _, z := range zones {
			typ := readString(filepath.Join(z, "type"))
			if typ != want && !(want == "cpu" && strings.HasPrefix(typ, "cpu")) {
				continue
			}
			if _, ok := readFloat(filepath.Join(z, "temp")); !ok {
				continue
			}
			s.tempPaths = []string{filepath.Join(z, "temp")}
			trips, _ := filepath.Glob(filepath.Join(z, "trip_point_*_type"))
			sort.Strings(trips)
			for _, tp := range trips {
				temp := strings.TrimSuffix(tp, "_type") + "_temp"
				switch readString(tp) {
				case "passive", "hot":
					if s.slowdownPath == "" {
						s.slowdownPath = temp
					}
				case "critical":
					s.shutdownPath = temp
				}
			}
			return
		}
	}
}

func (s *sensors) discoverRAPL() {
	zones, _ := filepath.Glob(filepath.Join(s.sys, "class/powercap/intel-rapl:*"))
	sort.Strings(zones)
	for _, z := range zones {
		if strings.Count(filepath.Base(z), ":") != 1 || !strings.HasPrefix(readString(filepath.Join(z, "name")), "package") {
			continue // subzones (core, uncore, dram) are inside the package
		}
		e := filepath.Join(z, "energy_uj")
		if _, ok := readFloat(e); !ok {
			continue // missing or not readable without root
		}
		w, _ := readFloat(filepath.Join(z, "max_energy_range_uj"))
		s.raplZones = append(s.raplZones, raplZone{energy: e, wrap: w})
	}
}

// read takes a snapshot. Power and utilization are averages since the previous
// call; on the first call they are measured over 50 ms.
func (s *sensors) read() (backends.Telemetry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if (!s.haveE && len(s.raplZones) > 0) || !s.haveStat {
		s.sampleEnergy()
		s.sampleStat()
		time.Sleep(50 * time.Millisecond)
	}
	s.sampleEnergy()
	s.sampleStat()
	t := backends.Telemetry{Time: time.Now()}
	var maxT float64
	nT := 0
	for _, p := range s.tempPaths {
		if v, ok := readFloat(p); ok {
			if nT == 0 || v/1000 > maxT {
				maxT = v / 1000
			}
			nT++
		}
	}
	if nT > 0 {
		t.TemperatureC = backends.Read(maxT)
	}
	if v, ok := readFloat(s.slowdownPath); ok && s.slowdownPath != "" {
		t.SlowdownC = backends.Read(v / 1000)
	}
	if v, ok := readFloat(s.shutdownPath); ok && s.shutdownPath != "" {
		t.ShutdownC = backends.Read(v / 1000)
	}
	if s.haveE {
		t.EnergyJ = backends.Read(s.energyJ)
		t.PowerW = s.powerW
	} else if s.hwmonPower != "" {
		if v, ok := readFloat(s.hwmonPower); ok {
			t.PowerW = backends.Read(v / 1e6)
		}
	}
	t.Utilization = s.util
	var sum float64
	n := 0
	for _, p := range s.freqPaths {
		if v, ok := readFloat(p); ok {
			sum += v / 1000
			n++
		}
	}
	if n > 0 {
		t.ClockMHz = backends.Read(sum / float64(n))
	} else if b, err := os.ReadFile(filepath.Join(s.proc, "cpuinfo")); err == nil {
		var mhz float64
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "cpu MHz" {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					mhz += f
					n++
				}
			}
		}
		if n > 0 {
			t.ClockMHz = backends.Read(mhz / float64(n))
		}
	}
	if b, err := os.ReadFile(filepath.Join(s.proc, "meminfo")); err == nil {
		total, ok1 := meminfoKB(string(b), "MemTotal")
		avail, ok2 := meminfoKB(string(b), "MemAvailable")
		if ok1 && ok2 {
			t.MemoryUsedB = backends.Read(float64(total-avail) * 1024)
		}
	}
	return t, nil
}

// sampleEnergy accumulates RAPL package energy, handling counter wrap-around.
func (s *sensors) sampleEnergy() {
	if len(s.raplZones) == 0 {
		return
	}
	now := time.Now()
	raw := make([]uint64, len(s.raplZones))
	for i, z := range s.raplZones {
		v, ok := readFloat(z.energy)
		if !ok {
			s.haveE = false
			return
		}
		raw[i] = uint64(v)
	}
	if s.lastRaw != nil && len(s.lastRaw) == len(raw) {
		var dJ float64
		for i, z := range s.raplZones {
			d := float64(raw[i]) - float64(s.lastRaw[i])
			if d < 0 && z.wrap > 0 {
				d += z.wrap
			}
			if d < 0 {
				d = 0
			}
			dJ += d / 1e6
		}
		s.energyJ += dJ
		if dt := now.Sub(s.lastE).Seconds(); dt >= 0.01 {
			s.powerW = backends.Read(dJ / dt)
		}
		s.haveE = true
	}
	s.lastRaw, s.lastE = raw, now
}

// sampleStat updates utilization from the aggregate cpu line of /proc/stat.
func (s *sensors) sampleStat() {
	b, err := os.ReadFile(filepath.Join(s.proc, "stat"))
	if err != nil {
		return
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return
	}
	var all, idle uint64
	for i, x := range f[1:] {
		v, err := strconv.ParseUint(x, 10, 64)
		if err != nil {
			return
		}
		if i < 8 { // user nice system idle iowait irq softirq steal (guest is inside user)
			all += v
		}
		if i == 3 || i == 4 {
			idle += v
		}
	}
	busy := all - idle
	if s.haveStat && all > s.lastAll {
		s.util = backends.Read(float64(busy-s.lastBusy) / float64(all-s.lastAll))
	}
	s.lastBusy, s.lastAll, s.haveStat = busy, all, true
}
