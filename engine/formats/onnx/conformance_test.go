package onnx

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/tensor"
)

// The ONNX backend conformance runner. It reads the ONNX project's node tests from
// $LIGHTOS_ONNX_CONFORMANCE or ../shared/conformance/onnx/node beside the repository,
// runs each model on the CPU device and compares every output with the expected one
// (rtol 1e-3, atol 1e-5, NaN equal to NaN). With LIGHTOS_ONNX_REPORT set to a path
// ("1" means docs/onnx-conformance.md) it writes the report; with
// LIGHTOS_ONNX_MIN_PASS=N it fails when fewer than N tests pass.

const (
	confRtol = 1e-3
	confAtol = 1e-5
)

// Outcomes of one conformance case.
const (
	outcomePass        = "pass"
	outcomeFail        = "fail"        // ran, wrong numbers, dtypes or shapes
	outcomeError       = "error"       // load or run failed on a supported model
	outcomeUnsupported = "unsupported" // operator, element type or value kind the engine lacks
)

type confResult struct {
	name    string
	ops     []string
	outcome string
	reason  string
	elapsed time.Duration
}

func repoRoot() string {
	dir, _ := os.Getwd()
	for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
	}
	return dir
}

func conformanceDir() string {
	if d := os.Getenv("LIGHTOS_ONNX_CONFORMANCE"); d != "" {
		return d
	}
	return filepath.Join(repoRoot(), "..", "shared", "conformance", "onnx", "node")
}

func TestONNXConformance(t *testing.T) {
	dir := conformanceDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("ONNX conformance data not found at %s (set LIGHTOS_ONNX_CONFORMANCE): %v", dir, err)
	}
	if testing.Short() && os.Getenv("LIGHTOS_ONNX_CONFORMANCE") == "" {
		t.Skip("skipping the ONNX conformance suite in -short mode")
	}
	var names []string
	filter := os.Getenv("LIGHTOS_ONNX_FILTER")
	for _, e := range entries {
		if e.IsDir() && strings.Contains(e.Name(), filter) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	dev := cpu.New(cpu.Options{Threads: 1})
	results := make([]confResult, len(names))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				start := time.Now()
				results[i] = runConformanceCase(filepath.Join(dir, names[i]), dev)
				results[i].name = names[i]
				results[i].elapsed = time.Since(start)
			}
		}()
	}
	for i := range names {
		next <- i
	}
	close(next)
	wg.Wait()
	counts := map[string]int{}
	for _, r := range results {
		counts[r.outcome]++
		if testing.Verbose() && r.outcome != outcomePass {
			t.Logf("%s: %s: %s", r.name, r.outcome, r.reason)
		}
	}
	t.Logf("ONNX conformance: %d tests, %d pass, %d fail, %d error, %d unsupported",
		len(results), counts[outcomePass], counts[outcomeFail], counts[outcomeError], counts[outcomeUnsupported])
	if path := os.Getenv("LIGHTOS_ONNX_REPORT"); path != "" {
		if path == "1" {
			path = filepath.Join(repoRoot(), "docs", "onnx-conformance.md")
		}
		if err := os.WriteFile(path, []byte(conformanceReport(results, dev)), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
	}
	if s := os.Getenv("LIGHTOS_ONNX_MIN_PASS"); s != "" {
		min, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("LIGHTOS_ONNX_MIN_PASS=%q: %v", s, err)
		}
		if counts[outcomePass] < min {
			t.Errorf("%d tests pass, fewer than the required %d", counts[outcomePass], min)
		}
	}
}

// modelOps lists the operator types of a model's top-level nodes (for the report).
func modelOps(data []byte) []string {
	m, err := decodeModel(data)
	if err != nil {
		return nil
	}
	gp, err := decodeGraphProto(m.graph)
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, n := range gp.nodes {
		op := n.op
		if d := normDomain(n.domain); d != "" {
			op = d + "." + op
		}
		if !seen[op] {
			seen[op] = true
			out = append(out, op)
		}
	}
	return out
}

func runConformanceCase(dir string, dev *cpu.Device) (res confResult) {
	defer func() {
		if r := recover(); r != nil {
			res.outcome, res.reason = outcomeError, fmt.Sprintf("panic: %v", r)
		}
	}()
	data, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		return confResult{outcome: outcomeError, reason: err.Error()}
	}
	res.ops = modelOps(data)
	classify := func(stage string, err error) confResult {
		res.reason = stage + ": " + oneLine(err.Error())
		res.outcome = outcomeError
		if errors.Is(err, ErrUnsupported) || errors.Is(err, backends.ErrUnsupported) {
			res.outcome = outcomeUnsupported
		}
		return res
	}
	g, err := Decode(data, dir, Options{})
	if err != nil {
		return classify("load", err)
	}
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	if len(sets) == 0 {
		res.outcome, res.reason = outcomeError, "no test_data_set"
		return res
	}
	sess, err := exec.NewSession(g, dev, exec.Options{HeapOutputs: true})
	if err != nil {
		return classify("session", err)
	}
	for _, set := range sets {
		feeds := map[string]*tensor.Tensor{}
		for i := 0; ; i++ {
			b, err := os.ReadFile(filepath.Join(set, fmt.Sprintf("input_%d.pb", i)))
			if err != nil {
				break
			}
			name, tt, err := DecodeTensor(b)
			if err != nil {
				return classify("input "+strconv.Itoa(i), err)
			}
			if g.Value(name) == nil || name == "" {
				if i >= len(g.Inputs) {
					res.outcome, res.reason = outcomeError, fmt.Sprintf("input_%d.pb %q matches no graph input", i, name)
					return res
				}
				name = g.Inputs[i].Name
			}
			feeds[name] = tt
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		out, err := sess.Run(ctx, feeds, nil)
		cancel()
		if err != nil {
			return classify("run", err)
		}
		for i := range g.Outputs {
			b, err := os.ReadFile(filepath.Join(set, fmt.Sprintf("output_%d.pb", i)))
			if err != nil {
				res.outcome, res.reason = outcomeError, fmt.Sprintf("output_%d.pb: %v", i, err)
				return res
			}
			_, want, err := DecodeTensor(b)
			if err != nil {
				return classify("expected output "+strconv.Itoa(i), err)
			}
			if msg := compareTensors(out.Outputs[i], want); msg != "" {
				res.outcome, res.reason = outcomeFail, fmt.Sprintf("output %d (%s): %s", i, g.Outputs[i].Name, msg)
				return res
			}
		}
	}
	res.outcome = outcomePass
	return res
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", "; ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// compareTensors returns "" when got matches want within the conformance tolerance.
func compareTensors(got, want *tensor.Tensor) string {
	if got == nil {
		return "no output"
	}
	if got.DType() != want.DType() {
		return fmt.Sprintf("dtype %v, expected %v", got.DType(), want.DType())
	}
	if !equalShape(got.Shape(), want.Shape()) {
		return fmt.Sprintf("shape %v, expected %v", got.Shape(), want.Shape())
	}
	if !got.DType().IsFloat() {
		g, w := got.Bytes(), want.Bytes()
		for i := range g {
			if g[i] != w[i] {
				e := i / got.DType().Size()
				return fmt.Sprintf("element %d is %v, expected %v", e, got.Int64At(e), want.Int64At(e))
			}
		}
		return ""
	}
	worst, worstI := 0.0, -1
	for i := 0; i < got.Len(); i++ {
		a, b := got.Float64At(i), want.Float64At(i)
		if math.IsNaN(a) && math.IsNaN(b) || a == b {
			continue
		}
		d := math.Abs(a - b)
		if math.IsNaN(d) || d > confAtol+confRtol*math.Abs(b) {
			if worstI < 0 || d > worst || math.IsNaN(d) {
				worst, worstI = d, i
			}
		}
	}
	if worstI >= 0 {
		return fmt.Sprintf("element %d is %g, expected %g (abs error %.3g)", worstI, got.Float64At(worstI), want.Float64At(worstI), worst)
	}
	return ""
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
