package native_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/formats/native"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

func randTensor(r *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(tensor.Float32, shape)
	for i := range t.Float32s() {
		t.Float32s()[i] = float32(r.NormFloat64())
	}
	return t
}

// testGraph is a two-layer MLP with a dynamic batch, an int64 constant and attributes
// of several kinds, so that a round trip exercises most of the format.
func testGraph(t testing.TB, r *rand.Rand) *graph.Graph {
	b := graph.NewBuilder("mlp2")
	b.Input("x", tensor.Float32, graph.Shape{{Size: -1, Param: "batch"}, {Size: 13}})
	b.Const("w1", randTensor(r, 13, 7))
	b.Const("b1", randTensor(r, 7))
	b.Const("w2", randTensor(r, 7, 3))
	ids, _ := tensor.FromInt64([]int{3}, []int64{1, 2, 3})
	b.Const("ids", ids)
	steps := []struct {
		op       string
		ins, out []string
		attrs    graph.Attrs
	}{
		{"MatMul", []string{"x", "w1"}, []string{"h"}, nil},
		{"Add", []string{"h", "b1"}, []string{"h"}, graph.Attrs{"note": graph.String("bias"), "f": graph.Float(0.5), "is": graph.Ints(1, -2), "fs": graph.Floats(1.5)}},
		{"Relu", []string{"h"}, []string{"h"}, graph.Attrs{"t": graph.TensorAttr(ids)}},
		{"MatMul", []string{"h", "w2"}, []string{"y"}, nil},
	}
	for _, s := range steps {
		if _, err := b.Op(s.op, "", s.ins, s.out, s.attrs); err != nil {
			t.Fatal(err)
		}
	}
	b.Output("y")
	g, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func run(t *testing.T, g *graph.Graph, x *tensor.Tensor) []float32 {
	t.Helper()
	s, err := exec.NewSession(g, cpu.New(cpu.Options{}), exec.Options{HeapOutputs: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": x}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res.Outputs[0].Float32s()
}

func TestRoundTripKeepsGraphAndNumbers(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	g := testGraph(t, r)
	path := filepath.Join(t.TempDir(), "m.lightos")
	if err := native.Save(g, path); err != nil {
		t.Fatal(err)
	}
	f, err := native.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, want := f.Graph.String(), g.String(); got != want {
		t.Fatalf("text form differs after round trip:\n got %s\nwant %s", got, want)
	}
	for _, v := range f.Graph.Initializers {
		if v.Const.Pointer()%native.Alignment != 0 {
			t.Errorf("initializer %q at %#x is not %d-byte aligned", v.Name, v.Const.Pointer(), native.Alignment)
		}
	}
	for _, batch := range []int{1, 5} {
		x := randTensor(r, batch, 13)
		want, got := run(t, g, x), run(t, f.Graph, x)
		for i := range want {
			if want[i] != got[i] {
				t.Fatalf("batch %d element %d: %v after round trip, %v before", batch, i, got[i], want[i])
			}
		}
	}
}

func TestOpenBorrowsWeightsFromTheMap(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	path := filepath.Join(t.TempDir(), "m.lightos")
	if err := native.Save(testGraph(t, r), path); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	f, err := native.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := f.Graph.Value("w1").Const
	// The weight bytes must be the file's bytes at some aligned offset, and reading them
	// must not have copied: the pointer lies inside the mapping, not the Go heap.
	idx := bytes.Index(raw, w.Bytes())
	if idx < 0 || idx%native.Alignment != 0 {
		t.Fatalf("weights not found at an aligned offset of the file (index %d)", idx)
	}
}

func TestDamagedFilesGiveErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	var buf bytes.Buffer
	if err := native.Write(testGraph(t, r), &buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	flip := func(i int) []byte { b := append([]byte(nil), good...); b[i] ^= 0xff; return b }
	cases := map[string][]byte{
		"empty":            nil,
		"short prefix":     good[:10],
		"bad magic":        flip(0),
		"bad version":      flip(8),
		"header corrupted": flip(30),
		"truncated header": good[:40],
		"truncated data":   good[:len(good)-8],
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := native.Decode(data)
			if !errors.Is(err, native.ErrFormat) {
				t.Fatalf("got %v, want an ErrFormat", err)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	r := rand.New(rand.NewPCG(4, 4))
	var buf bytes.Buffer
	if err := native.Write(testGraph(f, r), &buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(native.Magic))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := native.Decode(data)
		if err == nil && g == nil {
			t.Fatal("nil graph without an error")
		}
	})
}

// BenchmarkOpen100MB measures opening a file with 100 MB of weights; the time per
// op is the load time (the map is lazy, so weights are not read).
func BenchmarkOpen100MB(b *testing.B) {
	g := graph.New("big")
	x := g.AddInput("x", tensor.Float32, graph.ShapeOf(1, 1024))
	prev := x
	for i := 0; i < 25; i++ { // 25 x 4 MB
		w := g.AddInitializer(g.UniqueName("w"), tensor.New(tensor.Float32, []int{1024, 1024}))
		n := g.AddNode("MatMul", g.UniqueName("mm"), []*graph.Value{prev, w}, []string{g.UniqueName("h")}, nil)
		prev = n.Outputs[0]
	}
	g.Outputs = []*graph.Value{prev}
	path := filepath.Join(b.TempDir(), "big.lightos")
	if err := native.Save(g, path); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := native.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}
