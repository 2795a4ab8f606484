package pyext

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unsafe"

	"github.com/lightiam/lightos/engine/formats/native"
	"github.com/lightiam/lightos/engine/formats/onnx"
	"github.com/lightiam/lightos/engine/formats/torchscript"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/passes"
	"github.com/lightiam/lightos/engine/passes/cpufold"
	"github.com/lightiam/lightos/engine/tensor"
)

type graphObj struct {
	g    *graph.Graph
	file io.Closer // set when the weights are borrowed from a mapped file (.lightos, .pt)
	// optimized is set by GraphOptimize; sessions of an optimized graph optimize each
	// plan's copy again once the input shapes are known (exec.Options.Specialize), with
	// the same passes disabled.
	optimized bool
	disabled  []string
}

func (o *graphObj) close() error {
	if o.file != nil {
		// Sessions made from this graph may still read the mapped weights; the map is
		// closed only with the graph, and Python keeps the graph alive while they live.
		return o.file.Close()
	}
	return nil
}

// graphSpec is the JSON a Python ExecutionGraph sends to GraphBuild.
type graphSpec struct {
	Name    string       `json:"name"`
	Inputs  []tensorSpec `json:"inputs"`
	Consts  []tensorSpec `json:"consts"`
	Nodes   []nodeSpec   `json:"nodes"`
	Outputs []string     `json:"outputs"`
}

type tensorSpec struct {
	Name  string `json:"name"`
	DType string `json:"dtype"`
	Shape []int  `json:"shape"` // -1 for a dynamic dimension (inputs only)
	Ptr   uint64 `json:"ptr"`   // consts: address of C-contiguous data, copied at build
}

type nodeSpec struct {
	Op      string              `json:"op"`
	Domain  string              `json:"domain"`
	Name    string              `json:"name"`
	Inputs  []string            `json:"inputs"`
	Outputs []string            `json:"outputs"`
	Attrs   map[string]attrSpec `json:"attrs"`
}

// attrSpec holds exactly one of its fields.
type attrSpec struct {
	I  *int64    `json:"i,omitempty"`
	F  *float64  `json:"f,omitempty"`
	S  *string   `json:"s,omitempty"`
	Is []int64   `json:"ints,omitempty"`
	Fs []float64 `json:"floats,omitempty"`
	Ss []string  `json:"strings,omitempty"`
}

func (a attrSpec) attr(name string) (graph.Attr, error) {
	switch {
	case a.I != nil:
		return graph.Int(*a.I), nil
	case a.F != nil:
		return graph.Float(float32(*a.F)), nil
	case a.S != nil:
		return graph.String(*a.S), nil
	case a.Is != nil:
		return graph.Ints(a.Is...), nil
	case a.Fs != nil:
		f := make([]float32, len(a.Fs))
		for i, v := range a.Fs {
			f[i] = float32(v)
		}
		return graph.Floats(f...), nil
	case a.Ss != nil:
		return graph.Strings(a.Ss...), nil
	}
	return graph.Attr{}, fmt.Errorf("attribute %q has no value", name)
}

func parseDType(s string) (tensor.DType, error) {
	dt, err := tensor.ParseDType(s)
	if err != nil {
		return tensor.Invalid, kerr(KindDType, "%v", err)
	}
	return dt, nil
}

// GraphBuild builds a graph from a JSON description (see graphSpec): inputs, constants
// (copied from the given addresses), nodes in order (in-place writes become new SSA
// values), and outputs (empty: every value no node reads). It returns a graph handle.
func GraphBuild(specJSON string) (h int64, err error) {
	defer guard(&err)
	var spec graphSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		return 0, kerr(KindArgument, "graph description: %v", err)
	}
	b := graph.NewBuilder(spec.Name)
	for _, in := range spec.Inputs {
		dt, err := parseDType(in.DType)
		if err != nil {
			return 0, err
		}
		shape := make(graph.Shape, len(in.Shape))
		for i, d := range in.Shape {
			shape[i] = graph.Dim{Size: int64(d)}
			if d < 0 {
				shape[i] = graph.Dim{Size: -1, Param: fmt.Sprintf("%s_%d", in.Name, i)}
			}
		}
		if _, err := b.Input(in.Name, dt, shape); err != nil {
			return 0, kerr(KindGraph, "%v", err)
		}
	}
	for _, c := range spec.Consts {
		dt, err := parseDType(c.DType)
		if err != nil {
			return 0, err
		}
		for _, d := range c.Shape {
			if d < 0 {
				return 0, kerr(KindShape, "constant %q: shape %v has a negative dimension", c.Name, c.Shape)
			}
		}
		t := tensor.New(dt, c.Shape)
		if n := len(t.Bytes()); n > 0 {
			if c.Ptr == 0 {
				return 0, kerr(KindArgument, "constant %q: nil data pointer", c.Name)
			}
			copy(t.Bytes(), unsafe.Slice((*byte)(foreign(uintptr(c.Ptr))), n))
		}
		if _, err := b.Const(c.Name, t); err != nil {
			return 0, kerr(KindGraph, "%v", err)
		}
	}
	for _, n := range spec.Nodes {
		attrs := graph.Attrs{}
		for k, a := range n.Attrs {
			v, err := a.attr(k)
			if err != nil {
				return 0, kerr(KindArgument, "node %q: %v", n.Name, err)
			}
			attrs[k] = v
		}
		if !ops.IsCustom(&graph.Node{Attrs: attrs}) {
			if _, ok := ops.Lookup(n.Domain, n.Op); !ok {
				return 0, kerr(KindUnsupported, "node %q: unknown operator %q (known: %s)", n.Name, n.Op, strings.Join(ops.Names(), ", "))
			}
		}
		node, err := b.Op(n.Op, n.Name, n.Inputs, n.Outputs, attrs)
		if err != nil {
			return 0, kerr(KindGraph, "%v", err)
		}
		node.Domain = n.Domain
	}
	for _, o := range spec.Outputs {
		b.Output(o)
	}
	g, err := b.Finish()
	if err != nil {
		return 0, kerr(KindGraph, "%v", err)
	}
	if err := checkTypes(g); err != nil {
		return 0, err
	}
	return put(&graphObj{g: g}), nil
}

// checkTypes runs shape inference on a copy, so that a graph that can never run is
// reported when it is built (naming node and tensors) rather than at the first run.
func checkTypes(g *graph.Graph) error {
	c := g.Clone()
	if err := c.TopoSort(); err != nil {
		return kerr(KindGraph, "%v", err)
	}
	if err := ops.Infer(c, ops.InferOptions{}); err != nil {
		return kerr(KindShape, "%v", err)
	}
	return nil
}

// GraphOptimize runs the optimizer on the graph in place and returns its report as
// JSON: nodes_before, nodes_after, fired [{pass, nodes, result}].
func GraphOptimize(h int64, disableCSV string) (s string, err error) {
	defer guard(&err)
	o, err := get[*graphObj](h, "graph")
	if err != nil {
		return "", err
	}
	opts := passes.Options{Eval: cpufold.New()}
	if disableCSV != "" {
		opts.Disable = strings.Split(disableCSV, ",")
	}
	rep, err := passes.Optimize(o.g, opts)
	if err != nil {
		return "", classify(err, KindGraph)
	}
	o.optimized, o.disabled = true, opts.Disable
	type fired struct {
		Pass   string   `json:"pass"`
		Nodes  []string `json:"nodes"`
		Result string   `json:"result"`
	}
	out := struct {
		Before int     `json:"nodes_before"`
		After  int     `json:"nodes_after"`
		Fired  []fired `json:"fired"`
	}{rep.NodesBefore, rep.NodesAfter, []fired{}}
	for _, f := range rep.Fired {
		out.Fired = append(out.Fired, fired{f.Pass, f.Nodes, f.Result})
	}
	b, err := json.Marshal(out)
	return string(b), err
}

type valueDesc struct {
	Name  string `json:"name"`
	DType string `json:"dtype"`
	Shape []any  `json:"shape"` // ints, or strings for symbolic dimensions; null if unknown
}

func describeValue(v *graph.Value) valueDesc {
	d := valueDesc{Name: v.Name, DType: v.DType.String()}
	if v.HasShape {
		d.Shape = []any{}
		for _, dim := range v.Shape {
			if dim.Known() {
				d.Shape = append(d.Shape, dim.Size)
			} else {
				d.Shape = append(d.Shape, dim.String())
			}
		}
	}
	return d
}

// GraphDescribe returns the graph as JSON: name, inputs, outputs, constants (name,
// dtype, shape), nodes (name, op, domain, inputs, outputs, custom) with types from
// inference where it succeeds, and the text form.
func GraphDescribe(h int64) (s string, err error) {
	defer guard(&err)
	o, err := get[*graphObj](h, "graph")
	if err != nil {
		return "", err
	}
	c := inferred(o.g)
	type nodeDesc struct {
		Name    string      `json:"name"`
		Op      string      `json:"op"`
		Domain  string      `json:"domain"`
		Inputs  []string    `json:"inputs"`
		Outputs []valueDesc `json:"outputs"`
		Custom  bool        `json:"custom"`
	}
	out := struct {
		Name    string      `json:"name"`
		Inputs  []valueDesc `json:"inputs"`
		Outputs []valueDesc `json:"outputs"`
		Consts  []valueDesc `json:"consts"`
		Nodes   []nodeDesc  `json:"nodes"`
		Text    string      `json:"text"`
	}{Name: c.Name, Inputs: []valueDesc{}, Outputs: []valueDesc{}, Consts: []valueDesc{}, Nodes: []nodeDesc{}, Text: o.g.String()}
	for _, v := range c.Inputs {
		out.Inputs = append(out.Inputs, describeValue(v))
	}
	for _, v := range c.Outputs {
		out.Outputs = append(out.Outputs, describeValue(v))
	}
	for _, v := range c.Initializers {
		out.Consts = append(out.Consts, describeValue(v))
	}
	for _, n := range c.Nodes {
		nd := nodeDesc{Name: n.Name, Op: n.Op, Domain: n.Domain, Inputs: []string{}, Outputs: []valueDesc{}, Custom: ops.IsCustom(n)}
		for _, v := range n.Inputs {
			name := ""
			if v != nil {
				name = v.Name
			}
			nd.Inputs = append(nd.Inputs, name)
		}
		for _, v := range n.Outputs {
			if v != nil {
				nd.Outputs = append(nd.Outputs, describeValue(v))
			}
		}
		out.Nodes = append(out.Nodes, nd)
	}
	b, err := json.Marshal(out)
	return string(b), err
}

// GraphSave writes the graph in the native .lightos format.
func GraphSave(h int64, path string) (err error) {
	defer guard(&err)
	o, err := get[*graphObj](h, "graph")
	if err != nil {
		return err
	}
	if err := native.Save(o.g, path); err != nil {
		return classify(err, KindIO)
	}
	return nil
}

// LoadNative maps a .lightos file (weights borrowed from the map) and returns a graph handle.
func LoadNative(path string) (h int64, err error) {
	defer guard(&err)
	if _, err := os.Stat(path); err != nil {
		return 0, kerr(KindIO, "%v", err)
	}
	f, err := native.Open(path)
	if err != nil {
		if errors.Is(err, native.ErrFormat) {
			return 0, kerr(KindModelFormat, "%v", err)
		}
		return 0, classify(err, KindModelFormat)
	}
	return put(&graphObj{g: f.Graph, file: f}), nil
}

// LoadONNX reads an ONNX model; customCSV names operators registered as custom ops
// (their nodes become custom nodes instead of unsupported-operator errors).
func LoadONNX(path, customCSV string) (h int64, err error) {
	defer guard(&err)
	if _, err := os.Stat(path); err != nil {
		return 0, kerr(KindIO, "%v", err)
	}
	var opts onnx.Options
	if customCSV != "" {
		opts.CustomOps = strings.Split(customCSV, ",")
	}
	g, err := onnx.Load(path, opts)
	if err != nil {
		return 0, classify(err, KindModelFormat)
	}
	return put(&graphObj{g: g}), nil
}

// LoadTorchScript reads a TorchScript archive.
func LoadTorchScript(path string) (h int64, err error) {
	defer guard(&err)
	if _, err := os.Stat(path); err != nil {
		return 0, kerr(KindIO, "%v", err)
	}
	m, err := torchscript.Load(path, torchscript.Options{})
	if err != nil {
		return 0, classify(err, KindModelFormat)
	}
	return put(&graphObj{g: m.Graph, file: m}), nil
}

// GraphSetCustomTypes sets the declared output types of the custom nodes whose op is
// opName: dtypesCSV lists dtype names, shapesJSON a JSON list of shape specs (see
// engine/ops/custom.go). Empty strings keep the defaults. It returns how many nodes
// it marked.
func GraphSetCustomTypes(h int64, opName, dtypesCSV, shapesJSON string) (n int, err error) {
	defer guard(&err)
	o, err := get[*graphObj](h, "graph")
	if err != nil {
		return 0, err
	}
	var dts []int64
	if dtypesCSV != "" {
		for _, s := range strings.Split(dtypesCSV, ",") {
			dt, err := parseDType(s)
			if err != nil {
				return 0, err
			}
			dts = append(dts, int64(dt))
		}
	}
	var shapes []string
	if shapesJSON != "" {
		if err := json.Unmarshal([]byte(shapesJSON), &shapes); err != nil {
			return 0, kerr(KindArgument, "shape specs: %v", err)
		}
	}
	for _, node := range o.g.Nodes {
		if node.Op != opName || !ops.IsCustom(node) {
			continue
		}
		if dts != nil {
			node.Attrs[ops.CustomOutDTypes] = graph.Ints(dts...)
		}
		if shapes != nil {
			node.Attrs[ops.CustomOutShapes] = graph.Strings(shapes...)
		}
		n++
	}
	return n, nil
}

// inferred returns a copy of g with the types inference finds (best effort: values
// whose inference fails keep unknown types).
func inferred(g *graph.Graph) *graph.Graph {
	c := g.Clone()
	if c.TopoSort() == nil {
		_ = ops.Infer(c, ops.InferOptions{})
	}
	return c
}

// specialize returns the exec.Options.Specialize function for sessions of graph o: nil
// unless the graph was optimized, else the same optimization (fresh options per call,
// since plans for different shapes may compile concurrently), with the channels-last
// pass when the session computes on the host CPU (the only backend with its NHWC
// operators).
func (o *graphObj) specialize(onCPU bool) func(*graph.Graph) error {
	if !o.optimized {
		return nil
	}
	disabled := o.disabled
	return func(g *graph.Graph) error {
		_, err := passes.Optimize(g, passes.Options{Eval: cpufold.New(), Disable: disabled, ChannelsLast: onCPU})
		return err
	}
}
