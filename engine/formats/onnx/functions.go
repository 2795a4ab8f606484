package onnx

import (
	"fmt"

	"github.com/lightiam/lightos/engine/ops"
)

// maxInlineDepth bounds nested model-local function calls (and recursion in a
// malformed file).
const maxInlineDepth = 16

// inlineFunctions replaces calls of model-local functions (ModelProto.functions) whose
// operator has no engine schema by the function bodies, renaming the body's internal
// values and substituting attribute references (ref_attr_name).
func (l *loader) inlineFunctions(nodes []nodeProto, depth int) ([]nodeProto, error) {
	if len(l.functions) == 0 {
		return nodes, nil
	}
	var out []nodeProto
	for _, n := range nodes {
		fn, ok := l.functions[fnKey(n.domain, n.op)]
		if !ok {
			out = append(out, n)
			continue
		}
		if _, known := ops.Lookup(normDomain(n.domain), n.op); known {
			out = append(out, n)
			continue
		}
		if depth >= maxInlineDepth {
			return nil, fmt.Errorf("%w: function %q nests deeper than %d calls", ErrFormat, n.op, maxInlineDepth)
		}
		for _, id := range fn.opsets {
			if _, seen := l.opsets[normDomain(id.domain)]; !seen {
				l.opsets[normDomain(id.domain)] = id.version
			}
		}
		l.inlined++
		prefix := fmt.Sprintf("%s__%d__", n.op, l.inlined)
		rename := map[string]string{}
		for i, formal := range fn.inputs {
			actual := ""
			if i < len(n.inputs) {
				actual = n.inputs[i]
			}
			rename[formal] = actual
		}
		for i, formal := range fn.outputs {
			actual := ""
			if i < len(n.outputs) {
				actual = n.outputs[i]
			}
			if actual == "" {
				actual = prefix + formal
			}
			rename[formal] = actual
		}
		name := func(s string) string {
			if s == "" {
				return ""
			}
			if r, ok := rename[s]; ok {
				return r
			}
			return prefix + s
		}
		callAttrs := map[string]attrProto{}
		for _, a := range fn.attrDefaults {
			callAttrs[a.name] = a
		}
		for _, a := range n.attrs {
			callAttrs[a.name] = a
		}
		body := make([]nodeProto, 0, len(fn.nodes))
		for _, bn := range fn.nodes {
			c := nodeProto{name: prefix + bn.name, op: bn.op, domain: bn.domain}
			for _, s := range bn.inputs {
				c.inputs = append(c.inputs, name(s))
			}
			for _, s := range bn.outputs {
				c.outputs = append(c.outputs, name(s))
			}
			for _, a := range bn.attrs {
				if a.refName != "" {
					v, ok := callAttrs[a.refName]
					if !ok {
						continue // an optional attribute the call does not set
					}
					v.name = a.name
					c.attrs = append(c.attrs, v)
					continue
				}
				c.attrs = append(c.attrs, a)
			}
			body = append(body, c)
		}
		body, err := l.inlineFunctions(body, depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, body...)
	}
	return out, nil
}
