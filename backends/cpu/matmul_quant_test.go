package cpu_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lightiam/lightos/engine/tensor"
)

func nnRandInt8(r *rand.Rand, dt tensor.DType, shape ...int) *tensor.Tensor {
	t := tensor.New(dt, shape)
	for i := 0; i < t.Len(); i++ {
		if dt == tensor.Uint8 {
			t.SetFloat64At(i, float64(r.IntN(256)))
		} else {
			t.SetFloat64At(i, float64(r.IntN(256)-128))
		}
	}
	return t
}

func nnScalar(dt tensor.DType, v float64) *tensor.Tensor {
	t := tensor.New(dt, nil)
	t.SetFloat64At(0, v)
	return t
}

// refQuantMatMul returns the exact integer product of (a-azp) and (b-bzp), 2-D.
func refQuantMatMul(a, b *tensor.Tensor, azp, bzp func(i int) float64) []float64 {
	m, k, n := a.Shape()[0], a.Shape()[1], b.Shape()[1]
	out := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			s := 0.0
			for p := 0; p < k; p++ {
				s += (a.Float64At(i*k+p) - azp(i)) * (b.Float64At(p*n+j) - bzp(j))
			}
			out[i*n+j] = s
		}
	}
	return out
}

func TestMatMulIntegerAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 1))
	for _, dts := range [][2]tensor.DType{{tensor.Uint8, tensor.Uint8}, {tensor.Uint8, tensor.Int8}, {tensor.Int8, tensor.Int8}} {
		for _, sz := range [][3]int{{1, 1, 1}, {7, 13, 5}, {33, 64, 17}} {
			for _, zpKind := range []string{"none", "scalar", "vector"} {
				t.Run(fmt.Sprintf("%v/%v/%s", dts, sz, zpKind), func(t *testing.T) {
					m, k, n := sz[0], sz[1], sz[2]
					a, b := nnRandInt8(r, dts[0], m, k), nnRandInt8(r, dts[1], k, n)
					ins := []nodeInput{feed(a), konst(b)}
					azp := func(int) float64 { return 0 }
					bzp := azp
					switch zpKind {
					case "scalar":
						za, zb := nnRandInt8(r, dts[0]), nnRandInt8(r, dts[1])
						ins = append(ins, konst(za), konst(zb))
						azp = func(int) float64 { return za.Float64At(0) }
						bzp = func(int) float64 { return zb.Float64At(0) }
					case "vector":
						za, zb := nnRandInt8(r, dts[0], m), nnRandInt8(r, dts[1], n)
						ins = append(ins, konst(za), konst(zb))
						azp = func(i int) float64 { return za.Float64At(i) }
						bzp = func(j int) float64 { return zb.Float64At(j) }
					}
					out, err := runOp("MatMulInteger", nil, 1, ins...)
					if err != nil {
						t.Fatal(err)
					}
					closeTo(t, "MatMulInteger", out[0], []int{m, n}, refQuantMatMul(a, b, azp, bzp), 0)
				})
			}
		}
	}
	_, err := runOp("MatMulInteger", nil, 1, feed(nnRandInt8(r, tensor.Uint8, 3, 4)), feed(nnRandInt8(r, tensor.Uint8, 4, 5)), feed(nnRandInt8(r, tensor.Uint8, 2)))
	wantErr(t, "zero point length", err)
}

func TestQLinearMatMulAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 1))
	for _, dt := range []tensor.DType{tensor.Uint8, tensor.Int8} {
		for _, sz := range [][3]int{{1, 1, 1}, {7, 13, 5}, {16, 64, 33}} {
			t.Run(fmt.Sprintf("%v/%v", dt, sz), func(t *testing.T) {
				m, k, n := sz[0], sz[1], sz[2]
				a, b := nnRandInt8(r, dt, m, k), nnRandInt8(r, dt, k, n)
				za, zb, zy := nnRandInt8(r, dt), nnRandInt8(r, dt), nnRandInt8(r, dt)
				sa, sb, sy := 0.01+r.Float64()*0.05, 0.01+r.Float64()*0.05, 0.5+r.Float64()
				out, err := runOp("QLinearMatMul", nil, 1, feed(a), konst(nnScalar(tensor.Float32, sa)), konst(za),
					konst(b), konst(nnScalar(tensor.Float32, sb)), konst(zb), konst(nnScalar(tensor.Float32, sy)), konst(zy))
				if err != nil {
					t.Fatal(err)
				}
				acc := refQuantMatMul(a, b, func(int) float64 { return za.Float64At(0) }, func(int) float64 { return zb.Float64At(0) })
				lo, hi := 0.0, 255.0
				if dt == tensor.Int8 {
					lo, hi = -128, 127
				}
				f32 := func(v float64) float64 { return float64(float32(v)) }
				for i, v := range acc {
					want := math.RoundToEven(v*f32(f32(f32(sa)*f32(sb))/f32(sy))) + zy.Float64At(0)
					want = math.Min(math.Max(want, lo), hi)
					if got := out[0].Float64At(i); math.Abs(got-want) > 1 { // float32 rounding may move a tie by one
						t.Fatalf("element %d = %v, want %v", i, got, want)
					}
				}
			})
		}
	}
}
