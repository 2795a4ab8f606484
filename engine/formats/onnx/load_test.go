package onnx

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

const (
	tFloat = 1
	tInt64 = 7
	tBool  = 9
	tF16   = 10
)

// mlpModel is y = Relu(x @ W + b) with W and b in raw_data.
func mlpModel() pb {
	w := f32bytes(1, 2, 3, 4, 5, 6)
	b := f32bytes(0.5, -0.5, 1)
	g := graphParts{
		name: "mlp",
		nodes: []pb{
			node("MatMul", "mm", []string{"x", "W"}, []string{"h"}),
			node("Add", "", []string{"h", "b"}, []string{"z"}),
			node("Relu", "", []string{"z"}, []string{"y"}),
		},
		initializers: []pb{tensorRaw("W", tFloat, []int64{2, 3}, w), tensorRaw("b", tFloat, []int64{3}, b)},
		inputs:       []pb{vinfo("x", tFloat, "batch", 2)},
		outputs:      []pb{vinfo("y", tFloat, "batch", 3)},
	}
	return model(8, g.encode(), opset("", 17))
}

func within(t *tensor.Tensor, data []byte) bool {
	lo := uintptr(unsafe.Pointer(&data[0]))
	p := t.Pointer()
	return p >= lo && p < lo+uintptr(len(data))
}

func TestDecodeMLP(t *testing.T) {
	data := mlpModel()
	g, err := Decode(data, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if g.Name != "mlp" || g.Opset != 17 || len(g.Nodes) != 3 || len(g.Inputs) != 1 || len(g.Outputs) != 1 || len(g.Initializers) != 2 {
		t.Fatalf("unexpected graph:\n%v", g)
	}
	in := g.Inputs[0]
	if in.Name != "x" || in.DType != tensor.Float32 || len(in.Shape) != 2 || in.Shape[0].Param != "batch" || in.Shape[1].Size != 2 {
		t.Errorf("input %v", in)
	}
	if g.Nodes[0].Name != "mm" || g.Nodes[1].Name == "" || g.Nodes[2].Outputs[0].Name != "y" {
		t.Errorf("names not kept:\n%v", g)
	}
	for _, n := range g.Nodes {
		if n.Attrs.GetInt("_opset", 0) != 17 {
			t.Errorf("node %s: _opset = %d", n.Name, n.Attrs.GetInt("_opset", 0))
		}
	}
	w := g.Value("W").Const
	if got := w.Float32s(); got[5] != 6 || w.Shape()[0] != 2 {
		t.Errorf("W = %v %v", w.Shape(), got)
	}
	if !within(w, data) {
		t.Error("W's raw_data was copied; it should be borrowed from the model bytes")
	}
	if err := g.Validate(); err != nil {
		t.Error(err)
	}
}

func TestTensorDataFields(t *testing.T) {
	tests := []struct {
		name  string
		proto pb
		check func(*tensor.Tensor) bool
	}{
		{"float_data packed", pb(nil).packed(1, 2).varint(2, tFloat).bytes(4, f32bytes(1.5, -2)),
			func(x *tensor.Tensor) bool { return x.Float32s()[1] == -2 }},
		{"float_data unpacked", pb(nil).packed(1, 2).varint(2, tFloat).fixed32(4, 0x3fc00000).fixed32(4, 0x40000000),
			func(x *tensor.Tensor) bool { return x.Float32s()[0] == 1.5 && x.Float32s()[1] == 2 }},
		{"int64_data negative", pb(nil).packed(1, 3).varint(2, tInt64).packed(7, -1, 0, 1<<40),
			func(x *tensor.Tensor) bool { v := x.Int64s(); return v[0] == -1 && v[2] == 1<<40 }},
		{"bool in int32_data", pb(nil).packed(1, 2).varint(2, tBool).packed(5, 1, 0),
			func(x *tensor.Tensor) bool { return x.Bools()[0] && !x.Bools()[1] }},
		{"float16 bits in int32_data", pb(nil).packed(1, 1).varint(2, tF16).packed(5, 0x3c00),
			func(x *tensor.Tensor) bool { return x.Float64At(0) == 1 }},
		{"scalar", pb(nil).varint(2, tFloat).bytes(9, f32bytes(3)),
			func(x *tensor.Tensor) bool { return x.Rank() == 0 && x.Float32s()[0] == 3 }},
	}
	for _, tc := range tests {
		_, x, err := DecodeTensor(tc.proto)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !tc.check(x) {
			t.Errorf("%s: wrong data %v", tc.name, x)
		}
	}
	bad := []struct {
		name  string
		proto pb
		want  error
	}{
		{"short raw_data", tensorRaw("t", tFloat, []int64{4}, f32bytes(1, 2)), ErrFormat},
		{"negative dim", tensorRaw("t", tFloat, []int64{-1}, nil), ErrFormat},
		{"huge dims", tensorRaw("t", tFloat, []int64{1 << 30, 1 << 30, 1 << 30}, nil), ErrFormat},
		{"string tensor", pb(nil).packed(1, 1).varint(2, 8).bytes(6, []byte("a")), ErrUnsupported},
		{"float8 tensor", tensorRaw("t", 17, []int64{1}, []byte{0}), ErrUnsupported},
		{"missing values", pb(nil).packed(1, 2).varint(2, tInt64).packed(7, 1), ErrFormat},
	}
	for _, tc := range bad {
		if _, _, err := DecodeTensor(tc.proto); !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestExternalData(t *testing.T) {
	dir := t.TempDir()
	payload := append(make([]byte, 16), f32bytes(1, 2, 3, 4)...)
	if err := os.WriteFile(filepath.Join(dir, "weights.bin"), payload, 0o644); err != nil {
		t.Fatal(err)
	}
	ext := func(location string) pb {
		kvs := func(k, v string) pb { return pb(nil).str(1, k).str(2, v) }
		return pb(nil).packed(1, 2, 2).varint(2, tFloat).str(8, "W").
			bytes(13, kvs("location", location)).bytes(13, kvs("offset", "16")).bytes(13, kvs("length", "16")).varint(14, 1)
	}
	mk := func(location string) pb {
		g := graphParts{name: "ext",
			nodes:        []pb{node("Add", "add", []string{"x", "W"}, []string{"y"})},
			initializers: []pb{ext(location)},
			inputs:       []pb{vinfo("x", tFloat, 2, 2)},
			outputs:      []pb{vinfo("y", tFloat, 2, 2)}}
		return model(8, g.encode(), opset("", 13))
	}
	path := filepath.Join(dir, "m.onnx")
	if err := os.WriteFile(path, mk("weights.bin"), 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := Load(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Value("W").Const.Float32s(); got[0] != 1 || got[3] != 4 {
		t.Errorf("W = %v", got)
	}
	m, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Graph.Value("W").Const.Float32s(); got[3] != 4 {
		t.Errorf("Open: W = %v", got)
	}
	if err := m.Close(); err != nil {
		t.Error(err)
	}
	for _, loc := range []string{"../weights.bin", "/etc/passwd", "missing.bin"} {
		if _, err := Decode(mk(loc), dir, Options{}); err == nil {
			t.Errorf("location %q: loaded, expected an error", loc)
		}
	}
}

func TestSparseInitializer(t *testing.T) {
	values := tensorRaw("S", tFloat, []int64{2}, f32bytes(7, 9))
	indices := pb(nil).packed(1, 2).varint(2, tInt64).packed(7, 1, 5)
	sparse := pb(nil).bytes(1, values).bytes(2, indices).packed(3, 2, 3)
	g := graphParts{name: "sparse",
		nodes:   []pb{node("Relu", "r", []string{"S"}, []string{"y"})},
		sparse:  []pb{sparse},
		outputs: []pb{vinfo("y", tFloat, 2, 3)}}
	gr, err := Decode(model(8, g.encode(), opset("", 13)), "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := gr.Value("S").Const.Float32s()
	want := []float32{0, 7, 0, 0, 0, 9}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("dense S = %v, want %v", got, want)
		}
	}
}

func TestUnsupportedAndCustomOps(t *testing.T) {
	g := graphParts{name: "u",
		nodes: []pb{
			node("FancyOp", "f1", []string{"x"}, []string{"a"}),
			pb(node("Zap", "z", []string{"a"}, []string{"b"})).str(7, "com.example"),
			node("Relu", "r", []string{"b"}, []string{"y"}),
		},
		inputs:  []pb{vinfo("x", tFloat, 2)},
		outputs: []pb{vinfo("y", tFloat, 2)}}
	data := model(8, g.encode(), opset("", 17), opset("com.example", 2))
	_, err := Decode(data, "", Options{})
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("error %v, want ErrUnsupported", err)
	}
	for _, want := range []string{"ai.onnx.FancyOp (opset 17)", "com.example.Zap (opset 2)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	gr, err := Decode(data, "", Options{CustomOps: []string{"FancyOp", "com.example.Zap"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range gr.Nodes[:2] {
		if n.Attrs.GetInt("_custom", 0) != 1 {
			t.Errorf("node %s (%s.%s) is not marked custom", n.Name, n.Domain, n.Op)
		}
	}
	if gr.Nodes[1].Domain != "com.example" || gr.Nodes[1].Op != "Zap" || gr.Nodes[1].Attrs.GetInt("_opset", 0) != 2 {
		t.Errorf("custom node lost its identity: %v", gr.Nodes[1])
	}
}

func TestConstantAndFunctions(t *testing.T) {
	// A model-local function Scale(x) = Mul(x, Constant(alpha)), alpha from the call.
	fnConst := node("Constant", "c", nil, []string{"k"}, pb(nil).str(1, "value_float").varint(20, atFloat).str(21, "alpha"))
	fnBody := node("Mul", "m", []string{"X", "k"}, []string{"Y"})
	fn := pb(nil).str(1, "Scale").str(10, "local").str(4, "X").str(5, "Y").str(6, "alpha").
		bytes(7, fnConst).bytes(7, fnBody).bytes(9, opset("", 17))
	call := pb(node("Scale", "call", []string{"x"}, []string{"s"}, attrFloat("alpha", 3))).str(7, "local")
	two := node("Constant", "two", nil, []string{"c2"}, attrTensor("value", tensorRaw("", tFloat, nil, f32bytes(2))))
	g := graphParts{name: "fn",
		nodes:   []pb{call, two, node("Add", "add", []string{"s", "c2"}, []string{"y"})},
		inputs:  []pb{vinfo("x", tFloat, 3)},
		outputs: []pb{vinfo("y", tFloat, 3)}}
	data := model(8, g.encode(), opset("", 17), opset("local", 1)).bytes(25, fn)
	gr, err := Decode(data, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, n := range gr.Nodes {
		ops = append(ops, n.Op)
	}
	if strings.Join(ops, ",") != "Mul,Add" {
		t.Fatalf("nodes %v, want Mul,Add (Constants folded, function inlined)\n%v", ops, gr)
	}
	k := gr.Nodes[0].Inputs[1]
	if !k.IsConst() || k.Const.Float32s()[0] != 3 {
		t.Errorf("function constant = %v, want 3 from the call's alpha", k)
	}
	if c := gr.Value("c2"); !c.IsConst() || c.Const.Float32s()[0] != 2 {
		t.Errorf("c2 = %v", c)
	}
}

func TestSubgraphReadsOuterScope(t *testing.T) {
	then := graphParts{name: "then", nodes: []pb{node("Relu", "tr", []string{"x"}, []string{"t"})}, outputs: []pb{vinfo("t", tFloat, 2)}}
	els := graphParts{name: "else", nodes: []pb{node("Neg", "en", []string{"x"}, []string{"e"})}, outputs: []pb{vinfo("e", tFloat, 2)}}
	attrG := func(name string, g graphParts) pb {
		return pb(nil).str(1, name).varint(20, atGraph).bytes(6, g.encode())
	}
	g := graphParts{name: "if",
		nodes:   []pb{node("If", "if", []string{"c"}, []string{"y"}, attrG("then_branch", then), attrG("else_branch", els))},
		inputs:  []pb{vinfo("c", tBool), vinfo("x", tFloat, 2)},
		outputs: []pb{vinfo("y", tFloat, 2)}}
	data := model(8, g.encode(), opset("", 17))
	gr, err := Decode(data, "", Options{CustomOps: []string{"If"}})
	if err != nil {
		t.Fatal(err)
	}
	sub := gr.Nodes[0].Attrs["then_branch"].Graph
	if sub == nil || sub.Nodes[0].Inputs[0] != gr.Value("x") {
		t.Fatalf("then_branch does not read the outer x:\n%v", sub)
	}
}

func TestMalformedModels(t *testing.T) {
	good := mlpModel()
	tests := map[string][]byte{
		"empty":          nil,
		"garbage":        []byte("not a protobuf at all \xff\xff\xff"),
		"old IR":         model(2, graphParts{name: "g"}.encode()),
		"no graph":       pb(nil).varint(1, 8),
		"undefined read": model(8, graphParts{name: "g", nodes: []pb{node("Relu", "r", []string{"nope"}, []string{"y"})}}.encode(), opset("", 13)),
		"double define": model(8, graphParts{name: "g", inputs: []pb{vinfo("x", tFloat, 1)},
			nodes: []pb{node("Relu", "r", []string{"x"}, []string{"x"})}}.encode(), opset("", 13)),
		"missing output": model(8, graphParts{name: "g", outputs: []pb{vinfo("y", tFloat, 1)}}.encode(), opset("", 13)),
	}
	for name, data := range tests {
		if _, err := Decode(data, "", Options{}); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
	// Every truncation of a valid model is an error or a valid graph, never a panic.
	for i := 0; i < len(good); i++ {
		g, err := Decode(good[:i], "", Options{})
		if err == nil {
			if verr := g.Validate(); verr != nil {
				t.Errorf("prefix %d: invalid graph: %v", i, verr)
			}
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(mlpModel()))
	f.Add([]byte(model(8, graphParts{name: "c", nodes: []pb{node("Constant", "c", nil, []string{"y"}, attrInts("value_ints", 1, 2))},
		outputs: []pb{vinfo("y", tInt64, 2)}}.encode(), opset("", 13))))
	f.Add([]byte(tensorRaw("t", tFloat, []int64{2}, f32bytes(1, 2))))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Decode(data, "", Options{})
		if err == nil {
			_ = g.String()
		} else if strings.Contains(err.Error(), "decoder panicked") {
			t.Fatal(err) // the recover in Decode hides panics from callers, not from the fuzzer
		}
		_, _, _ = DecodeTensor(data)
	})
}

var _ = graph.Int

// TestInitializersListedAsInputs: IR 3 files list initializers among the graph inputs
// too; they stay constants, and only the true inputs are fed.
func TestInitializersListedAsInputs(t *testing.T) {
	g := graphParts{name: "ir3",
		nodes:        []pb{node("Add", "add", []string{"x", "b"}, []string{"y"})},
		initializers: []pb{tensorRaw("b", tFloat, []int64{2}, f32bytes(1, 2))},
		inputs:       []pb{vinfo("x", tFloat, 2), vinfo("b", tFloat, 2)},
		outputs:      []pb{vinfo("y", tFloat, 2)}}
	gr, err := Decode(model(3, g.encode(), opset("", 7)), "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(gr.Inputs) != 1 || gr.Inputs[0].Name != "x" || !gr.Value("b").IsConst() || gr.Opset != 7 {
		t.Fatalf("inputs %v, b const %v, opset %d", gr.Inputs, gr.Value("b").IsConst(), gr.Opset)
	}
}

func TestZipMapAsTensor(t *testing.T) {
	zm := pb(node("ZipMap", "zm", []string{"p"}, []string{"y"}, pb(nil).str(1, "classlabels_int64s").varint(20, atInts).packed(8, 0, 1))).str(7, "ai.onnx.ml")
	g := graphParts{name: "zm", nodes: []pb{zm}, inputs: []pb{vinfo("p", tFloat, 2, 2)}, outputs: []pb{vinfo("y", tFloat, 2, 2)}}
	data := model(8, g.encode(), opset("", 13), opset("ai.onnx.ml", 1))
	if _, err := Decode(data, "", Options{}); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "ai.onnx.ml.ZipMap") {
		t.Fatalf("ZipMap without the option: %v", err)
	}
	gr, err := Decode(data, "", Options{ZipMapAsTensor: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := gr.Nodes[0]; n.Op != "Identity" || n.Domain != "" {
		t.Fatalf("ZipMap loaded as %s.%s", n.Domain, n.Op)
	}
}

func TestHugeSparseIsRefused(t *testing.T) {
	values := tensorRaw("S", tFloat, []int64{1}, f32bytes(7))
	indices := pb(nil).packed(1, 1).varint(2, tInt64).packed(7, 0)
	sparse := pb(nil).bytes(1, values).bytes(2, indices).packed(3, 1<<20, 1<<20)
	g := graphParts{name: "sparse", nodes: []pb{node("Relu", "r", []string{"S"}, []string{"y"})}, sparse: []pb{sparse}, outputs: []pb{vinfo("y", tFloat)}}
	if _, err := Decode(model(8, g.encode(), opset("", 13)), "", Options{}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("a 2^40-element sparse initializer: error %v, want ErrUnsupported", err)
	}
}
