package backends_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// fake runs the ops it lists and reports ErrUnsupported for the rest.
type fake struct {
	name string
	ops  map[string]bool
	fail error
}

func (f *fake) Info() backends.Info                    { return backends.Info{Name: f.name} }
func (f *fake) Telemetry() (backends.Telemetry, error) { return backends.Telemetry{}, nil }
func (f *fake) Kernel(n *graph.Node) (backends.Kernel, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	if !f.ops[n.Op] {
		return nil, fmt.Errorf("%s: %s: %w", f.name, n.Op, backends.ErrUnsupported)
	}
	name := f.name
	return backends.KernelFunc(func(_ context.Context, _, out []*tensor.Tensor) error {
		out[0].Bytes()[0] = name[0]
		return nil
	}), nil
}

func TestFallbackPrefersThePrimaryDevice(t *testing.T) {
	gpu := &fake{name: "gpu", ops: map[string]bool{"MatMul": true}}
	cpu := &fake{name: "cpu", ops: map[string]bool{"MatMul": true, "Conv": true}}
	f := &backends.Fallback{Primary: gpu, Secondary: cpu}
	for op, want := range map[string]byte{"MatMul": 'g', "Conv": 'c'} {
		k, err := f.Kernel(&graph.Node{Op: op})
		if err != nil {
			t.Fatal(err)
		}
		out := tensor.New(tensor.Uint8, []int{1})
		k.Run(context.Background(), nil, []*tensor.Tensor{out})
		if out.Bytes()[0] != want {
			t.Errorf("%s ran on %q, want %q", op, out.Bytes()[0], want)
		}
	}
	if _, err := f.Kernel(&graph.Node{Op: "Nope"}); !errors.Is(err, backends.ErrUnsupported) {
		t.Errorf("an op neither device has: %v", err)
	}
	// other errors from the primary are not hidden by the fallback
	boom := errors.New("device lost")
	f.Primary = &fake{name: "gpu", fail: boom}
	if _, err := f.Kernel(&graph.Node{Op: "MatMul"}); !errors.Is(err, boom) {
		t.Errorf("got %v, want the primary's error", err)
	}
	if f.Info().Name != "gpu" {
		t.Errorf("Info is %q, want the primary's", f.Info().Name)
	}
}
