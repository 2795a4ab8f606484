package cpu

import (
	"fmt"
	"runtime"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/graph"
)

// Device is the host CPU. Its telemetry comes from Linux sensors where present
// (see telemetry.go); Info describes the processor.
type Device struct {
	env  Env
	info backends.Info
	sens *sensors
}

var _ backends.KernelProvider = (*Device)(nil)

// Options configures a CPU device; the zero value uses every core.
type Options struct {
	// Threads is the intra-op parallelism (0: runtime.GOMAXPROCS).
	Threads int
	// NoWinograd runs 3x3 stride-1 convolutions as implicit GEMMs instead of
	// through Winograd (for comparisons and tests).
	NoWinograd bool
	// NoWinograd4 leaves out Winograd F(4x4, 3x3) and keeps F(2x2, 3x3) (for
	// comparisons).
	NoWinograd4 bool
}

// New returns the CPU device.
func New(opts Options) *Device {
	threads := opts.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	return &Device{env: Env{Threads: threads, NoWinograd: opts.NoWinograd, NoWinograd4: opts.NoWinograd4}, info: describe(), sens: newSensors("/sys", "/proc")}
}

// Info describes the processor.
func (d *Device) Info() backends.Info { return d.info }

// Telemetry reads the host's sensors; fields without a sensor are unavailable.
func (d *Device) Telemetry() (backends.Telemetry, error) { return d.sens.read() }

// Threads is the device's intra-op parallelism.
func (d *Device) Threads() int { return d.env.Threads }

// Kernel prepares the CPU kernel for node n.
func (d *Device) Kernel(n *graph.Node) (backends.Kernel, error) {
	f, ok := factory(n.Domain, n.Op)
	if !ok {
		return nil, fmt.Errorf("cpu: node %q: no kernel for %s: %w", n.Name, qualifiedOp(n), backends.ErrUnsupported)
	}
	k, err := f(n, &d.env)
	if err != nil {
		return nil, err
	}
	if overwritingOps[opKey{n.Domain, n.Op}] {
		if in := inPlaceInput(n); in >= 0 {
			return inPlaceOverwriting{overwriting{k}, in}, nil
		}
		k = overwriting{k}
	}
	return k, nil
}

func qualifiedOp(n *graph.Node) string {
	if n.Domain == "" {
		return n.Op
	}
	return n.Domain + "." + n.Op
}
