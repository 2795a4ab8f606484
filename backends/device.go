package backends

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// Kind is the family of a device.
type Kind string

// The device kinds of the product description.
const (
	CPU      Kind = "cpu"
	NVIDIA   Kind = "nvidia"
	AMD      Kind = "amd"
	Intel    Kind = "intel"
	Photonic Kind = "photonic"
)

// Info describes a device. Zero numeric fields mean "not known".
type Info struct {
	Kind         Kind
	ID           int
	Name         string
	Simulated    bool   // true for devices of package sim: say so wherever they appear
	UUID         string // vendor identifier when there is one
	MemoryBytes  int64  // total memory
	ComputeUnits int    // CPU cores or GPU streaming multiprocessors
	PeakGFLOPS   float64
	ISA          []string // CPU features (avx2, fma, avx512f, ...) or GPU architecture
	Driver       string
	// PhysicalCores and the cache sizes (bytes, per core or per cluster as the CPU
	// reports them) describe CPUs; zero when unknown.
	PhysicalCores                                            int
	CacheL1DBytes, CacheL1IBytes, CacheL2Bytes, CacheL3Bytes int64
}

func (i Info) String() string {
	sim := ""
	if i.Simulated && !strings.Contains(i.Name, "(simulated)") {
		sim = " (simulated)"
	}
	return fmt.Sprintf("%s:%d %s%s", i.Kind, i.ID, i.Name, sim)
}

// Reading is one sensor value; Valid is false when the device has no such sensor,
// and then Value means nothing. Never report a made-up number as Valid.
type Reading struct {
	Value float64
	Valid bool
}

// Read makes a valid reading.
func Read(v float64) Reading { return Reading{Value: v, Valid: true} }

// String prints the value or "unavailable".
func (r Reading) String() string {
	if !r.Valid {
		return "unavailable"
	}
	return fmt.Sprintf("%.1f", r.Value)
}

// Telemetry is a snapshot of a device's sensors.
type Telemetry struct {
	Time         time.Time
	TemperatureC Reading
	// SlowdownC is the temperature at which the device starts to throttle.
	SlowdownC Reading
	// ShutdownC is the temperature at which the device turns itself off.
	ShutdownC   Reading
	PowerW      Reading
	PowerLimitW Reading
	EnergyJ     Reading // cumulative energy counter
	Utilization Reading // 0..1
	ClockMHz    Reading
	MemoryUsedB Reading
	// ThrottleReasons is a bit set of the vendor's throttle reasons (NVML's clock
	// event reasons on NVIDIA); valid only when ThrottleValid.
	ThrottleReasons uint64
	ThrottleValid   bool
	// ThermalViolationS and PowerViolationS are the cumulative seconds the device
	// was held back by thermal or power limits (NVML's violation counters).
	ThermalViolationS, PowerViolationS Reading
}

// Device is what every backend implements.
type Device interface {
	Info() Info
	Telemetry() (Telemetry, error)
}

// Kernel runs one graph node on concrete tensors. Outputs are allocated by the
// executor at the shapes inference gave; the kernel fills them.
type Kernel interface {
	Run(ctx context.Context, inputs, outputs []*tensor.Tensor) error
}

// AllocatingKernel is a Kernel that can also make its own outputs, for nodes whose
// output shapes only running them tells (control flow such as If). The executor calls
// RunAlloc when shape inference cannot give the shapes even from the actual inputs.
type AllocatingKernel interface {
	Kernel
	RunAlloc(ctx context.Context, inputs []*tensor.Tensor) ([]*tensor.Tensor, error)
}

// OutputOverwriter is an optional ability of a Kernel: OverwritesOutputs reports that
// Run writes every element of every output, so the executor may hand it buffers that
// hold stale data. Other kernels get zeroed output buffers.
type OutputOverwriter interface {
	OverwritesOutputs() bool
}

// InPlacer is an optional ability of a Kernel: InPlaceInput returns the index of an
// input whose buffer Run may also be handed as output 0 (Run then reads each element
// of that input before it writes the same element of the output), or -1. The executor
// gives output 0 that buffer when the input is an intermediate value this node reads
// last and no other input of the node shares it.
type InPlacer interface {
	InPlaceInput() int
}

// KernelProvider is a device that can run graph nodes.
type KernelProvider interface {
	Device
	// Kernel prepares a kernel for node n, whose input and output values carry their
	// inferred types (constant inputs carry their data, for pre-packing weights).
	// It returns an error wrapping ErrUnsupported when the device lacks the operator.
	Kernel(n *graph.Node) (Kernel, error)
}

// ErrUnsupported marks an operator, dtype or attribute combination a device cannot run.
var ErrUnsupported = fmt.Errorf("unsupported")

// KernelFunc adapts a function to the Kernel interface.
type KernelFunc func(ctx context.Context, inputs, outputs []*tensor.Tensor) error

// Run calls f.
func (f KernelFunc) Run(ctx context.Context, inputs, outputs []*tensor.Tensor) error {
	return f(ctx, inputs, outputs)
}

// GraphCompiler is an optional ability of a device: it compiles a whole graph into one
// GraphPlan that keeps every intermediate on the device, instead of running it node by
// node through Kernel (exec.Session uses it when the device has it). The graph's
// inputs carry concrete shapes and its output types are inferred; the compiler must
// not keep or change g after it returns (copy what it needs). A graph with an
// operator, dtype or attribute the device cannot run gives an error wrapping
// ErrUnsupported, and the caller then runs the graph node by node.
type GraphCompiler interface {
	CompileGraph(g *graph.Graph) (GraphPlan, error)
}

// GraphPlan is a graph compiled by a GraphCompiler for one set of input shapes.
type GraphPlan interface {
	// Run copies feeds (host tensors, by input name, of the compiled shapes) to the
	// device, runs the graph and returns every graph output by name as a new host
	// tensor the caller owns. It is safe for concurrent use (runs may be serialized).
	Run(ctx context.Context, feeds map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error)
	// Close frees the plan's device memory; Run fails afterwards. Close is idempotent.
	Close() error
}
