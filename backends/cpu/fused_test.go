package cpu_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// Tests of the fused operators' kernels against float64 references written from the
// definitions in engine/ops/fused.go.

func randF32(r *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(tensor.Float32, shape)
	for i := range t.Float32s() {
		t.Float32s()[i] = float32(r.NormFloat64())
	}
	return t
}

// runFused runs one lightos-domain node on the CPU device; inputs marked konst
// become initializers (so kernels pre-pack them).
func runFused(t *testing.T, threads int, op string, attrs graph.Attrs, inputs ...nodeInput) *tensor.Tensor {
	t.Helper()
	g := graph.New("fused_" + op)
	vals := make([]*graph.Value, len(inputs))
	feeds := map[string]*tensor.Tensor{}
	for i, in := range inputs {
		if in.T == nil {
			continue
		}
		name := fmt.Sprintf("in%d", i)
		if in.Const {
			vals[i] = g.AddInitializer(name, in.T)
		} else {
			vals[i] = g.AddInput(name, in.T.DType(), graph.ShapeOf(in.T.Shape()...))
			feeds[name] = in.T
		}
	}
	n := g.AddNode(op, "node", vals, []string{"y"}, attrs)
	n.Domain = ops.DomainLightOS
	g.Outputs = []*graph.Value{n.Outputs[0]}
	sess, err := exec.NewSession(g, cpu.New(cpu.Options{Threads: threads}), exec.Options{HeapOutputs: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := sess.Run(context.Background(), feeds, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res.Outputs[0]
}

func compare(t *testing.T, got *tensor.Tensor, want []float64, tol float64) {
	t.Helper()
	g := got.Float32s()
	if len(g) != len(want) {
		t.Fatalf("got %d elements, want %d", len(g), len(want))
	}
	for i := range want {
		if d := math.Abs(float64(g[i]) - want[i]); d > tol*(1+math.Abs(want[i])) || math.IsNaN(float64(g[i])) != math.IsNaN(want[i]) {
			t.Fatalf("element %d = %v, want %v", i, g[i], want[i])
		}
	}
}

func act64(act string, x, alpha float64) float64 {
	switch act {
	case ops.ActRelu:
		return math.Max(x, 0)
	case ops.ActLeakyRelu:
		if x < 0 {
			return x * alpha
		}
		return x
	case ops.ActGelu:
		return 0.5 * x * (1 + math.Erf(x/math.Sqrt2))
	case ops.ActGeluTanh:
		return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
	}
	return x
}

func TestFusedMatMul(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	cases := []struct {
		a       []int
		k, n    int
		bias    bool
		act     string
		threads int
	}{
		{[]int{5, 7}, 7, 13, true, ops.ActRelu, 0},
		{[]int{2, 3, 11}, 11, 17, true, ops.ActGelu, 2},
		{[]int{1, 1}, 1, 1, false, ops.ActGeluTanh, 1},
		{[]int{9}, 9, 5, true, "", 0},
		{[]int{67, 129}, 129, 33, true, ops.ActRelu, 0},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			a, b, bias := randF32(r, tc.a...), randF32(r, tc.k, tc.n), randF32(r, tc.n)
			ins := []nodeInput{feed(a), konst(b)}
			if tc.bias {
				ins = append(ins, feed(bias))
			}
			got := runFused(t, tc.threads, ops.FusedMatMul, graph.Attrs{"activation": graph.String(tc.act)}, ins...)
			m := a.Len() / tc.k
			want := make([]float64, m*tc.n)
			for i := 0; i < m; i++ {
				for j := 0; j < tc.n; j++ {
					s := 0.0
					if tc.bias {
						s = float64(bias.Float32s()[j])
					}
					for p := 0; p < tc.k; p++ {
						s += float64(a.Float32s()[i*tc.k+p]) * float64(b.Float32s()[p*tc.n+j])
					}
					want[i*tc.n+j] = act64(tc.act, s, 0)
				}
			}
			compare(t, got, want, 1e-4)
		})
	}
}

// conv2dRef is a direct NCHW convolution in float64 (1-D when len(x) == 3).
func conv2dRef(x, w, b *tensor.Tensor, pads, strides, dil []int, group int, act string, alpha float64) ([]float64, []int) {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) == 3 {
		xs, ws = []int{xs[0], xs[1], 1, xs[2]}, []int{ws[0], ws[1], 1, ws[2]}
		pads = []int{0, pads[0], 0, pads[1]}
		strides, dil = []int{1, strides[0]}, []int{1, dil[0]}
	}
	n, c, h, wd := xs[0], xs[1], xs[2], xs[3]
	m, cg, kh, kw := ws[0], ws[1], ws[2], ws[3]
	oh := (h+pads[0]+pads[2]-dil[0]*(kh-1)-1)/strides[0] + 1
	ow := (wd+pads[1]+pads[3]-dil[1]*(kw-1)-1)/strides[1] + 1
	out := make([]float64, n*m*oh*ow)
	mg := m / group
	for in := 0; in < n; in++ {
		for o := 0; o < m; o++ {
			g := o / mg
			for y := 0; y < oh; y++ {
				for xx := 0; xx < ow; xx++ {
					s := 0.0
					if b != nil {
						s = float64(b.Float32s()[o])
					}
					for ci := 0; ci < cg; ci++ {
						for ky := 0; ky < kh; ky++ {
							for kx := 0; kx < kw; kx++ {
								iy, ix := y*strides[0]-pads[0]+ky*dil[0], xx*strides[1]-pads[1]+kx*dil[1]
								if iy < 0 || iy >= h || ix < 0 || ix >= wd {
									continue
								}
								s += float64(x.Float32s()[((in*c+g*cg+ci)*h+iy)*wd+ix]) * float64(w.Float32s()[((o*cg+ci)*kh+ky)*kw+kx])
							}
						}
					}
					out[((in*m+o)*oh+y)*ow+xx] = act64(act, s, alpha)
				}
			}
		}
	}
	_ = c
	return out, []int{n, m, oh, ow}
}

func TestFusedConv(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	i64 := func(v ...int) []int64 {
		out := make([]int64, len(v))
		for i, x := range v {
			out[i] = int64(x)
		}
		return out
	}
	cases := []struct {
		x, w          []int
		pads, strides []int
		dil           []int
		group         int
		act           string
		bias, konstW  bool
	}{
		{[]int{1, 3, 7, 9}, []int{5, 3, 3, 3}, []int{1, 1, 1, 1}, []int{1, 1}, []int{1, 1}, 1, ops.ActRelu, true, true},
		{[]int{2, 4, 11, 6}, []int{6, 2, 3, 2}, []int{0, 1, 2, 0}, []int{2, 1}, []int{1, 2}, 2, ops.ActLeakyRelu, true, false},
		{[]int{1, 5, 8, 8}, []int{5, 1, 3, 3}, []int{1, 1, 1, 1}, []int{1, 1}, []int{1, 1}, 5, ops.ActRelu, false, true},
		{[]int{2, 3, 13}, []int{4, 3, 3}, []int{1, 2}, []int{2}, []int{1}, 1, "", true, true},
		{[]int{1, 1, 1, 1}, []int{1, 1, 1, 1}, []int{0, 0, 0, 0}, []int{1, 1}, []int{1, 1}, 1, ops.ActRelu, true, true},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			x, w, b := randF32(r, tc.x...), randF32(r, tc.w...), randF32(r, tc.w[0])
			attrs := graph.Attrs{"activation": graph.String(tc.act), "pads": graph.Ints(i64(tc.pads...)...),
				"strides": graph.Ints(i64(tc.strides...)...), "dilations": graph.Ints(i64(tc.dil...)...), "group": graph.Int(int64(tc.group))}
			if tc.act == ops.ActLeakyRelu {
				attrs["alpha"] = graph.Float(0.2)
			}
			wIn := feed(w)
			if tc.konstW {
				wIn = konst(w)
			}
			ins := []nodeInput{feed(x), wIn}
			var bias *tensor.Tensor
			if tc.bias {
				ins, bias = append(ins, konst(b)), b
			}
			got := runFused(t, 0, ops.FusedConv, attrs, ins...)
			want, shape := conv2dRef(x, w, bias, tc.pads, tc.strides, tc.dil, tc.group, tc.act, 0.2)
			if len(tc.x) == 3 {
				shape = []int{shape[0], shape[1], shape[3]}
			}
			if fmt.Sprint(got.Shape()) != fmt.Sprint(shape) {
				t.Fatalf("shape %v, want %v", got.Shape(), shape)
			}
			compare(t, got, want, 1e-4)
		})
	}
}

// attentionRef computes Attention from its definition for the split layout, or the
// merged one when heads > 0 (q, k, v then [B, S, E]).
func attentionRef(q, k, v, mask *tensor.Tensor, scale float64, transK bool, heads int, causal bool) []float64 {
	qs, ks, vs := q.Shape(), k.Shape(), v.Shape()
	r := len(qs)
	sq, d := qs[r-2], qs[r-1]
	sk := ks[r-2]
	if transK {
		sk = ks[r-1]
	}
	dv := vs[r-1]
	batch := q.Len() / (sq * d)
	h := 1
	if heads > 0 {
		h = heads
		d, dv = d/h, dv/h
	}
	if scale == 0 {
		scale = 1 / math.Sqrt(float64(d))
	}
	// mask broadcast to scores [batch..., (H), Sq, Sk]
	scoreShape := append([]int{}, qs[:r-2]...)
	if heads > 0 {
		scoreShape = append(scoreShape, h)
	}
	scoreShape = append(scoreShape, sq, sk)
	maskAt := func(blk, i, j int) float64 {
		if mask == nil {
			return 0
		}
		ms := mask.Shape()
		// unravel the full index
		idx := make([]int, len(scoreShape))
		rem := blk
		for a := len(scoreShape) - 3; a >= 0; a-- {
			idx[a] = rem % scoreShape[a]
			rem /= scoreShape[a]
		}
		idx[len(idx)-2], idx[len(idx)-1] = i, j
		off, stride := 0, 1
		for a := len(ms) - 1; a >= 0; a-- {
			full := idx[len(idx)-len(ms)+a]
			if ms[a] == 1 {
				full = 0
			}
			off += full * stride
			stride *= ms[a]
		}
		return float64(mask.Float32s()[off])
	}
	qf, kf, vf := q.Float32s(), k.Float32s(), v.Float32s()
	e, ev := d*h, dv*h
	out := make([]float64, batch*sq*ev)
	for b := 0; b < batch; b++ {
		for hh := 0; hh < h; hh++ {
			blk := b*h + hh
			for i := 0; i < sq; i++ {
				sc := make([]float64, sk)
				mx := math.Inf(-1)
				for j := 0; j < sk; j++ {
					s := 0.0
					for p := 0; p < d; p++ {
						kv := 0.0
						if transK {
							kv = float64(kf[b*e*sk+(hh*d+p)*sk+j])
						} else {
							kv = float64(kf[b*sk*e+j*e+hh*d+p])
						}
						s += float64(qf[b*sq*e+i*e+hh*d+p]) * kv
					}
					s = s*scale + maskAt(blk, i, j)
					if causal && j > i+sk-sq {
						s = math.Inf(-1)
					}
					sc[j] = s
					mx = math.Max(mx, s)
				}
				sum := 0.0
				for j := range sc {
					sc[j] = math.Exp(sc[j] - mx)
					sum += sc[j]
				}
				for c := 0; c < dv; c++ {
					o := 0.0
					for j := 0; j < sk; j++ {
						o += sc[j] / sum * float64(vf[b*sk*ev+j*ev+hh*dv+c])
					}
					out[b*sq*ev+i*ev+hh*dv+c] = o
				}
			}
		}
	}
	return out
}

func transposeLast2(t *tensor.Tensor) *tensor.Tensor {
	s := t.Shape()
	r := len(s)
	rows, cols := s[r-2], s[r-1]
	ns := append(append([]int{}, s[:r-2]...), cols, rows)
	out := tensor.New(tensor.Float32, ns)
	src, dst := t.Float32s(), out.Float32s()
	for b := 0; b < t.Len()/(rows*cols); b++ {
		for i := 0; i < rows; i++ {
			for j := 0; j < cols; j++ {
				dst[b*rows*cols+j*rows+i] = src[b*rows*cols+i*cols+j]
			}
		}
	}
	return out
}

func TestAttention(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	cases := []struct {
		name          string
		q, k, v, mask []int
		scale         float32
		transK        bool
		heads         int
		causal        bool
		threads       int
	}{
		{"split", []int{2, 3, 5, 4}, []int{2, 3, 7, 4}, []int{2, 3, 7, 6}, []int{1, 1, 5, 7}, 0, false, 0, false, 0},
		{"split-transK", []int{2, 3, 5, 4}, []int{2, 3, 4, 7}, []int{2, 3, 7, 6}, []int{7}, 0.3, true, 0, false, 1},
		{"3d-causal", []int{3, 6, 5}, []int{3, 6, 5}, []int{3, 6, 3}, nil, 0, false, 0, true, 0},
		{"heads", []int{2, 5, 8}, []int{2, 7, 8}, []int{2, 7, 6}, []int{2, 1, 5, 7}, 0, false, 2, false, 0},
		{"heads-causal-transK", []int{1, 4, 12}, []int{1, 12, 9}, []int{1, 9, 9}, []int{4, 9}, 0.5, true, 3, true, 0},
		{"one", []int{1, 1, 1}, []int{1, 1, 1}, []int{1, 1, 1}, nil, 0, false, 0, false, 0},
		{"big-single-block", []int{1, 64, 64}, []int{1, 64, 64}, []int{1, 64, 32}, nil, 0, false, 0, false, 2},
		{"padding-mask", []int{2, 9, 12}, []int{2, 11, 12}, []int{2, 11, 6}, []int{2, 1, 1, 11}, 0, false, 3, false, 2},
		{"column-mask", []int{2, 5, 8}, []int{2, 7, 8}, []int{2, 7, 6}, []int{5, 1}, 0, false, 2, false, 1},
		{"rows-split", []int{1, 37, 16}, []int{1, 37, 16}, []int{1, 37, 10}, []int{1, 1, 37}, 0, false, 2, true, 4},
		{"rows-split-transK", []int{1, 2, 50, 8}, []int{1, 2, 8, 33}, []int{1, 2, 33, 5}, []int{1, 2, 50, 33}, 0.2, true, 0, false, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q, k, v := randF32(r, tc.q...), randF32(r, tc.k...), randF32(r, tc.v...)
			ins := []nodeInput{feed(q), feed(k), feed(v)}
			var mask *tensor.Tensor
			if tc.mask != nil {
				mask = randF32(r, tc.mask...)
				ins = append(ins, feed(mask))
			}
			tk := int64(0)
			if tc.transK {
				tk = 1
			}
			causal := int64(0)
			if tc.causal {
				causal = 1
			}
			attrs := graph.Attrs{"scale": graph.Float(tc.scale), "transpose_k": graph.Int(tk), "num_heads": graph.Int(int64(tc.heads)), "causal": graph.Int(causal)}
			got := runFused(t, tc.threads, ops.Attention, attrs, ins...)
			want := attentionRef(q, k, v, mask, float64(tc.scale), tc.transK, tc.heads, tc.causal)
			compare(t, got, want, 1e-4)
		})
	}
}

func TestLayerNormAttention(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for _, tc := range []struct {
		b, s, c, e, ev, heads int
		mask, causal, biases  bool
		fed                   int // 0: constant weights and biases (one packed GEMM); 1: fed weights; 2: one fed bias
	}{
		{2, 5, 6, 8, 8, 2, true, false, true, 0},
		{1, 7, 3, 4, 6, 0, false, true, false, 0},
		{3, 1, 1, 1, 1, 1, false, false, true, 0},
		{2, 3, 0, 4, 4, 2, false, false, true, 0}, // no channels: Q, K, V are the biases
		{2, 9, 12, 8, 6, 2, true, false, true, 1},
		{1, 6, 5, 4, 4, 1, false, true, true, 2},
	} {
		t.Run(fmt.Sprint(tc), func(t *testing.T) {
			x := randF32(r, tc.b, tc.s, tc.c)
			gamma, beta := randF32(r, tc.c), randF32(r, tc.c)
			wq, wk, wv := randF32(r, tc.c, tc.e), randF32(r, tc.c, tc.e), randF32(r, tc.c, tc.ev)
			bq, bk, bv := randF32(r, tc.e), randF32(r, tc.e), randF32(r, tc.ev)
			ins := []nodeInput{feed(x), konst(gamma), konst(beta), konst(wq), konst(bq), konst(wk), konst(bk), konst(wv), konst(bv)}
			switch tc.fed {
			case 1:
				ins[3], ins[5], ins[7] = feed(wq), feed(wk), feed(wv)
			case 2:
				ins[6] = feed(bk)
			}
			if !tc.biases {
				ins[2], ins[4], ins[6], ins[8] = omitted, omitted, omitted, omitted
			}
			var mask *tensor.Tensor
			if tc.mask {
				mask = randF32(r, tc.b, 1, tc.s, tc.s)
				ins = append(ins, feed(mask))
			}
			causal := int64(0)
			if tc.causal {
				causal = 1
			}
			got := runFused(t, 0, ops.LayerNormAttention, graph.Attrs{"epsilon": graph.Float(1e-5), "num_heads": graph.Int(int64(tc.heads)), "causal": graph.Int(causal)}, ins...)
			// Reference: layer norm and projections in float64, then attentionRef.
			rows := tc.b * tc.s
			proj := func(w, b *tensor.Tensor, n int) *tensor.Tensor {
				out := tensor.New(tensor.Float32, []int{tc.b, tc.s, n})
				for i := 0; i < rows; i++ {
					xr := x.Float32s()[i*tc.c : (i+1)*tc.c]
					mean, vr := 0.0, 0.0
					for _, v := range xr {
						mean += float64(v)
					}
					mean /= float64(tc.c)
					for _, v := range xr {
						vr += (float64(v) - mean) * (float64(v) - mean)
					}
					vr /= float64(tc.c)
					for j := 0; j < n; j++ {
						s := 0.0
						if tc.biases {
							s = float64(b.Float32s()[j])
						}
						for p, v := range xr {
							xn := (float64(v) - mean) / math.Sqrt(vr+1e-5) * float64(gamma.Float32s()[p])
							if tc.biases {
								xn += float64(beta.Float32s()[p])
							}
							s += xn * float64(w.Float32s()[p*n+j])
						}
						out.Float32s()[i*n+j] = float32(s)
					}
				}
				return out
			}
			want := attentionRef(proj(wq, bq, tc.e), proj(wk, bk, tc.e), proj(wv, bv, tc.ev), mask, 0, false, max(tc.heads, 1), tc.causal)
			compare(t, got, want, 1e-3)
		})
	}
}

func TestFusedConvFloat64(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	x32, w32, b32 := randF32(r, 1, 2, 5, 6), randF32(r, 3, 2, 3, 3), randF32(r, 3)
	to64 := func(t32 *tensor.Tensor) *tensor.Tensor {
		t64 := tensor.New(tensor.Float64, t32.Shape())
		for i, v := range t32.Float32s() {
			t64.Float64s()[i] = float64(v)
		}
		return t64
	}
	attrs := graph.Attrs{"activation": graph.String(ops.ActLeakyRelu), "alpha": graph.Float(0.25), "pads": graph.Ints(1, 1, 1, 1)}
	got := runFused(t, 0, ops.FusedConv, attrs, feed(to64(x32)), konst(to64(w32)), konst(to64(b32)))
	want, _ := conv2dRef(x32, w32, b32, []int{1, 1, 1, 1}, []int{1, 1}, []int{1, 1}, 1, ops.ActLeakyRelu, 0.25)
	for i, v := range got.Float64s() {
		if math.Abs(v-want[i]) > 1e-9*(1+math.Abs(want[i])) {
			t.Fatalf("element %d = %v, want %v", i, v, want[i])
		}
	}
}

// TestFusedConvResidual checks FusedConv with a residual input, act(conv + bias +
// residual), against the float64 convolution reference, in float32 (the GEMM path, 1-D
// and 2-D, with and without bias) and float64, and that a residual of the wrong shape
// is an error.
func TestFusedConvResidual(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	cases := []struct {
		x, w    []int
		pads    []int
		strides []int
		act     string
		bias    bool
		threads int
		f64     bool
	}{
		{[]int{2, 3, 7, 9}, []int{5, 3, 1, 1}, []int{0, 0, 0, 0}, []int{1, 1}, ops.ActRelu, true, 0, false},
		{[]int{1, 4, 11, 6}, []int{6, 4, 3, 3}, []int{1, 1, 1, 1}, []int{2, 2}, ops.ActLeakyRelu, false, 3, false},
		{[]int{3, 5, 13}, []int{7, 5, 3}, []int{1, 1}, []int{1}, "", true, 1, false},
		{[]int{1, 1, 1, 1}, []int{1, 1, 1, 1}, []int{0, 0, 0, 0}, []int{1, 1}, ops.ActRelu, true, 0, false},
		{[]int{2, 2, 5, 6}, []int{3, 2, 3, 3}, []int{1, 1, 1, 1}, []int{1, 1}, ops.ActRelu, true, 0, true},
		{[]int{1, 2, 5, 6}, []int{3, 2, 3, 3}, []int{1, 1, 1, 1}, []int{1, 1}, ops.ActLeakyRelu, false, 0, true},
	}
	to64 := func(t32 *tensor.Tensor) *tensor.Tensor {
		t64 := tensor.New(tensor.Float64, t32.Shape())
		for i, v := range t32.Float32s() {
			t64.Float64s()[i] = float64(v)
		}
		return t64
	}
	for i, tc := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			x, w, b := randF32(r, tc.x...), randF32(r, tc.w...), randF32(r, tc.w[0])
			sp := len(tc.x) - 2
			dil := []int{1, 1}[:sp]
			ones := make([]int64, sp)
			for j := range ones {
				ones[j] = 1
			}
			pads, strides := make([]int64, len(tc.pads)), make([]int64, sp)
			for j, v := range tc.pads {
				pads[j] = int64(v)
			}
			for j, v := range tc.strides {
				strides[j] = int64(v)
			}
			attrs := graph.Attrs{"activation": graph.String(tc.act), "alpha": graph.Float(0.2), "pads": graph.Ints(pads...),
				"strides": graph.Ints(strides...), "dilations": graph.Ints(ones...)}
			var bias *tensor.Tensor
			if tc.bias {
				bias = b
			}
			// The convolution alone gives the output shape and the reference before
			// the residual.
			conv, shape := conv2dRef(x, w, bias, tc.pads, tc.strides, dil, 1, "", 0)
			if sp == 1 {
				shape = []int{shape[0], shape[1], shape[3]}
			}
			res := randF32(r, shape...)
			want := make([]float64, len(conv))
			for j, v := range conv {
				v += float64(res.Float32s()[j])
				switch {
				case v < 0 && tc.act == ops.ActRelu:
					v = 0
				case v < 0 && tc.act == ops.ActLeakyRelu:
					v *= float64(float32(0.2))
				}
				want[j] = v
			}
			conv32 := func(t *tensor.Tensor) *tensor.Tensor { return t }
			if tc.f64 {
				conv32 = to64
			}
			ins := []nodeInput{feed(conv32(x)), konst(conv32(w)), {}, feed(conv32(res))}
			if tc.bias {
				ins[2] = konst(conv32(b))
			}
			got := runFused(t, tc.threads, ops.FusedConv, attrs, ins...)
			if fmt.Sprint(got.Shape()) != fmt.Sprint(shape) {
				t.Fatalf("shape %v, want %v", got.Shape(), shape)
			}
			if tc.f64 {
				for j, v := range got.Float64s() {
					if math.Abs(v-want[j]) > 1e-9*(1+math.Abs(want[j])) {
						t.Fatalf("element %d = %v, want %v", j, v, want[j])
					}
				}
				return
			}
			compare(t, got, want, 1e-4)
		})
	}
	t.Run("wrong-residual-shape", func(t *testing.T) {
		x, w := randF32(r, 1, 2, 4, 4), randF32(r, 3, 2, 1, 1)
		g := graph.New("res")
		xv := g.AddInput("x", tensor.Float32, graph.ShapeOf(1, 2, 4, 4))
		rv := g.AddInput("r", tensor.Float32, graph.Shape{{Size: 1}, {Size: 3}, {Size: 4}, {Size: -1, Param: "w"}})
		n := g.AddNode(ops.FusedConv, "node", []*graph.Value{xv, g.AddInitializer("w", w), nil, rv}, []string{"y"}, graph.Attrs{})
		n.Domain = ops.DomainLightOS
		g.Outputs = n.Outputs
		sess, err := exec.NewSession(g, cpu.New(cpu.Options{}), exec.Options{HeapOutputs: true})
		if err != nil {
			t.Fatal(err)
		}
		bad := randF32(r, 1, 3, 4, 2) // the output is [1, 3, 4, 4]
		_, err = sess.Run(context.Background(), map[string]*tensor.Tensor{"x": x, "r": bad}, nil)
		if err == nil || !strings.Contains(err.Error(), "residual") {
			t.Fatalf("a residual of the wrong shape: error %v, want one naming the residual", err)
		}
	})
}
