package passes_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/formats/onnx"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/passes"
	"github.com/lightiam/lightos/engine/passes/cpufold"
	"github.com/lightiam/lightos/engine/tensor"
)

// TestConformanceModelsKeepTheirNumbers runs the ONNX backend test models (the
// directory ../shared/conformance/onnx/node, or $LIGHTOS_ONNX_CONFORMANCE) whose
// names mention an operator the optimizer rewrites, before and after Optimize (with
// the verifier and constant folding), on their own test inputs, and fails when the
// optimized graph gives different numbers, a different shape, or an error where the
// original ran. The "_expanded" models are the decomposed forms exporters emit, so
// they exercise the pattern matchers. LIGHTOS_PASSES_ALL_MODELS=1 runs every model.
// Skipped with -short or without the data.
func TestConformanceModelsKeepTheirNumbers(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	dir := os.Getenv("LIGHTOS_ONNX_CONFORMANCE")
	if dir == "" {
		wd, _ := os.Getwd()
		dir = filepath.Join(wd, "..", "..", "..", "shared", "conformance", "onnx", "node")
	}
	cases, _ := filepath.Glob(filepath.Join(dir, "test_*"))
	if len(cases) == 0 {
		t.Skipf("no conformance data in %s", dir)
	}
	keys := []string{"attention", "layer_norm", "layernorm", "conv", "gemm", "matmul", "batchnorm", "softmax", "transpose", "gelu", "relu"}
	dev := cpu.New(cpu.Options{})
	fired, compared := map[string]int{}, 0
	for _, c := range cases {
		name := filepath.Base(c)
		relevant := os.Getenv("LIGHTOS_PASSES_ALL_MODELS") != ""
		for _, k := range keys {
			if strings.Contains(name, k) {
				relevant = true
			}
		}
		if !relevant {
			continue
		}
		rep, ok := checkConformanceCase(t, c, dev)
		if !ok {
			continue
		}
		compared++
		for _, f := range rep.Fired {
			fired[f.Pass]++
		}
	}
	t.Logf("%d models compared; rewrites by pass: %v", compared, fired)
}

// checkConformanceCase returns false when the original model does not load or run.
func checkConformanceCase(t *testing.T, dir string, dev *cpu.Device) (*passes.Report, bool) {
	name := filepath.Base(dir)
	data, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		return nil, false
	}
	g, err := onnx.Decode(data, dir, onnx.Options{})
	if err != nil {
		return nil, false
	}
	feeds := map[string]*tensor.Tensor{}
	for i := 0; ; i++ {
		b, err := os.ReadFile(filepath.Join(dir, "test_data_set_0", fmt.Sprintf("input_%d.pb", i)))
		if err != nil {
			break
		}
		in, tt, err := onnx.DecodeTensor(b)
		if err != nil {
			return nil, false
		}
		if g.Value(in) == nil || in == "" {
			if i >= len(g.Inputs) {
				return nil, false
			}
			in = g.Inputs[i].Name
		}
		feeds[in] = tt
	}
	run := func(gr *graph.Graph) ([]*tensor.Tensor, error) {
		sess, err := exec.NewSession(gr, dev, exec.Options{HeapOutputs: true})
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res, err := sess.Run(ctx, feeds, nil)
		if err != nil {
			return nil, err
		}
		return res.Outputs, nil
	}
	opt := g.Clone()
	want, err := run(g)
	if err != nil {
		return nil, false
	}
	rep, err := passes.Optimize(opt, passes.Options{Verify: true, Eval: cpufold.New()})
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return nil, false
	}
	got, err := run(opt)
	if err != nil {
		t.Errorf("%s: the optimized graph fails where the original ran: %v\nreport %+v", name, err, rep.Fired)
		return nil, false
	}
	for i := range want {
		if msg := sameNumbers(got[i], want[i]); msg != "" {
			t.Errorf("%s: output %d: %s (report %+v)", name, i, msg, rep.Fired)
		}
	}
	return rep, true
}

func sameNumbers(got, want *tensor.Tensor) string {
	if got.DType() != want.DType() || fmt.Sprint(got.Shape()) != fmt.Sprint(want.Shape()) {
		return fmt.Sprintf("%v after, %v before", got, want)
	}
	if !want.DType().IsFloat() {
		if string(got.Bytes()) != string(want.Bytes()) {
			return "values differ"
		}
		return ""
	}
	for i := 0; i < want.Len(); i++ {
		g, w := got.Float64At(i), want.Float64At(i)
		if math.IsNaN(g) != math.IsNaN(w) || (!math.IsNaN(w) && math.Abs(g-w) > 1e-4*(1+math.Abs(w)) && !(math.IsInf(w, 0) && g == w)) {
			return fmt.Sprintf("element %d: %v after, %v before", i, g, w)
		}
	}
	return ""
}
