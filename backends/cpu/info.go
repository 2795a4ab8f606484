package cpu

import (
	"os"
	"runtime"
	"strings"

	"github.com/lightiam/lightos/backends"
	"golang.org/x/sys/cpu"
)

// describe reads the processor's name, cores, memory and SIMD features.
func describe() backends.Info {
	info := backends.Info{Kind: backends.CPU, Name: "CPU", ComputeUnits: runtime.NumCPU()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				info.Name = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "MemTotal:") {
				var kb int64
				for _, f := range strings.Fields(line)[1:2] {
					for _, c := range f {
						kb = kb*10 + int64(c-'0')
					}
				}
				info.MemoryBytes = kb * 1024
			}
		}
	}
	feats := []struct {
		name string
		has  bool
	}{{"sse4.2", cpu.X86.HasSSE42}, {"avx", cpu.X86.HasAVX}, {"avx2", cpu.X86.HasAVX2}, {"fma", cpu.X86.HasFMA},
		{"avx512f", cpu.X86.HasAVX512F}, {"avx512bw", cpu.X86.HasAVX512BW}, {"avx512vnni", cpu.X86.HasAVX512VNNI},
		{"neon", cpu.ARM64.HasASIMD}}
	for _, f := range feats {
		if f.has {
			info.ISA = append(info.ISA, f.name)
		}
	}
	return info
}
