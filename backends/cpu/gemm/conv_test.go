package gemm

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// refConv2D is a float64 direct convolution (ONNX Conv semantics) returning
// the expected output and an error bound per element.
func refConv2D(s Conv2DShape, x, w, bias, residual []float32, act Activation) (want, bound []float64) {
	s.defaults()
	oh, ow := s.OutH(), s.OutW()
	cg, mg := s.C/s.Group, s.M/s.Group
	want = make([]float64, s.N*s.M*oh*ow)
	bound = make([]float64, len(want))
	for n := 0; n < s.N; n++ {
		for m := 0; m < s.M; m++ {
			g := m / mg
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					sum, mag := 0.0, 0.0
					if bias != nil {
						sum, mag = float64(bias[m]), math.Abs(float64(bias[m]))
					}
					for c := 0; c < cg; c++ {
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
								v := float64(x[((n*s.C+g*cg+c)*s.H+iy)*s.W+ix]) * float64(w[((m*cg+c)*s.KH+ky)*s.KW+kx])
								sum += v
								mag += math.Abs(v)
							}
						}
					}
					i := ((n*s.M+m)*oh+oy)*ow + ox
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

func TestConv2D(t *testing.T) {
	// Every kernel (the assembly ones and the Go twin) on two workers, and the
	// default kernel on the calling goroutine (nil context).
	ctxs := []*Context{nil}
	for _, name := range Kernels() {
		ctx, err := NewContextKernel(2, name)
		if err != nil {
			t.Fatal(err)
		}
		defer ctx.Close()
		ctxs = append(ctxs, ctx)
	}
	cases := []Conv2DShape{
		{N: 1, C: 3, H: 7, W: 9, M: 5, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
		{N: 2, C: 4, H: 13, W: 11, M: 17, KH: 3, KW: 3},                      // no padding
		{N: 1, C: 16, H: 10, W: 10, M: 33, KH: 1, KW: 1},                     // 1x1
		{N: 2, C: 5, H: 9, W: 8, M: 7, KH: 1, KW: 1, StrideH: 2, StrideW: 2}, // 1x1 strided
		{N: 1, C: 3, H: 31, W: 29, M: 13, KH: 7, KW: 7, PadTop: 3, PadLeft: 3, PadBottom: 3, PadRight: 3, StrideH: 2, StrideW: 2},
		{N: 1, C: 6, H: 12, W: 15, M: 6, KH: 3, KW: 3, PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2, DilationH: 2, DilationW: 2},
		{N: 1, C: 8, H: 11, W: 11, M: 12, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Group: 4}, // grouped
		{N: 2, C: 7, H: 10, W: 13, M: 7, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Group: 7},  // depthwise
		{N: 1, C: 5, H: 14, W: 9, M: 5, KH: 5, KW: 3, PadTop: 2, PadLeft: 0, PadBottom: 1, PadRight: 2, StrideH: 2, StrideW: 3, DilationH: 1, DilationW: 2, Group: 5},
		{N: 1, C: 2, H: 1, W: 1, M: 3, KH: 1, KW: 1},                                                   // 1 pixel
		{N: 1, C: 3, H: 5, W: 6, M: 4, KH: 2, KW: 3, PadTop: 0, PadLeft: 2, PadBottom: 3, PadRight: 0}, // asymmetric pads
		{N: 1, C: 2, H: 4, W: 4, M: 3, KH: 3, KW: 3, PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2, StrideH: 3, StrideW: 1},
		{N: 1, C: 64, H: 12, W: 12, M: 70, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}, // several K blocks
		{N: 1, C: 300, H: 3, W: 5, M: 13, KH: 1, KW: 1},                                                    // K > KC
		// Large enough that padding, compaction and depthwise run on several workers.
		{N: 1, C: 32, H: 40, W: 40, M: 24, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
		{N: 1, C: 16, H: 50, W: 50, M: 24, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, StrideH: 2, StrideW: 2},
		{N: 2, C: 32, H: 40, W: 40, M: 32, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Group: 32},
		// Batches of small planes: several images side by side in one GEMM
		// (padded, strided, valid, 1x1 read through a copy, grouped, dilated),
		// and chunks of images when they do not all fit (N 40 of 9x9).
		{N: 3, C: 5, H: 7, W: 7, M: 9, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
		{N: 5, C: 6, H: 9, W: 11, M: 19, KH: 1, KW: 1},
		{N: 3, C: 7, H: 13, W: 11, M: 5, KH: 1, KW: 1, StrideH: 2, StrideW: 2},
		{N: 4, C: 3, H: 8, W: 9, M: 4, KH: 3, KW: 2, StrideH: 2, StrideW: 3, PadTop: 1, PadLeft: 0, PadBottom: 2, PadRight: 1},
		{N: 2, C: 4, H: 6, W: 7, M: 6, KH: 3, KW: 3},
		{N: 3, C: 6, H: 9, W: 9, M: 9, KH: 3, KW: 3, PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2, DilationH: 2, DilationW: 2, Group: 3},
		{N: 40, C: 3, H: 9, W: 9, M: 4, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, StrideH: 2, StrideW: 2},
		{N: 6, C: 16, H: 7, W: 7, M: 24, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
		{N: 8, C: 64, H: 7, W: 7, M: 24, KH: 1, KW: 1},                                                    // merged, column split
		{N: 100, C: 3, H: 5, W: 5, M: 4, KH: 1, KW: 1},                                                    // merged in two chunks
		{N: 8, C: 20, H: 7, W: 7, M: 140, KH: 1, KW: 1},                                                   // merged, many channels
		{N: 2, C: 40, H: 7, W: 7, M: 300, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}, // weight-heavy: row split
		{N: 1, C: 20, H: 30, W: 40, M: 8, KH: 1, KW: 1, StrideH: 3, StrideW: 2},                           // strided 1x1, one phase of six
		// Few output pixels, many channels: the pixels are the GEMM's rows
		// (gathered; in place for an unpadded 1x1; several images; strided).
		{N: 1, C: 20, H: 7, W: 7, M: 140, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
		{N: 1, C: 33, H: 7, W: 7, M: 130, KH: 1, KW: 1},
		{N: 1, C: 24, H: 14, W: 13, M: 130, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
		{N: 1, C: 12, H: 9, W: 9, M: 129, KH: 3, KW: 3},
		{N: 1, C: 10, H: 14, W: 13, M: 150, KH: 1, KW: 1, StrideH: 2, StrideW: 2},
		{N: 3, C: 9, H: 4, W: 4, M: 133, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
		{N: 1, C: 300, H: 5, W: 5, M: 200, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},            // K > KC
		{N: 1, C: 7, H: 17, W: 19, M: 13, KH: 3, KW: 2, StrideH: 2, StrideW: 3, PadTop: 2, PadBottom: 1, PadRight: 1}, // no junk columns, phase planes taller than the output
		{N: 3, C: 7, H: 17, W: 19, M: 13, KH: 3, KW: 2, StrideH: 2, StrideW: 3, PadTop: 2, PadBottom: 1, PadRight: 1},
	}
	for ci, s := range cases {
		for _, act := range []Activation{ActNone, ActReLU, ActGELU} {
			for _, extra := range []string{"bias", "none", "bias+residual"} {
				if extra == "bias+residual" && act == ActGELU {
					continue // the residual path is the same for every activation
				}
				withBias := extra != "none"
				t.Run(fmt.Sprintf("%d/%v/%s", ci, act, extra), func(t *testing.T) {
					r := rand.New(rand.NewPCG(uint64(ci), uint64(act)))
					s.defaults()
					x := randSlice(r, s.N*s.C*s.H*s.W)
					w := randSlice(r, s.M*s.C/s.Group*s.KH*s.KW)
					var bias []float32
					if withBias {
						bias = randSlice(r, s.M)
					}
					var residual []float32
					if extra == "bias+residual" {
						residual = randSlice(r, s.N*s.M*s.OutH()*s.OutW())
					}
					want, bound := refConv2D(s, x, w, bias, residual, act)
					for _, cx := range ctxs {
						pw, err := PackConv2DWeights(cx, s, w)
						if err != nil {
							t.Fatal(err)
						}
						y, full := guarded(len(want), nil)
						p := Conv2DParams{Conv2DShape: s, X: x, W: pw, Bias: bias, Residual: residual, Act: act, Y: y}
						// Run twice: the second run reuses the scratch and packed weights.
						for run := 0; run < 2; run++ {
							if err := Conv2D(cx, p); err != nil {
								t.Fatal(err)
							}
							checkGuards(t, full, len(want))
							for i := range want {
								if !(math.Abs(float64(y[i])-want[i]) <= bound[i]) {
									t.Fatalf("%v: y[%d] = %v, want %v", s, i, y[i], want[i])
								}
							}
						}
					}
				})
			}
		}
	}
}

func TestConv2DErrors(t *testing.T) {
	s := Conv2DShape{N: 1, C: 4, H: 5, W: 5, M: 2, KH: 3, KW: 3}
	w := make([]float32, 2*4*9)
	pw, err := PackConv2DWeights(nil, s, w)
	if err != nil {
		t.Fatal(err)
	}
	ok := Conv2DParams{Conv2DShape: s, X: make([]float32, 100), W: pw, Y: make([]float32, 2*9)}
	if err := Conv2D(nil, ok); err != nil {
		t.Fatalf("valid: %v", err)
	}
	for name, edit := range map[string]func(p *Conv2DParams){
		"short X":      func(p *Conv2DParams) { p.X = p.X[:99] },
		"long Y":       func(p *Conv2DParams) { p.Y = make([]float32, 19) },
		"bias":         func(p *Conv2DParams) { p.Bias = make([]float32, 3) },
		"kernel large": func(p *Conv2DParams) { p.H = 2; p.X = p.X[:40] },
		"group":        func(p *Conv2DParams) { p.Group = 3 },
		"weights":      func(p *Conv2DParams) { p.M = 4 },
		"nil weights":  func(p *Conv2DParams) { p.W = nil },
		"residual":     func(p *Conv2DParams) { p.Residual = make([]float32, 5) },
		"stride":       func(p *Conv2DParams) { p.StrideH = -1 },
		"act":          func(p *Conv2DParams) { p.Act = 7 },
		"huge":         func(p *Conv2DParams) { p.H = 1 << 40 },
	} {
		p := ok
		edit(&p)
		if err := Conv2D(nil, p); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
	if _, err := PackConv2DWeights(nil, s, w[:5]); !errors.Is(err, ErrInvalid) {
		t.Errorf("short weights: got %v", err)
	}
}

// TestConv2DNoAllocs checks that warm Conv2D calls do not allocate.
func TestConv2DNoAllocs(t *testing.T) {
	ctx := NewContext(2)
	defer ctx.Close()
	r := rand.New(rand.NewPCG(1, 1))
	for _, s := range []Conv2DShape{
		{N: 1, C: 16, H: 20, W: 20, M: 32, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
		{N: 1, C: 32, H: 20, W: 20, M: 32, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Group: 32},
		{N: 1, C: 8, H: 21, W: 21, M: 16, KH: 3, KW: 3, StrideH: 2, StrideW: 2},
	} {
		s.defaults()
		pw, err := PackConv2DWeights(ctx, s, randSlice(r, s.M*s.C/s.Group*s.KH*s.KW))
		if err != nil {
			t.Fatal(err)
		}
		p := Conv2DParams{Conv2DShape: s, X: randSlice(r, s.C*s.H*s.W), W: pw, Bias: randSlice(r, s.M), Act: ActReLU,
			Y: make([]float32, s.M*s.OutH()*s.OutW())}
		if err := Conv2D(ctx, p); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(5, func() { _ = Conv2D(ctx, p) }); n > 0 {
			t.Errorf("%v: %v allocations per call, want 0", s, n)
		}
	}
}
