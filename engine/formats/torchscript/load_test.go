package torchscript_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/lightiam/lightos/backends/cpu"
	lexec "github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/formats/torchscript"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/passes"
	"github.com/lightiam/lightos/engine/tensor"
)

// readNpy reads a little-endian, C-ordered .npy file of float32, float64 or int64.
func readNpy(t testing.TB, path string) *tensor.Tensor {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 10 || string(b[1:6]) != "NUMPY" {
		t.Fatalf("%s: not an .npy file", path)
	}
	var hlen, start int
	if b[6] == 1 {
		hlen, start = int(binary.LittleEndian.Uint16(b[8:])), 10
	} else {
		hlen, start = int(binary.LittleEndian.Uint32(b[8:])), 12
	}
	header := string(b[start : start+hlen])
	descr := regexp.MustCompile(`'descr': '([^']+)'`).FindStringSubmatch(header)[1]
	dt := map[string]tensor.DType{"<f4": tensor.Float32, "<f8": tensor.Float64, "<i8": tensor.Int64}[descr]
	if dt == tensor.Invalid || strings.Contains(header, "'fortran_order': True") {
		t.Fatalf("%s: unsupported header %s", path, header)
	}
	var shape []int
	for _, f := range strings.FieldsFunc(regexp.MustCompile(`'shape': \(([^)]*)\)`).FindStringSubmatch(header)[1], func(r rune) bool { return r == ',' || r == ' ' }) {
		n, _ := strconv.Atoi(f)
		shape = append(shape, n)
	}
	data := append([]byte(nil), b[start+hlen:]...)
	x, err := tensor.FromBytes(dt, shape, data)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func run(t *testing.T, g *graph.Graph, x *tensor.Tensor) *tensor.Tensor {
	t.Helper()
	s, err := lexec.NewSession(g, cpu.New(cpu.Options{}), lexec.Options{HeapOutputs: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Run(context.Background(), map[string]*tensor.Tensor{g.Inputs[0].Name: x}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res.Outputs[0]
}

// compare checks max |got - want| <= 1e-4 * max |want| (the tolerance).
func compare(t *testing.T, name string, got, want *tensor.Tensor) {
	t.Helper()
	if fmt.Sprint(got.Shape()) != fmt.Sprint(want.Shape()) {
		t.Fatalf("%s: shape %v, want %v", name, got.Shape(), want.Shape())
	}
	scale, worst := 0.0, 0.0
	for i := 0; i < want.Len(); i++ {
		scale = math.Max(scale, math.Abs(want.Float64At(i)))
	}
	for i := 0; i < want.Len(); i++ {
		worst = math.Max(worst, math.Abs(got.Float64At(i)-want.Float64At(i)))
	}
	if worst > 1e-4*math.Max(scale, 1e-6) {
		t.Fatalf("%s: max abs error %.3g for an output scale %.3g", name, worst, scale)
	}
	t.Logf("%s: max abs error %.2g (output scale %.3g)", name, worst, scale)
}

// fixtures finds the models: testdata/torchscript (committed), regenerated into a
// temporary folder first when PyTorch is installed (LIGHTOS_TORCH_PYTHON or python3).
func fixtures(t *testing.T) (string, []string) {
	models := []string{"mlp", "cnn", "encoder", "gpt"}
	dir := filepath.Join("..", "..", "..", "testdata", "torchscript")
	py := os.Getenv("LIGHTOS_TORCH_PYTHON")
	if py == "" {
		return dir, models
	}
	out := t.TempDir()
	cmd := exec.Command(py, filepath.Join("..", "..", "..", "scripts", "make_torchscript_models.py"), out, "--big")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("making fixtures with PyTorch: %v\n%s", err, b)
	}
	return out, append(models, "resnet18")
}

func TestTracedModelsMatchPyTorch(t *testing.T) {
	dir, models := fixtures(t)
	for _, name := range models {
		t.Run(name, func(t *testing.T) {
			m, err := torchscript.Load(filepath.Join(dir, name+".pt"), torchscript.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			x := readNpy(t, filepath.Join(dir, name+".input.npy"))
			want := readNpy(t, filepath.Join(dir, name+".output.npy"))
			compare(t, name, run(t, m.Graph, x), want)
			// and after the optimizer
			g := m.Graph.Clone()
			if _, err := passes.Optimize(g, passes.Options{}); err != nil {
				t.Fatal(err)
			}
			compare(t, name+" optimized", run(t, g, x), want)
		})
	}
}

func TestDynamicBatch(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "testdata", "torchscript")
	m, err := torchscript.Load(filepath.Join(dir, "mlp.pt"), torchscript.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	x := readNpy(t, filepath.Join(dir, "mlp.input.npy"))
	want := readNpy(t, filepath.Join(dir, "mlp.output.npy"))
	// Run rows one at a time: each must equal the batched result's row.
	for r := 0; r < x.Shape()[0]; r++ {
		row, _ := tensor.FromBytes(tensor.Float32, []int{1, x.Shape()[1]}, x.Bytes()[r*x.Shape()[1]*4:(r+1)*x.Shape()[1]*4])
		wrow, _ := tensor.FromBytes(tensor.Float32, []int{1, want.Shape()[1]}, want.Bytes()[r*want.Shape()[1]*4:(r+1)*want.Shape()[1]*4])
		compare(t, fmt.Sprint("row ", r), run(t, m.Graph, row), wrow)
	}
}

func TestDamagedArchivesGiveErrors(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "torchscript", "mlp.pt"))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"empty":     {},
		"not a zip": []byte("hello world, certainly not a zip archive"),
		"truncated": good[:len(good)/2],
		"garbled":   append(append([]byte{}, good[:200]...), bytes.Repeat([]byte{0x55}, len(good)-200)...),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := torchscript.Decode(data, torchscript.Options{}); err == nil {
				t.Fatal("no error")
			}
		})
	}
	if _, err := torchscript.Load("/nonexistent.pt", torchscript.Options{}); err == nil {
		t.Fatal("no error for a missing file")
	}
	_ = errors.New
}

func FuzzDecode(f *testing.F) {
	good, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "torchscript", "mlp.pt"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Fuzz(func(t *testing.T, data []byte) {
		torchscript.Decode(data, torchscript.Options{}) // must not panic
	})
}

func TestUnsupportedModelsListEveryProblem(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "testdata", "torchscript")
	cases := map[string][]string{
		"bad_scripted.pt": {"control flow cannot be lowered", `"if" statement`, `"else" statement`},
		"bad_ops.pt":      {"aten::fliplr", "aten::cumprod", "aten::eye", "problems lowering forward()"},
	}
	for file, wants := range cases {
		t.Run(file, func(t *testing.T) {
			_, err := torchscript.Load(filepath.Join(dir, file), torchscript.Options{Inputs: map[string]torchscript.Input{"x": {DType: tensor.Float32, Shape: []int64{3, 3}}}})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
