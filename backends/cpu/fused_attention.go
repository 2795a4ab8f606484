package cpu

import (
	"context"
	"fmt"
	"math"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/cpu/gemm"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

func init() {
	register(ops.DomainLightOS, ops.Attention, newAttention)
	register(ops.DomainLightOS, ops.LayerNormAttention, newLNAttention)
}

// attnPlan says where each (batch, head) block of Q, K, V and the output lives: block
// (b, h) of X starts at b·xBS + h·xHS with rows xLD apart.
type attnPlan struct {
	batch, heads   int
	sq, sk, d, dv  int
	qBS, qHS, qLD  int
	kBS, kHS, kLD  int
	vBS, vHS, vLD  int
	oBS, oHS, oLD  int
	transK         bool // K blocks are D×Sk
	scale          float32
	causal         bool
	mask           []float32
	maskOff        []int // per block
	maskRS, maskCS int   // row and column strides in the mask
}

// newAttnPlan lays out Attention's operands from their resolved sizes.
func newAttnPlan(d ops.AttentionDims, transK bool, scale float32, causal bool) *attnPlan {
	p := &attnPlan{heads: d.Heads, sq: d.Sq, sk: d.Sk, d: d.D, dv: d.Dv, transK: transK, causal: causal}
	p.batch = tensor.NumElements(d.Batch)
	e, ev := d.D*d.Heads, d.Dv*d.Heads
	p.qBS, p.qHS, p.qLD = d.Sq*e, d.D, e
	if transK {
		p.kBS, p.kHS, p.kLD = e*d.Sk, d.D*d.Sk, d.Sk
	} else {
		p.kBS, p.kHS, p.kLD = d.Sk*e, d.D, e
	}
	p.vBS, p.vHS, p.vLD = d.Sk*ev, d.Dv, ev
	p.oBS, p.oHS, p.oLD = d.Sq*ev, d.Dv, ev
	p.scale = scale
	if scale == 0 {
		p.scale = float32(1 / math.Sqrt(float64(max(d.D, 1))))
	}
	return p
}

// setMask records an additive mask of shape ms broadcast to the scores' shape.
func (p *attnPlan) setMask(mask []float32, ms []int, d ops.AttentionDims) error {
	scores := append([]int{}, d.Batch...)
	if d.NumHeadsSet {
		scores = append(scores, d.Heads)
	}
	scores = append(scores, d.Sq, d.Sk)
	if len(ms) > len(scores) {
		return fmt.Errorf("mask %v has a higher rank than the scores %v", ms, scores)
	}
	for i, m := range ms {
		if s := scores[len(scores)-len(ms)+i]; m != 1 && m != s {
			return fmt.Errorf("mask %v does not broadcast to the scores %v", ms, scores)
		}
	}
	st := broadcastStrides(ms, scores)
	r := len(scores) - 2
	p.mask, p.maskRS, p.maskCS = mask, st[r], st[r+1]
	blocks := p.batch * p.heads
	p.maskOff = make([]int, blocks)
	idx := make([]int, r)
	for b := 0; b < blocks; b++ {
		off := 0
		for j := range idx {
			off += idx[j] * st[j]
		}
		p.maskOff[b] = off
		for j := r - 1; j >= 0; j-- {
			idx[j]++
			if idx[j] < scores[j] {
				break
			}
			idx[j] = 0
		}
	}
	return nil
}

// run computes every (batch, head) block: scores by one GEMM, a stable softmax per
// row, then one GEMM with V. Blocks run in parallel when there are enough of them;
// otherwise each GEMM uses all of env's threads.
func (p *attnPlan) run(env *Env, q, k, v, o []float32) error {
	blocks := p.batch * p.heads
	if blocks == 0 || p.sq == 0 || p.dv == 0 {
		return nil
	}
	threads := env.Threads
	if threads <= 0 {
		threads = 1
	}
	if blocks >= threads || p.sq*p.sk*p.d < 1<<15 {
		errs := make([]error, blocks)
		env.Parallel(blocks, 1, func(lo, hi int) {
			scores := make([]float32, p.sq*p.sk)
			for i := lo; i < hi; i++ {
				errs[i] = p.block(nil, i, q, k, v, o, scores)
			}
		})
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	}
	scores := make([]float32, p.sq*p.sk)
	for i := 0; i < blocks; i++ {
		if err := p.block(env.GEMM(), i, q, k, v, o, scores); err != nil {
			return err
		}
	}
	return nil
}

func (p *attnPlan) block(ctx *gemm.Context, i int, q, k, v, o, scores []float32) error {
	b, h := i/p.heads, i%p.heads
	oOff := b*p.oBS + h*p.oHS
	if p.sk == 0 {
		for r := 0; r < p.sq; r++ {
			clear(o[oOff+r*p.oLD : oOff+r*p.oLD+p.dv])
		}
		return nil
	}
	if p.d == 0 {
		clear(scores)
	} else {
		err := gemm.Sgemm(ctx, gemm.Params{M: p.sq, N: p.sk, K: p.d,
			A: q[b*p.qBS+h*p.qHS:], LDA: p.qLD,
			B: k[b*p.kBS+h*p.kHS:], LDB: p.kLD, TransB: !p.transK,
			C: scores, LDC: p.sk})
		if err != nil {
			return err
		}
	}
	for r := 0; r < p.sq; r++ {
		row := scores[r*p.sk : (r+1)*p.sk]
		var mrow []float32
		mcs := 0
		if p.mask != nil {
			mrow, mcs = p.mask[p.maskOff[i]+r*p.maskRS:], p.maskCS
		}
		limit := p.sk
		if p.causal {
			limit = max(0, min(p.sk, r+p.sk-p.sq+1))
		}
		softmaxRow(row, p.scale, mrow, mcs, limit)
	}
	return gemm.Sgemm(ctx, gemm.Params{M: p.sq, N: p.dv, K: p.sk,
		A: scores, LDA: p.sk,
		B: v[b*p.vBS+h*p.vHS:], LDB: p.vLD,
		C: o[oOff:], LDC: p.oLD})
}

// softmaxRow replaces row with softmax(row·scale + mask) where entries from limit on
// are masked out (-Inf). The maximum is subtracted first; sums are in float64.
func softmaxRow(row []float32, scale float32, mask []float32, maskStride, limit int) {
	mx := float32(math.Inf(-1))
	for j := 0; j < limit; j++ {
		x := row[j] * scale
		if mask != nil {
			x += mask[j*maskStride]
		}
		row[j] = x
		if x > mx {
			mx = x
		}
	}
	var sum float64
	for j := 0; j < limit; j++ {
		e := float32(math.Exp(float64(row[j] - mx)))
		row[j] = e
		sum += float64(e)
	}
	inv := float32(1 / sum)
	for j := 0; j < limit; j++ {
		row[j] *= inv
	}
	if limit == 0 {
		// Every key masked: the plain Softmax of all -Inf gives NaN.
		for j := range row {
			row[j] = float32(math.NaN())
		}
		return
	}
	clear(row[limit:])
}

// newAttention prepares an Attention kernel.
func newAttention(n *graph.Node, env *Env) (backends.Kernel, error) {
	if err := requireF32(n); err != nil {
		return nil, err
	}
	attrs := n.Attrs
	name := n.Name
	transK := attrs.GetInt("transpose_k", 0) != 0
	scale := attrs.GetFloat("scale", 0)
	causal := attrs.GetInt("causal", 0) != 0
	return backends.KernelFunc(func(_ context.Context, in, out []*tensor.Tensor) error {
		fail := func(err error) error { return fmt.Errorf("cpu: node %q (Attention): %w", name, err) }
		d, err := ops.AttentionShape(attrs, in[0].Shape(), in[1].Shape(), in[2].Shape())
		if err != nil {
			return fail(err)
		}
		if want := tensor.NumElements(d.Batch) * d.Sq * d.Dv * d.Heads; out[0].Len() != want {
			return fail(fmt.Errorf("output %v, expected %d elements", out[0], want))
		}
		p := newAttnPlan(d, transK, scale, causal)
		if len(in) > 3 && in[3] != nil {
			if err := p.setMask(in[3].Float32s(), in[3].Shape(), d); err != nil {
				return fail(err)
			}
		}
		if err := p.run(env, in[0].Float32s(), in[1].Float32s(), in[2].Float32s(), out[0].Float32s()); err != nil {
			return fail(err)
		}
		return nil
	}), nil
}

// newLNAttention prepares a LayerNormAttention kernel: layer norm into a scratch
// matrix, three GEMMs with the biases in their epilogues, then the attention blocks.
func newLNAttention(n *graph.Node, env *Env) (backends.Kernel, error) {
	if err := requireF32(n); err != nil {
		return nil, err
	}
	attrs := n.Attrs
	name := n.Name
	eps := float64(attrs.GetFloat("epsilon", 1e-5))
	heads := int(attrs.GetInt("num_heads", 0))
	scale := attrs.GetFloat("scale", 0)
	causal := attrs.GetInt("causal", 0) != 0
	return backends.KernelFunc(func(_ context.Context, in, out []*tensor.Tensor) error {
		fail := func(format string, args ...any) error {
			return fmt.Errorf("cpu: node %q (LayerNormAttention): %s", name, fmt.Sprintf(format, args...))
		}
		opt := func(i, want int) ([]float32, error) {
			if i >= len(in) || in[i] == nil {
				return nil, nil
			}
			if in[i].Len() != want {
				return nil, fail("input %d has %d values, expected %d", i, in[i].Len(), want)
			}
			return in[i].Float32s(), nil
		}
		x := in[0]
		xs := x.Shape()
		if len(xs) != 3 {
			return fail("X has shape %v; expected [B, S, C]", xs)
		}
		bsz, s, c := xs[0], xs[1], xs[2]
		var w [3][]float32
		var bias [3][]float32
		var width [3]int
		for j := 0; j < 3; j++ {
			ws := in[3+2*j].Shape()
			if len(ws) != 2 || ws[0] != c {
				return fail("weight %d has shape %v; expected [%d, E]", 3+2*j, ws, c)
			}
			width[j], w[j] = ws[1], in[3+2*j].Float32s()
			var err error
			if bias[j], err = opt(4+2*j, ws[1]); err != nil {
				return err
			}
		}
		gamma, err := opt(1, c)
		if err != nil {
			return err
		}
		if gamma == nil {
			return fail("gamma is required")
		}
		beta, err := opt(2, c)
		if err != nil {
			return err
		}
		qShape := []int{bsz, s, width[0]}
		kShape := []int{bsz, s, width[1]}
		vShape := []int{bsz, s, width[2]}
		d, err := ops.AttentionShape(graph.Attrs{"num_heads": graph.Int(int64(heads))}, qShape, kShape, vShape)
		if err != nil {
			return fail("%v", err)
		}
		if out[0].Len() != bsz*s*width[2] {
			return fail("output %v, expected %d elements", out[0], bsz*s*width[2])
		}
		rows := bsz * s
		xn := make([]float32, rows*c)
		layerNormRows(env, x.Float32s(), xn, rows, c, gamma, beta, eps)
		proj := [3][]float32{}
		for j := 0; j < 3; j++ {
			proj[j] = make([]float32, rows*width[j])
			if rows == 0 || width[j] == 0 {
				continue
			}
			if c == 0 {
				for r := 0; r < rows; r++ {
					gemm.AddBiasAct(proj[j][r*width[j]:(r+1)*width[j]], bias[j], gemm.ActNone)
				}
				continue
			}
			if err := sgemm(env, gemm.Params{M: rows, N: width[j], K: c, A: xn, B: w[j], C: proj[j], Bias: bias[j]}); err != nil {
				return fail("%v", err)
			}
		}
		p := newAttnPlan(d, false, scale, causal)
		if len(in) > 9 && in[9] != nil {
			if err := p.setMask(in[9].Float32s(), in[9].Shape(), d); err != nil {
				return fail("%v", err)
			}
		}
		if err := p.run(env, proj[0], proj[1], proj[2], out[0].Float32s()); err != nil {
			return fail("%v", err)
		}
		return nil
	}), nil
}

// layerNormRows normalizes each of rows rows of length c: (x-mean)/sqrt(var+eps),
// times gamma plus beta (beta may be nil). Statistics are accumulated in float64.
func layerNormRows(env *Env, x, y []float32, rows, c int, gamma, beta []float32, eps float64) {
	env.Parallel(rows, max(1, 4096/max(c, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, yr := x[r*c:(r+1)*c], y[r*c:(r+1)*c]
			var sum float64
			for _, v := range xr {
				sum += float64(v)
			}
			mean := sum / float64(c)
			var sq float64
			for _, v := range xr {
				dv := float64(v) - mean
				sq += dv * dv
			}
			inv := 1 / math.Sqrt(sq/float64(c)+eps)
			for i, v := range xr {
				o := float32((float64(v)-mean)*inv) * gamma[i]
				if beta != nil {
					o += beta[i]
				}
				yr[i] = o
			}
		}
	})
}
