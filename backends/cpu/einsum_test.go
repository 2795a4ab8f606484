package cpu_test

import (
	"math/rand/v2"
	"testing"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

func TestEinsum(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	g := uniform(r, -2, 2, false)
	a := randT(tensor.Float32, []int{3, 5}, g)
	b := randT(tensor.Float32, []int{5, 4}, g)
	sq := randT(tensor.Float32, []int{4, 4}, g)
	ba := randT(tensor.Float64, []int{2, 3, 5}, g)
	bb := randT(tensor.Float64, []int{2, 5, 4}, g)
	bc := randT(tensor.Float64, []int{5, 4}, g)
	v := randT(tensor.Float32, []int{3}, g)
	w := randT(tensor.Float32, []int{6}, g)
	bd := randT(tensor.Float32, []int{2, 3, 3}, g)
	at := func(x *tensor.Tensor, idx ...int) float64 { return x.Float64At(flatIndex(idx, x.Shape())) }
	matmul := func(x, y *tensor.Tensor, bx, by func(b int) int, nb int) ([]int, []float64) {
		m, k, n := x.Shape()[x.Rank()-2], x.Shape()[x.Rank()-1], y.Shape()[y.Rank()-1]
		var out []float64
		for bi := 0; bi < nb; bi++ {
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					s := 0.0
					for p := 0; p < k; p++ {
						xi := []int{i, p}
						yi := []int{p, j}
						if x.Rank() == 3 {
							xi = append([]int{bx(bi)}, xi...)
						}
						if y.Rank() == 3 {
							yi = append([]int{by(bi)}, yi...)
						}
						s += at(x, xi...) * at(y, yi...)
					}
					out = append(out, s)
				}
			}
		}
		if nb == 1 && x.Rank() == 2 {
			return []int{m, n}, out
		}
		return []int{nb, m, n}, out
	}
	id := func(b int) int { return b }
	for _, c := range []struct {
		eq   string
		ins  []*tensor.Tensor
		want func() ([]int, []float64)
	}{
		{"ij,jk->ik", []*tensor.Tensor{a, b}, func() ([]int, []float64) { return matmul(a, b, id, id, 1) }},
		{"ij,jk", []*tensor.Tensor{a, b}, func() ([]int, []float64) { return matmul(a, b, id, id, 1) }},
		{"bij,bjk->bik", []*tensor.Tensor{ba, bb}, func() ([]int, []float64) { return matmul(ba, bb, id, id, 2) }},
		{"...ij,...jk->...ik", []*tensor.Tensor{ba, bc}, func() ([]int, []float64) { return matmul(ba, bc, id, id, 2) }},
		{"ij->ji", []*tensor.Tensor{a}, func() ([]int, []float64) {
			var out []float64
			for j := 0; j < 5; j++ {
				for i := 0; i < 3; i++ {
					out = append(out, at(a, i, j))
				}
			}
			return []int{5, 3}, out
		}},
		{"ii->", []*tensor.Tensor{sq}, func() ([]int, []float64) {
			s := 0.0
			for i := 0; i < 4; i++ {
				s += at(sq, i, i)
			}
			return []int{}, []float64{s}
		}},
		{"ii->i", []*tensor.Tensor{sq}, func() ([]int, []float64) {
			var out []float64
			for i := 0; i < 4; i++ {
				out = append(out, at(sq, i, i))
			}
			return []int{4}, out
		}},
		{"...ii->...i", []*tensor.Tensor{bd}, func() ([]int, []float64) {
			var out []float64
			for b := 0; b < 2; b++ {
				for i := 0; i < 3; i++ {
					out = append(out, at(bd, b, i, i))
				}
			}
			return []int{2, 3}, out
		}},
		{"ij->i", []*tensor.Tensor{a}, func() ([]int, []float64) {
			var out []float64
			for i := 0; i < 3; i++ {
				s := 0.0
				for j := 0; j < 5; j++ {
					s += at(a, i, j)
				}
				out = append(out, s)
			}
			return []int{3}, out
		}},
		{"i,j->ij", []*tensor.Tensor{v, w}, func() ([]int, []float64) {
			var out []float64
			for i := 0; i < 3; i++ {
				for j := 0; j < 6; j++ {
					out = append(out, at(v, i)*at(w, j))
				}
			}
			return []int{3, 6}, out
		}},
		{"i,i", []*tensor.Tensor{v, v}, func() ([]int, []float64) {
			s := 0.0
			for i := 0; i < 3; i++ {
				s += at(v, i) * at(v, i)
			}
			return []int{}, []float64{s}
		}},
	} {
		shape, want := c.want()
		out := opRun{op: "Einsum", attrs: graph.Attrs{"equation": graph.String(c.eq)}, ins: c.ins}.mustRun(t)[0]
		checkClose(t, "Einsum "+c.eq, out, shape, want, 1e-5)
	}
	for _, bad := range []string{"ij,jk->il", "ijk,jk->ik", "ij,kl->ii", "i.j->i"} {
		opRun{op: "Einsum", attrs: graph.Attrs{"equation": graph.String(bad)}, ins: []*tensor.Tensor{a, b}}.wantErr(t, bad)
	}
	opRun{op: "Einsum", attrs: graph.Attrs{"equation": graph.String("ij,ij->i")}, ins: []*tensor.Tensor{a, b}}.wantErr(t, "size mismatch")
}
