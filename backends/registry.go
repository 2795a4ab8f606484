package backends

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Auto is the device kind that asks the registry to choose (LightDevice(DeviceType.AUTO)).
const Auto Kind = "auto"

// DiscoverOptions says which devices to look for. The zero value finds the real
// devices only, with read-only access.
type DiscoverOptions struct {
	// SimulatedH100 and SimulatedPhotonic add that many simulated devices
	// (package sim; labeled simulated).
	SimulatedH100, SimulatedPhotonic int
	// SimInletC and SimCooling configure the simulated devices (0: the fitted machine).
	SimInletC, SimCooling float64
	// AllowSet lets backends bind calls that change device settings (NVML power
	// limits). Off by default: on a shared machine it changes the card for everyone.
	AllowSet bool
}

// Provider finds the devices of one backend. Find returns the devices, a closer for
// whatever it opened (nil if nothing), or an error saying why the backend is not
// available here (no driver, no permission).
type Provider struct {
	Name  string
	Order int // smaller first
	Find  func(DiscoverOptions) ([]Device, io.Closer, error)
}

// providers is filled by init functions of the backend packages (cpu, nvml, sim)
// and read-only afterwards.
var providers []Provider

// RegisterProvider adds a backend to discovery. Call it only from init functions;
// a duplicate name panics.
func RegisterProvider(p Provider) {
	for _, q := range providers {
		if q.Name == p.Name {
			panic("backends: duplicate provider " + p.Name)
		}
	}
	providers = append(providers, p)
	sort.SliceStable(providers, func(a, b int) bool { return providers[a].Order < providers[b].Order })
}

// Providers lists the registered backends' names in discovery order.
func Providers() []string {
	out := make([]string, len(providers))
	for i, p := range providers {
		out[i] = p.Name
	}
	return out
}

// Registry is the result of a discovery: the devices found, and why the other
// backends found nothing.
type Registry struct {
	Devices []Device
	// Unavailable maps a backend to the reason it offered no device.
	Unavailable map[string]error
	closers     []io.Closer
}

// Discover asks every registered backend for its devices. A backend that fails is
// recorded in Unavailable; Discover itself does not fail.
func Discover(o DiscoverOptions) *Registry {
	r := &Registry{Unavailable: map[string]error{}}
	for _, p := range providers {
		devs, c, err := safeFind(p, o)
		if c != nil {
			r.closers = append(r.closers, c)
		}
		if err != nil {
			r.Unavailable[p.Name] = err
			continue
		}
		for _, d := range devs {
			if !r.duplicate(d.Info()) {
				r.Devices = append(r.Devices, d)
			}
		}
	}
	return r
}

// duplicate reports whether a real device of the same kind and ID was already found:
// a GPU seen by both the compute backend (cuda) and the telemetry one (nvml) is listed
// once, by the provider registered with the lower Order.
func (r *Registry) duplicate(in Info) bool {
	if in.Simulated {
		return false
	}
	for _, d := range r.Devices {
		o := d.Info()
		if !o.Simulated && o.Kind == in.Kind && o.ID == in.ID {
			return true
		}
	}
	return false
}

func safeFind(p Provider, o DiscoverOptions) (devs []Device, c io.Closer, err error) {
	defer func() {
		if x := recover(); x != nil {
			devs, c, err = nil, nil, fmt.Errorf("backends: provider %s panicked: %v", p.Name, x)
		}
	}()
	return p.Find(o)
}

// Close releases what the backends opened (NVML).
func (r *Registry) Close() error {
	var errs []error
	for i := len(r.closers) - 1; i >= 0; i-- {
		if err := r.closers[i].Close(); err != nil {
			errs = append(errs, err)
		}
	}
	r.closers = nil
	return errors.Join(errs...)
}

// kindRank orders device families for Auto: accelerators before the CPU.
var kindRank = map[Kind]int{NVIDIA: 5, AMD: 4, Intel: 3, Photonic: 2, CPU: 1}

// better reports whether a should be chosen over b for Auto: real before simulated,
// then by family, peak rate, memory, and the lower ID.
func better(a, b Info) bool {
	if a.Simulated != b.Simulated {
		return !a.Simulated
	}
	if kindRank[a.Kind] != kindRank[b.Kind] {
		return kindRank[a.Kind] > kindRank[b.Kind]
	}
	if a.PeakGFLOPS != b.PeakGFLOPS {
		return a.PeakGFLOPS > b.PeakGFLOPS
	}
	if a.MemoryBytes != b.MemoryBytes {
		return a.MemoryBytes > b.MemoryBytes
	}
	return a.ID < b.ID
}

// Best is the device Auto picks: the best real device (an NVIDIA GPU before the
// CPU); a simulated device only when no real one was found.
func (r *Registry) Best() (Device, error) {
	if len(r.Devices) == 0 {
		return nil, fmt.Errorf("backends: no device found (%s)", r.reasons())
	}
	best := r.Devices[0]
	for _, d := range r.Devices[1:] {
		if better(d.Info(), best.Info()) {
			best = d
		}
	}
	return best, nil
}

// Select returns the device of kind with the given ID (Auto: Best). Where a real
// and a simulated device share kind and ID, the real one is returned.
func (r *Registry) Select(kind Kind, id int) (Device, error) {
	if kind == Auto {
		return r.Best()
	}
	var found Device
	for _, d := range r.Devices {
		in := d.Info()
		if in.Kind == kind && in.ID == id && (found == nil || (found.Info().Simulated && !in.Simulated)) {
			found = d
		}
	}
	if found == nil {
		var have []string
		for _, d := range r.Devices {
			have = append(have, d.Info().String())
		}
		why := ""
		if len(r.Unavailable) > 0 {
			why = "; " + r.reasons()
		}
		return nil, fmt.Errorf("backends: no %s device %d (have %s%s)", kind, id, strings.Join(have, ", "), why)
	}
	return found, nil
}

func (r *Registry) reasons() string {
	names := make([]string, 0, len(r.Unavailable))
	for n := range r.Unavailable {
		names = append(names, n)
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s unavailable: %v", n, r.Unavailable[n]))
	}
	if len(parts) == 0 {
		return "no backend registered; import backends/cpu, backends/nvml or backends/sim"
	}
	return strings.Join(parts, "; ")
}
