package cuda

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// builder prepares node n (its inputs already on the device; it allocates or aliases
// the outputs) and returns the function that enqueues its work.
type builder func(p *Plan, n *graph.Node, in []*dval) (func() error, error)

// table lists the operators the GPU runs, by domain-qualified name. Everything is
// float32 except MatMul and FusedMatMul (also bfloat16 and float16), Cast
// (float32<->bfloat16) and the reshapes (any type).
var table map[string]builder

func init() {
	table = map[string]builder{
		"MatMul": buildMatMul, "Gemm": buildGemm, "lightos.FusedMatMul": buildMatMul,
		"Softmax": buildSoftmax, "LayerNormalization": buildLayerNorm,
		"ReduceSum": buildReduce, "ReduceMean": buildReduce, "ReduceMax": buildReduce,
		"Transpose": buildTranspose, "Cast": buildCast, "lightos.Attention": buildAttention,
		"Conv": buildConv, "lightos.FusedConv": buildConv, "MaxPool": buildPool, "AveragePool": buildPool,
		"GlobalAveragePool": buildGlobalPool, "GlobalMaxPool": buildGlobalPool,
		"Reshape": buildAlias, "Flatten": buildAlias, "Squeeze": buildAlias, "Unsqueeze": buildAlias, "Identity": buildAlias,
	}
	for op := range unaryCodes {
		if op != "Identity" && op != "GeluTanh" {
			table[op] = buildUnary
		}
	}
	for op := range binaryCodes {
		table[op] = buildBinary
	}
}

func qualName(n *graph.Node) string {
	if n.Domain == "" || n.Domain == "ai.onnx" {
		return n.Op
	}
	return n.Domain + "." + n.Op
}

// Ops lists the operators the GPU runs (domain-qualified for non-ONNX domains).
func Ops() []string {
	out := make([]string, 0, len(table))
	for k := range table {
		out = append(out, k)
	}
	return out
}

// supported checks the operator and its value types; the error wraps ErrUnsupported.
func supported(n *graph.Node) error {
	if _, ok := table[qualName(n)]; !ok {
		return fmt.Errorf("cuda: node %q: operator %s: %w on the GPU", n.Name, qualName(n), errUnsupported)
	}
	anyType := false
	switch qualName(n) {
	case "MatMul", "lightos.FusedMatMul", "Cast", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity":
		anyType = true
	}
	if !anyType {
		for _, v := range append(append([]*graph.Value(nil), n.Inputs...), n.Outputs...) {
			if v != nil && v.HasShape && v.DType != tensor.Float32 && v.DType != tensor.Invalid && !isIndexInput(n, v) {
				return fmt.Errorf("cuda: node %q (%s): %s values: %w on the GPU (float32 only)", n.Name, n.Op, v.DType, errUnsupported)
			}
		}
	}
	return nil
}

// isIndexInput reports inputs that carry shapes or axes (int64 constants).
func isIndexInput(n *graph.Node, v *graph.Value) bool {
	return v.DType == tensor.Int64 && len(n.Inputs) > 1 && v != n.Inputs[0]
}

func build(p *Plan, n *graph.Node, in []*dval) (func() error, error) {
	return table[qualName(n)](p, n, in)
}

func (p *Plan) core(name string) function { return p.d.core.funcs[name] }

// grid1 is a grid-stride launch shape for n elements.
func (p *Plan) grid1(n int) ([3]int, [3]int) {
	b := (n + 255) / 256
	if lim := p.d.g.sms * 16; b > lim {
		b = lim
	}
	return [3]int{max(b, 1), 1, 1}, [3]int{256, 1, 1}
}

// rowBlock is the block size of the one-block-per-row kernels.
func rowBlock(cols int) [3]int {
	b := (cols + 31) / 32 * 32
	return [3]int{min(max(b, 32), 1024), 1, 1}
}

func up(p any) unsafe.Pointer {
	switch v := p.(type) {
	case *int32:
		return unsafe.Pointer(v)
	case *uint32:
		return unsafe.Pointer(v)
	case *int64:
		return unsafe.Pointer(v)
	case *uint64:
		return unsafe.Pointer(v)
	case *float32:
		return unsafe.Pointer(v)
	case *uintptr:
		return unsafe.Pointer(v)
	case *bInfo:
		return unsafe.Pointer(v)
	case *aInfo:
		return unsafe.Pointer(v)
	case *tInfo:
		return unsafe.Pointer(v)
	}
	panic("cuda: up: unsupported parameter type")
}

// launchArgs launches f with the given parameter values (pointers to them).
func (p *Plan) launchArgs(f function, grid, block [3]int, args ...any) error {
	ps := make([]unsafe.Pointer, len(args))
	for i, a := range args {
		ps[i] = up(a)
	}
	return p.d.g.launch(f, grid, block, 0, ps...)
}

func buildAlias(p *Plan, n *graph.Node, in []*dval) (func() error, error) {
	p.alias(n.Outputs[0], in[0])
	return func() error { return nil }, nil
}

func buildUnary(p *Plan, n *graph.Node, in []*dval) (func() error, error) {
	op := n.Op
	if op == "Gelu" && n.Attrs.GetString("approximate", "none") == "tanh" {
		op = "GeluTanh"
	}
	code := unaryCodes[op]
	alpha := n.Attrs.GetFloat("alpha", 0.01)
	out, err := p.alloc(n.Outputs[0])
	if err != nil {
		return nil, err
	}
	return p.unaryLauncher(code, alpha, in[0].ptr, out.ptr, out.len()), nil
}

func (p *Plan) unaryLauncher(code int32, alpha float32, x, y uintptr, count int) func() error {
	cnt := int64(count)
	g, b := p.grid1(count)
	f := p.core("unary")
	return func() error { return p.launchArgs(f, g, b, &code, &x, &y, &cnt, &alpha) }
}

// stridesFor returns the element strides of shape s broadcast to out (0 where s
// has size 1 or is missing).
func stridesFor(s, out []int) []int64 {
	st := make([]int64, len(out))
	acc := int64(1)
	for i := len(s) - 1; i >= 0; i-- {
		j := len(out) - len(s) + i
		if s[i] != 1 {
			st[j] = acc
		}
		acc *= int64(s[i])
	}
	return st
}

// tailOf reports whether s broadcast to out is a repetition of its own elements
// every len(s) elements (s is a suffix of out after dropping leading ones).
func tailOf(s, out []int) bool {
	for len(s) > 0 && s[0] == 1 {
		s = s[1:]
	}
	if len(s) > len(out) {
		return false
	}
	return sameInts(s, out[len(out)-len(s):])
}

func buildBinary(p *Plan, n *graph.Node, in []*dval) (func() error, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("%d inputs: %w", len(in), errUnsupported)
	}
	if p.addLN[n] { // the LayerNormalization that reads the sum adds it
		v := n.Outputs[0]
		p.vals[v] = &dval{name: v.Name, dt: v.DType, shape: v.Shape.Ints(), addOf: [2]*dval{in[0], in[1]}}
		p.kinds["Add fused into LayerNormalization"]++
		return func() error { return nil }, nil
	}
	out, err := p.alloc(n.Outputs[0])
	if err != nil {
		return nil, err
	}
	return p.binaryLauncher(binaryCodes[n.Op], in[0], in[1], out)
}

func (p *Plan) binaryLauncher(code int32, a, b, out *dval) (func() error, error) {
	cnt := int64(out.len())
	g, bl := p.grid1(out.len())
	ap, bp, yp := a.ptr, b.ptr, out.ptr
	if sameInts(a.shape, out.shape) && tailOf(b.shape, out.shape) {
		bn := int64(max(b.len(), 1))
		f := p.core("binary_tail")
		return func() error { return p.launchArgs(f, g, bl, &code, &ap, &bp, &yp, &cnt, &bn) }, nil
	}
	if len(out.shape) > maxRank {
		return nil, fmt.Errorf("rank %d: %w (at most %d)", len(out.shape), errUnsupported, maxRank)
	}
	info := bInfo{N: cnt, Rank: int64(len(out.shape))}
	sa, sb := stridesFor(a.shape, out.shape), stridesFor(b.shape, out.shape)
	for i, d := range out.shape {
		info.Shape[i], info.SA[i], info.SB[i] = int64(d), sa[i], sb[i]
	}
	f := p.core("binary")
	return func() error { return p.launchArgs(f, g, bl, &code, &ap, &bp, &yp, &info) }, nil
}

func normAxis(axis, rank int) int {
	if axis < 0 {
		axis += rank
	}
	return axis
}

func buildSoftmax(p *Plan, n *graph.Node, in []*dval) (func() error, error) {
	x := in[0]
	r := len(x.shape)
	if r == 0 || normAxis(int(n.Attrs.GetInt("axis", -1)), r) != r-1 {
		return nil, fmt.Errorf("softmax over an axis other than the last: %w", errUnsupported)
	}
	out, err := p.alloc(n.Outputs[0])
	if err != nil {
		return nil, err
	}
	return p.softmaxLauncher(x.ptr, out.ptr, x.len()/max(x.shape[r-1], 1), x.shape[r-1], 1, false, 1), nil
}

func (p *Plan) softmaxLauncher(x, y uintptr, rows, cols int, scale float32, causal bool, sq int) func() error {
	c, sq64 := int64(cols), int64(sq)
	var cs int32
	if causal {
		cs = 1
	}
	if cols <= 1024 {
		r64, c32 := int64(rows), int32(cols)
		f := p.core("softmax_warp")
		return func() error {
			return p.launchArgs(f, [3]int{(rows + 3) / 4, 1, 1}, [3]int{128, 1, 1}, &x, &y, &r64, &c32, &scale, &cs, &sq64)
		}
	}
	f := p.core("softmax")
	return func() error {
		return p.launchArgs(f, [3]int{rows, 1, 1}, rowBlock(cols), &x, &y, &c, &scale, &cs, &sq64)
	}
}

func buildLayerNorm(p *Plan, n *graph.Node, in []*dval) (func() error, error) {
	x := in[0]
	r := len(x.shape)
	if r == 0 || normAxis(int(n.Attrs.GetInt("axis", -1)), r) != r-1 {
		return nil, fmt.Errorf("layer normalization over more than the last axis: %w", errUnsupported)
	}
	for i := 1; i < len(n.Outputs); i++ {
		if n.Outputs[i] != nil {
			return nil, fmt.Errorf("the Mean and InvStdDev outputs: %w", errUnsupported)
		}
	}
	cols := x.shape[r-1]
	var g, b uintptr
	for i, dst := range []*uintptr{&g, &b} {
		if i+1 < len(in) && in[i+1] != nil {
			if in[i+1].len() != cols {
				return nil, fmt.Errorf("scale or bias of shape %v (want %d values): %w", in[i+1].shape, cols, errUnsupported)
			}
			*dst = in[i+1].ptr
		}
	}
	out, err := p.alloc(n.Outputs[0])
	if err != nil {
		return nil, err
	}
	eps := n.Attrs.GetFloat("epsilon", 1e-5)
	xp, yp, c := x.ptr, out.ptr, int64(cols)
	rows := x.len() / max(cols, 1)
	if cols <= 1024 {
		var rp uintptr
		f := p.core("layernorm_warp")
		if x.addOf[0] != nil { // x = a + b, the Add fused into this kernel
			xp, rp = x.addOf[0].ptr, x.addOf[1].ptr
			f = p.core("layernorm_add_warp")
		}
		r64, c32 := int64(rows), int32(cols)
		return func() error {
			return p.launchArgs(f, [3]int{(rows + 3) / 4, 1, 1}, [3]int{128, 1, 1}, &xp, &rp, &g, &b, &yp, &r64, &c32, &eps)
		}, nil
	}
	if x.addOf[0] != nil {
		return nil, fmt.Errorf("cuda: Add fused into a layer normalization of %d columns", cols)
	}
	f := p.core("layernorm")
	return func() error {
		return p.launchArgs(f, [3]int{rows, 1, 1}, rowBlock(cols), &xp, &g, &b, &yp, &c, &eps)
	}, nil
}

func buildReduce(p *Plan, n *graph.Node, in []*dval) (func() error, error) {
	x := in[0]
	r := len(x.shape)
	axes := n.Attrs.GetInts("axes", nil)
	if len(n.Inputs) > 1 && n.Inputs[1] != nil {
		if n.Inputs[1].Const == nil {
			return nil, fmt.Errorf("axes computed at run time: %w", errUnsupported)
		}
		axes = n.Inputs[1].Const.Int64s()
	}
	if len(axes) == 0 {
		if n.Attrs.GetInt("noop_with_empty_axes", 0) != 0 {
			return nil, fmt.Errorf("noop_with_empty_axes: %w", errUnsupported)
		}
		for i := 0; i < r; i++ {
			axes = append(axes, int64(i))
		}
	}
	seen := map[int]bool{}
	for _, a := range axes {
		seen[normAxis(int(a), r)] = true
	}
	cols := 1
	for i := r - len(seen); i < r; i++ {
		if !seen[i] {
			return nil, fmt.Errorf("reduction over axes %v (only trailing axes): %w", axes, errUnsupported)
		}
		cols *= x.shape[i]
	}
	out, err := p.alloc(n.Outputs[0])
	if err != nil {
		return nil, err
	}
	code := map[string]int32{"ReduceSum": 0, "ReduceMean": 1, "ReduceMax": 2}[n.Op]
	xp, yp, c := x.ptr, out.ptr, int64(cols)
	f := p.core("reduce_rows")
	rows := out.len()
	return func() error {
		return p.launchArgs(f, [3]int{max(rows, 1), 1, 1}, rowBlock(cols), &code, &xp, &yp, &c)
	}, nil
}

func buildTranspose(p *Plan, n *graph.Node, in []*dval) (func() error, error) {
	x := in[0]
	r := len(x.shape)
	perm := n.Attrs.GetInts("perm", nil)
	if perm == nil {
		for i := r - 1; i >= 0; i-- {
			perm = append(perm, int64(i))
		}
	}
	out, err := p.alloc(n.Outputs[0])
	if err != nil {
		return nil, err
	}
	ip := make([]int, len(perm))
	for i, v := range perm {
		ip[i] = int(v)
	}
	return p.transposeLauncher(x.ptr, out.ptr, x.shape, ip)
}

// transposeLauncher permutes x of shape s by perm (out dim i = in dim perm[i]).
func (p *Plan) transposeLauncher(x, y uintptr, s []int, perm []int) (func() error, error) {
	r := len(s)
	if r > maxRank || len(perm) != r {
		return nil, fmt.Errorf("transpose of rank %d by %v: %w", r, perm, errUnsupported)
	}
	st := make([]int64, r)
	acc := int64(1)
	for i := r - 1; i >= 0; i-- {
		st[i] = acc
		acc *= int64(s[i])
	}
	info := tInfo{N: acc, Rank: int64(r)}
	for i, pi := range perm {
		info.Shape[i], info.Stride[i] = int64(s[pi]), st[pi]
	}
	g, b := p.grid1(int(acc))
	f := p.core("transpose")
	return func() error { return p.launchArgs(f, g, b, &x, &y, &info) }, nil
}

func buildCast(p *Plan, n *graph.Node, in []*dval) (func() error, error) {
	to := n.Outputs[0].DType
	x := in[0]
	if to == x.dt {
		p.alias(n.Outputs[0], x)
		return func() error { return nil }, nil
	}
	var fname string
	switch {
	case x.dt == tensor.Float32 && to == tensor.BFloat16:
		fname = "f32_to_bf16"
	case x.dt == tensor.BFloat16 && to == tensor.Float32:
		fname = "bf16_to_f32"
	default:
		return nil, fmt.Errorf("cast %s to %s: %w", x.dt, to, errUnsupported)
	}
	out, err := p.alloc(n.Outputs[0])
	if err != nil {
		return nil, err
	}
	xp, yp, c := x.ptr, out.ptr, int64(x.len())
	g, b := p.grid1(x.len())
	f := p.core(fname)
	return func() error { return p.launchArgs(f, g, b, &xp, &yp, &c) }, nil
}

// newGemm prepares a product inside the plan (destroyed with it).
func (p *Plan) newGemm(s gemmSpec) (*gemm, error) {
	s.tf32 = p.d.opts.TF32
	if s.alpha == 0 {
		s.alpha = 1
	}
	gm, err := p.d.newGemm(s)
	if err == nil {
		p.gemms = append(p.gemms, gm)
	}
	return gm, err
}

// buildMatMul runs MatMul and FusedMatMul: A [..., M, K] times B [..., K, N] with
// NumPy batch broadcasting where one side's batch is all ones or both are equal.
func buildMatMul(p *Plan, n *graph.Node, in []*dval) (func() error, error) {
	a, b := in[0], in[1]
	if a.dt != b.dt {
		return nil, fmt.Errorf("operands %s and %s: %w", a.dt, b.dt, errUnsupported)
	}
	as, bs := a.shape, b.shape
	if len(as) == 0 || len(bs) == 0 {
		return nil, fmt.Errorf("scalar operand: %w", errUnsupported)
	}
	if len(as) == 1 {
		as = []int{1, as[0]}
	}
	if len(bs) == 1 {
		bs = []int{bs[0], 1}
	}
	m, k, nn := as[len(as)-2], as[len(as)-1], bs[len(bs)-1]
	if bs[len(bs)-2] != k {
		return nil, fmt.Errorf("shapes %v and %v: inner sizes differ", a.shape, b.shape)
	}
	act, bias := EpiNone, false
	post := int32(-1)
	var biasPtr uintptr
	if n.Op == ops.FusedMatMul {
		switch n.Attrs.GetString("activation", "") {
		case ops.ActNone:
		case ops.ActRelu:
			act = EpiRelu
		case ops.ActGeluTanh:
			act = EpiGeluTanh
		case ops.ActGelu:
			post = unaryCodes["Gelu"] // cuBLASLt's GELU is the tanh form: exact GELU runs after
		default:
			return nil, fmt.Errorf("activation %q: %w", n.Attrs.GetString("activation", ""), errUnsupported)
		}
		if len(in) > 2 && in[2] != nil {
			if in[2].len() != nn || in[2].dt != a.dt {
				return nil, fmt.Errorf("bias %s%v: %w", in[2].dt, in[2].shape, errUnsupported)
			}
			bias, biasPtr = true, in[2].ptr
		}
		if post >= 0 && a.dt != tensor.Float32 {
			return nil, fmt.Errorf("exact Gelu on %s: %w", a.dt, errUnsupported)
		}
	}
	out, err := p.alloc(n.Outputs[0])
	if err != nil {
		return nil, err
	}
	ab, bb := prod(as[:len(as)-2]), prod(bs[:len(bs)-2])
	spec := gemmSpec{dt: a.dt, k: k, n: nn, lda: k, ldb: nn, ldc: nn, act: act, bias: bias}
	switch {
	case bb == 1: // B is one matrix: fold A's batch into M
		spec.m, spec.batch = m*ab, 1
	case ab == bb && sameInts(trimOnes(as[:len(as)-2]), trimOnes(bs[:len(bs)-2])) || ab == 1:
		spec.m, spec.batch = m, bb
		spec.strideA, spec.strideB, spec.strideC = int64(m*k), int64(k*nn), int64(m*nn)
		if ab == 1 {
			spec.strideA = 0
		}
		if bias {
			return nil, fmt.Errorf("bias with batched B: %w", errUnsupported)
		}
	default:
		return nil, fmt.Errorf("batch broadcast of %v and %v: %w", a.shape, b.shape, errUnsupported)
	}
	gm, err := p.newGemm(spec)
	if err != nil {
		return nil, err
	}
	ap, bp, cp := a.ptr, b.ptr, out.ptr
	var postRun func() error
	if post >= 0 {
		postRun = p.unaryLauncher(post, 0, cp, cp, out.len())
	}
	run := func() error {
		if err := gm.run(p.d, ap, bp, cp, biasPtr); err != nil {
			return err
		}
		if postRun != nil {
			return postRun()
		}
		return nil
	}
	return run, p.tune(gm, run)
}

// tune times run with each of gm's ranked cuBLASLt algorithms (a few runs each,
// between CUDA events, while the plan is built) and keeps the fastest. run must
// read gm's algorithm when called (gemm.run does).
func (p *Plan) tune(gm *gemm, run func() error) error {
	if len(gm.heurs) < 2 {
		return nil
	}
	best, bestMs := -1, 0.0
	for i, h := range gm.heurs {
		gm.heur = h
		var ms []float64
		if err := timeEvents(p.d.g, 2, 5, run, &ms); err != nil {
			if err := p.d.g.sync(); err != nil {
				return err
			}
			continue
		}
		if m := ms[len(ms)/2]; best < 0 || m < bestMs {
			best, bestMs = i, m
		}
	}
	if best < 0 {
		return fmt.Errorf("cuBLASLt: none of %d algorithms ran", len(gm.heurs))
	}
	gm.heur = gm.heurs[best]
	if best > 0 {
		p.kinds["gemm: heuristic's algorithm replaced by a faster one"]++
	}
	return nil
}

func prod(s []int) int {
	n := 1
	for _, v := range s {
		n *= v
	}
	return n
}

func trimOnes(s []int) []int {
	for len(s) > 0 && s[0] == 1 {
		s = s[1:]
	}
	return s
}

// buildGemm runs ONNX Gemm with alpha, transA/transB, and C absent or a bias of N
// values with beta 1.
func buildGemm(p *Plan, n *graph.Node, in []*dval) (func() error, error) {
	a, b := in[0], in[1]
	if len(a.shape) != 2 || len(b.shape) != 2 {
		return nil, fmt.Errorf("operands of rank %d and %d", len(a.shape), len(b.shape))
	}
	ta, tb := n.Attrs.GetInt("transA", 0) != 0, n.Attrs.GetInt("transB", 0) != 0
	m, k := a.shape[0], a.shape[1]
	if ta {
		m, k = k, m
	}
	nn := b.shape[1]
	if tb {
		nn = b.shape[0]
	}
	spec := gemmSpec{dt: a.dt, transA: ta, transB: tb, m: m, n: nn, k: k, lda: a.shape[1], ldb: b.shape[1], ldc: nn,
		batch: 1, alpha: n.Attrs.GetFloat("alpha", 1)}
	var biasPtr uintptr
	if len(in) > 2 && in[2] != nil {
		c := in[2]
		if n.Attrs.GetFloat("beta", 1) != 1 || c.len() != nn || !tailOf(c.shape, []int{m, nn}) {
			return nil, fmt.Errorf("C of shape %v with beta %g (only a bias of N values, beta 1): %w",
				c.shape, n.Attrs.GetFloat("beta", 1), errUnsupported)
		}
		spec.bias, biasPtr = true, c.ptr
	}
	if spec.alpha == 0 {
		return nil, fmt.Errorf("alpha 0: %w", errUnsupported)
	}
	out, err := p.alloc(n.Outputs[0])
	if err != nil {
		return nil, err
	}
	gm, err := p.newGemm(spec)
	if err != nil {
		return nil, err
	}
	ap, bp, cp := a.ptr, b.ptr, out.ptr
	run := func() error { return gm.run(p.d, ap, bp, cp, biasPtr) }
	return run, p.tune(gm, run)
}

// buildAttention runs lightos.Attention as: (with num_heads) Q, K, V transposed to
// [B, H, S, D]; one batched product for the scores (scale folded into alpha); the
// mask added; a row softmax (causal in-kernel); one batched product with V; the
// result transposed back.
func buildAttention(p *Plan, n *graph.Node, in []*dval) (func() error, error) {
	q, k, v := in[0], in[1], in[2]
	var mask *dval
	if len(in) > 3 {
		mask = in[3]
	}
	heads := int(n.Attrs.GetInt("num_heads", 0))
	transK := n.Attrs.GetInt("transpose_k", 0) != 0
	causal := n.Attrs.GetInt("causal", 0) != 0
	var runs []func() error
	var batch, sq, sk, d, dv int
	qp, kp, vp := q.ptr, k.ptr, v.ptr
	out, err := p.alloc(n.Outputs[0])
	if err != nil {
		return nil, err
	}
	if !p.d.opts.UnfusedAttention {
		if run, err := fusedAttention(p, n, in, out); err != nil || run != nil {
			return run, err
		}
	}
	yp := out.ptr
	var lead []int
	if heads > 0 {
		if len(q.shape) != 3 || len(k.shape) != 3 || len(v.shape) != 3 {
			return nil, fmt.Errorf("num_heads with Q, K, V of ranks %d, %d, %d", len(q.shape), len(k.shape), len(v.shape))
		}
		bsz, e, ev := q.shape[0], q.shape[2], v.shape[2]
		sq, sk, d, dv = q.shape[1], v.shape[1], e/heads, ev/heads
		batch, lead = bsz*heads, []int{bsz, heads}
		tr := func(src uintptr, s []int, perm []int, elems int) (uintptr, error) {
			dst, err := p.scratchBuf(elems * 4)
			if err != nil {
				return 0, err
			}
			r, err := p.transposeLauncher(src, dst, s, perm)
			if err != nil {
				return 0, err
			}
			runs = append(runs, r)
			return dst, nil
		}
		if qp, err = tr(q.ptr, []int{bsz, sq, heads, d}, []int{0, 2, 1, 3}, q.len()); err != nil {
			return nil, err
		}
		if !transK { // [B, Sk, H, D] -> [B, H, Sk, D]; with transpose_k, [B, H·D, Sk] is already head-major
			if kp, err = tr(k.ptr, []int{bsz, sk, heads, d}, []int{0, 2, 1, 3}, k.len()); err != nil {
				return nil, err
			}
		}
		if vp, err = tr(v.ptr, []int{bsz, sk, heads, dv}, []int{0, 2, 1, 3}, v.len()); err != nil {
			return nil, err
		}
		if yp, err = p.scratchBuf(out.len() * 4); err != nil {
			return nil, err
		}
	} else {
		r := len(q.shape)
		if r < 2 {
			return nil, fmt.Errorf("Q of rank %d", r)
		}
		sq, d = q.shape[r-2], q.shape[r-1]
		sk, dv = v.shape[r-2], v.shape[r-1]
		lead = q.shape[:r-2]
		batch = prod(lead)
	}
	scale := n.Attrs.GetFloat("scale", 0)
	if scale == 0 {
		scale = float32(1 / math.Sqrt(float64(d)))
	}
	scores, err := p.scratchBuf(batch * sq * sk * 4)
	if err != nil {
		return nil, err
	}
	s1 := gemmSpec{dt: tensor.Float32, m: sq, n: sk, k: d, lda: d, ldb: d, ldc: sk, batch: batch, alpha: scale,
		transB: !transK, strideA: int64(sq * d), strideB: int64(sk * d), strideC: int64(sq * sk)}
	if transK {
		s1.ldb = sk
	}
	g1, err := p.newGemm(s1)
	if err != nil {
		return nil, err
	}
	q1, k1, v1 := qp, kp, vp
	runs = append(runs, func() error { return g1.run(p.d, q1, k1, scores, 0) })
	if mask != nil {
		sshape := append(append([]int(nil), lead...), sq, sk)
		sv := &dval{dt: tensor.Float32, shape: sshape, ptr: scores}
		if len(mask.shape) > len(sshape) {
			return nil, fmt.Errorf("mask of shape %v for scores %v", mask.shape, sshape)
		}
		r, err := p.binaryLauncher(binaryCodes["Add"], sv, mask, sv)
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	runs = append(runs, p.softmaxLauncher(scores, scores, batch*sq, sk, 1, causal, sq))
	g2, err := p.newGemm(gemmSpec{dt: tensor.Float32, m: sq, n: dv, k: sk, lda: sk, ldb: dv, ldc: dv, batch: batch,
		strideA: int64(sq * sk), strideB: int64(sk * dv), strideC: int64(sq * dv)})
	if err != nil {
		return nil, err
	}
	y1 := yp
	runs = append(runs, func() error { return g2.run(p.d, scores, v1, y1, 0) })
	if heads > 0 {
		r, err := p.transposeLauncher(yp, out.ptr, []int{q.shape[0], heads, sq, dv}, []int{0, 2, 1, 3})
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	return func() error {
		for _, r := range runs {
			if err := r(); err != nil {
				return err
			}
		}
		return nil
	}, nil
}
