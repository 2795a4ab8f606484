package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
)

// maxPoolShape is one 2-D MaxPool case for the float32 fast path and the general
// loops it replaces.
type maxPoolShape struct {
	n, c, h, w int
	kh, kw     int
	sh, sw     int
	pads       [4]int // top, left, bottom, right
	dh, dw     int    // dilations (0 means 1)
	ceil       bool
	nanRate    float64 // fraction of inputs set to NaN (half of them negative NaN)
	negInfRate float64 // fraction of inputs set to -Inf
}

func (c maxPoolShape) geometry(t testing.TB) geo3 {
	a := graph.Attrs{"kernel_shape": graph.Ints(int64(c.kh), int64(c.kw)),
		"strides":   graph.Ints(int64(c.sh), int64(c.sw)),
		"pads":      graph.Ints(int64(c.pads[0]), int64(c.pads[1]), int64(c.pads[2]), int64(c.pads[3])),
		"dilations": graph.Ints(int64(max(c.dh, 1)), int64(max(c.dw, 1)))}
	if c.ceil {
		a["ceil_mode"] = graph.Int(1)
	}
	g, err := ops.PoolGeometry(a, []int{c.h, c.w})
	if err != nil {
		t.Fatalf("%+v: %v", c, err)
	}
	return toGeo3(g)
}

func (c maxPoolShape) input(r *rand.Rand) []float32 {
	x := make([]float32, c.n*c.c*c.h*c.w)
	for i := range x {
		switch p := r.Float64(); {
		case p < c.nanRate/2:
			x[i] = float32(math.NaN()) // positive quiet NaN
		case p < c.nanRate:
			x[i] = math.Float32frombits(0xffc00000) // x86's default NaN (sign set)
		case p < c.nanRate+c.negInfRate:
			x[i] = float32(math.Inf(-1))
		default:
			x[i] = float32(r.NormFloat64() * 3)
		}
	}
	return x
}

// refMaxPool2D is MaxPool by its definition in float64: the max over the window's
// taps inside the input, NaN when any of them is NaN, -Inf for an empty window.
func refMaxPool2D(g *geo3, planes int, x []float32) []float64 {
	h, w, oh, ow := g.in[1], g.in[2], g.out[1], g.out[2]
	y := make([]float64, planes*oh*ow)
	for pl := 0; pl < planes; pl++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				best := math.Inf(-1)
				for a := 0; a < g.k[1]; a++ {
					for b := 0; b < g.k[2]; b++ {
						r, c := i*g.s[1]-g.pb[1]+a*g.d[1], j*g.s[2]-g.pb[2]+b*g.d[2]
						if r < 0 || r >= h || c < 0 || c >= w {
							continue
						}
						v := float64(x[pl*h*w+r*w+c])
						if math.IsNaN(v) || math.IsNaN(best) {
							best = math.NaN()
						} else {
							best = math.Max(best, v)
						}
					}
				}
				y[(pl*oh+i)*ow+j] = best
			}
		}
	}
	return y
}

var maxPoolShapes = []maxPoolShape{
	{n: 1, c: 3, h: 112, w: 112, kh: 3, kw: 3, sh: 2, sw: 2, pads: [4]int{1, 1, 1, 1}},
	{n: 2, c: 3, h: 13, w: 17, kh: 3, kw: 3, sh: 2, sw: 2, pads: [4]int{1, 1, 1, 1}, nanRate: 0.02},
	{n: 2, c: 2, h: 9, w: 11, kh: 3, kw: 3, sh: 1, sw: 1, pads: [4]int{1, 1, 1, 1}, nanRate: 0.05, negInfRate: 0.1},
	{n: 1, c: 4, h: 15, w: 15, kh: 2, kw: 2, sh: 2, sw: 2},
	{n: 1, c: 2, h: 15, w: 15, kh: 2, kw: 2, sh: 2, sw: 2, ceil: true, nanRate: 0.03},
	{n: 3, c: 1, h: 19, w: 23, kh: 5, kw: 5, sh: 3, sw: 3, pads: [4]int{2, 1, 2, 2}, nanRate: 0.01},
	{n: 1, c: 2, h: 20, w: 21, kh: 5, kw: 3, sh: 1, sw: 2, pads: [4]int{2, 0, 1, 1}, ceil: true},
	{n: 1, c: 2, h: 7, w: 8, kh: 2, kw: 5, sh: 3, sw: 1, pads: [4]int{0, 2, 1, 2}, ceil: true, negInfRate: 0.5},
	{n: 2, c: 2, h: 1, w: 9, kh: 1, kw: 3, sh: 1, sw: 2, pads: [4]int{0, 1, 0, 1}},
	{n: 1, c: 1, h: 1, w: 1, kh: 1, kw: 1, sh: 1, sw: 1},
	{n: 1, c: 2, h: 6, w: 5, kh: 3, kw: 3, sh: 2, sw: 2, pads: [4]int{1, 1, 1, 1}, nanRate: 1},
	// dilated: the general loops only
	{n: 1, c: 2, h: 12, w: 11, kh: 3, kw: 2, sh: 2, sw: 1, dh: 2, dw: 3, pads: [4]int{2, 1, 1, 2}, nanRate: 0.03},
}

// TestMaxPoolFastPath checks the float32 MaxPool fast path and the general loops
// (q.generic) against refMaxPool2D, NaNs of both signs and -Inf included.
func TestMaxPoolFastPath(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 3))
	for i, c := range maxPoolShapes {
		g := c.geometry(t)
		x := c.input(r)
		want := refMaxPool2D(&g, c.n*c.c, x)
		// fast: the float32 key path; rows: the general row loops; indices: the
		// per-window loops, which also return argmax indices.
		for _, path := range []string{"fast", "rows", "indices"} {
			for _, threads := range []int{1, 2} {
				t.Run(fmt.Sprintf("%d/%s/threads=%d", i, path, threads), func(t *testing.T) {
					q := poolParams{kind: poolMax, planes: c.n * c.c, inSz: c.h * c.w, generic: path != "fast"}
					y := make([]float32, len(want))
					var idx []int64
					if path == "indices" {
						q.wantIndices, idx = true, make([]int64, len(want))
					}
					poolRun(&Env{Threads: threads}, &g, q, x, y, idx)
					for j, v := range y {
						w := want[j]
						if math.IsNaN(w) != math.IsNaN(float64(v)) || !math.IsNaN(w) && float64(v) != w {
							t.Fatalf("%+v: y[%d] = %v, want %v", c, j, v, w)
						}
						if idx == nil || math.IsInf(w, -1) {
							continue
						}
						if at := x[idx[j]]; math.Float32bits(at) != math.Float32bits(v) {
							t.Fatalf("%+v: index[%d] = %d holds %v, not the output %v", c, j, idx[j], at, v)
						}
					}
				})
			}
		}
	}
}

// TestMaxPoolFastPathRandom runs the fast path on random small geometries (kernel
// 1-5, stride 1-3, pads up to kernel-1, ceil_mode either way) against the reference.
func TestMaxPoolFastPathRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 4))
	for i := 0; i < 300; i++ {
		c := maxPoolShape{n: 1, c: 1 + r.IntN(2), h: 1 + r.IntN(9), w: 1 + r.IntN(12),
			kh: 1 + r.IntN(5), kw: 1 + r.IntN(5), sh: 1 + r.IntN(3), sw: 1 + r.IntN(3),
			ceil: r.IntN(2) == 1, nanRate: 0.02 * float64(r.IntN(3))}
		c.kh, c.kw = min(c.kh, c.h+1), min(c.kw, c.w+1)
		c.pads = [4]int{r.IntN(c.kh), r.IntN(c.kw), r.IntN(c.kh), r.IntN(c.kw)}
		if c.h+c.pads[0]+c.pads[2] < c.kh || c.w+c.pads[1]+c.pads[3] < c.kw {
			continue
		}
		g := c.geometry(t)
		x := c.input(r)
		want := refMaxPool2D(&g, c.n*c.c, x)
		y := make([]float32, len(want))
		poolRun(&Env{Threads: 1}, &g, poolParams{kind: poolMax, planes: c.n * c.c, inSz: c.h * c.w}, x, y, nil)
		for j, v := range y {
			if w := want[j]; math.IsNaN(w) != math.IsNaN(float64(v)) || !math.IsNaN(w) && float64(v) != w {
				t.Fatalf("%+v: y[%d] = %v, want %v", c, j, v, w)
			}
		}
	}
}

// TestMaxKey checks that maxKey orders float32 values as floats, with every NaN
// above +Inf, and that maxUnkey inverts it.
func TestMaxKey(t *testing.T) {
	vals := []uint32{0xff800000, 0xff7fffff, 0xbf800000, 0x80000001, 0x80000000, 0, 1, 0x3f800000, 0x7f7fffff, 0x7f800000}
	nans := []uint32{0x7f800001, 0x7fc00000, 0x7fffffff, 0xff800001, 0xffc00000, 0xffffffff}
	for i, v := range vals {
		if maxUnkey(maxKey(v)) != v {
			t.Errorf("maxUnkey(maxKey(%#x)) = %#x", v, maxUnkey(maxKey(v)))
		}
		if i > 0 && maxKey(v) <= maxKey(vals[i-1]) {
			t.Errorf("maxKey(%#x) = %#x not above maxKey(%#x) = %#x", v, maxKey(v), vals[i-1], maxKey(vals[i-1]))
		}
		for _, n := range nans {
			if maxKey(n) <= maxKey(v) || maxUnkey(maxKey(n)) != n {
				t.Errorf("NaN %#x: key %#x not above %#x's %#x, or not inverted", n, maxKey(n), v, maxKey(v))
			}
		}
	}
	if maxKey(0xff800000) != 0 {
		t.Errorf("maxKey(-Inf) = %#x, want 0 (the padding)", maxKey(0xff800000))
	}
}

// BenchmarkMaxPoolPaths times the float32 fast path against the general row loops
// (the previous code) in the same run, one thread and the device's default.
func BenchmarkMaxPoolPaths(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 1))
	for _, c := range []struct {
		name string
		s    maxPoolShape
	}{
		{"resnet_64x112_3x3s2", maxPoolShape{n: 1, c: 64, h: 112, w: 112, kh: 3, kw: 3, sh: 2, sw: 2, pads: [4]int{1, 1, 1, 1}}},
		{"64x56_3x3s1", maxPoolShape{n: 1, c: 64, h: 56, w: 56, kh: 3, kw: 3, sh: 1, sw: 1, pads: [4]int{1, 1, 1, 1}}},
		{"128x56_2x2s2", maxPoolShape{n: 1, c: 128, h: 56, w: 56, kh: 2, kw: 2, sh: 2, sw: 2}},
	} {
		g := c.s.geometry(b)
		x := c.s.input(r)
		y := make([]float32, c.s.n*c.s.c*g.outSize())
		for _, threads := range []int{1, 0} {
			for _, generic := range []bool{true, false} {
				name := "fast"
				if generic {
					name = "old"
				}
				b.Run(fmt.Sprintf("%s/threads=%d/%s", c.name, threads, name), func(b *testing.B) {
					q := poolParams{kind: poolMax, planes: c.s.n * c.s.c, inSz: c.s.h * c.s.w, generic: generic}
					env := &Env{Threads: threads}
					b.SetBytes(int64(4 * (len(x) + len(y))))
					for b.Loop() {
						poolRun(env, &g, q, x, y, nil)
					}
				})
			}
		}
	}
}
