package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lightiam/lightos/engine/tensor"
)

// TestArithF32MatchesTwin compares the vectorized float32 loops with the Go loops
// bit for bit, for sizes around the vector widths, with NaN and infinity inputs and
// guard elements after the output that must stay untouched.
func TestArithF32MatchesTwin(t *testing.T) {
	r := rand.New(rand.NewPCG(81, 82))
	val := func() float32 {
		switch r.IntN(20) {
		case 0:
			return float32(math.NaN())
		case 1:
			return float32(math.Inf(1 - 2*r.IntN(2)))
		case 2:
			return 0
		}
		return float32(r.NormFloat64() * 10)
	}
	const guard = 5
	sizes := []int{0, 1, 7, 8, 9, 15, 16, 17, 23, 24, 31, 32, 33, 63, 64, 65, 100, 257}
	same := func(a, b float32) bool { return a == b || (a != a && b != b) }
	for _, n := range sizes {
		x, y := make([]float32, n+guard), make([]float32, n+guard)
		for i := range x {
			x[i], y[i] = val(), val()
		}
		for _, op := range []arith{aAdd, aSub, aMul, aDiv, aMax, aMin} {
			for _, mode := range [][2]bool{{true, true}, {true, false}, {false, true}} {
				got, want := make([]float32, n+guard), make([]float32, n)
				for i := n; i < n+guard; i++ {
					got[i] = 12345
				}
				xs, ys := x[:n], y[:n]
				switch {
				case mode[0] && mode[1]:
					arithVV(op, want, xs, ys)
				case mode[0]:
					arithVS(op, want, xs, y[0])
				default:
					arithSV(op, want, x[0], ys)
				}
				xa, ya := x[:max(n, 1)], y[:max(n, 1)]
				if !arithF32(op, got[:n], xa, ya, mode[0], mode[1]) {
					if vectorized && n >= 8 && op <= aDiv {
						t.Fatalf("op %d mode %v n=%d: the vector loop was not used", op, mode, n)
					}
					continue // no vector loop for this case: the caller runs the Go loop
				}
				for i := 0; i < n; i++ {
					if !same(got[i], want[i]) {
						t.Fatalf("op %d mode %v n=%d: element %d = %v, want %v (x=%v y=%v)", op, mode, n, i, got[i], want[i], x[i], y[i])
					}
				}
				for i := n; i < n+guard; i++ {
					if got[i] != 12345 {
						t.Fatalf("op %d mode %v n=%d: wrote past the end at %d", op, mode, n, i)
					}
				}
			}
		}
		got, want := make([]float32, n+guard), make([]float32, n)
		for i := n; i < n+guard; i++ {
			got[i] = 12345
		}
		reluF32(got[:n], x[:n])
		reluGo(want, x[:n])
		for i := 0; i < n; i++ {
			if !same(got[i], want[i]) {
				t.Fatalf("relu n=%d: element %d = %v, want %v", n, i, got[i], want[i])
			}
		}
		for i := n; i < n+guard; i++ {
			if got[i] != 12345 {
				t.Fatalf("relu n=%d: wrote past the end", n)
			}
		}
	}
}

// TestVecUnaryF32 checks the vectorized Sigmoid, SiLU and Tanh against package math
// on random and special values, with guard elements after the output.
func TestVecUnaryF32(t *testing.T) {
	r := rand.New(rand.NewPCG(83, 84))
	refs := map[string]func(float64) float64{
		"Sigmoid": func(x float64) float64 { return 1 / (1 + math.Exp(-x)) },
		"Silu":    func(x float64) float64 { return x / (1 + math.Exp(-x)) },
		"Tanh":    math.Tanh,
		"Erf":     math.Erf,
		"Exp":     math.Exp,
	}
	special := []float32{0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 1e-4, -1e-4, 0.624, 0.626, -0.625, 1, -1, 8.9, 9.1, -9.1,
		20, -20, 87, 88.5, 89, -87, -88.5, -89, -104, 1e30, -1e30, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	for op, ref := range refs {
		vec := vecUnaryF32(op)
		if vec == nil {
			t.Skip("no vectorized loops on this CPU or build")
		}
		for _, n := range []int{0, 1, 7, 8, 9, 16, 17, 31, 100, 1000} {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(r.NormFloat64() * 6)
				if r.IntN(5) == 0 {
					x[i] = special[r.IntN(len(special))]
				}
			}
			got := make([]float32, n+3)
			got[n], got[n+1], got[n+2] = 7, 7, 7
			vec(got[:n], x)
			for i, v := range x {
				want := float64(float32(ref(float64(v))))
				g := float64(got[i])
				if op == "Silu" && math.IsInf(float64(v), -1) {
					continue // -Inf·sigmoid(-Inf): NaN by the formula, -Inf here; the limit is 0
				}
				if math.IsNaN(want) {
					if !math.IsNaN(g) {
						t.Fatalf("%s(%v) = %v, want NaN", op, v, g)
					}
					continue
				}
				tol := 3e-7*math.Abs(want) + 1e-35
				if op == "Erf" {
					tol = 3e-7 // Abramowitz-Stegun 7.1.26: 1.5e-7 absolute, plus float32 rounding
				}
				if math.Abs(g-want) > tol && !(math.IsInf(want, 0) && g == want) {
					t.Fatalf("%s(%v) = %v, want %v (n=%d, i=%d)", op, v, g, want, n, i)
				}
			}
			if got[n] != 7 || got[n+1] != 7 || got[n+2] != 7 {
				t.Fatalf("%s: wrote past the end (n=%d)", op, n)
			}
		}
	}
}

// TestHalfConversions checks the F16C conversions against the Go twins: every one of
// the 65536 float16 values, and float32 values around float16's rounding boundaries,
// subnormals, overflow and NaN.
func TestHalfConversions(t *testing.T) {
	isNaN16 := func(h uint16) bool { return h&0x7c00 == 0x7c00 && h&0x3ff != 0 }
	all := make([]uint16, 65536+3)
	for i := range 65536 {
		all[i] = uint16(i)
	}
	got, want := make([]float32, 65536+3), make([]float32, 65536)
	got[65536] = 9
	halfToFloat(got[:65536], all[:65536])
	halfToFloatGo(want, all[:65536])
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(isNaN16(uint16(i)) && got[i] != got[i]) {
			t.Fatalf("half %#04x -> %v, want %v", i, got[i], want[i])
		}
	}
	if got[65536] != 9 {
		t.Fatal("halfToFloat wrote past the end")
	}
	// float32 -> float16: each float16 value, the midpoints between neighbours and
	// their float32 neighbours (ties round to even), and random values.
	r := rand.New(rand.NewPCG(85, 86))
	var xs []float32
	for i := 0; i < 0x7c00; i += 7 {
		a, b := float64(tensor.Float16ToFloat32(uint16(i))), float64(tensor.Float16ToFloat32(uint16(i+1)))
		m := float32((a + b) / 2)
		for _, v := range []float32{float32(a), m, math.Nextafter32(m, 0), math.Nextafter32(m, 1e9)} {
			xs = append(xs, v, -v)
		}
	}
	for i := 0; i < 5000; i++ {
		xs = append(xs, float32(r.NormFloat64()*math.Pow(10, float64(r.IntN(12)-6))))
	}
	xs = append(xs, 65504, 65519.99, 65520, 1e6, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e-8, 6e-8, -3e-8)
	hg, hw := make([]uint16, len(xs)+3), make([]uint16, len(xs))
	hg[len(xs)] = 9
	floatToHalf(hg[:len(xs)], xs)
	floatToHalfGo(hw, xs)
	for i := range hw {
		if hg[i] != hw[i] && !(isNaN16(hg[i]) && isNaN16(hw[i])) {
			t.Fatalf("float %v -> half %#04x, want %#04x", xs[i], hg[i], hw[i])
		}
	}
	if hg[len(xs)] != 9 {
		t.Fatal("floatToHalf wrote past the end")
	}
}

// TestClampAffineF32 compares the vectorized clamp with its Go twin (within one
// rounding of a·x+b, which the vector loop fuses) on random and special values.
func TestClampAffineF32(t *testing.T) {
	r := rand.New(rand.NewPCG(87, 88))
	for _, c := range []struct {
		a, b, lo, hi float32
		mulx         bool
	}{
		{1, 0, -1, 2, false}, {0.2, 0.5, 0, 1, false}, {1.0 / 6, 0.5, 0, 1, true},
		{1, 0, float32(math.Inf(-1)), 6, false}, {1, 0, 3, 1, false},
	} {
		for _, n := range []int{0, 1, 7, 8, 9, 17, 64, 101} {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(r.NormFloat64() * 5)
				if r.IntN(10) == 0 {
					x[i] = []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0}[r.IntN(4)]
				}
			}
			got, want := make([]float32, n+2), make([]float32, n)
			got[n], got[n+1] = 5, 5
			clampAffineF32(got[:n], x, c.a, c.b, c.lo, c.hi, c.mulx)
			clampAffineGo(want, x, c.a, c.b, c.lo, c.hi, c.mulx)
			for i := range want {
				g, w := float64(got[i]), float64(want[i])
				if (g != g) != (w != w) || (w == w && math.Abs(g-w) > 1e-6*(1+math.Abs(w))) {
					t.Fatalf("%+v n=%d: clamp(%v) = %v, want %v", c, n, x[i], g, w)
				}
			}
			if got[n] != 5 || got[n+1] != 5 {
				t.Fatalf("%+v n=%d: wrote past the end", c, n)
			}
		}
	}
}

// TestLeakyReluF32 compares the vectorized LeakyRelu with its Go twin bit for bit.
func TestLeakyReluF32(t *testing.T) {
	r := rand.New(rand.NewPCG(89, 90))
	for _, n := range []int{0, 1, 7, 8, 9, 31, 100} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64())
			if r.IntN(8) == 0 {
				x[i] = []float32{float32(math.NaN()), float32(math.Inf(-1)), float32(math.Copysign(0, -1)), 0}[r.IntN(4)]
			}
		}
		got, want := make([]float32, n+1), make([]float32, n)
		got[n] = 3
		leakyReluF32(got[:n], x, 0.1)
		leakyReluGo(want, x, 0.1)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
				t.Fatalf("n=%d: leakyRelu(%v) = %v, want %v", n, x[i], got[i], want[i])
			}
		}
		if got[n] != 3 {
			t.Fatalf("n=%d: wrote past the end", n)
		}
	}
}

// TestSumF32 checks the vectorized float64 sums and row accumulations against plain
// float64 loops, for sizes around the vector widths.
func TestSumF32(t *testing.T) {
	r := rand.New(rand.NewPCG(91, 92))
	for _, n := range []int{0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 100, 1000} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64() * 100)
		}
		for _, sq := range []bool{false, true} {
			want := 0.0
			for _, v := range x {
				if sq {
					want += float64(v) * float64(v)
				} else {
					want += float64(v)
				}
			}
			got, done := sumF32(x, sq)
			for _, v := range x[done:] {
				if sq {
					got += float64(v) * float64(v)
				} else {
					got += float64(v)
				}
			}
			if math.Abs(got-want) > 1e-9*(1+math.Abs(want)) {
				t.Fatalf("n=%d sq=%v: sum %v, want %v", n, sq, got, want)
			}
			acc, ref := make([]float64, n+1), make([]float64, n)
			acc[n] = 42
			for i := range ref {
				acc[i], ref[i] = float64(i), float64(i)
				if sq {
					ref[i] += float64(x[i]) * float64(x[i])
				} else {
					ref[i] += float64(x[i])
				}
			}
			done = accumF32(acc[:n], x, sq)
			for i := done; i < n; i++ {
				if sq {
					acc[i] += float64(x[i]) * float64(x[i])
				} else {
					acc[i] += float64(x[i])
				}
			}
			for i := range ref {
				if math.Abs(acc[i]-ref[i]) > 1e-12*(1+math.Abs(ref[i])) {
					t.Fatalf("n=%d sq=%v: acc[%d] = %v, want %v", n, sq, i, acc[i], ref[i])
				}
			}
			if acc[n] != 42 {
				t.Fatalf("n=%d: accumF32 wrote past the end", n)
			}
		}
	}
}
