package gemm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestGemvKernels runs every one-row kernel this CPU can execute (the assembly
// variants and the Go twin) on packed panels against a float64 reference:
// awkward k, one to three panels, every flag combination, with guards around
// C to catch writes past the panels.
func TestGemvKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, g := range gemvVariants() {
		for _, k := range []int{1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 255, 784} {
			for panels := 1; panels <= 3; panels++ {
				for flags := 0; flags < 16; flags++ {
					if flags&flagRowBias != 0 {
						continue // not a GEMV flag
					}
					nr := g.nr
					x := randSlice(r, k)
					b := randSlice(r, panels*k*nr)
					bias := randSlice(r, panels*nr)
					n := panels * nr
					c0 := randSlice(r, n)
					c, full := guarded(n, c0)
					g.fn(k, &x[0], &b[0], panels, &c[0], flags, &bias[0])
					checkGuards(t, full, n)
					for p := 0; p < panels; p++ {
						for j := 0; j < nr; j++ {
							s, mag := 0.0, 0.0
							for kk := 0; kk < k; kk++ {
								v := float64(x[kk]) * float64(b[p*k*nr+kk*nr+j])
								s += v
								mag += math.Abs(v)
							}
							if flags&flagAccum != 0 {
								s += float64(c0[p*nr+j])
							}
							if flags&flagColBias != 0 {
								s += float64(bias[p*nr+j])
							}
							if flags&flagReLU != 0 {
								s = math.Max(s, 0)
							}
							got := float64(c[p*nr+j])
							if tol := 1e-6 * (mag + 8) * math.Sqrt(float64(k)+1); !(math.Abs(got-s) <= tol) {
								t.Fatalf("%s k=%d panels=%d flags=%d: c[%d] = %v, want %v", g.name, k, panels, flags, p*nr+j, got, s)
							}
						}
					}
				}
			}
		}
	}
}

// TestGemvReLUNaN: the fused ReLU keeps NaN in the one-row kernels too.
func TestGemvReLUNaN(t *testing.T) {
	for _, g := range gemvVariants() {
		x := []float32{float32(math.NaN())}
		b := make([]float32, g.nr)
		b[1] = -1
		c := make([]float32, g.nr)
		g.fn(1, &x[0], &b[0], 1, &c[0], flagReLU, nil)
		if !math.IsNaN(float64(c[0])) || !math.IsNaN(float64(c[1])) {
			t.Errorf("%s: relu(NaN) = %v, %v; want NaN", g.name, c[0], c[1])
		}
	}
}

// TestGemvPacked runs few-row products with a packed B through the driver
// (every kernel, 1 to 3 threads) against float64: one row (the GEMV), a few
// rows and about smallM rows (A packed once, columns shared out), N below, at
// and across the panel width, K = 1, transposed A, accumulation and every
// activation.
func TestGemvPacked(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for _, name := range Kernels() {
		for _, threads := range []int{1, 2, 3} {
			ctx, err := NewContextKernel(threads, name)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range [][3]int{{1, 1, 1}, {1, 1, 15}, {1, 7, 16}, {1, 33, 17}, {1, 784, 33}, {1, 5, 100}, {1, 300, 512},
				{1, 17, 1000}, {1, 784, 2100}, {2, 33, 17}, {7, 300, 100}, {13, 1, 64}, {64, 784, 130}, {127, 260, 97},
				{128, 5, 33}, {129, 70, 50}} {
				m, k, n := s[0], s[1], s[2]
				b := randSlice(r, k*n)
				pb, err := PackB(ctx, k, n, b, 0, false)
				if err != nil {
					t.Fatal(err)
				}
				transA := i%3 == 1
				lda := k + i%2 // A stored M×K, possibly with padding
				if transA {
					lda = m + i%2 // A stored K×M
				}
				act := Activation(i % 4)
				beta := float32(i % 2)
				ar, ac := m, k
				if transA {
					ar, ac = k, m
				}
				p := Params{M: m, N: n, K: k, TransA: transA, LDA: lda, A: randSlice(r, needLen(ar, ac, lda)), B: b, LDB: n,
					Beta: beta, Act: act, LDC: n + 1}
				if i%4 != 3 {
					p.Bias = randSlice(r, n)
				}
				nc := needLen(m, n, p.LDC)
				c0 := randSlice(r, nc)
				if beta == 0 {
					for e := range c0 {
						c0[e] = float32(math.NaN())
					}
				}
				c, full := guarded(nc, c0)
				want, bound := refGemm(p, c0)
				p.C, p.B, p.LDB, p.PackedB = c, nil, 0, pb
				if err := Sgemm(ctx, p); err != nil {
					t.Fatal(err)
				}
				checkGuards(t, full, nc)
				for e := range want {
					if e%p.LDC == n {
						if got := c[e]; got != c0[e] && !(math.IsNaN(float64(got)) && math.IsNaN(float64(c0[e]))) {
							t.Fatalf("%s threads=%d %v: padding C[%d] changed", name, threads, s, e)
						}
						continue
					}
					if !(math.Abs(float64(c[e])-want[e]) <= bound[e]) {
						t.Fatalf("%s threads=%d m=%d k=%d n=%d transA=%v beta=%v %v: C[%d] = %v, want %v",
							name, threads, m, k, n, transA, beta, act, e, c[e], want[e])
					}
				}
			}
			ctx.Close()
		}
	}
}
