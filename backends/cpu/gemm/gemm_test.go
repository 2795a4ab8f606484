package gemm

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// guard is the number of NaN elements written before and after every output
// buffer to catch out-of-range writes.
const guard = 37

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// guarded returns a slice of n elements (filled by fill, or NaN) embedded in
// NaN guard regions, and the full backing slice.
func guarded(n int, fill []float32) (inner, full []float32) {
	full = make([]float32, n+2*guard)
	for i := range full {
		full[i] = float32(math.NaN())
	}
	inner = full[guard : guard+n : guard+n]
	copy(inner, fill)
	return inner, full
}

func checkGuards(t *testing.T, full []float32, n int) {
	t.Helper()
	for i := 0; i < guard; i++ {
		if !math.IsNaN(float64(full[i])) || !math.IsNaN(float64(full[guard+n+i])) {
			t.Fatalf("write outside C: guard element %d changed", i)
		}
	}
}

func refAct(a Activation, v float64) float64 {
	switch a {
	case ActReLU:
		return math.Max(v, 0)
	case ActGELU:
		return 0.5 * v * (1 + math.Erf(v/math.Sqrt2))
	case ActGELUTanh:
		return 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v)))
	}
	return v
}

// refGemm computes p in float64 and returns the expected C (its rows×LDC
// layout, untouched padding copied from c0) and a per-element error bound.
func refGemm(p Params, c0 []float32) (want, bound []float64) {
	want = make([]float64, len(c0))
	bound = make([]float64, len(c0))
	for i := range c0 {
		want[i] = float64(c0[i])
	}
	at := func(i, k int) float64 {
		if p.TransA {
			return float64(p.A[k*p.LDA+i])
		}
		return float64(p.A[i*p.LDA+k])
	}
	bt := func(k, j int) float64 {
		if p.TransB {
			return float64(p.B[j*p.LDB+k])
		}
		return float64(p.B[k*p.LDB+j])
	}
	for i := 0; i < p.M; i++ {
		for j := 0; j < p.N; j++ {
			s, mag := 0.0, 0.0
			for k := 0; k < p.K; k++ {
				v := at(i, k) * bt(k, j)
				s += v
				mag += math.Abs(v)
			}
			if p.Beta == 1 {
				s += float64(c0[i*p.LDC+j])
				mag += math.Abs(float64(c0[i*p.LDC+j]))
			}
			if p.Bias != nil {
				s += float64(p.Bias[j])
				mag += math.Abs(float64(p.Bias[j]))
			}
			want[i*p.LDC+j] = refAct(p.Act, s)
			bound[i*p.LDC+j] = 1e-5 + 4*float64(p.K+2)*6e-8*mag
		}
	}
	return want, bound
}

type gemmCase struct {
	m, n, k        int
	transA, transB bool
	padA, padB     int // extra leading-dimension padding
	padC           int
	beta           float32
	bias           bool
	act            Activation
}

func (c gemmCase) String() string {
	return fmt.Sprintf("m%d_n%d_k%d_tA%v_tB%v_pad%d%d%d_beta%v_bias%v_%v",
		c.m, c.n, c.k, c.transA, c.transB, c.padA, c.padB, c.padC, c.beta, c.bias, c.act)
}

func runGemmCase(t *testing.T, ctx *Context, tc gemmCase, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, uint64(tc.m*1000003+tc.n*1009+tc.k)))
	p := Params{M: tc.m, N: tc.n, K: tc.k, TransA: tc.transA, TransB: tc.transB, Beta: tc.beta, Act: tc.act}
	ar, ac := tc.m, tc.k
	if tc.transA {
		ar, ac = tc.k, tc.m
	}
	br, bc := tc.k, tc.n
	if tc.transB {
		br, bc = tc.n, tc.k
	}
	p.LDA, p.LDB, p.LDC = ac+tc.padA, bc+tc.padB, tc.n+tc.padC
	p.LDA, p.LDB, p.LDC = max(p.LDA, 1), max(p.LDB, 1), max(p.LDC, 1)
	p.A = randSlice(r, needLen(ar, ac, p.LDA))
	p.B = randSlice(r, needLen(br, bc, p.LDB))
	a0, b0 := append([]float32(nil), p.A...), append([]float32(nil), p.B...)
	nc := needLen(tc.m, tc.n, p.LDC)
	c0 := randSlice(r, nc)
	if tc.beta == 0 {
		for i := range c0 {
			c0[i] = float32(math.NaN()) // must be ignored
		}
	}
	if tc.bias {
		p.Bias = randSlice(r, tc.n)
	}
	var full []float32
	p.C, full = guarded(nc, c0)
	want, bound := refGemm(p, c0)
	if err := Sgemm(ctx, p); err != nil {
		t.Fatalf("%v: %v", tc, err)
	}
	checkGuards(t, full, nc)
	for i := 0; i < tc.m; i++ {
		for j := 0; j < tc.n; j++ {
			got, w := float64(p.C[i*p.LDC+j]), want[i*p.LDC+j]
			if !(math.Abs(got-w) <= bound[i*p.LDC+j]) {
				t.Fatalf("%v: C[%d][%d] = %v, want %v (bound %v)", tc, i, j, got, w, bound[i*p.LDC+j])
			}
		}
		for j := tc.n; j < p.LDC && i*p.LDC+j < nc; j++ {
			if got := p.C[i*p.LDC+j]; got != c0[i*p.LDC+j] && !(math.IsNaN(float64(got)) && math.IsNaN(float64(c0[i*p.LDC+j]))) {
				t.Fatalf("%v: padding C[%d][%d] changed to %v", tc, i, j, got)
			}
		}
	}
	for i := range a0 {
		if a0[i] != p.A[i] {
			t.Fatalf("%v: A modified", tc)
		}
	}
	for i := range b0 {
		if b0[i] != p.B[i] {
			t.Fatalf("%v: B modified", tc)
		}
	}
}

var tileSizes = []int{1, 5, 6, 7, 11, 12, 13, 15, 16, 17, 31, 32, 33, 97}

func TestSgemmSizes(t *testing.T) {
	ctx := NewContext(3) // odd thread count: uneven splits
	defer ctx.Close()
	seed := uint64(1)
	for _, m := range tileSizes {
		for _, n := range tileSizes {
			for _, k := range []int{1, 7, 16, 33} {
				seed++
				tc := gemmCase{m: m, n: n, k: k, transA: seed%3 == 0, transB: seed%5 == 0,
					padA: int(seed % 3), padC: int(seed % 2), beta: float32(seed % 2), bias: seed%4 == 1,
					act: Activation(seed % 4)}
				runGemmCase(t, ctx, tc, seed)
			}
		}
	}
}

func TestSgemmOptions(t *testing.T) {
	ctxs := map[string]*Context{"nil": nil, "1": NewContext(1), "2": NewContext(2), "4": NewContext(4)}
	for _, c := range ctxs {
		defer c.Close()
	}
	sizes := [][3]int{{257, 263, 300}, {97, 31, 513}, {12, 1000, 70}, {600, 17, 45}, {6, 16, 256}, {5, 5, 0}, {144, 128, 257}}
	for name, ctx := range ctxs {
		for si, s := range sizes {
			for _, tA := range []bool{false, true} {
				for _, tB := range []bool{false, true} {
					for _, beta := range []float32{0, 1} {
						for _, act := range []Activation{ActNone, ActReLU, ActGELU, ActGELUTanh} {
							tc := gemmCase{m: s[0], n: s[1], k: s[2], transA: tA, transB: tB,
								padA: 1, padB: 2, padC: 3, beta: beta, bias: act != ActNone, act: act}
							if name != "2" && (act == ActGELU || act == ActGELUTanh || si%2 == 1) {
								continue // keep the test fast: full matrix on one context
							}
							t.Run(name+"/"+tc.String(), func(t *testing.T) { runGemmCase(t, ctx, tc, 7) })
						}
					}
				}
			}
		}
	}
}

func TestSgemmStrided(t *testing.T) {
	ctx := NewContext(2)
	defer ctx.Close()
	r := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct{ batch, m, n, k, sa, sb int }{
		{7, 13, 17, 19, 13 * 19, 19 * 17}, // independent items
		{5, 33, 40, 64, 33 * 64, 0},       // shared B
		{3, 200, 150, 130, 200 * 130, 130 * 150},
	} {
		p := Params{M: tc.m, N: tc.n, K: tc.k, Act: ActReLU}
		p.A = randSlice(r, (tc.batch-1)*tc.sa+tc.m*tc.k)
		p.B = randSlice(r, (tc.batch-1)*tc.sb+tc.k*tc.n)
		p.C = make([]float32, tc.batch*tc.m*tc.n)
		p.Bias = randSlice(r, tc.n)
		s := Strided{Batch: tc.batch, StrideA: tc.sa, StrideB: tc.sb, StrideC: tc.m * tc.n}
		if err := SgemmStrided(ctx, p, s); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < tc.batch; i++ {
			q := p
			q.A, q.B, q.C = p.A[i*tc.sa:], p.B[i*tc.sb:], make([]float32, tc.m*tc.n)
			q.LDA, q.LDB, q.LDC = tc.k, tc.n, tc.n
			want, bound := refGemm(q, q.C)
			got := p.C[i*tc.m*tc.n:]
			for e := range want {
				if math.Abs(float64(got[e])-want[e]) > bound[e] {
					t.Fatalf("batch %v item %d element %d: got %v want %v", tc, i, e, got[e], want[e])
				}
			}
		}
	}
}

func TestSgemmErrors(t *testing.T) {
	ok := Params{M: 2, N: 3, K: 4, A: make([]float32, 8), B: make([]float32, 12), C: make([]float32, 6)}
	bad := []struct {
		name string
		edit func(p *Params)
	}{
		{"negative M", func(p *Params) { p.M = -1 }},
		{"short A", func(p *Params) { p.A = p.A[:7] }},
		{"short B", func(p *Params) { p.B = p.B[:11] }},
		{"short C", func(p *Params) { p.C = p.C[:5] }},
		{"small LDA", func(p *Params) { p.LDA = 3 }},
		{"small LDC", func(p *Params) { p.LDC = 2 }},
		{"beta 0.5", func(p *Params) { p.Beta = 0.5 }},
		{"bias length", func(p *Params) { p.Bias = make([]float32, 2) }},
		{"activation", func(p *Params) { p.Act = 9 }},
		{"threads", func(p *Params) { p.MaxThreads = -2 }},
		{"short transposed A", func(p *Params) { p.TransA = true; p.LDA = 3 }},
		{"overflowing LDB", func(p *Params) { p.LDB = math.MaxInt / 2 }},
	}
	if err := Sgemm(nil, ok); err != nil {
		t.Fatalf("valid params: %v", err)
	}
	for _, b := range bad {
		p := ok
		b.edit(&p)
		if err := Sgemm(nil, p); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", b.name, err)
		}
	}
	ctx := NewContext(2)
	ctx.Close()
	if err := Sgemm(ctx, ok); !errors.Is(err, ErrClosed) {
		t.Errorf("closed context: got %v", err)
	}
	if err := SgemmStrided(nil, ok, Strided{Batch: 2, StrideC: 0}); !errors.Is(err, ErrInvalid) {
		t.Errorf("overlapping strided outputs: got %v", err)
	}
}

// TestNoAllocs checks that a warm Context does not allocate per call.
func TestNoAllocs(t *testing.T) {
	ctx := NewContext(2)
	defer ctx.Close()
	r := rand.New(rand.NewPCG(5, 6))
	p := Params{M: 200, N: 300, K: 100, A: randSlice(r, 200*100), B: randSlice(r, 100*300), C: make([]float32, 200*300),
		Bias: randSlice(r, 300), Act: ActReLU}
	if err := Sgemm(ctx, p); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(5, func() { _ = Sgemm(ctx, p) }); n > 0 {
		t.Errorf("%v allocations per call, want 0", n)
	}
}

// TestPackedB runs products whose B was packed once, against float64.
func TestPackedB(t *testing.T) {
	ctx := NewContext(2)
	defer ctx.Close()
	r := rand.New(rand.NewPCG(8, 9))
	for _, s := range [][3]int{{64, 1024, 300}, {1, 17, 5}, {13, 33, 513}, {100, 31, 64}, {7, 40, 0}} {
		for _, transB := range []bool{false, true} {
			for _, cx := range []*Context{ctx, nil} {
				m, n, k := s[0], s[1], s[2]
				br, bc := k, n
				if transB {
					br, bc = n, k
				}
				ldb := bc + 2
				b := randSlice(r, needLen(br, bc, ldb))
				pb, err := PackB(cx, k, n, b, ldb, transB)
				if err != nil {
					t.Fatal(err)
				}
				p := Params{M: m, N: n, K: k, A: randSlice(r, m*k), B: b, LDB: ldb, TransB: transB,
					Bias: randSlice(r, n), Act: ActReLU}
				p.LDA, p.LDC = max(k, 1), n
				c, full := guarded(m*n, nil)
				want, bound := refGemm(p, make([]float32, m*n))
				p.C, p.B, p.LDB, p.TransB, p.PackedB = c, nil, 0, false, pb
				if err := Sgemm(cx, p); err != nil {
					t.Fatal(err)
				}
				checkGuards(t, full, m*n)
				for i := range want {
					if !(math.Abs(float64(c[i])-want[i]) <= bound[i]) {
						t.Fatalf("%v transB=%v: C[%d] = %v, want %v", s, transB, i, c[i], want[i])
					}
				}
			}
		}
	}
	// Shared packed weights across a strided batch.
	m, n, k, batch := 9, 70, 45, 4
	b := randSlice(r, k*n)
	pb, err := PackB(ctx, k, n, b, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	a := randSlice(r, batch*m*k)
	c := make([]float32, batch*m*n)
	if err := SgemmStrided(ctx, Params{M: m, N: n, K: k, A: a, C: c, PackedB: pb}, Strided{Batch: batch, StrideA: m * k, StrideC: m * n}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < batch; i++ {
		want, bound := refGemm(Params{M: m, N: n, K: k, A: a[i*m*k:], LDA: k, B: b, LDB: n, LDC: n}, make([]float32, m*n))
		for e := range want {
			if math.Abs(float64(c[i*m*n+e])-want[e]) > bound[e] {
				t.Fatalf("batch item %d element %d: %v, want %v", i, e, c[i*m*n+e], want[e])
			}
		}
	}
	if err := Sgemm(ctx, Params{M: m, N: n + 1, K: k, A: a, C: c, PackedB: pb}); !errors.Is(err, ErrInvalid) {
		t.Errorf("PackedB of the wrong shape: got %v", err)
	}
	if other, err := NewContextKernel(1, kernels[len(kernels)-1].name); err == nil && len(kernels) > 1 {
		if err := Sgemm(other, Params{M: m, N: n, K: k, A: a, C: c, PackedB: pb}); !errors.Is(err, ErrInvalid) {
			t.Errorf("PackedB for another kernel: got %v", err)
		}
	}
}

// TestPackedBShares runs products against packed weights on every kernel and
// 1-3 threads, against float64: few rows (A packed by all threads, column
// shares), many rows (row shares), K over one KC block (the epilogue and
// GELU on accumulated full tiles), with bias, beta and every activation.
func TestPackedBShares(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 11))
	cases := [][3]int{{2, 100, 300}, {13, 64, 513}, {128, 100, 300}, {129, 33, 7}, {300, 100, 513}, {1031, 48, 40}}
	for _, name := range Kernels() {
		for _, threads := range []int{1, 2, 3} {
			ctx, err := NewContextKernel(threads, name)
			if err != nil {
				t.Fatal(err)
			}
			for ci, s := range cases {
				m, n, k := s[0], s[1], s[2]
				act := Activation((ci + threads) % 4)
				b := randSlice(r, k*n)
				pb, err := PackB(ctx, k, n, b, 0, false)
				if err != nil {
					t.Fatal(err)
				}
				p := Params{M: m, N: n, K: k, A: randSlice(r, m*k), LDA: k, B: b, LDB: n, LDC: n,
					Bias: randSlice(r, n), Act: act, Beta: float32(ci % 2)}
				c0 := randSlice(r, m*n)
				want, bound := refGemm(p, c0)
				c, full := guarded(m*n, c0)
				p.C, p.B, p.LDB, p.PackedB = c, nil, 0, pb
				if err := Sgemm(ctx, p); err != nil {
					t.Fatal(err)
				}
				checkGuards(t, full, m*n)
				for i := range want {
					if !(math.Abs(float64(c[i])-want[i]) <= bound[i]) {
						t.Fatalf("%s threads=%d %v act=%v beta=%v: C[%d] = %v, want %v",
							name, threads, s, act, p.Beta, i, c[i], want[i])
					}
				}
			}
			ctx.Close()
		}
	}
}
