package torchscript

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// tupleVal marks a Python tuple (lists are []any).
type tupleVal []any

// lowerer interprets forward() symbolically, emitting graph nodes for tensor work and
// computing plain Python values (ints, lists, modules) directly.
type lowerer struct {
	g       *graph.Graph
	classes map[string]*class
	consts  []any
	weights map[*tensor.Tensor]*graph.Value
	errs    []string
	seen    map[string]bool
	depth   int
	nodes   int
}

// hintShape gives v the shape implied by a size list when inference could not tell
// (a list mixing static and symbolic sizes): static sizes are known, others not.
func hintShape(v *graph.Value, sizes any) {
	if v == nil || (v.HasShape && v.Shape.Known()) {
		return
	}
	elems, ok := seqOf(sizes)
	if !ok {
		return
	}
	shape := make(graph.Shape, len(elems))
	for i, e := range elems {
		shape[i] = graph.Dim{Size: -1}
		if n, ok := toInt(e); ok && n > 0 {
			shape[i] = graph.Dim{Size: n}
		}
		if v.HasShape && len(v.Shape) == len(elems) && v.Shape[i].Known() {
			shape[i] = v.Shape[i]
		}
	}
	v.Shape, v.HasShape = shape, true
}

// fail records a problem once; lowering goes on so that every problem is listed.
func (l *lowerer) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if !l.seen[msg] {
		l.seen[msg] = true
		l.errs = append(l.errs, msg)
	}
}

// errPoison is returned by handlers after fail; callers just propagate it.
var errPoison = errors.New("lowering failed")

// node appends op with inputs and returns its outputs, types inferred.
func (l *lowerer) nodeN(op string, nout int, attrs graph.Attrs, ins ...*graph.Value) ([]*graph.Value, error) {
	outs := make([]string, nout)
	for i := range outs {
		outs[i] = l.g.UniqueName(strings.ToLower(op))
	}
	l.nodes++
	n := l.g.AddNode(op, fmt.Sprintf("%s_%d", op, l.nodes), ins, outs, attrs)
	if err := ops.InferNode(l.g, n, ops.InferOptions{}); err != nil {
		l.fail("%v", err)
		return nil, errPoison
	}
	return n.Outputs, nil
}

func (l *lowerer) node(op string, attrs graph.Attrs, ins ...*graph.Value) (*graph.Value, error) {
	outs, err := l.nodeN(op, 1, attrs, ins...)
	if err != nil {
		return nil, err
	}
	return outs[0], nil
}

// weight turns a stored tensor into an initializer (once per tensor).
func (l *lowerer) weight(t *tensor.Tensor, name string) *graph.Value {
	if v, ok := l.weights[t]; ok {
		return v
	}
	v := l.g.AddInitializer(l.g.UniqueName(name), t)
	l.weights[t] = v
	return v
}

func (l *lowerer) constInts(vals ...int64) *graph.Value {
	t, _ := tensor.FromInt64([]int{len(vals)}, vals)
	return l.g.AddInitializer(l.g.UniqueName("const"), t)
}

func (l *lowerer) scalarConst(v float64, dt tensor.DType) *graph.Value {
	t := tensor.New(dt, nil)
	t.SetFloat64At(0, v)
	return l.g.AddInitializer(l.g.UniqueName("scalar"), t)
}

// tensorOf converts x to a graph value; Python numbers become scalars of dtype like
// (float32 for floats, int64 for ints when like is Invalid).
func (l *lowerer) tensorOf(x any, like tensor.DType) (*graph.Value, error) {
	switch v := x.(type) {
	case *graph.Value:
		return v, nil
	case *tensor.Tensor:
		return l.weight(v, "constant"), nil
	case int64:
		if like == tensor.Invalid {
			like = tensor.Int64
		}
		return l.scalarConst(float64(v), like), nil
	case float64:
		if like == tensor.Invalid || !like.IsFloat() {
			like = tensor.Float32
		}
		return l.scalarConst(v, like), nil
	case bool:
		if like == tensor.Invalid {
			like = tensor.Bool
		}
		return l.scalarConst(b2f(v), like), nil
	}
	l.fail("expected a tensor, got %s", describe(x))
	return nil, errPoison
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func describe(x any) string {
	switch v := x.(type) {
	case nil:
		return "None"
	case *object:
		return "module " + v.class
	case *graph.Value:
		return "tensor " + v.Type.String()
	}
	return fmt.Sprintf("%T %v", x, x)
}

// toInt reads a Python int (or a constant scalar tensor) at load time.
func toInt(x any) (int64, bool) {
	switch v := x.(type) {
	case int64:
		return v, true
	case bool:
		return int64(b2f(v)), true
	case *graph.Value:
		if v.Const != nil && v.Const.Len() == 1 && !v.DType.IsFloat() {
			return v.Const.Int64At(0), true
		}
	case *tensor.Tensor:
		if v.Len() == 1 && !v.DType().IsFloat() {
			return v.Int64At(0), true
		}
	}
	return 0, false
}

func toFloat(x any) (float64, bool) {
	switch v := x.(type) {
	case int64:
		return float64(v), true
	case float64:
		return v, true
	case *graph.Value:
		if v.Const != nil && v.Const.Len() == 1 {
			return v.Const.Float64At(0), true
		}
	case *tensor.Tensor:
		if v.Len() == 1 {
			return v.Float64At(0), true
		}
	}
	return 0, false
}

// toInts reads a list of static ints.
func toInts(x any) ([]int64, bool) {
	var elems []any
	switch v := x.(type) {
	case []any:
		elems = v
	case tupleVal:
		elems = v
	case int64:
		return []int64{v}, true
	default:
		return nil, false
	}
	out := make([]int64, len(elems))
	for i, e := range elems {
		n, ok := toInt(e)
		if !ok {
			return nil, false
		}
		out[i] = n
	}
	return out, true
}

// shapeValue turns a list of ints, some of them symbolic int64 scalars, into a 1-D
// int64 graph value (Unsqueeze + Concat), or a constant when all are static.
func (l *lowerer) shapeValue(x any) (*graph.Value, error) {
	if ints, ok := toInts(x); ok {
		return l.constInts(ints...), nil
	}
	var elems []any
	switch v := x.(type) {
	case []any:
		elems = v
	case tupleVal:
		elems = v
	case *graph.Value:
		return v, nil
	default:
		l.fail("expected a list of sizes, got %s", describe(x))
		return nil, errPoison
	}
	parts := make([]*graph.Value, len(elems))
	for i, e := range elems {
		if n, ok := toInt(e); ok {
			parts[i] = l.constInts(n)
			continue
		}
		v, ok := e.(*graph.Value)
		if !ok {
			l.fail("expected a size, got %s", describe(e))
			return nil, errPoison
		}
		if v.DType != tensor.Int64 {
			c, err := l.node("Cast", graph.Attrs{"to": graph.Int(int64(tensor.Int64))}, v)
			if err != nil {
				return nil, err
			}
			v = c
		}
		u, err := l.node("Reshape", nil, v, l.constInts(1))
		if err != nil {
			return nil, err
		}
		parts[i] = u
	}
	return l.node("Concat", graph.Attrs{"axis": graph.Int(0)}, parts...)
}

// rank of a tensor value (known after inference), or -1.
func rank(v *graph.Value) int {
	if !v.HasShape {
		return -1
	}
	return len(v.Shape)
}

// dim returns the static size of dimension d of v, or -1.
func dim(v *graph.Value, d int) int64 {
	if !v.HasShape {
		return -1
	}
	if d < 0 {
		d += len(v.Shape)
	}
	if d < 0 || d >= len(v.Shape) {
		return -1
	}
	return v.Shape[d].Size
}

// call runs a method of a module object with arguments, inlining its body.
func (l *lowerer) call(obj *object, name string, args []any) (any, error) {
	c := l.classes[obj.class]
	if c == nil {
		l.fail("no code for module class %s", obj.class)
		return nil, errPoison
	}
	m := c.methods[name]
	if m == nil {
		l.fail("module class %s has no method %s", obj.class, name)
		return nil, errPoison
	}
	if len(args) != len(m.params) {
		l.fail("%s.%s takes %d arguments, got %d", obj.class, name, len(m.params), len(args))
		return nil, errPoison
	}
	l.depth++
	defer func() { l.depth-- }()
	if l.depth > 200 {
		l.fail("module calls nest deeper than 200 (recursion?)")
		return nil, errPoison
	}
	env := map[string]any{"self": obj}
	for i, p := range m.params {
		env[p] = args[i]
	}
	for _, s := range m.body {
		if s.unsupported != "" {
			l.fail("%s.%s line %d: %q statements (control flow) cannot be lowered; trace the model with torch.jit.trace instead of scripting it", obj.class, name, s.line, s.unsupported)
			return nil, errPoison
		}
		if s.value == nil {
			if s.ret {
				return nil, nil
			}
			continue
		}
		v, err := l.eval(s.value, env)
		if err != nil {
			return nil, err
		}
		if s.ret {
			return v, nil
		}
		switch len(s.targets) {
		case 0:
		case 1:
			env[s.targets[0]] = v
		default:
			elems, ok := seqOf(v)
			if !ok || len(elems) != len(s.targets) {
				l.fail("%s.%s line %d: cannot unpack %s into %d names", obj.class, name, s.line, describe(v), len(s.targets))
				return nil, errPoison
			}
			for i, t := range s.targets {
				env[t] = elems[i]
			}
		}
	}
	return nil, nil
}

func seqOf(x any) ([]any, bool) {
	switch v := x.(type) {
	case []any:
		return v, true
	case tupleVal:
		return v, true
	}
	return nil, false
}

// eval evaluates an expression.
func (l *lowerer) eval(e expr, env map[string]any) (any, error) {
	switch x := e.(type) {
	case *nameExpr:
		switch x.name {
		case "None":
			return nil, nil
		case "True":
			return true, nil
		case "False":
			return false, nil
		case "inf":
			return math.Inf(1), nil
		case "nan":
			return math.NaN(), nil
		}
		if v, ok := env[x.name]; ok {
			return v, nil
		}
		return qualName(x.name), nil
	case *numExpr:
		return x.v, nil
	case *strExpr:
		return x.s, nil
	case *seqExpr:
		out := make([]any, len(x.elems))
		for i, el := range x.elems {
			v, err := l.eval(el, env)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		if x.tuple {
			return tupleVal(out), nil
		}
		return out, nil
	case *unaryExpr:
		v, err := l.eval(x.x, env)
		if err != nil {
			return nil, err
		}
		switch x.op {
		case "-":
			switch n := v.(type) {
			case int64:
				return -n, nil
			case float64:
				return -n, nil
			case *graph.Value:
				return l.node("Neg", nil, n)
			}
		case "+":
			return v, nil
		case "not":
			if b, ok := v.(bool); ok {
				return !b, nil
			}
		}
		l.fail("unary %s on %s", x.op, describe(v))
		return nil, errPoison
	case *binExpr:
		a, err := l.eval(x.x, env)
		if err != nil {
			return nil, err
		}
		b, err := l.eval(x.y, env)
		if err != nil {
			return nil, err
		}
		return l.binaryPy(x.op, a, b)
	case *attrExpr:
		base, err := l.eval(x.x, env)
		if err != nil {
			return nil, err
		}
		switch b := base.(type) {
		case *object:
			v, ok := b.attrs[x.name]
			if !ok {
				l.fail("module %s has no attribute %q", b.class, x.name)
				return nil, errPoison
			}
			if t, ok := v.(*tensor.Tensor); ok {
				return l.weight(t, x.name), nil
			}
			return pyValue(v), nil
		case qualName:
			if b == "CONSTANTS" {
				var i int
				if _, err := fmt.Sscanf(x.name, "c%d", &i); err != nil || i < 0 || i >= len(l.consts) {
					l.fail("unknown constant CONSTANTS.%s", x.name)
					return nil, errPoison
				}
				if t, ok := l.consts[i].(*tensor.Tensor); ok {
					return l.weight(t, "c"+fmt.Sprint(i)), nil
				}
				return pyValue(l.consts[i]), nil
			}
			return qualName(string(b) + "." + x.name), nil
		case *graph.Value:
			return boundMethod{self: b, name: x.name}, nil
		}
		l.fail("attribute %q of %s", x.name, describe(base))
		return nil, errPoison
	case *indexExpr:
		base, err := l.eval(x.x, env)
		if err != nil {
			return nil, err
		}
		idx, err := l.eval(x.idx, env)
		if err != nil {
			return nil, err
		}
		if seq, ok := seqOf(base); ok {
			if i, ok := toInt(idx); ok {
				if i < 0 {
					i += int64(len(seq))
				}
				if i >= 0 && i < int64(len(seq)) {
					return seq[i], nil
				}
			}
		}
		if _, ok := base.(qualName); ok {
			return base, nil // a type such as List[int] in annotate()
		}
		l.fail("indexing %s with %s", describe(base), describe(idx))
		return nil, errPoison
	case *callExpr:
		var fn any
		var err error
		if a, ok := x.fn.(*attrExpr); ok {
			recv, err := l.eval(a.x, env)
			if err != nil {
				return nil, err
			}
			switch r := recv.(type) {
			case *object:
				if _, isAttr := r.attrs[a.name]; !isAttr {
					args, err := l.evalArgs(x.args, env)
					if err != nil {
						return nil, err
					}
					return l.call(r, a.name, args)
				}
			case *graph.Value:
				fn = boundMethod{self: r, name: a.name}
			case qualName:
				fn = qualName(string(r) + "." + a.name)
			}
		}
		if fn == nil {
			if fn, err = l.eval(x.fn, env); err != nil {
				return nil, err
			}
		}
		args, err := l.evalArgs(x.args, env)
		if err != nil {
			return nil, err
		}
		kwargs := map[string]any{}
		for k, a := range x.kwargs {
			if kwargs[k], err = l.eval(a, env); err != nil {
				return nil, err
			}
		}
		switch f := fn.(type) {
		case boundMethod:
			return l.op(f.name, append([]any{f.self}, args...), kwargs)
		case qualName:
			return l.builtin(string(f), args, kwargs)
		}
		l.fail("cannot call %s", describe(fn))
		return nil, errPoison
	}
	l.fail("unsupported expression %T", e)
	return nil, errPoison
}

func (l *lowerer) evalArgs(es []expr, env map[string]any) ([]any, error) {
	out := make([]any, len(es))
	for i, e := range es {
		v, err := l.eval(e, env)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// qualName is an unresolved dotted name such as torch.relu or ops.prim.NumToTensor.
type qualName string

// boundMethod is tensor.method(...).
type boundMethod struct {
	self *graph.Value
	name string
}

// pyValue normalizes unpickled plain values (ints come as int from gopickle).
func pyValue(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	}
	return v
}

// binaryPy applies a Python operator to load-time values or tensors.
func (l *lowerer) binaryPy(op string, a, b any) (any, error) {
	ai, aok := a.(int64)
	bi, bok := b.(int64)
	if aok && bok {
		switch op {
		case "+":
			return ai + bi, nil
		case "-":
			return ai - bi, nil
		case "*":
			return ai * bi, nil
		case "//":
			if bi != 0 {
				return floorDiv(ai, bi), nil
			}
		case "==":
			return ai == bi, nil
		case "!=":
			return ai != bi, nil
		}
	}
	if af, ok := toFloat(a); ok {
		if bf, ok := toFloat(b); ok {
			_, av := a.(*graph.Value)
			_, bv := b.(*graph.Value)
			if !av && !bv {
				switch op {
				case "+":
					return af + bf, nil
				case "-":
					return af - bf, nil
				case "*":
					return af * bf, nil
				case "/":
					return af / bf, nil
				}
			}
		}
	}
	switch op {
	case "+":
		return l.arith("Add", a, b)
	case "-":
		return l.arith("Sub", a, b)
	case "*":
		return l.arith("Mul", a, b)
	case "/":
		return l.arith("Div", a, b)
	}
	l.fail("operator %s on %s and %s", op, describe(a), describe(b))
	return nil, errPoison
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// arith emits a broadcasting binary op with PyTorch-like scalar promotion: a Python
// number or a 0-d tensor takes the other side's dtype.
func (l *lowerer) arith(op string, a, b any) (*graph.Value, error) {
	av, aIsT := a.(*graph.Value)
	bv, bIsT := b.(*graph.Value)
	switch {
	case aIsT && bIsT:
		if av.DType != bv.DType {
			// promote the 0-d (or integer) side to the other's dtype
			if rank(bv) == 0 || (!bv.DType.IsFloat() && av.DType.IsFloat()) {
				c, err := l.cast(bv, av.DType)
				if err != nil {
					return nil, err
				}
				bv = c
			} else {
				c, err := l.cast(av, bv.DType)
				if err != nil {
					return nil, err
				}
				av = c
			}
		}
	case aIsT:
		dt := av.DType
		if _, isF := b.(float64); isF && !dt.IsFloat() {
			c, err := l.cast(av, tensor.Float32)
			if err != nil {
				return nil, err
			}
			av, dt = c, tensor.Float32
		}
		var err error
		if bv, err = l.tensorOf(b, dt); err != nil {
			return nil, err
		}
	case bIsT:
		var err error
		if av, err = l.tensorOf(a, bv.DType); err != nil {
			return nil, err
		}
	default:
		l.fail("%s of %s and %s", op, describe(a), describe(b))
		return nil, errPoison
	}
	return l.node(op, nil, av, bv)
}

// cast converts v to dt (folding constants at load time).
func (l *lowerer) cast(v *graph.Value, dt tensor.DType) (*graph.Value, error) {
	if v.DType == dt {
		return v, nil
	}
	if v.Const != nil && v.Const.Len() <= 64 {
		t := tensor.New(dt, v.Const.Shape())
		for i := 0; i < t.Len(); i++ {
			t.SetFloat64At(i, v.Const.Float64At(i))
		}
		return l.g.AddInitializer(l.g.UniqueName(v.Name+"_cast"), t), nil
	}
	return l.node("Cast", graph.Attrs{"to": graph.Int(int64(dt))}, v)
}

// torchDTypes maps c10::ScalarType numbers to engine dtypes.
var torchDTypes = map[int64]tensor.DType{
	0: tensor.Uint8, 1: tensor.Int8, 2: tensor.Int16, 3: tensor.Int32, 4: tensor.Int64,
	5: tensor.Float16, 6: tensor.Float32, 7: tensor.Float64, 11: tensor.Bool, 15: tensor.BFloat16,
}

// builtin dispatches torch.*, ops.prim.*, ops.aten.* and Python builtins.
func (l *lowerer) builtin(name string, args []any, kwargs map[string]any) (any, error) {
	switch name {
	case "int":
		if len(args) == 1 {
			if n, ok := toInt(args[0]); ok {
				return n, nil
			}
			if f, ok := args[0].(float64); ok {
				return int64(f), nil
			}
			if v, ok := args[0].(*graph.Value); ok && rank(v) == 0 {
				return l.cast(v, tensor.Int64)
			}
		}
	case "float":
		if len(args) == 1 {
			if f, ok := toFloat(args[0]); ok {
				if _, isV := args[0].(*graph.Value); !isV {
					return f, nil
				}
			}
			if v, ok := args[0].(*graph.Value); ok {
				return l.cast(v, tensor.Float32)
			}
		}
	case "bool":
		if len(args) == 1 {
			if n, ok := toInt(args[0]); ok {
				return n != 0, nil
			}
		}
	case "annotate":
		if len(args) == 2 {
			return args[1], nil
		}
	case "getattr":
		if len(args) == 2 {
			if obj, ok := args[0].(*object); ok {
				if s, ok := args[1].(string); ok {
					if v, ok := obj.attrs[s]; ok {
						if t, ok := v.(*tensor.Tensor); ok {
							return l.weight(t, s), nil
						}
						return pyValue(v), nil
					}
				}
			}
		}
	case "ops.prim.NumToTensor":
		if len(args) == 1 {
			return args[0], nil // ints stay ints; symbolic sizes are int64 scalars already
		}
	case "torch.device":
		return fmt.Sprint(args...), nil
	case "uninitialized", "ops.prim.Uninitialized":
		return nil, nil
	}
	if strings.HasPrefix(name, "torch.") {
		op := strings.TrimPrefix(name, "torch.")
		op = strings.TrimPrefix(op, "nn.functional.")
		return l.op(op, args, kwargs)
	}
	if strings.HasPrefix(name, "ops.aten.") {
		return l.op(strings.TrimPrefix(name, "ops.aten."), args, kwargs)
	}
	l.fail("unsupported call %s", name)
	return nil, errPoison
}

// sortedKeys lists a map's keys in order (for stable error messages).
func sortedKeys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
