package torchscript

import (
	"math"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// args gives handlers positional-or-keyword access to a call's arguments.
type args struct {
	pos []any
	kw  map[string]any
}

func (a args) get(i int, name string) (any, bool) {
	if i < len(a.pos) {
		return a.pos[i], true
	}
	v, ok := a.kw[name]
	return v, ok
}

func (a args) has(i int, name string) bool {
	v, ok := a.get(i, name)
	return ok && v != nil
}

// aten lists the supported operators; keep in sync with lowerOp's switch.
var aten = []string{
	"linear", "matmul", "mm", "bmm", "addmm", "_convolution", "conv1d", "conv2d", "batch_norm", "layer_norm",
	"relu", "relu_", "gelu", "silu", "sigmoid", "tanh", "softmax", "log_softmax", "dropout", "dropout_",
	"feature_dropout", "alpha_dropout", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "flatten", "view",
	"reshape", "permute", "transpose", "t", "contiguous", "add", "add_", "sub", "mul", "mul_", "div", "floor_divide",
	"cat", "embedding", "scaled_dot_product_attention", "masked_fill", "slice", "select", "unsqueeze", "squeeze",
	"size", "numel", "mean", "sum", "ones", "zeros", "triu", "tril", "to", "split", "chunk", "unflatten",
	"expand", "pow", "sqrt", "rsqrt", "exp", "log", "neg", "erf", "clamp", "hardtanh", "abs", "leaky_relu",
	"hardswish", "hardsigmoid", "elu",
}

func (l *lowerer) v(x any) (*graph.Value, error) { return l.tensorOf(x, tensor.Invalid) }

func normDim(d int64, r int) int64 {
	if d < 0 && r > 0 {
		return d + int64(r)
	}
	return d
}

// op lowers one aten operator call.
func (l *lowerer) op(name string, pos []any, kw map[string]any) (any, error) {
	a := args{pos: pos, kw: kw}
	x0, _ := a.get(0, "input")
	x, _ := x0.(*graph.Value)
	need := func() (*graph.Value, error) {
		if x == nil {
			l.fail("torch.%s: first argument is %s, expected a tensor", name, describe(x0))
			return nil, errPoison
		}
		return x, nil
	}
	intArg := func(i int, kwn string, def int64) int64 {
		if v, ok := a.get(i, kwn); ok && v != nil {
			if n, ok := toInt(v); ok {
				return n
			}
			l.fail("torch.%s: argument %s is %s, expected a static int", name, kwn, describe(v))
		}
		return def
	}
	floatArg := func(i int, kwn string, def float64) float64 {
		if v, ok := a.get(i, kwn); ok && v != nil {
			if f, ok := toFloat(v); ok {
				return f
			}
		}
		return def
	}
	intsArg := func(i int, kwn string, def []int64) []int64 {
		if v, ok := a.get(i, kwn); ok && v != nil {
			if ns, ok := toInts(v); ok {
				return ns
			}
			l.fail("torch.%s: argument %s is %s, expected static ints", name, kwn, describe(v))
		}
		return def
	}
	unary := func(op string, attrs graph.Attrs) (any, error) {
		if _, err := need(); err != nil {
			return nil, err
		}
		return l.node(op, attrs, x)
	}
	switch name {
	case "relu", "relu_":
		return unary("Relu", nil)
	case "sigmoid":
		return unary("Sigmoid", nil)
	case "tanh":
		return unary("Tanh", nil)
	case "silu":
		return unary("Silu", nil)
	case "exp":
		return unary("Exp", nil)
	case "log":
		return unary("Log", nil)
	case "neg":
		return unary("Neg", nil)
	case "erf":
		return unary("Erf", nil)
	case "abs":
		return unary("Abs", nil)
	case "sqrt":
		return unary("Sqrt", nil)
	case "hardswish":
		return unary("HardSwish", nil)
	case "hardsigmoid":
		return unary("HardSigmoid", graph.Attrs{"alpha": graph.Float(1.0 / 6), "beta": graph.Float(0.5)})
	case "elu":
		return unary("Elu", graph.Attrs{"alpha": graph.Float(float32(floatArg(1, "alpha", 1)))})
	case "leaky_relu":
		return unary("LeakyRelu", graph.Attrs{"alpha": graph.Float(float32(floatArg(1, "negative_slope", 0.01)))})
	case "rsqrt":
		s, err := unary("Sqrt", nil)
		if err != nil {
			return nil, err
		}
		return l.node("Reciprocal", nil, s.(*graph.Value))
	case "gelu":
		approx := "none"
		if v, ok := a.get(1, "approximate"); ok {
			if s, ok := v.(string); ok {
				approx = s
			}
		}
		return unary("Gelu", graph.Attrs{"approximate": graph.String(approx)})
	case "dropout", "dropout_", "feature_dropout", "alpha_dropout", "contiguous", "detach", "clone":
		return need() // inference: the identity
	case "clamp", "hardtanh":
		if _, err := need(); err != nil {
			return nil, err
		}
		lo, hi := math.Inf(-1), math.Inf(1)
		if name == "hardtanh" {
			lo, hi = -1, 1
		}
		if v, ok := a.get(1, "min"); ok && v != nil {
			lo, _ = toFloat(v)
		}
		if v, ok := a.get(2, "max"); ok && v != nil {
			hi, _ = toFloat(v)
		}
		return l.node("Clip", nil, x, l.scalarConst(lo, x.DType), l.scalarConst(hi, x.DType))
	case "softmax", "log_softmax":
		if _, err := need(); err != nil {
			return nil, err
		}
		op := map[string]string{"softmax": "Softmax", "log_softmax": "LogSoftmax"}[name]
		return l.node(op, graph.Attrs{"axis": graph.Int(intArg(1, "dim", -1))}, x)
	case "add", "add_", "sub", "mul", "mul_", "div", "floor_divide", "pow":
		b, _ := a.get(1, "other")
		if name == "pow" {
			b, _ = a.get(1, "exponent")
		}
		if alpha := floatArg(2, "alpha", 1); alpha != 1 && (name == "add" || name == "add_" || name == "sub") {
			scaled, err := l.arith("Mul", b, alpha)
			if err != nil {
				return nil, err
			}
			b = scaled
		}
		op := map[string]string{"add": "Add", "add_": "Add", "sub": "Sub", "mul": "Mul", "mul_": "Mul", "div": "Div", "floor_divide": "Div", "pow": "Pow"}[name]
		if name == "pow" {
			if bf, ok := b.(float64); ok && x != nil {
				return l.node("Pow", nil, x, l.scalarConst(bf, x.DType))
			}
		}
		if ai, ok := toInt(x0); ok && x == nil {
			if bi, ok := toInt(b); ok {
				if r, err := l.binaryPy(map[string]string{"Add": "+", "Sub": "-", "Mul": "*", "Div": "//"}[op], ai, bi); err == nil {
					return r, nil
				}
			}
		}
		mode, _ := a.kw["rounding_mode"].(string)
		out, err := l.arith(op, x0, b)
		if err != nil {
			return nil, err
		}
		if op == "Div" && out.DType.IsFloat() && (mode == "floor" || name == "floor_divide") {
			return l.node("Floor", nil, out)
		}
		return out, nil
	case "linear":
		if _, err := need(); err != nil {
			return nil, err
		}
		w, _ := a.get(1, "weight")
		wv, err := l.v(w)
		if err != nil {
			return nil, err
		}
		wt, err := l.transpose2D(wv)
		if err != nil {
			return nil, err
		}
		y, err := l.node("MatMul", nil, x, wt)
		if err != nil {
			return nil, err
		}
		if a.has(2, "bias") {
			b, _ := a.get(2, "bias")
			bv, err := l.v(b)
			if err != nil {
				return nil, err
			}
			return l.node("Add", nil, y, bv)
		}
		return y, nil
	case "matmul", "mm", "bmm":
		b, _ := a.get(1, "other")
		bv, err := l.v(b)
		if err != nil {
			return nil, err
		}
		if _, err := need(); err != nil {
			return nil, err
		}
		return l.node("MatMul", nil, x, bv)
	case "addmm":
		m1, _ := a.get(1, "mat1")
		m2, _ := a.get(2, "mat2")
		v1, err := l.v(m1)
		if err != nil {
			return nil, err
		}
		v2, err := l.v(m2)
		if err != nil {
			return nil, err
		}
		if _, err := need(); err != nil {
			return nil, err
		}
		return l.node("Gemm", graph.Attrs{"beta": graph.Float(float32(floatArg(3, "beta", 1))), "alpha": graph.Float(float32(floatArg(4, "alpha", 1)))}, v1, v2, x)
	case "_convolution", "conv1d", "conv2d":
		return l.conv(name, a, x)
	case "batch_norm":
		if _, err := need(); err != nil {
			return nil, err
		}
		var ins [4]*graph.Value
		for i, kwn := range []string{"weight", "bias", "running_mean", "running_var"} {
			v, _ := a.get(i+1, kwn)
			if v == nil {
				l.fail("torch.batch_norm without %s is not supported", kwn)
				return nil, errPoison
			}
			vv, err := l.v(v)
			if err != nil {
				return nil, err
			}
			ins[i] = vv
		}
		if tr, _ := a.get(5, "training"); tr == true {
			l.fail("torch.batch_norm in training mode (call model.eval() before tracing)")
			return nil, errPoison
		}
		return l.node("BatchNormalization", graph.Attrs{"epsilon": graph.Float(float32(floatArg(7, "eps", 1e-5)))}, x, ins[0], ins[1], ins[2], ins[3])
	case "layer_norm":
		if _, err := need(); err != nil {
			return nil, err
		}
		shape := intsArg(1, "normalized_shape", nil)
		ins := []*graph.Value{x}
		for i, kwn := range []string{"weight", "bias"} {
			v, _ := a.get(i+2, kwn)
			if v == nil {
				// LayerNormalization needs a scale: use ones (and zeros for the bias)
				n := int64(1)
				for _, s := range shape {
					n *= s
				}
				t := tensor.New(x.DType, intsToInts(shape))
				if kwn == "weight" {
					for j := 0; j < t.Len(); j++ {
						t.SetFloat64At(j, 1)
					}
				}
				ins = append(ins, l.g.AddInitializer(l.g.UniqueName(kwn), t))
				continue
			}
			vv, err := l.v(v)
			if err != nil {
				return nil, err
			}
			ins = append(ins, vv)
		}
		return l.node("LayerNormalization", graph.Attrs{"axis": graph.Int(-int64(len(shape))), "epsilon": graph.Float(float32(floatArg(4, "eps", 1e-5)))}, ins...)
	case "max_pool2d", "avg_pool2d":
		if _, err := need(); err != nil {
			return nil, err
		}
		k := intsArg(1, "kernel_size", nil)
		k = expand2(k)
		stride := expand2(intsArg(2, "stride", nil))
		if len(stride) == 0 {
			stride = k
		}
		pad := expand2(intsArg(3, "padding", []int64{0}))
		attrs := graph.Attrs{"kernel_shape": graph.Ints(k...), "strides": graph.Ints(stride...), "pads": graph.Ints(pad[0], pad[1], pad[0], pad[1])}
		if name == "max_pool2d" {
			attrs["dilations"] = graph.Ints(expand2(intsArg(4, "dilation", []int64{1}))...)
			if c, _ := a.get(5, "ceil_mode"); c == true {
				attrs["ceil_mode"] = graph.Int(1)
			}
			return l.node("MaxPool", attrs, x)
		}
		if c, _ := a.get(4, "ceil_mode"); c == true {
			attrs["ceil_mode"] = graph.Int(1)
		}
		cip := true
		if v, ok := a.get(5, "count_include_pad"); ok && v == false {
			cip = false
		}
		if cip {
			attrs["count_include_pad"] = graph.Int(1)
		}
		if d, ok := a.get(6, "divisor_override"); ok && d != nil {
			l.fail("torch.avg_pool2d with divisor_override is not supported")
			return nil, errPoison
		}
		return l.node("AveragePool", attrs, x)
	case "adaptive_avg_pool2d":
		if _, err := need(); err != nil {
			return nil, err
		}
		out := expand2(intsArg(1, "output_size", nil))
		if len(out) == 2 && out[0] == 1 && out[1] == 1 {
			return l.node("GlobalAveragePool", nil, x)
		}
		h, w := dim(x, -2), dim(x, -1)
		if len(out) == 2 && h > 0 && w > 0 && h%out[0] == 0 && w%out[1] == 0 {
			k := []int64{h / out[0], w / out[1]}
			return l.node("AveragePool", graph.Attrs{"kernel_shape": graph.Ints(k...), "strides": graph.Ints(k...)}, x)
		}
		l.fail("torch.adaptive_avg_pool2d to %v from %v (only 1x1 or exact divisions are supported)", out, x.Shape)
		return nil, errPoison
	case "flatten":
		if _, err := need(); err != nil {
			return nil, err
		}
		r := rank(x)
		start, end := normDim(intArg(1, "start_dim", 0), r), normDim(intArg(2, "end_dim", -1), r)
		if r >= 0 && end == int64(r-1) {
			if start == 0 {
				return l.node("Reshape", nil, x, l.constInts(-1))
			}
			f, err := l.node("Flatten", graph.Attrs{"axis": graph.Int(start)}, x)
			if err != nil {
				return nil, err
			}
			if start == 1 {
				return f, nil
			}
			// Flatten gives 2-D; restore the leading dims: shape[:start] + [-1]
			lead, err := l.shapeSlice(x, 0, start)
			if err != nil {
				return nil, err
			}
			sh, err := l.node("Concat", graph.Attrs{"axis": graph.Int(0)}, lead, l.constInts(-1))
			if err != nil {
				return nil, err
			}
			return l.node("Reshape", nil, x, sh)
		}
		l.fail("torch.flatten(%d, %d) of a rank-%d tensor", start, end, r)
		return nil, errPoison
	case "view", "reshape":
		if _, err := need(); err != nil {
			return nil, err
		}
		s, _ := a.get(1, "size")
		sv, err := l.shapeValue(s)
		if err != nil {
			return nil, err
		}
		out, err := l.node("Reshape", nil, x, sv)
		hintShape(out, s)
		return out, err
	case "unflatten":
		if _, err := need(); err != nil {
			return nil, err
		}
		d := normDim(intArg(1, "dim", 0), rank(x))
		sizes, _ := a.get(2, "sizes")
		mid, err := l.shapeValue(sizes)
		if err != nil {
			return nil, err
		}
		lead, err := l.shapeSlice(x, 0, d)
		if err != nil {
			return nil, err
		}
		tail, err := l.shapeSlice(x, d+1, int64(rank(x)))
		if err != nil {
			return nil, err
		}
		sh, err := l.node("Concat", graph.Attrs{"axis": graph.Int(0)}, lead, mid, tail)
		if err != nil {
			return nil, err
		}
		return l.node("Reshape", nil, x, sh)
	case "permute":
		if _, err := need(); err != nil {
			return nil, err
		}
		perm := intsArg(1, "dims", nil)
		for i := range perm {
			perm[i] = normDim(perm[i], rank(x))
		}
		return l.node("Transpose", graph.Attrs{"perm": graph.Ints(perm...)}, x)
	case "transpose", "t":
		if _, err := need(); err != nil {
			return nil, err
		}
		r := rank(x)
		if r < 0 {
			l.fail("torch.%s of a tensor of unknown rank", name)
			return nil, errPoison
		}
		d0, d1 := int64(0), int64(1)
		if name == "transpose" {
			d0, d1 = normDim(intArg(1, "dim0", 0), r), normDim(intArg(2, "dim1", 1), r)
		}
		if r < 2 {
			return x, nil
		}
		perm := make([]int64, r)
		for i := range perm {
			perm[i] = int64(i)
		}
		perm[d0], perm[d1] = perm[d1], perm[d0]
		return l.node("Transpose", graph.Attrs{"perm": graph.Ints(perm...)}, x)
	case "cat":
		list, _ := a.get(0, "tensors")
		elems, ok := seqOf(list)
		if !ok || len(elems) == 0 {
			l.fail("torch.cat of %s", describe(list))
			return nil, errPoison
		}
		vals := make([]*graph.Value, len(elems))
		for i, e := range elems {
			v, err := l.v(e)
			if err != nil {
				return nil, err
			}
			vals[i] = v
		}
		return l.node("Concat", graph.Attrs{"axis": graph.Int(normDim(intArg(1, "dim", 0), rank(vals[0])))}, vals...)
	case "embedding":
		idx, _ := a.get(1, "indices")
		iv, err := l.v(idx)
		if err != nil {
			return nil, err
		}
		if _, err := need(); err != nil {
			return nil, err
		}
		return l.node("Gather", graph.Attrs{"axis": graph.Int(0)}, x, iv)
	case "scaled_dot_product_attention":
		return l.sdpa(a)
	case "masked_fill", "masked_fill_":
		if _, err := need(); err != nil {
			return nil, err
		}
		m, _ := a.get(1, "mask")
		mv, err := l.v(m)
		if err != nil {
			return nil, err
		}
		val, _ := a.get(2, "value")
		vv, err := l.tensorOf(val, x.DType)
		if err != nil {
			return nil, err
		}
		if vv.DType != x.DType {
			if vv, err = l.cast(vv, x.DType); err != nil {
				return nil, err
			}
		}
		return l.node("Where", nil, mv, vv, x)
	case "slice":
		if _, err := need(); err != nil {
			return nil, err
		}
		d := normDim(intArg(1, "dim", 0), rank(x))
		start, end := int64(0), int64(math.MaxInt64)
		var startV, endV *graph.Value
		if v, ok := a.get(2, "start"); ok && v != nil {
			if n, ok := toInt(v); ok {
				start = n
			} else if sv, ok := v.(*graph.Value); ok {
				startV = sv
			}
		}
		if v, ok := a.get(3, "end"); ok && v != nil {
			if n, ok := toInt(v); ok {
				end = n
			} else if ev, ok := v.(*graph.Value); ok {
				endV = ev
			}
		}
		step := intArg(4, "step", 1)
		if startV == nil && endV == nil && start == 0 && end >= math.MaxInt32 && step == 1 {
			return x, nil // x[:] : the identity
		}
		sv, ev := l.constInts(start), l.constInts(end)
		var err error
		if startV != nil {
			if sv, err = l.shapeValue([]any{startV}); err != nil {
				return nil, err
			}
		}
		if endV != nil {
			if ev, err = l.shapeValue([]any{endV}); err != nil {
				return nil, err
			}
		}
		return l.node("Slice", nil, x, sv, ev, l.constInts(d), l.constInts(step))
	case "select":
		if _, err := need(); err != nil {
			return nil, err
		}
		d := normDim(intArg(1, "dim", 0), rank(x))
		idx, _ := a.get(2, "index")
		iv, err := l.tensorOf(idx, tensor.Int64)
		if err != nil {
			return nil, err
		}
		return l.node("Gather", graph.Attrs{"axis": graph.Int(d)}, x, iv)
	case "unsqueeze":
		if _, err := need(); err != nil {
			return nil, err
		}
		d := intArg(1, "dim", 0)
		if d < 0 {
			d += int64(rank(x)) + 1
		}
		return l.node("Unsqueeze", nil, x, l.constInts(d))
	case "squeeze":
		if _, err := need(); err != nil {
			return nil, err
		}
		if a.has(1, "dim") {
			ds := intsArg(1, "dim", nil)
			for i := range ds {
				ds[i] = normDim(ds[i], rank(x))
			}
			return l.node("Squeeze", nil, x, l.constInts(ds...))
		}
		return l.node("Squeeze", nil, x)
	case "size":
		if _, err := need(); err != nil {
			return nil, err
		}
		if !a.has(1, "dim") {
			r := rank(x)
			out := make([]any, r)
			for i := range out {
				s, err := l.sizeOf(x, int64(i))
				if err != nil {
					return nil, err
				}
				out[i] = s
			}
			return out, nil
		}
		return l.sizeOf(x, intArg(1, "dim", 0))
	case "numel":
		if _, err := need(); err != nil {
			return nil, err
		}
		return l.node("Size", nil, x)
	case "mean", "sum":
		if _, err := need(); err != nil {
			return nil, err
		}
		keep := int64(0)
		if k, _ := a.get(2, "keepdim"); k == true {
			keep = 1
		}
		op := map[string]string{"mean": "ReduceMean", "sum": "ReduceSum"}[name]
		if !a.has(1, "dim") {
			return l.node(op, graph.Attrs{"keepdims": graph.Int(0)}, x)
		}
		ds := intsArg(1, "dim", nil)
		return l.node(op, graph.Attrs{"keepdims": graph.Int(keep)}, x, l.constInts(ds...))
	case "ones", "zeros":
		s, _ := a.get(0, "size")
		sv, err := l.shapeValue(s)
		if err != nil {
			return nil, err
		}
		dt := tensor.Float32
		if v, ok := a.get(1, "dtype"); ok && v != nil {
			if n, ok := toInt(v); ok && torchDTypes[n] != tensor.Invalid {
				dt = torchDTypes[n]
			}
		}
		val := tensor.New(dt, []int{1})
		if name == "ones" {
			val.SetFloat64At(0, 1)
		}
		out, err := l.node("ConstantOfShape", graph.Attrs{"value": graph.TensorAttr(val)}, sv)
		hintShape(out, s)
		return out, err
	case "triu", "tril":
		if _, err := need(); err != nil {
			return nil, err
		}
		upper := int64(0)
		if name == "triu" {
			upper = 1
		}
		return l.node("Trilu", graph.Attrs{"upper": graph.Int(upper)}, x, l.g.AddInitializer(l.g.UniqueName("k"), tensor.ScalarInt64(intArg(1, "diagonal", 0))))
	case "to", "type_as":
		if _, err := need(); err != nil {
			return nil, err
		}
		for i := 1; i < len(a.pos); i++ {
			if n, ok := a.pos[i].(int64); ok {
				if dt, ok := torchDTypes[n]; ok {
					return l.cast(x, dt)
				}
			}
		}
		if v, ok := a.kw["dtype"]; ok {
			if n, ok := toInt(v); ok && torchDTypes[n] != tensor.Invalid {
				return l.cast(x, torchDTypes[n])
			}
		}
		return x, nil // a device move
	case "split", "chunk":
		return l.split(name, a, x)
	case "expand":
		if _, err := need(); err != nil {
			return nil, err
		}
		s, _ := a.get(1, "size")
		elems, _ := seqOf(s)
		// -1 keeps the dimension: replace it by the input's size
		fixed := make([]any, len(elems))
		off := len(elems) - rank(x)
		for i, e := range elems {
			if n, ok := toInt(e); ok && n == -1 && i >= off {
				sz, err := l.sizeOf(x, int64(i-off))
				if err != nil {
					return nil, err
				}
				fixed[i] = sz
			} else {
				fixed[i] = e
			}
		}
		sv, err := l.shapeValue(fixed)
		if err != nil {
			return nil, err
		}
		out, err := l.node("Expand", nil, x, sv)
		hintShape(out, fixed)
		return out, err
	}
	l.fail("unsupported operator aten::%s", name)
	if x != nil {
		return x, nil // a stand-in, so that lowering goes on and lists every problem
	}
	return nil, errPoison
}

func intsToInts(xs []int64) []int {
	out := make([]int, len(xs))
	for i, x := range xs {
		out[i] = int(x)
	}
	return out
}

func expand2(xs []int64) []int64 {
	if len(xs) == 1 {
		return []int64{xs[0], xs[0]}
	}
	return xs
}

// sizeOf is torch.size(x, d): a static int when known, else an int64 scalar value.
func (l *lowerer) sizeOf(x *graph.Value, d int64) (any, error) {
	d = normDim(d, rank(x))
	if s := dim(x, int(d)); s >= 0 {
		return s, nil
	}
	sh, err := l.node("Shape", nil, x)
	if err != nil {
		return nil, err
	}
	return l.node("Gather", graph.Attrs{"axis": graph.Int(0)}, sh, l.g.AddInitializer(l.g.UniqueName("dim"), tensor.ScalarInt64(d)))
}

// shapeSlice is x.shape[lo:hi] as a 1-D int64 value.
func (l *lowerer) shapeSlice(x *graph.Value, lo, hi int64) (*graph.Value, error) {
	if hi <= lo {
		t := tensor.New(tensor.Int64, []int{0})
		return l.g.AddInitializer(l.g.UniqueName("empty"), t), nil
	}
	return l.node("Shape", graph.Attrs{"start": graph.Int(lo), "end": graph.Int(hi)}, x)
}

// transpose2D returns wᵀ for a 2-D weight, transposing constants at load time.
func (l *lowerer) transpose2D(w *graph.Value) (*graph.Value, error) {
	if w.Const != nil && w.Const.Rank() == 2 && w.Const.DType() == tensor.Float32 {
		r, c := w.Const.Shape()[0], w.Const.Shape()[1]
		t := tensor.New(tensor.Float32, []int{c, r})
		src, dst := w.Const.Float32s(), t.Float32s()
		for i := 0; i < r; i++ {
			for j := 0; j < c; j++ {
				dst[j*r+i] = src[i*c+j]
			}
		}
		return l.g.AddInitializer(l.g.UniqueName(w.Name+"_t"), t), nil
	}
	return l.node("Transpose", graph.Attrs{"perm": graph.Ints(1, 0)}, w)
}

// conv lowers _convolution, conv1d and conv2d.
func (l *lowerer) conv(name string, a args, x *graph.Value) (any, error) {
	if x == nil {
		l.fail("torch.%s without an input tensor", name)
		return nil, errPoison
	}
	w, _ := a.get(1, "weight")
	wv, err := l.v(w)
	if err != nil {
		return nil, err
	}
	spatial := rank(wv) - 2
	if spatial < 1 {
		l.fail("torch.%s: weight %v", name, wv.Type)
		return nil, errPoison
	}
	ints := func(i int, kwn string, def int64) []int64 {
		v, ok := a.get(i, kwn)
		if !ok || v == nil {
			v = def
		}
		ns, ok := toInts(v)
		if !ok {
			if s, isStr := v.(string); isStr {
				l.fail("torch.%s: padding=%q is not supported", name, s)
			} else {
				l.fail("torch.%s: argument %s is %s", name, kwn, describe(v))
			}
			return nil
		}
		if len(ns) == 1 && spatial > 1 {
			out := make([]int64, spatial)
			for i := range out {
				out[i] = ns[0]
			}
			return out
		}
		return ns
	}
	stride, pad, dil := ints(3, "stride", 1), ints(4, "padding", 0), ints(5, "dilation", 1)
	groups := int64(1)
	transposed := false
	var outPad []int64
	if name == "_convolution" {
		if t, _ := a.get(6, "transposed"); t == true {
			transposed = true
		}
		outPad = ints(7, "output_padding", 0)
		if g, ok := a.get(8, "groups"); ok {
			groups, _ = toInt(g)
		}
	} else if g, ok := a.get(6, "groups"); ok {
		groups, _ = toInt(g)
	}
	if stride == nil || pad == nil || dil == nil {
		return nil, errPoison
	}
	attrs := graph.Attrs{"strides": graph.Ints(stride...), "pads": graph.Ints(append(append([]int64{}, pad...), pad...)...),
		"dilations": graph.Ints(dil...), "group": graph.Int(groups)}
	ins := []*graph.Value{x, wv}
	if a.has(2, "bias") {
		b, _ := a.get(2, "bias")
		bv, err := l.v(b)
		if err != nil {
			return nil, err
		}
		ins = append(ins, bv)
	}
	if transposed {
		if len(outPad) > 0 {
			attrs["output_padding"] = graph.Ints(outPad...)
		}
		return l.node("ConvTranspose", attrs, ins...)
	}
	return l.node("Conv", attrs, ins...)
}

// sdpa lowers scaled_dot_product_attention into MatMul/Softmax (the optimizer fuses
// it into the Attention kernel).
func (l *lowerer) sdpa(a args) (any, error) {
	var qkv [3]*graph.Value
	for i, kwn := range []string{"query", "key", "value"} {
		v, _ := a.get(i, kwn)
		vv, err := l.v(v)
		if err != nil {
			return nil, err
		}
		qkv[i] = vv
	}
	q, k, v := qkv[0], qkv[1], qkv[2]
	if p := 0.0; a.has(4, "dropout_p") {
		p, _ = toFloat(a.kw["dropout_p"])
		if p != 0 {
			l.fail("scaled_dot_product_attention with dropout_p=%v (inference uses 0)", p)
		}
	}
	d := dim(q, -1)
	scale := 0.0
	if s, ok := a.get(6, "scale"); ok && s != nil {
		scale, _ = toFloat(s)
	} else if d > 0 {
		scale = 1 / math.Sqrt(float64(d))
	} else {
		l.fail("scaled_dot_product_attention with an unknown head size and no scale")
		return nil, errPoison
	}
	r := rank(k)
	perm := make([]int64, r)
	for i := range perm {
		perm[i] = int64(i)
	}
	perm[r-1], perm[r-2] = perm[r-2], perm[r-1]
	kt, err := l.node("Transpose", graph.Attrs{"perm": graph.Ints(perm...)}, k)
	if err != nil {
		return nil, err
	}
	s, err := l.node("MatMul", nil, q, kt)
	if err != nil {
		return nil, err
	}
	if s, err = l.node("Mul", nil, s, l.scalarConst(scale, s.DType)); err != nil {
		return nil, err
	}
	if causal, _ := a.get(5, "is_causal"); causal == true {
		sq, err := l.sizeOf(q, -2)
		if err != nil {
			return nil, err
		}
		sk, err := l.sizeOf(k, -2)
		if err != nil {
			return nil, err
		}
		shape, err := l.shapeValue([]any{sq, sk})
		if err != nil {
			return nil, err
		}
		one := tensor.New(tensor.Bool, []int{1})
		one.Bools()[0] = true
		ones, err := l.node("ConstantOfShape", graph.Attrs{"value": graph.TensorAttr(one)}, shape)
		if err != nil {
			return nil, err
		}
		upper, err := l.node("Trilu", graph.Attrs{"upper": graph.Int(1)}, ones, l.g.AddInitializer(l.g.UniqueName("k"), tensor.ScalarInt64(1)))
		if err != nil {
			return nil, err
		}
		if s, err = l.node("Where", nil, upper, l.scalarConst(math.Inf(-1), s.DType), s); err != nil {
			return nil, err
		}
	}
	if a.has(3, "attn_mask") {
		m, _ := a.get(3, "attn_mask")
		mv, err := l.v(m)
		if err != nil {
			return nil, err
		}
		if mv.DType == tensor.Bool { // True means "take part"
			if s, err = l.node("Where", nil, mv, s, l.scalarConst(math.Inf(-1), s.DType)); err != nil {
				return nil, err
			}
		} else if s, err = l.node("Add", nil, s, mv); err != nil {
			return nil, err
		}
	}
	p, err := l.node("Softmax", graph.Attrs{"axis": graph.Int(-1)}, s)
	if err != nil {
		return nil, err
	}
	return l.node("MatMul", nil, p, v)
}

// split lowers split (by size or sizes) and chunk into Split.
func (l *lowerer) split(name string, a args, x *graph.Value) (any, error) {
	if x == nil {
		l.fail("torch.%s without an input tensor", name)
		return nil, errPoison
	}
	var dimArg int64
	if v, ok := a.get(2, "dim"); ok {
		dimArg, _ = toInt(v)
	}
	d := normDim(dimArg, rank(x))
	total := dim(x, int(d))
	if total < 0 {
		l.fail("torch.%s along a dimension of unknown size", name)
		return nil, errPoison
	}
	var sizes []int64
	arg, _ := a.get(1, "split_size_or_sections")
	if name == "chunk" {
		n, _ := toInt(arg)
		if n <= 0 {
			l.fail("torch.chunk into %v pieces", arg)
			return nil, errPoison
		}
		each := (total + n - 1) / n
		for rest := total; rest > 0; rest -= each {
			sizes = append(sizes, min(each, rest))
		}
	} else if n, ok := arg.(int64); ok {
		if n <= 0 {
			l.fail("torch.split with size %d", n)
			return nil, errPoison
		}
		for rest := total; rest > 0; rest -= n {
			sizes = append(sizes, min(n, rest))
		}
	} else if ns, ok := toInts(arg); ok {
		sizes = ns
	} else {
		l.fail("torch.split with %s", describe(arg))
		return nil, errPoison
	}
	outs, err := l.nodeN("Split", len(sizes), graph.Attrs{"axis": graph.Int(d)}, x, l.constInts(sizes...))
	if err != nil {
		return nil, err
	}
	res := make(tupleVal, len(outs))
	for i, o := range outs {
		res[i] = o
	}
	return res, nil
}
