package onnx

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"syscall"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// Options tunes loading. The zero value loads every operator the engine has a schema
// for and rejects the rest.
type Options struct {
	// CustomOps names operators the caller has registered as custom ops: nodes of those
	// names become custom nodes instead of "unsupported operator" errors. An entry is
	// an op type ("MyOp") or a domain-qualified one ("com.example.MyOp").
	CustomOps []string
	// ZipMapAsTensor loads ai.onnx.ml ZipMap nodes (which turn class probabilities into
	// a sequence of maps, a value kind the engine lacks) as Identity: the output is the
	// probability tensor [N, classes], in the order of the classifier's labels.
	ZipMapAsTensor bool
}

// MinIRVersion is the oldest ONNX IR version the loader accepts (the first with
// opset imports).
const MinIRVersion = 3

// Model is a decoded ONNX model with its metadata. A model made by Open borrows its
// weights from a memory map of the file that stays valid until Close.
type Model struct {
	Graph     *graph.Graph
	IRVersion int64
	// Opsets maps each imported domain ("" for ai.onnx) to its opset version.
	Opsets   map[string]int64
	Producer string

	mem []byte
	ext *externalStore
}

// Close releases the file mappings of a model made by Open. The graph's constants must
// not be used afterwards. It is safe to call more than once.
func (m *Model) Close() error {
	if m == nil {
		return nil
	}
	err := m.ext.close()
	if m.mem != nil {
		if e := syscall.Munmap(m.mem); e != nil && err == nil {
			err = e
		}
		m.mem = nil
	}
	return err
}

// Open maps the ONNX model at path and decodes it without copying weights: initializer
// raw_data and large external data files are borrowed from read-only memory maps,
// which makes models over 2 GB load in the time it takes to walk the node list.
func Open(path string, opts Options) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	if st.Size() == 0 {
		return nil, fmt.Errorf("%w: %s is empty", ErrFormat, path)
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("onnx: map %s: %w", path, err)
	}
	ext := &externalStore{dir: dirOf(path)}
	m, err := decodeModelBytes(mem, ext, opts)
	if err != nil {
		ext.close()
		syscall.Munmap(mem)
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m.mem = mem
	return m, nil
}

// Load reads the ONNX model at path into memory and decodes it; initializers borrow
// from that buffer (no copy per weight). External data files are resolved relative to
// the model's directory and read likewise. Use Open to map the file instead.
func Load(path string, opts Options) (*graph.Graph, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	g, err := Decode(data, dirOf(path), opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return g, nil
}

func dirOf(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[:i+1]
	}
	return "."
}

// Decode reads an ONNX model from bytes (external data is resolved against dir and
// read into memory). The graph's constants borrow from data, which must stay unchanged.
func Decode(data []byte, dir string, opts Options) (*graph.Graph, error) {
	m, err := DecodeModel(data, dir, opts)
	if err != nil {
		return nil, err
	}
	return m.Graph, nil
}

// DecodeModel is Decode returning the model's metadata too.
func DecodeModel(data []byte, dir string, opts Options) (*Model, error) {
	return decodeModelBytes(data, &externalStore{dir: dir, noMap: true}, opts)
}

func decodeModelBytes(data []byte, ext *externalStore, opts Options) (m *Model, err error) {
	defer func() {
		if r := recover(); r != nil { // a decoder bug must not take the process down
			m, err = nil, fmt.Errorf("%w: decoder panicked: %v", ErrFormat, r)
		}
	}()
	mp, err := decodeModel(data)
	if err != nil {
		return nil, err
	}
	if mp.irVersion < MinIRVersion {
		return nil, fmt.Errorf("%w: IR version %d (the loader reads IR %d and later)", ErrUnsupported, mp.irVersion, MinIRVersion)
	}
	if mp.graph == nil {
		return nil, fmt.Errorf("%w: the model has no graph", ErrFormat)
	}
	l := &loader{opts: opts, ext: ext, opsets: map[string]int64{}, functions: map[string]*functionProto{}, missing: map[string]bool{}}
	for _, id := range mp.opsets {
		l.opsets[normDomain(id.domain)] = id.version
	}
	for _, raw := range mp.functions {
		fn, err := decodeFunction(raw)
		if err != nil {
			return nil, err
		}
		l.functions[fnKey(fn.domain, fn.name)] = fn
	}
	gp, err := decodeGraphProto(mp.graph)
	if err != nil {
		return nil, err
	}
	g, err := l.graph(gp, nil, true)
	if err != nil {
		return nil, err
	}
	if len(l.missing) > 0 {
		list := make([]string, 0, len(l.missing))
		for k := range l.missing {
			list = append(list, k)
		}
		sort.Strings(list)
		return nil, fmt.Errorf("%w: operators without an engine schema (register them as custom ops to load anyway): %s", ErrUnsupported, strings.Join(list, ", "))
	}
	if err := unsupportedCasts(g); err != nil {
		return nil, err
	}
	if err := g.TopoSort(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	return &Model{Graph: g, IRVersion: mp.irVersion, Opsets: l.opsets, Producer: mp.producer, ext: ext}, nil
}

func normDomain(d string) string {
	if d == "ai.onnx" {
		return ""
	}
	return d
}

func fnKey(domain, name string) string { return normDomain(domain) + "\x00" + name }

// loader carries what one model's decoding needs.
type loader struct {
	opts      Options
	ext       *externalStore
	opsets    map[string]int64
	functions map[string]*functionProto
	missing   map[string]bool // "domain.op (opset N)" of operators without a schema
	inlined   int
	depth     int // nesting of subgraphs being decoded
}

// maxGraphDepth bounds subgraph nesting, so a crafted file cannot exhaust the stack.
const maxGraphDepth = 64

// opset is the version the model imports for domain (0 when none).
func (l *loader) opset(domain string) int64 { return l.opsets[normDomain(domain)] }

func (l *loader) isCustom(domain, op string) bool {
	for _, c := range l.opts.CustomOps {
		if c == op || (domain != "" && (c == domain+"."+op || c == domain+"::"+op)) {
			return true
		}
	}
	return false
}

// valueType converts a declared ValueInfo type.
func valueType(vi valueInfo) (graph.Type, error) {
	switch vi.typ.kind {
	case "":
		return graph.Type{}, nil
	case "tensor":
	default:
		return graph.Type{}, fmt.Errorf("%w: value %q has %s type (only tensors are supported)", ErrUnsupported, vi.name, vi.typ.kind)
	}
	dt, err := dtypeOf(vi.typ.elemType)
	if err != nil {
		return graph.Type{}, fmt.Errorf("value %q: %w", vi.name, err)
	}
	t := graph.Type{DType: dt, HasShape: vi.typ.hasShape}
	if vi.typ.hasShape {
		t.Shape = make(graph.Shape, len(vi.typ.dims))
		for i, d := range vi.typ.dims {
			if d.hasValue && d.value >= 0 {
				t.Shape[i] = graph.Dim{Size: d.value}
			} else {
				t.Shape[i] = graph.Dim{Size: -1, Param: d.param}
			}
		}
	}
	return t, nil
}

// graph converts a GraphProto. outer resolves names of enclosing graphs (subgraphs of
// If, Loop, Scan read them directly, as in the native format).
func (l *loader) graph(gp *graphProto, outer func(string) *graph.Value, _ bool) (*graph.Graph, error) {
	g := graph.New(gp.name)
	g.Opset = l.opset("")
	scope := map[string]*graph.Value{}
	lookup := func(name string) *graph.Value {
		if v, ok := scope[name]; ok {
			return v
		}
		if outer != nil {
			return outer(name)
		}
		return nil
	}
	define := func(v *graph.Value) error {
		if _, dup := scope[v.Name]; dup {
			return fmt.Errorf("%w: graph %q: value %q is defined twice", ErrFormat, gp.name, v.Name)
		}
		scope[v.Name] = v
		return nil
	}
	for _, raw := range gp.initializers {
		tp, err := decodeTensorProto(raw)
		if err != nil {
			return nil, fmt.Errorf("initializer: %w", err)
		}
		t, err := tp.toTensor(l.ext)
		if err != nil {
			return nil, fmt.Errorf("initializer %q: %w", tp.name, err)
		}
		v := &graph.Value{Name: tp.name, Type: constType(t), Const: t}
		if err := define(v); err != nil {
			return nil, err
		}
		g.Initializers = append(g.Initializers, v)
	}
	for _, raw := range gp.sparse {
		name, t, err := sparseToDense(raw, l.ext)
		if err != nil {
			return nil, fmt.Errorf("sparse initializer %q: %w", name, err)
		}
		v := &graph.Value{Name: name, Type: constType(t), Const: t}
		if err := define(v); err != nil {
			return nil, err
		}
		g.Initializers = append(g.Initializers, v)
	}
	for _, vi := range gp.inputs {
		if v, ok := scope[vi.name]; ok && v.Const != nil {
			continue // IR < 4 lists initializers as inputs too: they stay constants
		}
		t, err := valueType(vi)
		if err != nil {
			return nil, fmt.Errorf("graph input: %w", err)
		}
		v := &graph.Value{Name: vi.name, Type: t}
		if err := define(v); err != nil {
			return nil, err
		}
		g.Inputs = append(g.Inputs, v)
	}
	nodes, err := l.inlineFunctions(gp.nodes, 0)
	if err != nil {
		return nil, err
	}
	// Constant nodes become constant values (initializers) at load time, so that
	// inference sees their data and no kernel runs for them.
	kept := nodes[:0:0]
	for i := range nodes {
		np := &nodes[i]
		if np.op != "Constant" || normDomain(np.domain) != "" || len(np.outputs) != 1 {
			kept = append(kept, *np)
			continue
		}
		t, err := l.constantValue(np)
		if err != nil {
			return nil, fmt.Errorf("node %q (Constant): %w", np.name, err)
		}
		v := &graph.Value{Name: np.outputs[0], Type: constType(t), Const: t}
		if err := define(v); err != nil {
			return nil, err
		}
		g.Initializers = append(g.Initializers, v)
	}
	nodes = kept
	used := map[string]bool{}
	for i := range nodes {
		np := &nodes[i]
		name := np.name
		if name == "" || used[name] {
			base := name
			if base == "" {
				base = np.op
			}
			name = fmt.Sprintf("%s_%d", base, i)
			for used[name] {
				name += "_"
			}
		}
		used[name] = true
		n := &graph.Node{Name: name, Op: np.op, Domain: normDomain(np.domain), Attrs: graph.Attrs{}}
		if l.opts.ZipMapAsTensor && n.Op == "ZipMap" && n.Domain == "ai.onnx.ml" {
			n.Op, n.Domain, np.attrs = "Identity", "", nil
		}
		for _, on := range np.outputs {
			if on == "" {
				n.Outputs = append(n.Outputs, nil)
				continue
			}
			v := &graph.Value{Name: on, Producer: n}
			if err := define(v); err != nil {
				return nil, fmt.Errorf("node %q (%s): %w", name, np.op, err)
			}
			n.Outputs = append(n.Outputs, v)
		}
		g.Nodes = append(g.Nodes, n)
	}
	for i, n := range g.Nodes {
		np := &nodes[i]
		for j, in := range np.inputs {
			if in == "" {
				n.Inputs = append(n.Inputs, nil)
				continue
			}
			v := lookup(in)
			if v == nil {
				return nil, fmt.Errorf("%w: node %q (%s) input %d reads %q, which nothing defines", ErrFormat, n.Name, n.Op, j, in)
			}
			n.Inputs = append(n.Inputs, v)
		}
		for _, ap := range np.attrs {
			a, ok, err := l.attr(ap, lookup)
			if err != nil {
				return nil, fmt.Errorf("node %q (%s): %w", n.Name, n.Op, err)
			}
			if ok {
				n.Attrs[ap.name] = a
			}
		}
		n.Attrs["_opset"] = graph.Int(l.opset(n.Domain))
		addImplicitInputs(n)
		if _, ok := ops.Lookup(n.Domain, n.Op); !ok {
			if l.isCustom(n.Domain, n.Op) {
				n.Attrs[ops.CustomAttr] = graph.Int(1)
			} else {
				d := n.Domain
				if d == "" {
					d = "ai.onnx"
				}
				l.missing[fmt.Sprintf("%s.%s (opset %d)", d, n.Op, l.opset(n.Domain))] = true
			}
		}
	}
	for _, vi := range gp.outputs {
		v := lookup(vi.name)
		if v == nil {
			return nil, fmt.Errorf("%w: graph %q: output %q is never defined", ErrFormat, gp.name, vi.name)
		}
		if v.DType == tensor.Invalid && v.Producer != nil {
			// keep the declared type: a hint for tools (inference overwrites it) and
			// what control-flow operators know of a subgraph's output shapes
			if t, err := valueType(vi); err == nil {
				v.Type = t
			}
		}
		g.Outputs = append(g.Outputs, v)
	}
	g.Reindex()
	return g, nil
}

func constType(t *tensor.Tensor) graph.Type {
	return graph.Type{DType: t.DType(), Shape: graph.ShapeOf(t.Shape()...), HasShape: true}
}

// The AttributeProto.AttributeType values.
const (
	atFloat, atInt, atString, atTensor, atGraph                = 1, 2, 3, 4, 5
	atFloats, atInts, atStrings, atTensors, atGraphs           = 6, 7, 8, 9, 10
	atSparseTensor, atSparseTensors, atTypeProto, atTypeProtos = 11, 12, 13, 14
)

// attr converts one attribute; ok is false for kinds the IR has no place for (lists of
// tensors or graphs, type protos), which only operators the engine lacks use.
func (l *loader) attr(a attrProto, lookup func(string) *graph.Value) (graph.Attr, bool, error) {
	typ := a.typ
	if typ == 0 { // IR < 3 style: infer the kind from the field present
		switch {
		case a.has[2]:
			typ = atFloat
		case a.has[3]:
			typ = atInt
		case a.has[4]:
			typ = atString
		case a.has[5]:
			typ = atTensor
		case a.has[6]:
			typ = atGraph
		case a.has[7]:
			typ = atFloats
		case a.has[8]:
			typ = atInts
		case a.has[9]:
			typ = atStrings
		default:
			return graph.Attr{}, false, nil
		}
	}
	switch typ {
	case atFloat:
		return graph.Float(a.f), true, nil
	case atInt:
		return graph.Int(a.i), true, nil
	case atString:
		return graph.String(string(a.s)), true, nil
	case atFloats:
		return graph.Attr{Kind: graph.AttrFloats, Floats: a.floats}, true, nil
	case atInts:
		return graph.Attr{Kind: graph.AttrInts, Ints: a.ints}, true, nil
	case atStrings:
		ss := make([]string, len(a.strings))
		for i, s := range a.strings {
			ss[i] = string(s)
		}
		return graph.Attr{Kind: graph.AttrStrings, Strings: ss}, true, nil
	case atTensor:
		tp, err := decodeTensorProto(a.t)
		if err != nil {
			return graph.Attr{}, false, fmt.Errorf("attribute %q: %w", a.name, err)
		}
		t, err := tp.toTensor(l.ext)
		if err != nil {
			return graph.Attr{}, false, fmt.Errorf("attribute %q: %w", a.name, err)
		}
		return graph.TensorAttr(t), true, nil
	case atSparseTensor:
		_, t, err := sparseToDense(a.sparse, l.ext)
		if err != nil {
			return graph.Attr{}, false, fmt.Errorf("attribute %q: %w", a.name, err)
		}
		return graph.TensorAttr(t), true, nil
	case atGraph:
		if l.depth >= maxGraphDepth {
			return graph.Attr{}, false, fmt.Errorf("%w: subgraphs nest deeper than %d", ErrFormat, maxGraphDepth)
		}
		l.depth++
		defer func() { l.depth-- }()
		gp, err := decodeGraphProto(a.g)
		if err != nil {
			return graph.Attr{}, false, fmt.Errorf("attribute %q: %w", a.name, err)
		}
		sub, err := l.graph(gp, lookup, false)
		if err != nil {
			return graph.Attr{}, false, fmt.Errorf("attribute %q: %w", a.name, err)
		}
		return graph.Attr{Kind: graph.AttrGraph, Graph: sub}, true, nil
	case atTensors, atGraphs, atSparseTensors, atTypeProto, atTypeProtos:
		return graph.Attr{}, false, nil
	}
	return graph.Attr{}, false, fmt.Errorf("%w: attribute %q has unknown type %d", ErrFormat, a.name, typ)
}

// constantValue is the tensor a Constant node defines (value, sparse_value,
// value_float(s), value_int(s)); string constants are unsupported.
func (l *loader) constantValue(np *nodeProto) (*tensor.Tensor, error) {
	if len(np.attrs) != 1 {
		return nil, fmt.Errorf("%w: Constant has %d attributes, expected exactly 1", ErrFormat, len(np.attrs))
	}
	a := np.attrs[0]
	switch a.name {
	case "value", "sparse_value":
		at, _, err := l.attr(a, nil)
		if err != nil {
			return nil, err
		}
		if at.Kind != graph.AttrTensor || at.Tensor == nil {
			return nil, fmt.Errorf("%w: Constant attribute %q holds no tensor", ErrFormat, a.name)
		}
		return at.Tensor, nil
	case "value_float":
		t := tensor.New(tensor.Float32, nil)
		t.Float32s()[0] = a.f
		return t, nil
	case "value_floats":
		t := tensor.New(tensor.Float32, []int{len(a.floats)})
		copy(t.Float32s(), a.floats)
		return t, nil
	case "value_int":
		t := tensor.New(tensor.Int64, nil)
		t.Int64s()[0] = a.i
		return t, nil
	case "value_ints":
		t := tensor.New(tensor.Int64, []int{len(a.ints)})
		copy(t.Int64s(), a.ints)
		return t, nil
	case "value_string", "value_strings":
		return nil, fmt.Errorf("%w: string constants", ErrUnsupported)
	}
	return nil, fmt.Errorf("%w: Constant attribute %q", ErrFormat, a.name)
}

// ExplicitInputsAttr is set on nodes with subgraphs (If, Loop, Scan): the number of
// inputs the node declares. The inputs after them are the values of enclosing graphs
// that the subgraphs read (implicit inputs, as ONNX Runtime calls them), listed so
// that scheduling, liveness and dead-code elimination see those reads.
const ExplicitInputsAttr = "_explicit_inputs"

// addImplicitInputs appends to n's inputs every value its subgraphs read from outside
// themselves (nested subgraphs included, since their own nodes list them already).
func addImplicitInputs(n *graph.Node) {
	var subs []*graph.Graph
	for _, a := range n.Attrs {
		if a.Kind == graph.AttrGraph && a.Graph != nil {
			subs = append(subs, a.Graph)
		}
	}
	if len(subs) == 0 {
		return
	}
	n.Attrs[ExplicitInputsAttr] = graph.Int(int64(len(n.Inputs)))
	seen := map[*graph.Value]bool{}
	for _, v := range n.Inputs {
		seen[v] = true
	}
	for _, g := range subs {
		local := map[*graph.Value]bool{}
		for _, v := range g.Inputs {
			local[v] = true
		}
		for _, v := range g.Initializers {
			local[v] = true
		}
		for _, sn := range g.Nodes {
			for _, v := range sn.Outputs {
				local[v] = true
			}
		}
		add := func(v *graph.Value) {
			if v != nil && !local[v] && !seen[v] {
				seen[v] = true
				n.Inputs = append(n.Inputs, v)
			}
		}
		for _, sn := range g.Nodes {
			for _, v := range sn.Inputs {
				add(v)
			}
		}
		for _, v := range g.Outputs {
			add(v)
		}
	}
}

// unsupportedCasts reports Cast nodes whose target is an ONNX element type the engine
// has no dtype for (float8, int4, float4, string, ...): the model cannot run, which is
// a limitation of the engine rather than a malformed file.
func unsupportedCasts(g *graph.Graph) error {
	var bad []string
	for _, n := range g.Nodes {
		if n.Domain != "" || n.Op != "Cast" {
			continue
		}
		if to := n.Attrs.GetInt("to", 0); !tensor.DType(to).Valid() {
			bad = append(bad, fmt.Sprintf("node %q casts to ONNX element type %d", n.Name, to))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: element types the engine lacks: %s", ErrUnsupported, strings.Join(bad, "; "))
	}
	return nil
}
