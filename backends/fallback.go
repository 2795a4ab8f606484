package backends

import (
	"errors"
	"fmt"

	"github.com/lightiam/lightos/engine/graph"
)

// Fallback runs each node on Primary when it has a kernel for it, and on Secondary
// (normally the host CPU) when Primary reports ErrUnsupported. Both kernels work on
// host tensors, so a graph can mix them node by node: a graph with an operator the GPU
// lacks (CumSum, a 3-D convolution) still runs, that node on the CPU
// (backends/cuda's TestFallbackRunsWhatTheGPULacks checks it on a GPU).
type Fallback struct {
	Primary   KernelProvider
	Secondary KernelProvider
}

var (
	_ KernelProvider = (*Fallback)(nil)
	_ GraphCompiler  = (*Fallback)(nil)
)

// Info describes the primary device.
func (f *Fallback) Info() Info { return f.Primary.Info() }

// Telemetry reads the primary device.
func (f *Fallback) Telemetry() (Telemetry, error) { return f.Primary.Telemetry() }

// Kernel prefers the primary device's kernel.
func (f *Fallback) Kernel(n *graph.Node) (Kernel, error) {
	k, err := f.Primary.Kernel(n)
	if err == nil || !errors.Is(err, ErrUnsupported) {
		return k, err
	}
	return f.Secondary.Kernel(n)
}

// CompileGraph compiles g whole on the primary device when it is a GraphCompiler. It
// gives an error wrapping ErrUnsupported when the primary is not one or lacks an
// operator of g: the caller then runs g node by node through Kernel, which puts what
// the primary lacks on the secondary.
func (f *Fallback) CompileGraph(g *graph.Graph) (GraphPlan, error) {
	gc, ok := f.Primary.(GraphCompiler)
	if !ok {
		return nil, fmt.Errorf("backends: %s compiles no whole graphs: %w", f.Primary.Info(), ErrUnsupported)
	}
	return gc.CompileGraph(g)
}
