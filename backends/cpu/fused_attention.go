package cpu

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"

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

// newAttnPlan lays out Attention's operands from their resolved sizes, each stored
// contiguously.
func newAttnPlan(d ops.AttentionDims, transK bool, scale float32, causal bool) *attnPlan {
	e, ev := d.D*d.Heads, d.Dv*d.Heads
	return newAttnPlanLD(d, transK, scale, causal, e, e, ev)
}

// newAttnPlanLD is newAttnPlan for Q, K and V rows qLD, kLD and vLD apart (they may
// be column blocks of one wider matrix; K not transposed).
func newAttnPlanLD(d ops.AttentionDims, transK bool, scale float32, causal bool, qLD, kLD, vLD int) *attnPlan {
	p := &attnPlan{heads: d.Heads, sq: d.Sq, sk: d.Sk, d: d.D, dv: d.Dv, transK: transK, causal: causal}
	p.batch = tensor.NumElements(d.Batch)
	ev := d.Dv * d.Heads
	p.qBS, p.qHS, p.qLD = d.Sq*qLD, d.D, qLD
	if transK {
		e := d.D * d.Heads
		p.kBS, p.kHS, p.kLD = e*d.Sk, d.D*d.Sk, d.Sk
	} else {
		p.kBS, p.kHS, p.kLD = d.Sk*kLD, d.D, kLD
	}
	p.vBS, p.vHS, p.vLD = d.Sk*vLD, d.Dv, vLD
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

// attnWorker is what one attention worker reuses across blocks and runs: a
// single-thread GEMM context (packing buffers, no goroutines) and the scratch
// matrices of attnScratch.
type attnWorker struct {
	ctx *gemm.Context
	sc  attnScratch
}

// newGemmPool makes a kernel's pool of attention workers.
func newGemmPool() *sync.Pool {
	return &sync.Pool{New: func() any { return &attnWorker{ctx: gemm.NewContext(1)} }}
}

func growF32(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// minAttnRows is the fewest query rows one attention task takes when blocks are
// split to keep every thread busy.
const minAttnRows = 16

// run computes every (batch, head) block: scores by one GEMM (the scale folded into
// the copy of Q, the mask into the GEMM's bias or accumulator), a vectorized stable
// softmax per row, then one GEMM with V read in place. Blocks run in parallel, each
// worker on its own pooled single-thread GEMM context; when there are fewer blocks
// than twice the threads (batch 1), each block's query rows are split into chunks
// so that every thread has work.
func (p *attnPlan) run(env *Env, pool *sync.Pool, q, k, v, o []float32) error {
	blocks := p.batch * p.heads
	if blocks == 0 || p.sq == 0 || p.dv == 0 {
		return nil
	}
	threads := env.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	per := 1 // chunks per block
	if threads > 1 && blocks < 2*threads {
		per = min((2*threads+blocks-1)/blocks, max(1, p.sq/minAttnRows))
	}
	rows := (p.sq + per - 1) / per
	per = (p.sq + rows - 1) / rows
	var mu sync.Mutex
	var first error
	// On the GEMM context's threads: after the Q, K and V products its
	// workers are polling for work (see gemm.Context.Parallel).
	perr := env.GEMM().Parallel(blocks*per, 1, func(_, lo, hi int) {
		w := pool.Get().(*attnWorker)
		defer pool.Put(w)
		sc := p.scratch(w, rows)
		for t := lo; t < hi; t++ {
			r0 := (t % per) * rows
			if err := p.block(w.ctx, t/per, r0, min(r0+rows, p.sq), q, k, v, o, sc); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
				return
			}
		}
	})
	if perr != nil {
		return fmt.Errorf("attention: %w", perr)
	}
	return first
}

// attnScratch is one worker's buffers: the scores of its rows and those rows of Q,
// scaled, in a contiguous matrix.
type attnScratch struct{ scores, q []float32 }

// scratch sizes w's buffers for chunks of rows query rows of p's blocks.
func (p *attnPlan) scratch(w *attnWorker, rows int) *attnScratch {
	sc := &w.sc
	sc.scores, sc.q = growF32(sc.scores, rows*p.sk), growF32(sc.q, rows*p.d)
	return sc
}

// block computes query rows [r0, r1) of one (batch, head) block. The rows of Q are
// copied, times the scale, into contiguous scratch; K (transposed or not) and V are
// read in place by the GEMMs' packing. An additive mask that is one row for the whole
// block (a [B, 1, 1, Sk] padding mask) is the scores GEMM's bias; a mask with rows of
// its own is copied into the scores first and accumulated into.
func (p *attnPlan) block(ctx *gemm.Context, i, r0, r1 int, q, k, v, o []float32, sc *attnScratch) error {
	b, h := i/p.heads, i%p.heads
	m := r1 - r0
	oOff := b*p.oBS + h*p.oHS + r0*p.oLD
	if p.sk == 0 {
		for r := 0; r < m; r++ {
			clear(o[oOff+r*p.oLD : oOff+r*p.oLD+p.dv])
		}
		return nil
	}
	scores := sc.scores[:m*p.sk]
	var bias, mrow0 []float32
	addMask := false // a mask neither bias nor copied: added per element below
	if p.mask != nil {
		mrow0 = p.mask[p.maskOff[i]+r0*p.maskRS:]
		switch {
		case p.maskCS == 1 && p.maskRS == 0:
			bias = mrow0[:p.sk]
		case p.maskCS == 1:
			for r := 0; r < m; r++ {
				copy(scores[r*p.sk:(r+1)*p.sk], mrow0[r*p.maskRS:r*p.maskRS+p.sk])
			}
		default:
			addMask = true
		}
	}
	if p.d == 0 {
		if bias == nil && !(p.mask != nil && p.maskCS == 1) {
			clear(scores)
		} else if bias != nil {
			for r := 0; r < m; r++ {
				copy(scores[r*p.sk:(r+1)*p.sk], bias)
			}
		}
	} else {
		qb, kb := q[b*p.qBS+h*p.qHS+r0*p.qLD:], k[b*p.kBS+h*p.kHS:]
		for r := 0; r < m; r++ {
			scaleShift(qb[r*p.qLD:r*p.qLD+p.d], sc.q[r*p.d:(r+1)*p.d], p.scale, 0)
		}
		gp := gemm.Params{M: m, N: p.sk, K: p.d, A: sc.q[:m*p.d], B: kb, LDB: p.kLD, TransB: !p.transK, C: scores, Bias: bias}
		if p.mask != nil && bias == nil && !addMask {
			gp.Beta = 1
		}
		if err := gemm.Sgemm(ctx, gp); err != nil {
			return err
		}
	}
	for r := 0; r < m; r++ {
		row := scores[r*p.sk : (r+1)*p.sk]
		limit := p.sk
		if p.causal {
			limit = max(0, min(p.sk, r0+r+p.sk-p.sq+1))
		}
		live := row[:limit]
		if addMask {
			mr := mrow0[r*p.maskRS:]
			for j := range live {
				live[j] += mr[j*p.maskCS]
			}
		}
		clear(row[limit:])
		mx := float32(math.Inf(-1))
		if limit > 0 {
			mx = rowMax(live)
		}
		if limit == 0 || math.IsInf(float64(mx), -1) || math.IsNaN(float64(mx)) {
			// Every key masked (or a NaN score): the plain Softmax gives NaN.
			for j := range row {
				row[j] = float32(math.NaN())
			}
			continue
		}
		softmaxRow32(live, live, mx)
	}
	vb := v[b*p.vBS+h*p.vHS:]
	return gemm.Sgemm(ctx, gemm.Params{M: m, N: p.dv, K: p.sk, A: scores, B: vb, LDB: p.vLD, C: o[oOff:], LDC: p.oLD})
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
	pool := newGemmPool()
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
		if err := p.run(env, pool, in[0].Float32s(), in[1].Float32s(), in[2].Float32s(), out[0].Float32s()); err != nil {
			return fail(err)
		}
		return nil
	}), nil
}

// newLNAttention prepares a LayerNormAttention kernel: layer norm into a scratch
// matrix, the Q, K and V projections writing the column blocks of one [rows, E+E+Ev]
// matrix (one GEMM on weights concatenated and packed here when they are constant,
// else three; biases in the epilogues), then the attention blocks reading Q, K and V
// from it in place.
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
	pool := newGemmPool()
	bufs := &sync.Pool{New: func() any { return new([]float32) }}
	var packed [3]*gemm.PackedB
	for j := 0; j < 3; j++ {
		if w := n.Input(3 + 2*j); w != nil && w.Const != nil && w.Const.Rank() == 2 {
			ws := w.Const.Shape()
			pb, err := gemm.PackB(env.GEMM(), ws[0], ws[1], w.Const.Float32s(), 0, false)
			if err != nil {
				return nil, fmt.Errorf("cpu: node %q (LayerNormAttention): packing weight %d: %w", name, 3+2*j, err)
			}
			packed[j] = pb
		}
	}
	qkvW, qkvBias, err := packQKV(n, env)
	if err != nil {
		return nil, fmt.Errorf("cpu: node %q (LayerNormAttention): %w", name, err)
	}
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
		var w, bias [3][]float32
		var width, col [3]int
		total := 0
		for j := 0; j < 3; j++ {
			ws := in[3+2*j].Shape()
			if len(ws) != 2 || ws[0] != c {
				return fail("weight %d has shape %v; expected [%d, E]", 3+2*j, ws, c)
			}
			width[j], w[j], col[j] = ws[1], in[3+2*j].Float32s(), total
			total += ws[1]
			var err error
			if bias[j], err = opt(4+2*j, ws[1]); err != nil {
				return err
			}
		}
		gamma, err := opt(1, c)
		if err != nil {
			return err
		}
		if in[1] == nil {
			return fail("gamma is required")
		}
		beta, err := opt(2, c)
		if err != nil {
			return err
		}
		if len(beta) < c {
			beta = make([]float32, c)
		}
		d, err := ops.AttentionShape(graph.Attrs{"num_heads": graph.Int(int64(heads))},
			[]int{bsz, s, width[0]}, []int{bsz, s, width[1]}, []int{bsz, s, width[2]})
		if err != nil {
			return fail("%v", err)
		}
		if out[0].Len() != bsz*s*width[2] {
			return fail("output %v, expected %d elements", out[0], bsz*s*width[2])
		}
		rows := bsz * s
		if rows == 0 || width[2] == 0 {
			return nil
		}
		buf := bufs.Get().(*[]float32)
		defer bufs.Put(buf)
		*buf = growF32(*buf, rows*(c+total))
		xn, qkv := (*buf)[:rows*c], (*buf)[rows*c:]
		layerNormRows(env, x.Float32s(), xn, rows, c, gamma, beta, eps)
		if c == 0 {
			clear(qkv) // the projections are the biases alone, added below
		}
		oneGEMM := qkvW != nil && c > 0 && qkvW.K() == c && qkvW.N() == total
		if oneGEMM { // constant weights: one GEMM for the three projections
			if err := sgemm(env, gemm.Params{M: rows, N: total, K: c, A: xn, PackedB: qkvW, C: qkv, LDC: total, Bias: qkvBias}); err != nil {
				return fail("%v", err)
			}
		}
		for j := 0; j < 3 && !oneGEMM; j++ {
			if width[j] == 0 {
				continue
			}
			dst := qkv[col[j]:]
			if c == 0 { // no inputs to project: the bias alone
				for r := 0; r < rows; r++ {
					gemm.AddBiasAct(dst[r*total:r*total+width[j]], bias[j], gemm.ActNone)
				}
				continue
			}
			p := gemm.Params{M: rows, N: width[j], K: c, A: xn, B: w[j], C: dst, LDC: total, Bias: bias[j]}
			if pb := packed[j]; pb != nil && pb.K() == c && pb.N() == width[j] {
				p.B, p.PackedB = nil, pb
			}
			if err := sgemm(env, p); err != nil {
				return fail("%v", err)
			}
		}
		p := newAttnPlanLD(d, false, scale, causal, total, total, total)
		if len(in) > 9 && in[9] != nil {
			if err := p.setMask(in[9].Float32s(), in[9].Shape(), d); err != nil {
				return fail("%v", err)
			}
		}
		if err := p.run(env, pool, qkv[col[0]:], qkv[col[1]:], qkv[col[2]:], out[0].Float32s()); err != nil {
			return fail("%v", err)
		}
		return nil
	}), nil
}

// packQKV concatenates LayerNormAttention's constant Q, K and V weights ([C, E],
// [C, E], [C, Ev]) into one packed [C, E+E+Ev] matrix and their biases (constant or
// omitted) into one vector, so that the projections run as one GEMM: A is packed once
// and the product is wider (on the 2-core development machine one 512x1536 product took
// 0.87 to 0.98 of the time of three 512x512 ones at 128 rows, 0.96 to 1.06 at 1024:
// within its noise). It returns nil when a weight or bias is not constant.
func packQKV(n *graph.Node, env *Env) (*gemm.PackedB, []float32, error) {
	var ws [3]*tensor.Tensor
	rows, total := -1, 0
	for j := range ws {
		w := n.Input(3 + 2*j)
		if w == nil || w.Const == nil || w.Const.Rank() != 2 || (rows >= 0 && w.Const.Shape()[0] != rows) {
			return nil, nil, nil
		}
		if b := n.Input(4 + 2*j); b != nil && (b.Const == nil || b.Const.Len() != w.Const.Shape()[1]) {
			return nil, nil, nil
		}
		ws[j], rows = w.Const, w.Const.Shape()[0]
		total += w.Const.Shape()[1]
	}
	if rows == 0 || total == 0 {
		return nil, nil, nil
	}
	cat, bias := make([]float32, rows*total), make([]float32, total)
	col := 0
	for j, w := range ws {
		wd := w.Shape()[1]
		src := w.Float32s()
		for r := 0; r < rows; r++ {
			copy(cat[r*total+col:r*total+col+wd], src[r*wd:(r+1)*wd])
		}
		if b := n.Input(4 + 2*j); b != nil {
			copy(bias[col:col+wd], b.Const.Float32s())
		}
		col += wd
	}
	pb, err := gemm.PackB(env.GEMM(), rows, total, cat, 0, false)
	if err != nil {
		return nil, nil, fmt.Errorf("packing the Q, K and V weights: %w", err)
	}
	return pb, bias, nil
}

// layerNormRows normalizes each of rows rows of length c: (x-mean)/sqrt(var+eps),
// times gamma plus beta, with the LayerNormalization kernel's vector helpers.
func layerNormRows(env *Env, x, y []float32, rows, c int, gamma, beta []float32, eps float64) {
	norm := func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			xr := x[r*c : (r+1)*c]
			mean, variance := meanVar(xr)
			normAffine(xr, y[r*c:(r+1)*c], gamma, beta, float32(mean), float32(1/math.Sqrt(variance+eps)))
		}
	}
	env.ParallelW(rows, max(1, 16384/max(c, 1)), norm) // on the GEMM workers when free
}
