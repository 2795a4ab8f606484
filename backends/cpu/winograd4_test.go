package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lightiam/lightos/backends/cpu/gemm"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// The F(4x4, 3x3) transform matrices in float64, as in winograd4.go's comment.
var (
	wino4BT = [6][6]float64{{4, 0, -5, 0, 1, 0}, {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
		{0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}}
	wino4AT = [4][6]float64{{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}}
)

// TestWino4Transforms checks the 1-D transforms (the AVX2 loops and the Go loop of
// the rest) against the matrices in float64, for lengths around the 8-lane width,
// with the epilogue's bias, residual (also as the output itself) and ReLU.
func TestWino4Transforms(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 7))
	vec := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	check := func(what string, n int, got []float32, want func(i int) float64) {
		t.Helper()
		for i := 0; i < n; i++ {
			if w := want(i); math.Abs(float64(got[i])-w) > 1e-5*(1+math.Abs(w)) {
				t.Fatalf("%s, n %d: element %d is %v, want %v", what, n, i, got[i], w)
			}
		}
	}
	for _, n := range []int{1, 7, 8, 9, 16, 23, 64, 67} {
		var src [6][]float32
		for k := range src {
			src[k] = vec(n)
		}
		dot := func(row []float64, i int) float64 {
			s := 0.0
			for k, c := range row {
				s += c * float64(src[k][i])
			}
			return s
		}
		var in [6][]float32
		for k := range in {
			in[k] = make([]float32, n+1) // one more: nothing past n is written
			in[k][n] = 42
		}
		wino4In(&in, &src, n)
		for k := range in {
			check(fmt.Sprintf("Bᵀ row %d", k), n, in[k], func(i int) float64 { return dot(wino4BT[k][:], i) })
			if in[k][n] != 42 {
				t.Fatalf("n %d: wino4In wrote past n", n)
			}
		}
		var out [4][]float32
		for k := range out {
			out[k] = make([]float32, n)
		}
		wino4Out(&out, &src, n)
		for k := range out {
			check(fmt.Sprintf("Aᵀ row %d", k), n, out[k], func(i int) float64 { return dot(wino4AT[k][:], i) })
		}
		for _, relu := range []bool{false, true} {
			bias := vec(n)
			var res, dst, res0 [4][]float32
			for k := range res {
				res[k] = vec(n)
				res0[k] = append([]float32(nil), res[k]...)
				dst[k] = make([]float32, n)
			}
			dst[3] = res[3] // in place: the residual is the output
			wino4OutEpi(&dst, &src, &res, bias, n, relu)
			for k := range dst {
				check(fmt.Sprintf("Aᵀ row %d + bias + residual, relu %v", k, relu), n, dst[k], func(i int) float64 {
					v := dot(wino4AT[k][:], i) + float64(bias[i]) + float64(res0[k][i])
					if relu {
						v = max(v, 0)
					}
					return v
				})
			}
		}
	}
}

// TestWinograd4AgainstReference runs channels-last F(4x4, 3x3) convolutions
// (partial tiles, pads 0 to 2, channel counts not multiples of 8 and above the
// transforms' 64-channel blocks, several images, several chunks, threads splitting
// the tiles or the GEMMs) with bias, residual (also in place) and ReLU against a
// float64 direct convolution: within 1e-4 of the output's scale (F(4x4) is about
// 1e-5 off on ResNet-50's shapes, F(2x2, 3x3) 5e-7).
func TestWinograd4AgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 1))
	for _, tc := range []struct {
		n, c, h, w, m   int
		pads            [4]int
		bias, res, relu bool
		inPlace         bool
	}{
		{1, 33, 7, 7, 37, [4]int{1, 1, 1, 1}, true, false, true, false},
		{2, 45, 9, 11, 34, [4]int{0, 0, 0, 0}, false, false, false, false},
		{1, 64, 6, 5, 35, [4]int{1, 0, 0, 1}, true, true, false, false},
		{2, 32, 3, 4, 32, [4]int{1, 1, 1, 1}, false, true, true, true},
		{1, 50, 14, 14, 66, [4]int{2, 1, 0, 2}, true, false, true, false},
		{4, 37, 17, 19, 41, [4]int{1, 1, 1, 1}, true, true, true, true},     // 100 tiles: two chunks of 93
		{2, 70, 41, 38, 66, [4]int{1, 1, 1, 1}, true, true, true, false},    // 220 tiles: threads split the tiles
		{2, 130, 12, 12, 136, [4]int{1, 1, 1, 1}, true, true, false, true},  // 3 channel blocks, 18 tiles
		{1, 300, 5, 5, 260, [4]int{1, 1, 1, 1}, false, false, false, false}, // C+M > 512: threads split the GEMMs
	} {
		name := fmt.Sprintf("%dx%dx%dx%d_m%d_pads%v_bias%v_res%v_relu%v_inplace%v", tc.n, tc.c, tc.h, tc.w, tc.m, tc.pads, tc.bias, tc.res, tc.relu, tc.inPlace)
		t.Run(name, func(t *testing.T) {
			vec := func(n int) []float32 {
				v := make([]float32, n)
				for i := range v {
					v[i] = float32(r.NormFloat64())
				}
				return v
			}
			x, w := vec(tc.n*tc.c*tc.h*tc.w), vec(tc.m*tc.c*9)
			oh, ow := tc.h+tc.pads[0]+tc.pads[2]-2, tc.w+tc.pads[1]+tc.pads[3]-2
			var bias, res []float32
			if tc.bias {
				bias = vec(tc.m)
			}
			if tc.res {
				res = vec(tc.n * tc.m * oh * ow)
			}
			want, _, _ := refConv3x3(tc.n, tc.c, tc.h, tc.w, tc.m, tc.pads, x, w, bias, res, tc.relu)
			scale := 0.0
			for _, v := range want {
				scale = max(scale, math.Abs(v))
			}
			xn := swapLast2(x, tc.n, tc.c, tc.h*tc.w)
			var resN []float32
			if res != nil {
				resN = swapLast2(res, tc.n, tc.m, oh*ow)
			}
			g, err := ops.ConvGeometry(graph.Attrs{"pads": graph.Ints(int64(tc.pads[0]), int64(tc.pads[1]), int64(tc.pads[2]), int64(tc.pads[3]))},
				[]int{tc.h, tc.w}, []int{3, 3})
			if err != nil {
				t.Fatal(err)
			}
			for _, threads := range []int{1, 2} {
				env := &Env{Threads: threads}
				ww, err := newWinogradWeights(env.GEMM(), w, tc.m, tc.c, 4)
				if err != nil {
					t.Fatal(err)
				}
				var scratch winogradScratches
				for rep := 0; rep < 2; rep++ { // the second call reuses the scratch
					yt := tensor.New(tensor.Float32, []int{tc.n, oh, ow, tc.m})
					y := yt.Float32s()
					for i := range y {
						y[i] = float32(math.NaN()) // every output must be written
					}
					epi := convEpilogue{Act: gemm.ActNone}
					if tc.relu {
						epi.Act = gemm.ActReLU
					}
					if bias != nil {
						epi.Bias = f32Tensor(t, bias)
					}
					if resN != nil {
						if tc.inPlace {
							copy(y, resN)
							epi.Residual = yt
						} else {
							epi.Residual = f32Tensor(t, resN)
						}
					}
					if err := runWinogradLayout(env, g, []int{tc.n, tc.c, tc.h, tc.w}, true, 4, xn, w, y, ww, tc.m, epi, &scratch); err != nil {
						t.Fatal(err)
					}
					worst := 0.0
					got := swapLast2(y, tc.n, oh*ow, tc.m)
					for i, v := range got {
						if d := math.Abs(float64(v) - want[i]); !(d <= worst) {
							worst = d
						}
					}
					if rel := worst / scale; !(rel <= 1e-4) {
						t.Errorf("threads %d, call %d: max error %.3g of scale %.3g (%.3g relative)", threads, rep, worst, scale, rel)
					}
				}
			}
		})
	}
}

// TestWinograd4NeedsChannelsLast checks that F(4x4, 3x3) refuses NCHW tensors.
func TestWinograd4NeedsChannelsLast(t *testing.T) {
	g, err := ops.ConvGeometry(graph.Attrs{"pads": graph.Ints(1, 1, 1, 1)}, []int{8, 8}, []int{3, 3})
	if err != nil {
		t.Fatal(err)
	}
	x, w, y := make([]float32, 64*8), make([]float32, 8*8*9), make([]float32, 64*8)
	err = runWinogradLayout(&Env{Threads: 1}, g, []int{1, 8, 8, 8}, false, 4, x, w, y, nil, 8, convEpilogue{}, &winogradScratches{})
	if err == nil {
		t.Fatal("F(4x4) over NCHW tensors ran")
	}
}

// f32Tensor returns a 1-D float32 tensor holding a copy of v.
func f32Tensor(t *testing.T, v []float32) *tensor.Tensor {
	tt, err := tensor.FromFloat32([]int{len(v)}, v)
	if err != nil {
		t.Fatal(err)
	}
	return tt
}

// swapLast2 returns the n×a×b values x as n×b×a: NCHW to NHWC with (a, b) =
// (channels, pixels), and back with (pixels, channels).
func swapLast2(x []float32, n, a, b int) []float32 {
	y := make([]float32, len(x))
	for img := 0; img < n; img++ {
		for i := 0; i < a; i++ {
			for j := 0; j < b; j++ {
				y[(img*b+j)*a+i] = x[(img*a+i)*b+j]
			}
		}
	}
	return y
}
