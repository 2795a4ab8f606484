package passes

import (
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// Context is what a pass works on: the graph, the options, and helpers that keep the
// consumer index, node names and the report right across rewrites.
type Context struct {
	G    *graph.Graph
	Opts Options

	pass    string
	fired   int
	report  *Report
	cons    map[*graph.Value][]*graph.Node // nil when stale
	names   map[string]bool                // node names in use; nil when stale
	removed map[*graph.Node]bool
}

func (c *Context) reset() {
	c.cons, c.names = nil, nil
	c.removed = map[*graph.Node]bool{}
}

// Consumers returns the nodes reading v (a node reading v twice appears twice).
func (c *Context) Consumers(v *graph.Value) []*graph.Node {
	if c.cons == nil {
		c.cons = c.G.Consumers()
	}
	return c.cons[v]
}

// Removed reports whether a rewrite of this pass removed n.
func (c *Context) Removed(n *graph.Node) bool { return c.removed[n] }

// SoleConsumer returns the one node reading v, or nil when v is read by none or
// several, or is a graph output.
func (c *Context) SoleConsumer(v *graph.Value) *graph.Node {
	if v == nil || c.G.IsOutput(v) {
		return nil
	}
	cs := c.Consumers(v)
	if len(cs) != 1 {
		return nil
	}
	return cs[0]
}

// Fire records a rewrite of the current pass on the matched nodes.
func (c *Context) Fire(matched []*graph.Node, result *graph.Node) {
	f := Fired{Pass: c.pass}
	for _, n := range matched {
		f.Nodes = append(f.Nodes, n.Name)
	}
	if result != nil {
		f.Result = result.Name
	}
	c.report.Fired = append(c.report.Fired, f)
	c.fired++
}

// NodeName returns a node name based on base that no node uses.
func (c *Context) NodeName(base string) string {
	if c.names == nil {
		c.names = map[string]bool{}
		for _, n := range c.G.Nodes {
			c.names[n.Name] = true
		}
	}
	name := base
	for i := 1; c.names[name]; i++ {
		name = base + "_" + itoa(i)
	}
	c.names[name] = true
	return name
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	p := len(b)
	for ; i > 0; i /= 10 {
		p--
		b[p] = byte('0' + i%10)
	}
	return string(b[p:])
}

// AddConst adds an initializer holding t, named after base.
func (c *Context) AddConst(base string, t *tensor.Tensor) *graph.Value {
	return c.G.AddInitializer(c.G.UniqueName(base), t)
}

// NewNode makes a node (not yet in the graph) writing outputs, which are taken over
// from the nodes being replaced.
func (c *Context) NewNode(op, domain, base string, inputs []*graph.Value, outputs []*graph.Value, attrs graph.Attrs) *graph.Node {
	if attrs == nil {
		attrs = graph.Attrs{}
	}
	return &graph.Node{Name: c.NodeName(base), Op: op, Domain: domain, Inputs: inputs, Outputs: outputs, Attrs: attrs}
}

// Replace removes the matched nodes and puts repl where the last of them was (so every
// value repl reads is already written there and every reader of its outputs comes
// later), records the rewrite and refreshes the indexes. repl may be nil (nodes only
// removed). repl's outputs are made to name it as their producer.
func (c *Context) Replace(matched []*graph.Node, repl *graph.Node) {
	dead := map[*graph.Node]bool{}
	for _, n := range matched {
		dead[n] = true
	}
	last := -1
	for i, n := range c.G.Nodes {
		if dead[n] {
			last = i
		}
	}
	kept := make([]*graph.Node, 0, len(c.G.Nodes)+1)
	for i, n := range c.G.Nodes {
		if !dead[n] {
			kept = append(kept, n)
		}
		if i == last && repl != nil {
			kept = append(kept, repl)
		}
	}
	if repl != nil {
		for _, v := range repl.Outputs {
			if v != nil {
				v.Producer = repl
			}
		}
	}
	c.G.Nodes = kept
	c.G.Reindex()
	for n := range dead {
		c.removed[n] = true
	}
	c.cons = nil
	c.Fire(matched, repl)
}

// CanFuse is the one check every fusion goes through before replacing the nodes of a
// match by a single node that writes root's first output. It holds when:
//
//   - every output of every matched node other than root is read only by matched
//     nodes and is not a graph output (so no other consumer still needs an
//     intermediate the fused node will not write);
//   - root's outputs other than the first are unused and not graph outputs (fused
//     operators have one output);
//   - the nodes run on the same device. The IR has no per-node placement yet (a
//     session runs a whole graph on one device); a placement pass would record it in
//     the "_device" attribute, which is compared here.
func (c *Context) CanFuse(root *graph.Node, others ...*graph.Node) bool {
	in := map[*graph.Node]bool{root: true}
	for _, n := range others {
		if n == nil || c.removed[n] {
			return false
		}
		in[n] = true
	}
	if c.removed[root] || len(root.Outputs) == 0 || root.Outputs[0] == nil {
		return false
	}
	dev := root.Attrs.GetString("_device", "")
	unused := func(v *graph.Value, allowInside bool) bool {
		if v == nil {
			return true
		}
		if c.G.IsOutput(v) {
			return false
		}
		for _, r := range c.Consumers(v) {
			if !allowInside || !in[r] {
				return false
			}
		}
		return true
	}
	for _, n := range others {
		if n == root {
			continue
		}
		if n.Attrs.GetString("_device", "") != dev {
			return false
		}
		for _, v := range n.Outputs {
			if !unused(v, true) {
				return false
			}
		}
	}
	for _, v := range root.Outputs[1:] {
		if !unused(v, false) {
			return false
		}
	}
	return true
}

// Rule is a rewrite that starts from nodes of the given root operators (ONNX domain
// unless Domain is set). Apply returns true when it rewrote the graph around n.
type Rule struct {
	Roots  []string
	Domain string
	Apply  func(c *Context, n *graph.Node) (bool, error)
}

// RulePass makes a pass that offers every node of a root operator, in graph order, to
// the rule (nodes a rewrite removed are skipped).
func RulePass(name string, r Rule) Pass {
	roots := map[string]bool{}
	for _, op := range r.Roots {
		roots[op] = true
	}
	return Pass{Name: name, Run: func(c *Context) error {
		for _, n := range append([]*graph.Node(nil), c.G.Nodes...) {
			sameDomain := n.Domain == r.Domain || (onnxDomain(r.Domain) && onnxDomain(n.Domain))
			if c.removed[n] || !sameDomain || !roots[n.Op] {
				continue
			}
			if _, err := r.Apply(c, n); err != nil {
				return err
			}
		}
		return nil
	}}
}
