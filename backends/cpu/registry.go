package cpu

import (
	"fmt"
	"sort"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/graph"
)

// Factory prepares a kernel for one node. It may inspect the node's inferred input and
// output types and constant inputs (to pre-pack weights), and should return an error
// wrapping backends.ErrUnsupported for dtypes or attributes it does not handle.
type Factory func(n *graph.Node, env *Env) (backends.Kernel, error)

type opKey struct{ domain, op string }

// factories is filled by init functions and read-only afterwards.
var factories = map[opKey]Factory{}

// register adds a kernel factory; call it only from init functions.
func register(domain, op string, f Factory) {
	k := opKey{domain, op}
	if _, dup := factories[k]; dup {
		panic("cpu: duplicate kernel " + op)
	}
	factories[k] = f
}

// extraFactories holds the kernels of onnx_extra*.go; a core kernel of the same
// operator always wins, whatever the init order of the files.
var extraFactories = map[opKey]Factory{}

// factory returns the kernel factory of an operator.
func factory(domain, op string) (Factory, bool) {
	f, ok := factories[opKey{domain, op}]
	if !ok {
		f, ok = extraFactories[opKey{domain, op}]
	}
	return f, ok
}

// Ops lists the operators with a CPU kernel, sorted ("domain.op" outside ONNX's).
func Ops() []string {
	all := map[opKey]bool{}
	for k := range factories {
		all[k] = true
	}
	for k := range extraFactories {
		all[k] = true
	}
	out := make([]string, 0, len(all))
	for k := range all {
		if k.domain == "" {
			out = append(out, k.op)
		} else {
			out = append(out, k.domain+"."+k.op)
		}
	}
	sort.Strings(out)
	return out
}

// HasKernel reports whether the CPU backend has a kernel for the operator.
func HasKernel(domain, op string) bool {
	_, ok := factory(domain, op)
	return ok
}

func unsupported(n *graph.Node, format string, args ...any) error {
	return fmt.Errorf("cpu: node %q (%s): %s: %w", n.Name, n.Op, fmt.Sprintf(format, args...), backends.ErrUnsupported)
}
