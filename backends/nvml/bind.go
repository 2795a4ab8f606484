package nvml

import (
	"errors"
	"fmt"
	"strings"
)

// ErrSetNotAllowed is returned when a setting call is requested without
// Options.AllowSet.
var ErrSetNotAllowed = errors.New("nvml: setting calls need Options.AllowSet (they change the card for every user)")

// IsSetter reports whether an NVML symbol changes device state: anything that is
// not an init/shutdown, error string or Get call.
func IsSetter(name string) bool {
	for _, p := range []string{"nvmlInit", "nvmlShutdown", "nvmlErrorString", "nvmlSystemGet", "nvmlDeviceGet"} {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	return true
}

// symbolLookup finds a symbol's address in the loaded library.
type symbolLookup func(name string) (uintptr, error)

// binder looks symbols up, refusing setters without the opt-in, and remembers
// what it looked up (for tests).
type binder struct {
	lookup   symbolLookup
	allowSet bool
	looked   []string
}

func (b *binder) bind(name string) (uintptr, error) {
	if IsSetter(name) && !b.allowSet {
		return 0, fmt.Errorf("%w: %s", ErrSetNotAllowed, name)
	}
	b.looked = append(b.looked, name)
	return b.lookup(name)
}

// getters are the symbols bound by default; optional ones may be missing in older
// drivers.
var getters = []struct {
	name     string
	optional bool
}{
	{"nvmlInit_v2", false}, {"nvmlShutdown", false}, {"nvmlErrorString", false},
	{"nvmlSystemGetDriverVersion", true},
	{"nvmlDeviceGetCount_v2", false}, {"nvmlDeviceGetHandleByIndex_v2", false},
	{"nvmlDeviceGetName", false}, {"nvmlDeviceGetUUID", true}, {"nvmlDeviceGetMemoryInfo", true},
	{"nvmlDeviceGetCudaComputeCapability", true}, {"nvmlDeviceGetAttributes_v2", true},
	{"nvmlDeviceGetTemperature", true}, {"nvmlDeviceGetTemperatureThreshold", true},
	{"nvmlDeviceGetPowerUsage", true}, {"nvmlDeviceGetEnforcedPowerLimit", true},
	{"nvmlDeviceGetTotalEnergyConsumption", true}, {"nvmlDeviceGetClockInfo", true},
	{"nvmlDeviceGetMaxClockInfo", true}, {"nvmlDeviceGetUtilizationRates", true},
	{"nvmlDeviceGetCurrentClocksEventReasons", true}, {"nvmlDeviceGetCurrentClocksThrottleReasons", true},
	{"nvmlDeviceGetViolationStatus", true},
}

// setters are bound only with Options.AllowSet.
var setters = []string{"nvmlDeviceSetPowerManagementLimit"}

// bindAll looks up every getter (and the setters when allowed); it returns the
// addresses by name, and an error only for a missing required symbol.
func (b *binder) bindAll() (map[string]uintptr, error) {
	out := map[string]uintptr{}
	for _, g := range getters {
		p, err := b.bind(g.name)
		if err != nil || p == 0 {
			if g.optional {
				continue
			}
			return nil, fmt.Errorf("nvml: symbol %s: %w", g.name, err)
		}
		out[g.name] = p
	}
	if b.allowSet {
		for _, name := range setters {
			if p, err := b.bind(name); err == nil && p != 0 {
				out[name] = p
			}
		}
	}
	return out, nil
}
