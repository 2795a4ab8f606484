package ops

import (
	"fmt"
	"sort"
	"strings"

	"github.com/lightiam/lightos/engine/graph"
)

func init() {
	register(Schema{Name: "Einsum", Doc: "Einstein summation over labelled axes (equation; implicit output and ... supported)",
		Inputs: Arity{1, Variadic}, Outputs: Arity{1, 1}, Infer: inferEinsum})
}

// EinsumSpec is a parsed Einsum equation for inputs of known ranks. Labels are
// numbered 0..Labels-1; ellipsis axes get labels of their own, right-aligned across
// inputs as in NumPy broadcasting.
type EinsumSpec struct {
	Labels int
	Inputs [][]int // per input, the label of each axis (a label repeated: a diagonal)
	Output []int   // the label of each output axis
}

// ParseEinsum parses an equation such as "bij,bjk->bik", "ii", or "...ij->...ji" for
// inputs of the given ranks.
func ParseEinsum(eq string, ranks []int) (*EinsumSpec, error) {
	eq = strings.ReplaceAll(eq, " ", "")
	lhs, rhs, explicit := strings.Cut(eq, "->")
	terms := strings.Split(lhs, ",")
	if len(terms) != len(ranks) {
		return nil, fmt.Errorf("equation %q has %d operands, the node has %d inputs", eq, len(terms), len(ranks))
	}
	letters := map[byte]int{}
	count := map[byte]int{}
	type parsed struct {
		before, after []byte
		ell           bool
	}
	ps := make([]parsed, len(terms))
	maxEll := 0
	for i, t := range terms {
		b, a, ell := strings.Cut(t, "...")
		if strings.Contains(a, "...") {
			return nil, fmt.Errorf("operand %q has more than one ellipsis", t)
		}
		p := parsed{before: []byte(b), after: []byte(a), ell: ell}
		for _, c := range append(append([]byte{}, p.before...), p.after...) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				return nil, fmt.Errorf("operand %q has the character %q; labels are letters", t, c)
			}
			count[c]++
		}
		n := len(p.before) + len(p.after)
		switch {
		case ell && n > ranks[i]:
			return nil, fmt.Errorf("operand %q names %d axes, input %d has rank %d", t, n, i, ranks[i])
		case !ell && n != ranks[i]:
			return nil, fmt.Errorf("operand %q names %d axes, input %d has rank %d", t, n, i, ranks[i])
		case ell:
			maxEll = max(maxEll, ranks[i]-n)
		}
		ps[i] = p
	}
	spec := &EinsumSpec{Labels: maxEll}
	label := func(c byte) int {
		if l, ok := letters[c]; ok {
			return l
		}
		letters[c] = spec.Labels
		spec.Labels++
		return letters[c]
	}
	spec.Inputs = make([][]int, len(ps))
	for i, p := range ps {
		var ls []int
		for _, c := range p.before {
			ls = append(ls, label(c))
		}
		if p.ell {
			e := ranks[i] - len(p.before) - len(p.after)
			for j := maxEll - e; j < maxEll; j++ {
				ls = append(ls, j)
			}
		}
		for _, c := range p.after {
			ls = append(ls, label(c))
		}
		spec.Inputs[i] = ls
	}
	if explicit {
		b, a, ell := strings.Cut(rhs, "...")
		seen := map[byte]bool{}
		for _, c := range []byte(b + a) {
			if _, ok := letters[c]; !ok {
				return nil, fmt.Errorf("output label %q does not appear in the operands", c)
			}
			if seen[c] {
				return nil, fmt.Errorf("output label %q appears twice", c)
			}
			seen[c] = true
		}
		for _, c := range []byte(b) {
			spec.Output = append(spec.Output, letters[c])
		}
		if ell {
			for j := 0; j < maxEll; j++ {
				spec.Output = append(spec.Output, j)
			}
		}
		for _, c := range []byte(a) {
			spec.Output = append(spec.Output, letters[c])
		}
		return spec, nil
	}
	for j := 0; j < maxEll; j++ {
		spec.Output = append(spec.Output, j)
	}
	var once []byte
	for c, n := range count {
		if n == 1 {
			once = append(once, c)
		}
	}
	sort.Slice(once, func(i, j int) bool { return once[i] < once[j] })
	for _, c := range once {
		spec.Output = append(spec.Output, letters[c])
	}
	return spec, nil
}

// Sizes returns the size of every label for inputs of the given shapes (size-1 axes
// broadcast), failing where two axes with one label disagree.
func (s *EinsumSpec) Sizes(shapes [][]int) ([]int, error) {
	sizes := make([]int, s.Labels)
	for i := range sizes {
		sizes[i] = -2 // not seen
	}
	for i, ls := range s.Inputs {
		for d, l := range ls {
			n := shapes[i][d]
			switch {
			case sizes[l] == -2 || sizes[l] == 1 || sizes[l] == -1:
				if !(n == 1 && sizes[l] >= 0) {
					sizes[l] = n
				}
			case n == 1 || n == -1 || n == sizes[l]:
			default:
				return nil, fmt.Errorf("axis %d of input %d has size %d, another axis with its label has %d", d, i, n, sizes[l])
			}
		}
	}
	for i := range sizes {
		if sizes[i] == -2 {
			sizes[i] = 1
		}
	}
	return sizes, nil
}

func inferEinsum(c *InferContext) ([]graph.Type, error) {
	dt := c.In[0].DType
	ranks := make([]int, len(c.In))
	shapes := make([][]int, len(c.In))
	for i, t := range c.In {
		if !c.Has(i) {
			return nil, c.Errorf("input %d is missing", i)
		}
		if t.DType != dt {
			return nil, c.Errorf("input %d is %v but input 0 is %v", i, t.DType, dt)
		}
		if !t.HasShape {
			return []graph.Type{Unranked(dt)}, nil
		}
		ranks[i] = len(t.Shape)
		shapes[i] = t.Shape.Ints()
	}
	if err := checkKind(c, 0, kindNumeric); err != nil {
		return nil, err
	}
	spec, err := ParseEinsum(c.Attrs().GetString("equation", ""), ranks)
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	sizes, err := spec.Sizes(shapes)
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	out := make(graph.Shape, len(spec.Output))
	for i, l := range spec.Output {
		out[i] = graph.Dim{Size: int64(sizes[l])}
	}
	return []graph.Type{Typed(dt, out)}, nil
}
