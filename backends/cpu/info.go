package cpu

import (
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/klauspost/cpuid/v2"
	"github.com/lightiam/lightos/backends"
)

// describe reads the processor's name, cores, caches and SIMD features (cpuid, via
// github.com/klauspost/cpuid/v2, falling back to /proc/cpuinfo for the name) and
// the memory size (/proc/meminfo).
func describe() backends.Info {
	info := backends.Info{Kind: backends.CPU, Name: "CPU", ComputeUnits: runtime.NumCPU()}
	c := cpuid.CPU
	if name := strings.TrimSpace(c.BrandName); name != "" {
		info.Name = name
	} else if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if v, ok := cpuinfoField(string(b), "model name"); ok {
			info.Name = v
		}
	}
	if c.PhysicalCores > 0 {
		info.PhysicalCores = c.PhysicalCores
	}
	pos := func(n int) int64 {
		if n > 0 {
			return int64(n)
		}
		return 0
	}
	info.CacheL1DBytes, info.CacheL1IBytes = pos(c.Cache.L1D), pos(c.Cache.L1I)
	info.CacheL2Bytes, info.CacheL3Bytes = pos(c.Cache.L2), pos(c.Cache.L3)
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if kb, ok := meminfoKB(string(b), "MemTotal"); ok {
			info.MemoryBytes = kb * 1024
		}
	}
	info.ISA = isa(c)
	return info
}

// isa lists the SIMD features the kernels care about, in a fixed order.
func isa(c cpuid.CPUInfo) []string {
	feats := []struct {
		name string
		id   cpuid.FeatureID
	}{
		{"sse4.2", cpuid.SSE42}, {"avx", cpuid.AVX}, {"avx2", cpuid.AVX2}, {"fma", cpuid.FMA3},
		{"f16c", cpuid.F16C}, {"avx512f", cpuid.AVX512F}, {"avx512bw", cpuid.AVX512BW},
		{"avx512vl", cpuid.AVX512VL}, {"avx512vnni", cpuid.AVX512VNNI}, {"avx512bf16", cpuid.AVX512BF16},
		{"avx512fp16", cpuid.AVX512FP16}, {"amx-tile", cpuid.AMXTILE}, {"amx-bf16", cpuid.AMXBF16},
		{"neon", cpuid.ASIMD}, {"sve", cpuid.SVE},
	}
	var out []string
	for _, f := range feats {
		if c.Supports(f.id) {
			out = append(out, f.name)
		}
	}
	return out
}

// cpuinfoField returns the first value of key in /proc/cpuinfo text.
func cpuinfoField(text, key string) (string, bool) {
	for _, line := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// meminfoKB returns a /proc/meminfo value in kB.
func meminfoKB(text, key string) (int64, bool) {
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k != key {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			return 0, false
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		return n, err == nil
	}
	return 0, false
}

func init() {
	backends.RegisterProvider(backends.Provider{Name: "cpu", Order: 0,
		Find: func(backends.DiscoverOptions) ([]backends.Device, io.Closer, error) {
			return []backends.Device{New(Options{})}, nil, nil
		}})
}
