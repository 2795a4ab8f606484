package torchscript

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/nlpodyssey/gopickle/types"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// Input describes one forward() argument when the archive carries no example inputs.
type Input struct {
	DType tensor.DType
	// Shape uses -1 for dynamic dimensions.
	Shape []int64
}

// Options tunes loading.
type Options struct {
	// Inputs gives forward()'s arguments by name (overrides the traced examples).
	Inputs map[string]Input
	// StaticBatch keeps the traced batch size instead of making dimension 0 dynamic.
	StaticBatch bool
}

// Model is a loaded archive: its graph borrows weights from the mapped file, which
// stays valid until Close.
type Model struct {
	Graph *graph.Graph
	arch  *archive
}

// Close unmaps the archive; the graph's weights must not be used afterwards.
func (m *Model) Close() error { return m.arch.close() }

// Load reads a torch.jit.save archive and lowers its forward() into a graph.
func Load(path string, opts Options) (*Model, error) {
	a, err := openArchive(path)
	if err != nil {
		return nil, err
	}
	g, err := lowerArchive(a, opts)
	if err != nil {
		a.close()
		return nil, fmt.Errorf("torchscript: %s: %w", path, err)
	}
	return &Model{Graph: g, arch: a}, nil
}

// Decode lowers an archive held in memory (weights borrow from data).
func Decode(data []byte, opts Options) (*graph.Graph, error) {
	a, err := newArchive(data)
	if err != nil {
		return nil, err
	}
	return lowerArchive(a, opts)
}

// LoadGraph is Load returning the graph and the closer separately, the shape the
// server's and CLI's loader tables use.
func LoadGraph(path string) (*graph.Graph, io.Closer, error) {
	m, err := Load(path, Options{})
	if err != nil {
		return nil, nil, err
	}
	return m.Graph, m, nil
}

func lowerArchive(a *archive, opts Options) (g *graph.Graph, err error) {
	defer func() {
		if r := recover(); r != nil {
			g, err = nil, fmt.Errorf("%w: lowering panicked: %v", ErrFormat, r)
		}
	}()
	classes := map[string]*class{}
	for module, file := range a.codeFiles() {
		src, err := a.bytes(file)
		if err != nil {
			return nil, err
		}
		cs, err := parseFile(module, file, string(src))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrFormat, err)
		}
		for _, c := range cs {
			classes[c.name] = c
		}
	}
	rootAny, err := a.unpickle("data.pkl")
	if err != nil {
		return nil, err
	}
	root, ok := rootAny.(*object)
	if !ok {
		return nil, fmt.Errorf("%w: data.pkl holds %T, not a module", ErrFormat, rootAny)
	}
	var consts []any
	if a.files["constants.pkl"] != nil {
		c, err := a.unpickle("constants.pkl")
		if err != nil {
			return nil, err
		}
		if t, ok := c.(*types.Tuple); ok {
			consts = []any(*t)
		}
	}
	rc := classes[root.class]
	if rc == nil || rc.methods["forward"] == nil {
		return nil, fmt.Errorf("%w: no forward() for the root module %s", ErrFormat, root.class)
	}
	fwd := rc.methods["forward"]
	if cf := controlFlow(classes); len(cf) > 0 {
		return nil, fmt.Errorf("%d statements with control flow cannot be lowered (trace the model with torch.jit.trace instead of scripting it):\n  %s",
			len(cf), strings.Join(cf, "\n  "))
	}
	examples := map[string]*tensorMeta{}
	if a.files["traced_inputs.pkl"] != nil {
		if ti, err := a.unpickleWith("traced_inputs.pkl", true); err == nil {
			examples = tracedInputs(ti, fwd.params)
		}
	}
	name := root.class[strings.LastIndex(root.class, ".")+1:]
	l := &lowerer{g: graph.New(name), classes: classes, consts: consts, weights: map[*tensor.Tensor]*graph.Value{}, seen: map[string]bool{}}
	var inputs []any
	for _, p := range fwd.params {
		in, ok := opts.Inputs[p]
		if !ok {
			ex := examples[p]
			if ex == nil {
				return nil, fmt.Errorf("forward() argument %q: the archive has no example input; give its dtype and shape in Options.Inputs", p)
			}
			in = Input{DType: ex.dtype}
			for i, d := range ex.shape {
				if i == 0 && !opts.StaticBatch {
					in.Shape = append(in.Shape, -1)
				} else {
					in.Shape = append(in.Shape, int64(d))
				}
			}
		}
		shape := make(graph.Shape, len(in.Shape))
		for i, d := range in.Shape {
			shape[i] = graph.Dim{Size: d}
			if d < 0 {
				shape[i] = graph.Dim{Size: -1, Param: "batch"}
				if i > 0 {
					shape[i].Param = fmt.Sprintf("%s_dim%d", p, i)
				}
			}
		}
		inputs = append(inputs, l.g.AddInput(p, in.DType, shape))
	}
	out, callErr := l.call(root, "forward", inputs)
	if len(l.errs) > 0 {
		sort.Strings(l.errs)
		return nil, fmt.Errorf("%d problems lowering forward():\n  %s", len(l.errs), strings.Join(l.errs, "\n  "))
	}
	if callErr != nil {
		return nil, callErr
	}
	outs, ok := seqOf(out)
	if !ok {
		outs = []any{out}
	}
	for i, o := range outs {
		v, ok := o.(*graph.Value)
		if !ok {
			return nil, fmt.Errorf("forward() output %d is %s, not a tensor", i, describe(o))
		}
		l.g.Outputs = append(l.g.Outputs, v)
	}
	// Outputs get stable names: "output", or "output_0", "output_1", ...
	for i, v := range l.g.Outputs {
		want := "output"
		if len(l.g.Outputs) > 1 {
			want = fmt.Sprintf("output_%d", i)
		}
		if v.Producer != nil && l.g.Value(want) == nil {
			v.Name = want
			l.g.Reindex()
		}
	}
	pruneInitializers(l.g)
	if err := l.g.Validate(); err != nil {
		return nil, err
	}
	return l.g, nil
}

// controlFlow lists the control-flow statements in every method of every class.
func controlFlow(classes map[string]*class) []string {
	var out []string
	for _, c := range classes {
		for _, m := range c.methods {
			for _, s := range m.body {
				if s.unsupported != "" {
					out = append(out, fmt.Sprintf("%s.%s line %d: %q statement", c.name, m.name, s.line, s.unsupported))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// tracedInputs maps forward()'s parameters to the traced example inputs.
func tracedInputs(ti any, params []string) map[string]*tensorMeta {
	out := map[string]*tensorMeta{}
	var list []any
	switch d := ti.(type) {
	case *types.Dict:
		if v, ok := d.Get("forward"); ok {
			list, _ = asList(v)
		}
	case *types.OrderedDict:
		if v, ok := d.Get("forward"); ok {
			list, _ = asList(v)
		}
	}
	for i, v := range list {
		if m, ok := v.(*tensorMeta); ok && i < len(params) {
			out[params[i]] = m
		}
	}
	return out
}

func asList(v any) ([]any, bool) {
	switch x := v.(type) {
	case *types.List:
		return []any(*x), true
	case *types.Tuple:
		return []any(*x), true
	}
	return nil, false
}

// pruneInitializers drops weights nothing reads (e.g. a weight replaced by its
// load-time transpose) and nodes whose results are unused.
func pruneInitializers(g *graph.Graph) {
	for {
		used := map[*graph.Value]bool{}
		for _, v := range g.Outputs {
			used[v] = true
		}
		for _, n := range g.Nodes {
			for _, v := range n.Inputs {
				used[v] = true
			}
		}
		dead := map[*graph.Node]bool{}
		for _, n := range g.Nodes {
			live := false
			for _, v := range n.Outputs {
				live = live || (v != nil && used[v])
			}
			if !live {
				dead[n] = true
			}
		}
		kept := g.Initializers[:0]
		for _, v := range g.Initializers {
			if used[v] {
				kept = append(kept, v)
			}
		}
		g.Initializers = kept
		if len(dead) == 0 {
			g.Reindex()
			return
		}
		g.RemoveNodes(dead)
	}
}
