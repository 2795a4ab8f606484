package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lightiam/lightos/backends/cpu/gemm"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// TestConvCoreEpilogue checks the reusable convolution that fused kernels call:
// bias and activation fused (float32 GEMM path) or applied after (im2col paths), and
// Post called once per output plane, against Conv followed by the same steps.
func TestConvCoreEpilogue(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 1))
	env := &Env{Threads: 2}
	for _, c := range []struct {
		dt     tensor.DType
		xs, ws []int
	}{
		{tensor.Float32, []int{2, 4, 7, 6}, []int{5, 4, 3, 3}},       // gemm.Conv2D
		{tensor.Float32, []int{1, 3, 4, 5, 6}, []int{2, 3, 2, 2, 3}}, // 3-D im2col
		{tensor.Float64, []int{2, 4, 9}, []int{3, 4, 3}},             // float64
	} {
		mk := func(shape []int) *tensor.Tensor {
			tt := tensor.New(c.dt, shape)
			for i := 0; i < tt.Len(); i++ {
				tt.SetFloat64At(i, r.NormFloat64())
			}
			return tt
		}
		x, w, b := mk(c.xs), mk(c.ws), mk(c.ws[:1])
		sp := len(c.xs) - 2
		pads := make([]int64, 2*sp)
		for i := range pads {
			pads[i] = 1
		}
		n := &graph.Node{Name: "conv", Op: "Conv", Attrs: graph.Attrs{"pads": graph.Ints(pads...)},
			Inputs: []*graph.Value{{Type: graph.Type{DType: c.dt}}, {Type: graph.Type{DType: c.dt, Shape: graph.ShapeOf(c.ws...), HasShape: true}, Const: w}}}
		core, err := prepareConv(n, env)
		if err != nil {
			t.Fatal(err)
		}
		g, err := core.geometry(x, w)
		if err != nil {
			t.Fatal(err)
		}
		ys := append([]int{c.xs[0], c.ws[0]}, g.Out...)
		plain, fused := tensor.New(c.dt, ys), tensor.New(c.dt, ys)
		if err := core.run(env, x, w, plain, convEpilogue{}); err != nil {
			t.Fatal(err)
		}
		calls := 0
		post := func(img, ch int, plane []float64) {
			calls++
			for i := range plane {
				plane[i] = plane[i]*2 + float64(img) + float64(ch)/10
			}
		}
		epi := convEpilogue{Bias: b, Act: gemm.ActReLU}
		if c.dt == tensor.Float32 {
			epi.Post32 = func(img, ch int, plane []float32) {
				p := make([]float64, len(plane))
				for i, v := range plane {
					p[i] = float64(v)
				}
				post(img, ch, p)
				for i, v := range p {
					plane[i] = float32(v)
				}
			}
		} else {
			epi.Post64 = post
		}
		if err := core.run(env, x, w, fused, epi); err != nil {
			t.Fatal(err)
		}
		if calls != c.xs[0]*c.ws[0] {
			t.Fatalf("%v: Post called %d times, want %d", c.xs, calls, c.xs[0]*c.ws[0])
		}
		planeSz := plain.Len() / (c.xs[0] * c.ws[0])
		for i := 0; i < plain.Len(); i++ {
			img, ch := i/planeSz/c.ws[0], i/planeSz%c.ws[0]
			want := math.Max(plain.Float64At(i)+b.Float64At(ch), 0)*2 + float64(img) + float64(ch)/10
			if got := fused.Float64At(i); math.Abs(got-want) > 1e-5*(1+math.Abs(want)) {
				t.Fatalf("%v: element %d = %v, want %v", c.xs, i, got, want)
			}
		}
	}
}

// TestApplyActivation checks the epilogue activations of the non-GEMM paths against
// their definitions, for both float types.
func TestApplyActivation(t *testing.T) {
	xs := []float64{-4, -1.5, -0.3, 0, 0.2, 1, 2.5, 6}
	defs := map[gemm.Activation]func(x float64) float64{
		gemm.ActReLU:     func(x float64) float64 { return math.Max(x, 0) },
		gemm.ActGELU:     func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) },
		gemm.ActGELUTanh: func(x float64) float64 { return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x))) },
	}
	for act, f := range defs {
		p64 := append([]float64(nil), xs...)
		p32 := make([]float32, len(xs))
		for i, x := range xs {
			p32[i] = float32(x)
		}
		applyActivation(p64, act)
		applyActivation(p32, act)
		for i, x := range xs {
			want := f(x)
			if math.Abs(p64[i]-want) > 1e-12 || math.Abs(float64(p32[i])-want) > 2e-6*(1+math.Abs(want)) {
				t.Errorf("%v(%v) = %v (float64), %v (float32), want %v", act, x, p64[i], p32[i], want)
			}
		}
	}
}
