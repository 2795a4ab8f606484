package gemm

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// refConvNHWC is a float64 direct convolution over channels-last tensors
// (ONNX Conv semantics, X N×H×W×C, w OIHW, Y N×OH×OW×M), returning the
// expected output and an error bound per element.
func refConvNHWC(s Conv2DShape, x, w, bias, residual []float32, act Activation) (want, bound []float64) {
	s.defaults()
	oh, ow := s.OutH(), s.OutW()
	cg, mg := s.C/s.Group, s.M/s.Group
	want = make([]float64, s.N*oh*ow*s.M)
	bound = make([]float64, len(want))
	for n := 0; n < s.N; n++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				for m := 0; m < s.M; m++ {
					g := m / mg
					sum, mag := 0.0, 0.0
					if bias != nil {
						sum, mag = float64(bias[m]), math.Abs(float64(bias[m]))
					}
					for ky := 0; ky < s.KH; ky++ {
						iy := oy*s.StrideH - s.PadTop + ky*s.DilationH
						if iy < 0 || iy >= s.H {
							continue
						}
						for kx := 0; kx < s.KW; kx++ {
							ix := ox*s.StrideW - s.PadLeft + kx*s.DilationW
							if ix < 0 || ix >= s.W {
								continue
							}
							for c := 0; c < cg; c++ {
								v := float64(x[((n*s.H+iy)*s.W+ix)*s.C+g*cg+c]) * float64(w[((m*cg+c)*s.KH+ky)*s.KW+kx])
								sum += v
								mag += math.Abs(v)
							}
						}
					}
					i := ((n*oh+oy)*ow+ox)*s.M + m
					if residual != nil {
						sum += float64(residual[i])
						mag += math.Abs(float64(residual[i]))
					}
					want[i] = refAct(act, sum)
					bound[i] = 1e-5 + float64(cg*s.KH*s.KW+2)*3e-7*mag
				}
			}
		}
	}
	return want, bound
}

// nhwcTestContexts returns nil (the calling goroutine only) and a two-worker
// Context whose tile kernels prefetch the next tile's inputs whatever the
// input's size (flagPrefetchX; nil's never do at these sizes), so that both
// of their K loops are checked.
func nhwcTestContexts(t *testing.T) []*Context {
	ctx := NewContext(2)
	ctx.nhwc.prefetchXMin = 1
	t.Cleanup(func() { ctx.Close() })
	return []*Context{nil, ctx}
}

func TestConvNHWC(t *testing.T) {
	ctxs := nhwcTestContexts(t)
	same := func(p int) (int, int, int, int) { return p, p, p, p }
	sq := func(n, c, h, m, k, stride, pad int) Conv2DShape {
		s := Conv2DShape{N: n, C: c, H: h, W: h, M: m, KH: k, KW: k, StrideH: stride, StrideW: stride}
		s.PadTop, s.PadLeft, s.PadBottom, s.PadRight = same(pad)
		return s
	}
	cases := []Conv2DShape{
		sq(1, 3, 7, 5, 3, 1, 1),
		sq(2, 5, 13, 7, 3, 1, 0),     // valid
		sq(1, 16, 14, 65, 1, 1, 0),   // 1x1, M tail of one channel
		sq(3, 5, 13, 7, 1, 2, 0),     // 1x1 strided
		sq(1, 67, 7, 130, 1, 1, 0),   // 7x7 plane, three panels
		sq(1, 64, 14, 64, 3, 2, 1),   // 3x3 stride 2
		sq(1, 3, 29, 64, 7, 2, 3),    // the stem's shape, smaller
		sq(2, 64, 5, 7, 3, 1, 1),     // few pixels
		sq(1, 1, 56, 1, 3, 1, 1),     // one channel
		sq(1, 67, 1, 65, 1, 1, 0),    // one pixel
		sq(2, 3, 5, 130, 5, 1, 2),    // 5x5
		sq(1, 5, 13, 16, 7, 1, 3),    // 7x7 stride 1
		sq(1, 256, 7, 70, 3, 1, 1),   // several K blocks (taps×C×nr over the budget)
		sq(1, 600, 5, 65, 1, 1, 0),   // 1x1 with several K blocks
		sq(1, 64, 56, 64, 1, 1, 0),   // ResNet 1x1 at 56x56: many tiles, split pixels
		sq(1, 64, 14, 1030, 1, 1, 0), // many panels
		sq(3, 8, 40, 24, 1, 1, 0),    // batch: more pixel chunks than 4 per thread (nhwcChunkTiles)
		{N: 1, C: 3, H: 5, W: 6, M: 4, KH: 2, KW: 3, PadTop: 0, PadLeft: 2, PadBottom: 3, PadRight: 0}, // asymmetric pads
		{N: 1, C: 6, H: 12, W: 15, M: 7, KH: 3, KW: 3, PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2, DilationH: 2, DilationW: 2},
		{N: 2, C: 5, H: 9, W: 13, M: 9, KH: 3, KW: 2, PadTop: 2, PadBottom: 1, PadRight: 1, StrideH: 2, StrideW: 3, DilationW: 2},
		{N: 1, C: 2, H: 4, W: 4, M: 3, KH: 3, KW: 3, PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2, StrideH: 3, StrideW: 1},
		{N: 1, C: 4, H: 1, W: 17, M: 5, KH: 1, KW: 3, PadLeft: 1, PadRight: 1}, // 1-D
		// Depthwise (MobileNetV2's 3x3 stride 1 and 2, and odd ones).
		{N: 1, C: 67, H: 14, W: 14, M: 67, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Group: 67},
		{N: 2, C: 16, H: 13, W: 13, M: 16, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, StrideH: 2, StrideW: 2, Group: 16},
		{N: 1, C: 5, H: 7, W: 9, M: 5, KH: 5, KW: 3, PadTop: 2, PadBottom: 1, PadRight: 2, StrideH: 2, StrideW: 3, DilationW: 2, Group: 5},
		{N: 1, C: 64, H: 56, W: 56, M: 64, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Group: 64},
		// Pads wider than the kernel: pixels with no valid tap at all.
		{N: 2, C: 20, H: 3, W: 4, M: 20, KH: 3, KW: 3, PadTop: 3, PadLeft: 3, PadBottom: 3, PadRight: 4, Group: 20},
		{N: 1, C: 33, H: 1, W: 9, M: 33, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, StrideW: 2, Group: 33},
	}
	for ci, s := range cases {
		for _, act := range []Activation{ActNone, ActReLU, ActGELU} {
			for _, extra := range []string{"bias", "none", "bias+residual", "residual", "bias+residual in Y"} {
				if act == ActGELU && extra != "bias+residual" {
					continue // GELU goes through the same row helper either way
				}
				t.Run(fmt.Sprintf("%d/%v/%s", ci, act, extra), func(t *testing.T) {
					r := rand.New(rand.NewPCG(uint64(ci), uint64(act)))
					s.defaults()
					x := randSlice(r, s.N*s.H*s.W*s.C)
					w := randSlice(r, s.M*s.C/s.Group*s.KH*s.KW)
					var bias, residual []float32
					inY := extra == "bias+residual in Y" // Residual is Y: the sum lands in its buffer
					if extra != "none" && extra != "residual" {
						bias = randSlice(r, s.M)
					}
					if extra != "none" && extra != "bias" {
						residual = randSlice(r, s.N*s.OutH()*s.OutW()*s.M)
					}
					want, bound := refConvNHWC(s, x, w, bias, residual, act)
					// Every kernel set this machine runs (the Go twin
					// included), on each Context; the weights choose the
					// kernel.
					pdef, err := PackConvNHWCWeights(nil, s, w)
					if err != nil {
						t.Fatal(err)
					}
					for ki := 0; ki < len(nhwcKernels)*len(ctxs); ki++ {
						cx, pw := ctxs[ki%len(ctxs)], pdef
						if kern := nhwcKernels[ki/len(ctxs)]; kern != pdef.kern {
							pw = packConvNHWC(kern, s, w)
						}
						y, full := guarded(len(want), nil)
						p := ConvNHWCParams{Conv2DShape: s, X: x, W: pw, Bias: bias, Residual: residual, Act: act, Y: y}
						// Run twice (the second run reuses the scratch), on
						// all threads and on one.
						for run := 0; run < 2; run++ {
							if inY { // the residual again, in Y
								copy(y, residual)
								p.Residual = y
							}
							p.MaxThreads = run
							if err := ConvNHWC(cx, p); err != nil {
								t.Fatal(err)
							}
							checkGuards(t, full, len(want))
							for i := range want {
								if !(math.Abs(float64(y[i])-want[i]) <= bound[i]) {
									t.Fatalf("%v, kernel %s, %d threads, run %d: y[%d] = %v, want %v", s, pw.kern.name, cx.Threads(), run, i, y[i], want[i])
								}
							}
						}
					}
				})
			}
		}
	}
}

func TestConvNHWCErrors(t *testing.T) {
	s := Conv2DShape{N: 1, C: 4, H: 5, W: 5, M: 2, KH: 3, KW: 3}
	w := make([]float32, 2*4*9)
	pw, err := PackConvNHWCWeights(nil, s, w)
	if err != nil {
		t.Fatal(err)
	}
	ok := ConvNHWCParams{Conv2DShape: s, X: make([]float32, 100), W: pw, Y: make([]float32, 2*9)}
	if err := ConvNHWC(nil, ok); err != nil {
		t.Fatalf("valid: %v", err)
	}
	for name, edit := range map[string]func(p *ConvNHWCParams){
		"short X":      func(p *ConvNHWCParams) { p.X = p.X[:99] },
		"long Y":       func(p *ConvNHWCParams) { p.Y = make([]float32, 19) },
		"bias":         func(p *ConvNHWCParams) { p.Bias = make([]float32, 3) },
		"kernel large": func(p *ConvNHWCParams) { p.H = 2; p.X = p.X[:40] },
		"group":        func(p *ConvNHWCParams) { p.Group = 2 },
		"bad group":    func(p *ConvNHWCParams) { p.Group = 3 },
		"weights":      func(p *ConvNHWCParams) { p.M = 4 },
		"nil weights":  func(p *ConvNHWCParams) { p.W = nil },
		"residual":     func(p *ConvNHWCParams) { p.Residual = make([]float32, 5) },
		"stride":       func(p *ConvNHWCParams) { p.StrideH = -1 },
		"pad":          func(p *ConvNHWCParams) { p.PadLeft = -1 },
		"act":          func(p *ConvNHWCParams) { p.Act = 7 },
		"threads":      func(p *ConvNHWCParams) { p.MaxThreads = -1 },
		"huge":         func(p *ConvNHWCParams) { p.H = 1 << 40 },
		"X in Y": func(p *ConvNHWCParams) {
			buf := make([]float32, 200)
			p.X, p.Y = buf[:100], buf[90:108]
		},
		"residual overlapping Y": func(p *ConvNHWCParams) {
			buf := make([]float32, 40)
			p.Y, p.Residual = buf[:18], buf[1:19]
		},
	} {
		p := ok
		edit(&p)
		if err := ConvNHWC(nil, p); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
	if _, err := PackConvNHWCWeights(nil, s, w[:5]); !errors.Is(err, ErrInvalid) {
		t.Errorf("short weights: got %v", err)
	}
	g := Conv2DShape{N: 1, C: 4, H: 5, W: 5, M: 4, KH: 3, KW: 3, Group: 2}
	if _, err := PackConvNHWCWeights(nil, g, make([]float32, 4*2*9)); !errors.Is(err, ErrUnsupported) {
		t.Errorf("group 2: got %v, want ErrUnsupported", err)
	}
	if _, err := PackConvNHWCWeights(nil, Conv2DShape{C: 4, M: 2, KH: 3, KW: 3, Group: 3}, w); !errors.Is(err, ErrInvalid) {
		t.Errorf("group 3 of 4 channels: got %v, want ErrInvalid", err)
	}
}

// TestConvNHWCNoAllocs checks that warm ConvNHWC calls do not allocate.
func TestConvNHWCNoAllocs(t *testing.T) {
	ctx := NewContext(2)
	defer ctx.Close()
	r := rand.New(rand.NewPCG(1, 1))
	for _, s := range []Conv2DShape{
		{N: 1, C: 16, H: 20, W: 20, M: 32, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
		{N: 1, C: 32, H: 20, W: 20, M: 32, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Group: 32},
		{N: 1, C: 8, H: 21, W: 21, M: 16, KH: 3, KW: 3, StrideH: 2, StrideW: 2},
	} {
		s.defaults()
		pw, err := PackConvNHWCWeights(ctx, s, randSlice(r, s.M*s.C/s.Group*s.KH*s.KW))
		if err != nil {
			t.Fatal(err)
		}
		p := ConvNHWCParams{Conv2DShape: s, X: randSlice(r, s.C*s.H*s.W), W: pw, Bias: randSlice(r, s.M), Act: ActReLU,
			Y: make([]float32, s.M*s.OutH()*s.OutW())}
		if err := ConvNHWC(ctx, p); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(5, func() { _ = ConvNHWC(ctx, p) }); n > 0 {
			t.Errorf("%v: %v allocations per call, want 0", s, n)
		}
	}
}

func TestNhwcStreamMinFor(t *testing.T) {
	for _, tc := range []struct {
		l3   int64
		want int
	}{{-1, 16 << 20}, {0, 16 << 20}, {8 << 20, 16 << 20}, {32 << 20, 16 << 20}, {105 << 20, 105 << 19}, {320 << 20, 160 << 20}} {
		if got := nhwcStreamMinFor(tc.l3); got != tc.want {
			t.Errorf("L3 %d: %d, want %d", tc.l3, got, tc.want)
		}
	}
}

// TestConvNHWCStream checks outputs large enough to be stored with
// non-temporal stores (nhwcStreamMin), and the fallbacks when Y or the
// channels are not aligned to a vector, against the float64 reference, with
// residuals large enough to be read ahead (nhwcWarmMin) or prefetched by the
// kernels (nhwcPrefetchMin).
func TestConvNHWCStream(t *testing.T) {
	ctx := NewContext(2)
	defer ctx.Close()
	ctx.nhwc.streamMin = 16 << 20 // as on a CPU with 32 MB of L3 or less
	for _, tc := range []struct {
		name   string
		n, m   int
		offset int // floats before Y in its allocation
		stream bool
		warm   bool // the residual rows are read ahead whole, else prefetched by the kernel
	}{
		{"aligned", 4, 1024, 0, true, true},
		{"unaligned Y", 4, 1024, 1, false, true},
		{"odd channels", 4, 1030, 0, false, true},
		{"one panel", 16, 64, 0, false, false}, // 4 MB: nhwcPrefetchMin
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Conv2DShape{N: tc.n, C: 5, H: 32, W: 32, M: tc.m, KH: 1, KW: 1}
			s.defaults()
			r := rand.New(rand.NewPCG(7, uint64(tc.m)))
			x := randSlice(r, s.N*s.H*s.W*s.C)
			w := randSlice(r, s.M*s.C)
			bias := randSlice(r, s.M)
			ny := s.N * s.H * s.W * s.M
			res := randSlice(r, ny)
			want, bound := refConvNHWC(s, x, w, bias, res, ActReLU)
			buf := alignedFloats(ny + 16)
			y := buf[tc.offset : tc.offset+ny]
			for _, kern := range nhwcKernels {
				clear(buf)
				p := ConvNHWCParams{Conv2DShape: s, X: x, W: packConvNHWC(kern, s, w), Bias: bias, Residual: res, Act: ActReLU, Y: y}
				if err := ConvNHWC(ctx, p); err != nil {
					t.Fatal(err)
				}
				if got := ctx.nhwc.stream; got != (tc.stream && kern != nhwcKernelGo) {
					t.Errorf("kernel %s: streamed %v, want %v", kern.name, got, !got)
				}
				if ctx.nhwc.warmRes != tc.warm {
					t.Errorf("kernel %s: residual rows read ahead %v, want %v", kern.name, ctx.nhwc.warmRes, tc.warm)
				}
				for i := range want {
					if !(math.Abs(float64(y[i])-want[i]) <= bound[i]) {
						t.Fatalf("kernel %s: y[%d] = %v, want %v", kern.name, i, y[i], want[i])
					}
				}
				for i, v := range buf[:tc.offset] {
					if v != 0 {
						t.Fatalf("kernel %s: wrote before Y: buf[%d] = %v", kern.name, i, v)
					}
				}
				for i, v := range buf[tc.offset+ny:] {
					if v != 0 {
						t.Fatalf("kernel %s: wrote after Y: [%d] = %v", kern.name, i, v)
					}
				}
			}
		})
	}
}

// TestConvNHWCLargeWeights checks a large plane with weights over
// nhwcTileOuterMax, whose pixel chunks run through all panels, against the
// float64 reference.
func TestConvNHWCLargeWeights(t *testing.T) {
	ctx := NewContext(2)
	defer ctx.Close()
	s := Conv2DShape{N: 1, C: 1024, H: 40, W: 40, M: 130, KH: 1, KW: 1} // 532 KB of weights, 267 tiles
	s.defaults()
	r := rand.New(rand.NewPCG(11, 12))
	x := randSlice(r, s.N*s.H*s.W*s.C)
	w := randSlice(r, s.M*s.C)
	bias := randSlice(r, s.M)
	res := randSlice(r, s.N*s.H*s.W*s.M)
	want, bound := refConvNHWC(s, x, w, bias, res, ActReLU)
	for _, kern := range nhwcKernels {
		y := make([]float32, len(want))
		p := ConvNHWCParams{Conv2DShape: s, X: x, W: packConvNHWC(kern, s, w), Bias: bias, Residual: res, Act: ActReLU, Y: y}
		if err := ConvNHWC(ctx, p); err != nil {
			t.Fatal(err)
		}
		if ctx.nhwc.pgroups != 1 || ctx.nhwc.chunks < 4 {
			t.Errorf("kernel %s: %d chunks × %d panel groups, want all panels per chunk", kern.name, ctx.nhwc.chunks, ctx.nhwc.pgroups)
		}
		for i := range want {
			if !(math.Abs(float64(y[i])-want[i]) <= bound[i]) {
				t.Fatalf("kernel %s: y[%d] = %v, want %v", kern.name, i, y[i], want[i])
			}
		}
	}
}
