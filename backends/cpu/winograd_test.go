package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lightiam/lightos/backends/cpu/gemm"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// refConv3x3 is a direct float64 3x3 stride-1 convolution of x (N×C×H×W) with w
// (M×C×3×3), pads (top, left, bottom, right), plus bias and residual, through ReLU
// if relu.
func refConv3x3(n, c, h, wd, m int, pads [4]int, x, w, bias, res []float32, relu bool) ([]float64, int, int) {
	oh, ow := h+pads[0]+pads[2]-2, wd+pads[1]+pads[3]-2
	y := make([]float64, n*m*oh*ow)
	for img := 0; img < n; img++ {
		for mi := 0; mi < m; mi++ {
			for r := 0; r < oh; r++ {
				for col := 0; col < ow; col++ {
					s := 0.0
					if bias != nil {
						s = float64(bias[mi])
					}
					for ci := 0; ci < c; ci++ {
						for i := 0; i < 3; i++ {
							for j := 0; j < 3; j++ {
								ir, ic := r-pads[0]+i, col-pads[1]+j
								if ir < 0 || ir >= h || ic < 0 || ic >= wd {
									continue
								}
								s += float64(x[((img*c+ci)*h+ir)*wd+ic]) * float64(w[((mi*c+ci)*3+i)*3+j])
							}
						}
					}
					o := ((img*m+mi)*oh+r)*ow + col
					if res != nil {
						s += float64(res[o])
					}
					if relu && s < 0 {
						s = 0
					}
					y[o] = s
				}
			}
		}
	}
	return y, oh, ow
}

// TestWinogradAgainstReference runs 3x3 convolutions that take the Winograd path
// (odd sizes, so that tiles are partial; channels not multiples of 8; several
// images; more tiles than one chunk) with and without constant weights, bias,
// residual and ReLU, against a float64 direct convolution, and the same with
// Winograd off.
func TestWinogradAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 9))
	for _, tc := range []struct {
		n, c, h, w, m int
		pads          [4]int
		bias, res     bool
		relu, konst   bool
	}{
		{1, 33, 7, 7, 37, [4]int{1, 1, 1, 1}, true, false, true, true},
		{2, 45, 9, 11, 34, [4]int{0, 0, 0, 0}, false, false, false, true},
		{3, 37, 17, 19, 41, [4]int{1, 1, 1, 1}, true, true, true, true}, // 270 tiles: two chunks
		{1, 64, 6, 5, 35, [4]int{1, 0, 0, 1}, true, true, false, false},
		{2, 32, 3, 4, 32, [4]int{1, 1, 1, 1}, false, true, true, false},
		{1, 50, 14, 14, 66, [4]int{2, 1, 0, 2}, true, false, true, true},
		{2, 40, 25, 23, 36, [4]int{1, 1, 1, 1}, true, true, true, true},    // 2x156 tiles: threads split the tiles
		{1, 70, 41, 38, 66, [4]int{1, 1, 1, 1}, true, true, true, true},    // 399 tiles: each thread two chunks, the last short
		{1, 300, 5, 5, 260, [4]int{1, 1, 1, 1}, false, false, false, true}, // C+M > 512: threads split the GEMMs
	} {
		name := fmt.Sprintf("%dx%dx%dx%d_m%d_pads%v_bias%v_res%v_relu%v_const%v", tc.n, tc.c, tc.h, tc.w, tc.m, tc.pads, tc.bias, tc.res, tc.relu, tc.konst)
		t.Run(name, func(t *testing.T) {
			mk := func(shape ...int) *tensor.Tensor {
				tt := tensor.New(tensor.Float32, shape)
				v := tt.Float32s()
				for i := range v {
					v[i] = float32(r.NormFloat64())
				}
				return tt
			}
			x, w := mk(tc.n, tc.c, tc.h, tc.w), mk(tc.m, tc.c, 3, 3)
			oh, ow := tc.h+tc.pads[0]+tc.pads[2]-2, tc.w+tc.pads[1]+tc.pads[3]-2
			epi := convEpilogue{}
			if tc.bias {
				epi.Bias = mk(tc.m)
			}
			if tc.res {
				epi.Residual = mk(tc.n, tc.m, oh, ow)
			}
			if tc.relu {
				epi.Act = gemm.ActReLU
			}
			want, _, _ := refConv3x3(tc.n, tc.c, tc.h, tc.w, tc.m, tc.pads, x.Float32s(), w.Float32s(),
				tensorF32(epi.Bias), tensorF32(epi.Residual), tc.relu)
			scale := 0.0
			for _, v := range want {
				scale = max(scale, math.Abs(v))
			}
			for _, env := range []*Env{{Threads: 1, winogradMinChannels: 32}, {Threads: 2, winogradMinChannels: 32}, {Threads: 2, NoWinograd: true}} {
				wv := &graph.Value{Type: graph.Type{DType: tensor.Float32, Shape: graph.ShapeOf(tc.m, tc.c, 3, 3), HasShape: true}}
				if tc.konst {
					wv.Const = w
				}
				pads := graph.Ints(int64(tc.pads[0]), int64(tc.pads[1]), int64(tc.pads[2]), int64(tc.pads[3]))
				n := &graph.Node{Name: "conv", Op: "Conv", Attrs: graph.Attrs{"pads": pads},
					Inputs: []*graph.Value{{Type: graph.Type{DType: tensor.Float32}}, wv}}
				core, err := prepareConv(n, env)
				if err != nil {
					t.Fatal(err)
				}
				g, err := core.geometry(x, w)
				if err != nil {
					t.Fatal(err)
				}
				if got := winogradApplies(env, g, x.Shape(), w.Shape(), epi); got == env.NoWinograd {
					t.Fatalf("winogradApplies = %v with NoWinograd %v", got, env.NoWinograd)
				}
				y := tensor.New(tensor.Float32, []int{tc.n, tc.m, oh, ow})
				yv := y.Float32s()
				for i := range yv {
					yv[i] = float32(math.NaN()) // every output must be written
				}
				for rep := 0; rep < 2; rep++ { // the second call reuses weights and scratch
					if err := core.run(env, x, w, y, epi); err != nil {
						t.Fatal(err)
					}
				}
				worst := 0.0
				for i, v := range yv {
					if d := math.Abs(float64(v) - want[i]); !(d <= worst) {
						worst = d
					}
				}
				if rel := worst / scale; !(rel <= 1e-4) {
					t.Errorf("threads %d, NoWinograd %v: max error %.3g of scale %.3g (%.3g relative)", env.Threads, env.NoWinograd, worst, scale, rel)
				}
			}
		})
	}
}

// TestWinogradApplies checks which convolutions take the Winograd path.
func TestWinogradApplies(t *testing.T) {
	env := &Env{Threads: 1}
	for _, tc := range []struct {
		attrs  graph.Attrs
		xs, ws []int
		act    gemm.Activation
		want   bool
	}{
		{graph.Attrs{"pads": graph.Ints(1, 1, 1, 1)}, []int{1, 128, 28, 28}, []int{128, 128, 3, 3}, gemm.ActReLU, true},
		{graph.Attrs{"strides": graph.Ints(2, 2)}, []int{1, 64, 56, 56}, []int{64, 64, 3, 3}, gemm.ActNone, false},
		{graph.Attrs{"dilations": graph.Ints(2, 2)}, []int{1, 64, 56, 56}, []int{64, 64, 3, 3}, gemm.ActNone, false},
		{graph.Attrs{"group": graph.Int(2)}, []int{1, 64, 56, 56}, []int{64, 32, 3, 3}, gemm.ActNone, false},
		{nil, []int{1, 64, 56, 56}, []int{64, 64, 1, 1}, gemm.ActNone, false},
		{nil, []int{1, 8, 56, 56}, []int{64, 8, 3, 3}, gemm.ActNone, false},
		{nil, []int{1, 64, 56, 56}, []int{64, 64, 3, 3}, gemm.ActNone, false}, // below winogradMinChannels
		{nil, []int{1, 128, 28, 28}, []int{256, 128, 3, 3}, gemm.ActNone, true},
		{nil, []int{1, 64, 56, 56}, []int{64, 64, 3, 3}, gemm.ActGELU, false},
		{nil, []int{1, 64, 56}, []int{64, 64, 3}, gemm.ActNone, false},
	} {
		x, w := tensor.New(tensor.Float32, tc.xs), tensor.New(tensor.Float32, tc.ws)
		core := &convCore{name: "conv", attrs: tc.attrs, dtype: tensor.Float32}
		g, err := core.geometry(x, w)
		if err != nil {
			t.Fatal(err)
		}
		if got := winogradApplies(env, g, tc.xs, tc.ws, convEpilogue{Act: tc.act}); got != tc.want {
			t.Errorf("%v x %v %v act %v: winogradApplies = %v, want %v", tc.xs, tc.ws, tc.attrs, tc.act, got, tc.want)
		}
	}
}
