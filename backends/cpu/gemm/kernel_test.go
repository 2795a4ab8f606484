package gemm

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestKernelsAgainstTwin runs every assembly micro-kernel (full tiles and
// row-edge variants) against the Go twin on the same packed panels, every
// flag combination, C in a NaN-guarded buffer with a row stride larger than
// the tile; rows and columns outside the tile must stay untouched.
func TestKernelsAgainstTwin(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, kn := range kernels {
		for rows := 1; rows <= kn.mr; rows++ {
			twin := kernelGenericRows(kn.mr, rows, kn.nr)
			for _, kc := range []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 17, 64, 255, 256} {
				for flags := 0; flags < 16; flags++ {
					if flags&flagColBias != 0 && flags&flagRowBias != 0 {
						continue // the driver never sets both
					}
					if rows != kn.mr && rows != 1 && kc > 9 && flags%3 != 0 {
						continue // keep the test short
					}
					a := randSlice(r, kc*kn.mr+1)
					b := randSlice(r, kc*kn.nr+1)
					bias := randSlice(r, max(kn.mr, kn.nr))
					ldc := kn.nr + 3
					n := (kn.mr-1)*ldc + kn.nr
					c0 := randSlice(r, n)
					c1, full1 := guarded(n, c0)
					c2, full2 := guarded(n, c0)
					kn.rows[rows](kc, &a[0], &b[0], &c1[0], ldc, flags, &bias[0])
					twin(kc, &a[0], &b[0], &c2[0], ldc, flags, &bias[0])
					checkGuards(t, full1, n)
					checkGuards(t, full2, n)
					for i := 0; i < kn.mr; i++ {
						for j := 0; j < ldc && i*ldc+j < n; j++ {
							x, y := c1[i*ldc+j], c2[i*ldc+j]
							if j >= kn.nr || i >= rows {
								if x != c0[i*ldc+j] || y != c0[i*ldc+j] {
									t.Fatalf("%s rows=%d kc=%d flags=%d: wrote outside the tile at C[%d][%d]", kn.name, rows, kc, flags, i, j)
								}
								continue
							}
							if math.Abs(float64(x-y)) > 1e-5*float64(kc+4) {
								t.Fatalf("%s rows=%d kc=%d flags=%d: C[%d][%d] asm %v, twin %v", kn.name, rows, kc, flags, i, j, x, y)
							}
						}
					}
				}
			}
		}
	}
}

// TestKernelReLUNaN checks that the fused ReLU keeps NaN, like the twin.
func TestKernelReLUNaN(t *testing.T) {
	for _, kn := range kernels {
		a := make([]float32, kn.mr)
		b := make([]float32, kn.nr)
		a[0] = float32(math.NaN())
		b[0] = -1
		c := make([]float32, kn.mr*kn.nr)
		kn.fn(1, &a[0], &b[0], &c[0], kn.nr, flagReLU, nil)
		if !math.IsNaN(float64(c[0])) || c[1] != 0 && !math.IsNaN(float64(c[1])) {
			t.Errorf("%s: relu(NaN) = %v, relu(NaN*0)= %v; want NaN", kn.name, c[0], c[1])
		}
	}
}

// TestEveryKernel runs the GEMM driver with each available kernel.
func TestEveryKernel(t *testing.T) {
	for _, name := range Kernels() {
		ctx, err := NewContextKernel(2, name)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range [][3]int{{1, 1, 1}, {13, 33, 7}, {25, 65, 300}, {145, 97, 513}, {31, 257, 31}} {
			tc := gemmCase{m: s[0], n: s[1], k: s[2], transA: i%2 == 1, transB: i%3 == 1, padC: 1,
				beta: float32(i % 2), bias: true, act: Activation(i % 4)}
			t.Run(name+"/"+tc.String(), func(t *testing.T) { runGemmCase(t, ctx, tc, uint64(i)) })
		}
		ctx.Close()
	}
}

func TestPeakProbe(t *testing.T) {
	g := MeasurePeakGFLOPS(5 * time.Millisecond)
	t.Logf("one core: %.1f GFLOP/s (kernels %v)", g, Kernels())
	if len(kernels) > 1 && g <= 0 {
		t.Errorf("peak probe returned %v", g)
	}
}
