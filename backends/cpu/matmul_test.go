package cpu_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// refMatMul is NumPy's matmul in float64 over any shapes (1-D cases included).
func refMatMul(a, b *tensor.Tensor) ([]int, []float64) {
	as, bs := a.Shape(), b.Shape()
	a2, b2 := as, bs
	if len(as) == 1 {
		a2 = []int{1, as[0]}
	}
	if len(bs) == 1 {
		b2 = []int{bs[0], 1}
	}
	m, k, n := a2[len(a2)-2], a2[len(a2)-1], b2[len(b2)-1]
	ab, bb := a2[:len(a2)-2], b2[:len(b2)-2]
	r := max(len(ab), len(bb))
	batch := make([]int, r)
	get := func(s []int, i int) int {
		if j := i - (r - len(s)); j >= 0 {
			return s[j]
		}
		return 1
	}
	for i := range batch {
		batch[i] = max(get(ab, i), get(bb, i))
	}
	total := tensor.NumElements(batch)
	out := make([]float64, total*m*n)
	idx := make([]int, r)
	for bi := 0; bi < total; bi++ {
		rem := bi
		for d := r - 1; d >= 0; d-- {
			idx[d] = rem % batch[d]
			rem /= batch[d]
		}
		oa, ob := 0, 0
		for d := 0; d < r; d++ {
			if da := get(ab, d); da != 1 {
				oa = oa*da + idx[d]
			} else if d >= r-len(ab) {
				oa = oa * 1
			}
			if db := get(bb, d); db != 1 {
				ob = ob*db + idx[d]
			}
		}
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				s := 0.0
				for p := 0; p < k; p++ {
					s += a.Float64At(oa*m*k+i*k+p) * b.Float64At(ob*k*n+p*n+j)
				}
				out[bi*m*n+i*n+j] = s
			}
		}
	}
	shape := append([]int{}, batch...)
	if len(as) > 1 {
		shape = append(shape, m)
	}
	if len(bs) > 1 {
		shape = append(shape, n)
	}
	return shape, out
}

func TestMatMulAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	cases := []struct{ a, b []int }{
		{[]int{1, 1}, []int{1, 1}},
		{[]int{7, 13}, []int{13, 5}},
		{[]int{37, 61}, []int{61, 29}},
		{[]int{13}, []int{13, 7}},
		{[]int{5, 13}, []int{13}},
		{[]int{13}, []int{13}},
		{[]int{3, 17, 31}, []int{31, 19}},          // batch against shared weights
		{[]int{2, 3, 17, 11}, []int{2, 3, 11, 23}}, // equal batches
		{[]int{2, 1, 7, 5}, []int{3, 5, 9}},        // broadcast both ways
		{[]int{4, 7, 5}, []int{5}},
		{[]int{5}, []int{4, 5, 3}},
		{[]int{1, 7, 9}, []int{6, 9, 2}},
		{[]int{3, 0, 4}, []int{4, 5}},
		{[]int{3, 4}, []int{4, 0}},
		{[]int{2, 3, 0}, []int{0, 5}},
		{[]int{67, 129}, []int{129, 97}},
	}
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64, tensor.Int32, tensor.Int64} {
		for _, c := range cases {
			for _, constB := range []bool{false, true} {
				t.Run(fmt.Sprintf("%v/%v@%v/const=%v", dt, c.a, c.b, constB), func(t *testing.T) {
					var a, b *tensor.Tensor
					if dt.IsFloat() {
						a, b = randTensor(r, dt, c.a...), randTensor(r, dt, c.b...)
					} else {
						a, b = randInts(r, dt, c.a...), randInts(r, dt, c.b...)
					}
					bi := feed(b)
					if constB {
						bi = konst(b)
					}
					out, err := runOp("MatMul", nil, 1, feed(a), bi)
					if err != nil {
						t.Fatal(err)
					}
					shape, want := refMatMul(a, b)
					k := c.a[len(c.a)-1]
					closeTo(t, "MatMul", out[0], shape, want, math.Sqrt(float64(k)))
				})
			}
		}
	}
}

func TestMatMulErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	_, err := runOp("MatMul", nil, 1, feed(randTensor(r, tensor.Float32, 3, 4)), feed(randTensor(r, tensor.Float32, 5, 6)))
	wantErr(t, "inner mismatch", err)
	_, err = runOp("MatMul", nil, 1, feed(randTensor(r, tensor.Float32, 2, 3, 4)), feed(randTensor(r, tensor.Float32, 3, 4, 6)))
	wantErr(t, "batch mismatch", err)
	_, err = runOp("MatMul", nil, 1, feed(randTensor(r, tensor.Float32, 3, 4)), feed(randTensor(r, tensor.Float64, 4, 6)))
	wantErr(t, "dtype mismatch", err)
}

// refGemm is ONNX Gemm in float64.
func refGemm(a, b, c *tensor.Tensor, transA, transB bool, alpha, beta float64) ([]int, []float64) {
	as, bs := a.Shape(), b.Shape()
	m, k := as[0], as[1]
	if transA {
		m, k = k, m
	}
	n := bs[1]
	if transB {
		n = bs[0]
	}
	out := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			s := 0.0
			for p := 0; p < k; p++ {
				ai, bi := i*k+p, p*n+j
				if transA {
					ai = p*m + i
				}
				if transB {
					bi = j*k + p
				}
				s += a.Float64At(ai) * b.Float64At(bi)
			}
			s *= alpha
			if c != nil {
				cs := c.Shape()
				ci, cj := i, j
				var idx int
				switch len(cs) {
				case 0:
					idx = 0
				case 1:
					if cs[0] == 1 {
						cj = 0
					}
					idx = cj
				case 2:
					if cs[0] == 1 {
						ci = 0
					}
					if cs[1] == 1 {
						cj = 0
					}
					idx = ci*cs[1] + cj
				}
				s += beta * c.Float64At(idx)
			}
			out[i*n+j] = s
		}
	}
	return []int{m, n}, out
}

func TestGemmAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 1))
	type gcase struct {
		m, k, n        int
		transA, transB bool
		alpha, beta    float32
		c              []int // nil: no C
	}
	cases := []gcase{
		{1, 1, 1, false, false, 1, 1, nil},
		{7, 13, 5, false, false, 1, 1, []int{5}},
		{7, 13, 5, false, true, 1, 1, []int{1, 5}},
		{31, 17, 23, true, false, 1, 1, []int{31, 23}},
		{31, 17, 23, true, true, 0.5, 2, []int{31, 1}},
		{19, 3, 11, false, true, 1, 0.25, []int{}},
		{19, 3, 11, false, false, -1.5, 1, nil},
		{64, 127, 97, false, true, 1, 1, []int{97}},
		{6, 16, 16, false, false, 2, 0, []int{6, 16}},
		{5, 0, 3, false, false, 1, 1, []int{3}},
	}
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64, tensor.Int64} {
		for _, c := range cases {
			if !dt.IsFloat() && (c.alpha != float32(int(c.alpha)) || c.beta != float32(int(c.beta))) {
				continue
			}
			t.Run(fmt.Sprintf("%v/%+v", dt, c), func(t *testing.T) {
				as, bs := []int{c.m, c.k}, []int{c.k, c.n}
				if c.transA {
					as = []int{c.k, c.m}
				}
				if c.transB {
					bs = []int{c.n, c.k}
				}
				gen := randTensor
				if !dt.IsFloat() {
					gen = randInts
				}
				a, b := gen(r, dt, as...), gen(r, dt, bs...)
				ins := []nodeInput{feed(a), konst(b)}
				var ct *tensor.Tensor
				if c.c != nil {
					ct = gen(r, dt, c.c...)
					ins = append(ins, konst(ct))
				}
				attrs := graph.Attrs{"alpha": graph.Float(c.alpha), "beta": graph.Float(c.beta)}
				if c.transA {
					attrs["transA"] = graph.Int(1)
				}
				if c.transB {
					attrs["transB"] = graph.Int(1)
				}
				out, err := runOp("Gemm", attrs, 1, ins...)
				if err != nil {
					t.Fatal(err)
				}
				shape, want := refGemm(a, b, ct, c.transA, c.transB, float64(c.alpha), float64(c.beta))
				closeTo(t, "Gemm", out[0], shape, want, 3*math.Sqrt(float64(c.k)+1))
			})
		}
	}
}

func TestGemmErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	f := func(s ...int) *tensor.Tensor { return randTensor(r, tensor.Float32, s...) }
	_, err := runOp("Gemm", nil, 1, feed(f(3, 4)), feed(f(5, 6)))
	wantErr(t, "inner mismatch", err)
	_, err = runOp("Gemm", nil, 1, feed(f(3, 4)), feed(f(4, 6)), feed(f(4)))
	wantErr(t, "C does not broadcast", err)
	_, err = runOp("Gemm", nil, 1, feed(f(2, 3, 4)), feed(f(4, 6)))
	wantErr(t, "rank 3", err)
}
