package ops

import (
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// The engine's fused operators (domain DomainLightOS). The optimizer (engine/passes)
// produces them from plain ONNX subgraphs; their meaning is defined here, exactly, and
// every backend must compute the same numbers (up to float32 rounding) as the plain
// subgraph the pass replaced.
const (
	// FusedMatMul(A, B, [bias]) -> Y with attribute activation ("" | "Relu" | "Gelu" |
	// "GeluTanh"):
	//
	//	Y = act(A @ B + bias)
	//
	// A is [..., M, K] (batched as in MatMul; a 1-D A is [K]), B is a matrix [K, N],
	// bias (optional) holds N values (shape [N] or [1, N]) added to every row.
	// Gelu is x·Φ(x) (erf form), GeluTanh the tanh approximation. Y is [..., M, N].
	FusedMatMul = "FusedMatMul"
	// FusedConv(X, W, [B], [residual]) -> Y: an ONNX Conv (every Conv attribute, same
	// meaning; float32 or float64), plus residual (optional, of the output's shape and
	// dtype, no broadcasting), followed by attribute activation ("" | "Relu" |
	// "LeakyRelu" with attribute alpha, default 0.01):
	//
	//	Y = act(Conv(X, W, B) + residual)
	FusedConv = "FusedConv"
	// Attention(Q, K, V, [mask]) -> Y: scaled dot-product attention,
	//
	//	Y = softmax(Q·Kᵀ·scale + mask) · V      (softmax over the last axis)
	//
	// Attributes: scale (float, 0 means 1/sqrt(D)); transpose_k (0: K is [..., Sk, D],
	// 1: K is already transposed, [..., D, Sk]); num_heads (0: Q is [..., Sq, D], V is
	// [..., Sk, Dv], Y is [..., Sq, Dv] and the leading dimensions of Q, K and V are
	// equal; H > 0: Q is [B, Sq, E], K is [B, Sk, E] (or [B, E, Sk] with transpose_k),
	// V is [B, Sk, Ev], heads are the contiguous column blocks of width D = E/H and
	// Dv = Ev/H, and Y is [B, Sq, Ev] with head h in columns h·Dv to (h+1)·Dv);
	// causal (0/1: when 1, query i does not see key j > i + Sk - Sq, that is the
	// bottom-right-aligned causal mask, which is the usual one when Sq == Sk and the
	// right one when queries are the last Sq of Sk positions). The optional additive
	// mask broadcasts (NumPy rules) to [..., Sq, Sk] ([B, H, Sq, Sk] with num_heads).
	// The softmax subtracts each row's maximum first; a row whose every score is -Inf
	// gives NaN, as the plain Softmax would.
	Attention = "Attention"
	// LayerNormAttention(X, gamma, beta, Wq, bq, Wk, bk, Wv, bv, [mask]) -> Y: a layer
	// normalization whose output feeds the Q, K and V projections of an attention
	// block, fused:
	//
	//	Xn = (X - mean(X)) / sqrt(var(X) + epsilon) * gamma + beta   (over the last axis of X)
	//	Q = Xn @ Wq + bq;  K = Xn @ Wk + bk;  V = Xn @ Wv + bv
	//	Y = Attention(Q, K, V, mask) with num_heads, causal, scale, transpose_k = 0
	//
	// X is [B, S, C]; gamma and beta hold C values (beta and every b* may be omitted,
	// meaning zeros); Wq and Wk are [C, E], Wv is [C, Ev]; mean and var are the
	// population mean and variance over C. Attributes epsilon (default 1e-5),
	// num_heads (0 or 1: one head), causal, scale as in Attention. Y is [B, S, Ev],
	// the attention output before the output projection.
	LayerNormAttention = "LayerNormAttention"
)

// Activation names FusedMatMul and FusedConv accept.
const (
	ActNone      = ""
	ActRelu      = "Relu"
	ActGelu      = "Gelu"
	ActGeluTanh  = "GeluTanh"
	ActLeakyRelu = "LeakyRelu"
)

func init() {
	register(Schema{Name: FusedMatMul, Domain: DomainLightOS, Doc: "act(A @ B + bias) with B a matrix; see ops.FusedMatMul",
		Inputs: Arity{2, 3}, Outputs: Arity{1, 1}, Infer: inferFusedMatMul})
	register(Schema{Name: FusedConv, Domain: DomainLightOS, Doc: "Conv (plus an optional residual) followed by an activation; see ops.FusedConv",
		Inputs: Arity{2, 4}, Outputs: Arity{1, 1}, Infer: inferFusedConv})
	register(Schema{Name: Attention, Domain: DomainLightOS, Doc: "softmax(Q·Kᵀ·scale + mask)·V; see ops.Attention",
		Inputs: Arity{3, 4}, Outputs: Arity{1, 1}, Infer: inferAttention})
	register(Schema{Name: LayerNormAttention, Domain: DomainLightOS, Doc: "LayerNorm feeding Q/K/V projections and attention; see ops.LayerNormAttention",
		Inputs: Arity{2, 10}, Outputs: Arity{1, 1}, Infer: inferLNAttention})
}

func requireFloat32(c *InferContext, idx ...int) error {
	for _, i := range idx {
		if c.Has(i) && c.In[i].DType != tensor.Float32 {
			return c.Errorf("input %d is %v; only float32 is supported", i, c.In[i].DType)
		}
	}
	return nil
}

func inferFusedMatMul(c *InferContext) ([]graph.Type, error) {
	if err := requireFloat32(c, 0, 1, 2); err != nil {
		return nil, err
	}
	switch act := c.Attrs().GetString("activation", ""); act {
	case ActNone, ActRelu, ActGelu, ActGeluTanh:
	default:
		return nil, c.Errorf("activation %q is not one of \"\", Relu, Gelu, GeluTanh", act)
	}
	a, b := c.In[0], c.In[1]
	if b.HasShape && len(b.Shape) != 2 {
		return nil, c.Errorf("B has shape %v; it must be a matrix [K, N]", b.Shape)
	}
	if !a.HasShape || !b.HasShape {
		return []graph.Type{Unranked(tensor.Float32)}, nil
	}
	s, err := MatMulShape(a.Shape, b.Shape)
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	if c.Has(2) && c.In[2].HasShape {
		if err := checkBiasVector(c.In[2].Shape, b.Shape[1]); err != nil {
			return nil, c.Errorf("bias: %v", err)
		}
	}
	return []graph.Type{Typed(tensor.Float32, s)}, nil
}

// checkBiasVector accepts [n] or [1, ..., 1, n].
func checkBiasVector(s graph.Shape, n graph.Dim) error {
	if len(s) == 0 {
		return errorf("bias is a scalar; expected %v values", n)
	}
	for _, d := range s[:len(s)-1] {
		if !d.Known() || d.Size != 1 {
			return errorf("shape %v is not [N] or [1, N]", s)
		}
	}
	last := s[len(s)-1]
	if last.Known() && n.Known() && last.Size != n.Size {
		return errorf("shape %v has %d values; expected %d", s, last.Size, n.Size)
	}
	return nil
}

func inferFusedConv(c *InferContext) ([]graph.Type, error) {
	if dt := c.In[0].DType; dt != tensor.Float32 && dt != tensor.Float64 {
		return nil, c.Errorf("input 0 is %v; only float32 and float64 are supported", dt)
	}
	if err := SameDTypes(c, 0, 1, 2); err != nil {
		return nil, err
	}
	switch act := c.Attrs().GetString("activation", ""); act {
	case ActNone, ActRelu, ActLeakyRelu:
	default:
		return nil, c.Errorf("activation %q is not one of \"\", Relu, LeakyRelu", act)
	}
	out, err := inferConv(c)
	if err != nil || !c.Has(3) {
		return out, err
	}
	r := c.In[3]
	if r.DType != c.In[0].DType {
		return nil, c.Errorf("residual (input 3) is %v; expected %v like X", r.DType, c.In[0].DType)
	}
	y := out[0]
	if r.HasShape && y.HasShape {
		ok := len(r.Shape) == len(y.Shape)
		for i := 0; ok && i < len(r.Shape); i++ {
			if a, b := r.Shape[i], y.Shape[i]; a.Known() && b.Known() && a.Size != b.Size {
				ok = false
			}
		}
		if !ok {
			return nil, c.Errorf("residual (input 3) has shape %v; expected the output's %v", r.Shape, y.Shape)
		}
	}
	return out, nil
}

// AttentionDims are the sizes of one Attention node for concrete input shapes.
type AttentionDims struct {
	Batch       []int // leading dimensions ([B] when NumHeads > 0)
	Heads       int   // 1 when the inputs are already split
	Sq, Sk      int
	D, Dv       int // per head
	NumHeadsSet bool
}

// AttentionShape resolves an Attention node's sizes from the shapes of Q, K and V and
// its attributes, checking that they agree.
func AttentionShape(a graph.Attrs, q, k, v []int) (AttentionDims, error) {
	var d AttentionDims
	h := int(a.GetInt("num_heads", 0))
	tk := a.GetInt("transpose_k", 0) != 0
	if h < 0 {
		return d, errorf("num_heads %d is negative", h)
	}
	if len(q) < 2 || len(k) != len(q) || len(v) != len(q) {
		return d, errorf("Q %v, K %v and V %v must have the same rank, at least 2", q, k, v)
	}
	r := len(q)
	kS, kD := k[r-2], k[r-1]
	if tk {
		kS, kD = kD, kS
	}
	if h > 0 {
		if r != 3 {
			return d, errorf("with num_heads %d, Q, K and V must be [B, S, E]; got Q %v", h, q)
		}
		if q[2]%h != 0 || v[2]%h != 0 {
			return d, errorf("num_heads %d does not divide Q's width %d and V's width %d", h, q[2], v[2])
		}
	}
	for i := 0; i < r-2; i++ {
		if k[i] != q[i] || v[i] != q[i] {
			return d, errorf("leading dimensions of Q %v, K %v and V %v differ", q, k, v)
		}
	}
	if kD != q[r-1] {
		return d, errorf("K %v (transpose_k %v) does not match Q's width %d", k, tk, q[r-1])
	}
	if v[r-2] != kS {
		return d, errorf("V %v has %d rows; K has %d keys", v, v[r-2], kS)
	}
	d = AttentionDims{Batch: append([]int(nil), q[:r-2]...), Heads: 1, Sq: q[r-2], Sk: kS, D: q[r-1], Dv: v[r-1], NumHeadsSet: h > 0}
	if h > 0 {
		d.Heads, d.D, d.Dv = h, q[2]/h, v[2]/h
	}
	return d, nil
}

func inferAttention(c *InferContext) ([]graph.Type, error) {
	if err := requireFloat32(c, 0, 1, 2, 3); err != nil {
		return nil, err
	}
	q, k, v := c.In[0], c.In[1], c.In[2]
	if !q.HasShape || !k.HasShape || !v.HasShape {
		return []graph.Type{Unranked(tensor.Float32)}, nil
	}
	if !q.Shape.Known() || !k.Shape.Known() || !v.Shape.Known() {
		// Symbolic sizes: the output is Q's shape with V's last dimension.
		if len(q.Shape) < 2 || len(v.Shape) != len(q.Shape) {
			return nil, c.Errorf("Q %v and V %v must have the same rank, at least 2", q.Shape, v.Shape)
		}
		out := append(graph.Shape{}, q.Shape...)
		out[len(out)-1] = v.Shape[len(v.Shape)-1]
		return []graph.Type{Typed(tensor.Float32, out)}, nil
	}
	d, err := AttentionShape(c.Attrs(), q.Shape.Ints(), k.Shape.Ints(), v.Shape.Ints())
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	out := append(append([]int{}, d.Batch...), d.Sq, d.Dv*d.Heads)
	if c.Has(3) && c.In[3].HasShape {
		if err := checkMask(c.In[3].Shape, d); err != nil {
			return nil, c.Errorf("%v", err)
		}
	}
	return []graph.Type{Typed(tensor.Float32, graph.ShapeOf(out...))}, nil
}

// checkMask fails unless the mask broadcasts to the scores' shape.
func checkMask(m graph.Shape, d AttentionDims) error {
	scores := append([]int{}, d.Batch...)
	if d.NumHeadsSet {
		scores = append(scores, d.Heads)
	}
	scores = append(scores, d.Sq, d.Sk)
	if !broadcastsTo(m, graph.ShapeOf(scores...)) {
		return errorf("mask of shape %v does not broadcast to the scores %v", m, scores)
	}
	return nil
}

func inferLNAttention(c *InferContext) ([]graph.Type, error) {
	if err := requireFloat32(c, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9); err != nil {
		return nil, err
	}
	for _, i := range []int{3, 5, 7} {
		if !c.Has(i) {
			return nil, c.Errorf("weight input %d (Wq, Wk, Wv are inputs 3, 5, 7) is missing", i)
		}
	}
	x, wq, wk, wv := c.In[0], c.In[3], c.In[5], c.In[7]
	if !x.HasShape || !wq.HasShape || !wk.HasShape || !wv.HasShape {
		return []graph.Type{Unranked(tensor.Float32)}, nil
	}
	if len(x.Shape) != 3 {
		return nil, c.Errorf("X has shape %v; expected [B, S, C]", x.Shape)
	}
	for i, w := range []graph.Type{wq, wk, wv} {
		if len(w.Shape) != 2 || (w.Shape[0].Known() && x.Shape[2].Known() && w.Shape[0].Size != x.Shape[2].Size) {
			return nil, c.Errorf("weight %d has shape %v; expected [%v, E]", 3+2*i, w.Shape, x.Shape[2])
		}
		if c.Has(4+2*i) && c.In[4+2*i].HasShape {
			if err := checkBiasVector(c.In[4+2*i].Shape, w.Shape[1]); err != nil {
				return nil, c.Errorf("bias %d: %v", 4+2*i, err)
			}
		}
	}
	for i := 1; i <= 2; i++ {
		if c.Has(i) && c.In[i].HasShape {
			if err := checkBiasVector(c.In[i].Shape, x.Shape[2]); err != nil {
				return nil, c.Errorf("input %d (gamma/beta): %v", i, err)
			}
		}
	}
	if wq.Shape[1] != wk.Shape[1] && wq.Shape[1].Known() && wk.Shape[1].Known() {
		return nil, c.Errorf("Wq %v and Wk %v must have the same width", wq.Shape, wk.Shape)
	}
	h := c.Attrs().GetInt("num_heads", 0)
	if h < 0 {
		return nil, c.Errorf("num_heads %d is negative", h)
	}
	if h > 0 {
		for _, w := range []graph.Type{wq, wv} {
			if n := w.Shape[1]; n.Known() && n.Size%h != 0 {
				return nil, c.Errorf("num_heads %d does not divide the projection width %d", h, n.Size)
			}
		}
	}
	out := graph.Shape{x.Shape[0], x.Shape[1], wv.Shape[1]}
	if c.Has(9) && c.In[9].HasShape && out.Known() {
		d := AttentionDims{Batch: []int{int(out[0].Size)}, Heads: max(1, int(h)), Sq: int(out[1].Size), Sk: int(out[1].Size), NumHeadsSet: h > 0}
		if err := checkMask(c.In[9].Shape, d); err != nil {
			return nil, c.Errorf("%v", err)
		}
	}
	return []graph.Type{Typed(tensor.Float32, out)}, nil
}
