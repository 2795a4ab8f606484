package cpu

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// TestEinsumGEMMMatchesDirect runs two-operand equations through the GEMM path and
// the direct evaluation and compares them.
func TestEinsumGEMMMatchesDirect(t *testing.T) {
	r := rand.New(rand.NewPCG(93, 94))
	env := &Env{Threads: 3}
	size := map[byte]int{'a': 3, 'b': 2, 'c': 5, 'd': 7, 'h': 3, 'i': 9, 'j': 4, 'k': 6, 'l': 1, 'z': 0}
	cases := []struct {
		eq      string
		useGEMM bool
	}{
		{"bij,bjk->bik", true}, {"ij,jk->ki", true}, {"bhid,bhjd->bhij", true}, {"bhij,bhjd->bhid", true},
		{"ij,ij->i", true}, {"i,j->ij", true}, {"ij,j->i", true}, {"abc,cd->dba", true}, {"i,i->", true},
		{"ijk,jkl->il", true}, {"bij,bkj->bik", true}, {"ba,ab->", true}, {"ab,ab->ba", true}, {"iz,zk->ik", true},
		{"ii,ij->j", false}, {"ij,k->i", false}, {"ij,jk", true},
	}
	for _, c := range cases {
		lhs := c.eq
		lhs, _, _ = strings.Cut(lhs, "->")
		terms := strings.Split(lhs, ",")
		for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
			in := make([]*tensor.Tensor, len(terms))
			ranks, shapes := make([]int, len(terms)), make([][]int, len(terms))
			for k, term := range terms {
				shape := make([]int, len(term))
				for d := range term {
					shape[d] = size[term[d]]
				}
				in[k] = tensor.New(dt, shape)
				for i := 0; i < in[k].Len(); i++ {
					in[k].SetFloat64At(i, r.NormFloat64())
				}
				ranks[k], shapes[k] = len(shape), shape
			}
			spec, err := ops.ParseEinsum(c.eq, ranks)
			if err != nil {
				t.Fatalf("%s: %v", c.eq, err)
			}
			sizes, err := spec.Sizes(shapes)
			if err != nil {
				t.Fatalf("%s: %v", c.eq, err)
			}
			oshape := make([]int, len(spec.Output))
			for i, l := range spec.Output {
				oshape[i] = sizes[l]
			}
			got, want := tensor.New(dt, oshape), tensor.New(dt, oshape)
			ok, err := einsumGEMM(env, spec, sizes, in, got)
			if err != nil {
				t.Fatalf("%s: %v", c.eq, err)
			}
			if ok != c.useGEMM {
				t.Fatalf("%s: GEMM path used = %v, want %v", c.eq, ok, c.useGEMM)
			}
			if !ok {
				continue
			}
			einsumDirect(env, spec, sizes, in, want)
			for i := 0; i < want.Len(); i++ {
				g, w := got.Float64At(i), want.Float64At(i)
				if math.Abs(g-w) > 1e-5*(1+math.Abs(w)) {
					t.Fatalf("%s %v: element %d = %v, want %v", c.eq, dt, i, g, w)
				}
			}
		}
	}
}
