package cpu_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

func nnPositive(r *rand.Rand, dt tensor.DType, shape ...int) *tensor.Tensor {
	t := tensor.New(dt, shape)
	for i := 0; i < t.Len(); i++ {
		t.SetFloat64At(i, 0.1+r.Float64()*2)
	}
	return t
}

func TestBatchNormAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 1))
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
		for _, shape := range [][]int{{1, 1, 1, 1}, {2, 3, 5, 7}, {3, 17}, {1, 64, 13}, {2, 5, 3, 4, 3}} {
			for _, consts := range []bool{true, false} {
				t.Run(fmt.Sprintf("%v/%v/const=%v", dt, shape, consts), func(t *testing.T) {
					c := shape[1]
					x := randTensor(r, dt, shape...)
					sc, b, mean, v := randTensor(r, dt, c), randTensor(r, dt, c), randTensor(r, dt, c), nnPositive(r, dt, c)
					wrap := feed
					if consts {
						wrap = konst
					}
					eps := 1e-3
					out, err := runOp("BatchNormalization", graph.Attrs{"epsilon": graph.Float(float32(eps))}, 1,
						feed(x), wrap(sc), wrap(b), wrap(mean), wrap(v))
					if err != nil {
						t.Fatal(err)
					}
					inner := tensor.NumElements(shape[2:])
					want := make([]float64, x.Len())
					for i := range want {
						ch := i / inner % c
						want[i] = (x.Float64At(i)-mean.Float64At(ch))/math.Sqrt(v.Float64At(ch)+float64(float32(eps)))*sc.Float64At(ch) + b.Float64At(ch)
					}
					closeTo(t, "BatchNormalization", out[0], shape, want, 10)
				})
			}
		}
	}
	// opset < 9 spatial=0 form: parameters per element of X.shape[1:].
	x := randTensor(r, tensor.Float32, 2, 3, 4)
	p := []*tensor.Tensor{randTensor(r, tensor.Float32, 3, 4), randTensor(r, tensor.Float32, 3, 4), randTensor(r, tensor.Float32, 3, 4), nnPositive(r, tensor.Float32, 3, 4)}
	out, err := runOp("BatchNormalization", graph.Attrs{"spatial": graph.Int(0)}, 1, feed(x), konst(p[0]), konst(p[1]), konst(p[2]), konst(p[3]))
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float64, x.Len())
	for i := range want {
		j := i % 12
		want[i] = (x.Float64At(i)-p[2].Float64At(j))/math.Sqrt(p[3].Float64At(j)+float64(float32(1e-5)))*p[0].Float64At(j) + p[1].Float64At(j)
	}
	closeTo(t, "BatchNormalization spatial=0", out[0], x.Shape(), want, 10)

	_, err = runOp("BatchNormalization", nil, 1, feed(x), feed(randTensor(r, tensor.Float32, 5)), feed(p[1]), feed(p[2]), feed(p[3]))
	wantErr(t, "bad scale", err)
}

// TestBatchNormTrainingAgainstReference checks training_mode 1 (batch statistics,
// running statistics updated with momentum, and the opset < 14 batch-statistics
// outputs) against float64 math.
func TestBatchNormTrainingAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 3))
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
		for _, shape := range [][]int{{1, 1}, {2, 3, 5, 7}, {3, 17}, {1, 6, 13}, {2, 5, 3, 4, 3}} {
			for _, nOut := range []int{1, 3, 5} {
				t.Run(fmt.Sprintf("%v/%v/outputs=%d", dt, shape, nOut), func(t *testing.T) {
					c := shape[1]
					x := randTensor(r, dt, shape...)
					sc, b, rm, rv := randTensor(r, dt, c), randTensor(r, dt, c), randTensor(r, dt, c), nnPositive(r, dt, c)
					eps, mom := float64(float32(1e-3)), float64(float32(0.7))
					out, err := runOp("BatchNormalization", graph.Attrs{"epsilon": graph.Float(1e-3), "momentum": graph.Float(0.7), "training_mode": graph.Int(1)}, nOut,
						feed(x), konst(sc), feed(b), feed(rm), feed(rv))
					if err != nil {
						t.Fatal(err)
					}
					inner := tensor.NumElements(shape[2:])
					count := float64(x.Len() / c)
					mean, variance := make([]float64, c), make([]float64, c)
					for i := 0; i < x.Len(); i++ {
						mean[i/inner%c] += x.Float64At(i) / count
					}
					for i := 0; i < x.Len(); i++ {
						d := x.Float64At(i) - mean[i/inner%c]
						variance[i/inner%c] += d * d / count
					}
					want := make([]float64, x.Len())
					for i := range want {
						ch := i / inner % c
						want[i] = (x.Float64At(i)-mean[ch])/math.Sqrt(variance[ch]+eps)*sc.Float64At(ch) + b.Float64At(ch)
					}
					closeTo(t, "Y", out[0], shape, want, 10)
					if nOut == 1 {
						return
					}
					runMean, runVar := make([]float64, c), make([]float64, c)
					for i := range runMean {
						runMean[i] = rm.Float64At(i)*mom + mean[i]*(1-mom)
						runVar[i] = rv.Float64At(i)*mom + variance[i]*(1-mom)
					}
					closeTo(t, "running_mean", out[1], []int{c}, runMean, 1)
					closeTo(t, "running_var", out[2], []int{c}, runVar, 1)
					if nOut == 5 {
						closeTo(t, "saved_mean", out[3], []int{c}, mean, 1)
						closeTo(t, "saved_var", out[4], []int{c}, variance, 1)
					}
				})
			}
		}
	}
	x := randTensor(r, tensor.Float32, 2, 3, 4)
	_, err := runOp("BatchNormalization", graph.Attrs{"training_mode": graph.Int(1)}, 3, feed(x), feed(randTensor(r, tensor.Float32, 5)),
		feed(randTensor(r, tensor.Float32, 3)), feed(randTensor(r, tensor.Float32, 3)), feed(nnPositive(r, tensor.Float32, 3)))
	wantErr(t, "bad scale in training mode", err)
}

// refNorm normalizes groups of size d (consecutive) and applies per-element affine
// parameters given by param(i).
func refNormGroups(x *tensor.Tensor, d int, eps float64, affine func(i int, v float64) float64) ([]float64, []float64, []float64) {
	n := x.Len() / d
	y := make([]float64, x.Len())
	means, invs := make([]float64, n), make([]float64, n)
	for g := 0; g < n; g++ {
		s := 0.0
		for j := 0; j < d; j++ {
			s += x.Float64At(g*d + j)
		}
		mean := s / float64(d)
		q := 0.0
		for j := 0; j < d; j++ {
			dv := x.Float64At(g*d+j) - mean
			q += dv * dv
		}
		inv := 1 / math.Sqrt(q/float64(d)+eps)
		means[g], invs[g] = mean, inv
		for j := 0; j < d; j++ {
			i := g*d + j
			y[i] = affine(i, (x.Float64At(i)-mean)*inv)
		}
	}
	return y, means, invs
}

func TestLayerNormAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 1))
	cases := []struct {
		shape []int
		axis  int
		scale []int // nil: same as the normalized shape
		bias  bool
	}{
		{[]int{1}, -1, nil, true},
		{[]int{2, 7, 768}, -1, nil, true},
		{[]int{3, 5, 13}, -1, nil, false},
		{[]int{3, 5, 13}, 1, nil, true},
		{[]int{3, 5, 13}, -2, []int{1, 13}, true},
		{[]int{4, 6, 2, 3}, 0, []int{1}, true},
		{[]int{2, 1, 97}, 2, nil, true},
	}
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
		for _, c := range cases {
			t.Run(fmt.Sprintf("%v/%v/axis=%d", dt, c.shape, c.axis), func(t *testing.T) {
				ax := c.axis
				if ax < 0 {
					ax += len(c.shape)
				}
				norm := c.shape[ax:]
				ss := c.scale
				if ss == nil {
					ss = norm
				}
				x, sc := randTensor(r, dt, c.shape...), randTensor(r, dt, ss...)
				ins := []nodeInput{feed(x), konst(sc)}
				var b *tensor.Tensor
				if c.bias {
					b = randTensor(r, dt, ss...)
					ins = append(ins, konst(b))
				}
				d := tensor.NumElements(norm)
				eps := float64(float32(1e-5))
				out, err := runOp("LayerNormalization", graph.Attrs{"axis": graph.Int(int64(c.axis))}, 3, ins...)
				if err != nil {
					t.Fatal(err)
				}
				pidx := func(i int) int { // broadcast index into the parameter
					j := i % d
					if tensor.NumElements(ss) == d {
						return j
					}
					return j % tensor.NumElements(ss) * 0
				}
				if tensor.NumElements(ss) != d && tensor.NumElements(ss) != 1 {
					pidx = func(i int) int { return i % d % norm[len(norm)-1] }
				}
				want, means, invs := refNormGroups(x, d, eps, func(i int, v float64) float64 {
					v *= sc.Float64At(pidx(i))
					if b != nil {
						v += b.Float64At(pidx(i))
					}
					return v
				})
				closeTo(t, "LayerNormalization", out[0], c.shape, want, 10)
				st := append([]int{}, c.shape[:ax]...)
				for range norm {
					st = append(st, 1)
				}
				closeTo(t, "Mean", out[1], st, means, 1)
				closeTo(t, "InvStdDev", out[2], st, invs, 1)
			})
		}
	}
	x := randTensor(r, tensor.Float32, 2, 3)
	_, err := runOp("LayerNormalization", nil, 1, feed(x), feed(randTensor(r, tensor.Float32, 4)))
	wantErr(t, "scale shape", err)
	_, err = runOp("LayerNormalization", graph.Attrs{"axis": graph.Int(2)}, 1, feed(x), feed(randTensor(r, tensor.Float32, 3)))
	wantErr(t, "axis", err)
}

func TestInstanceGroupNormAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 1))
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
		for _, shape := range [][]int{{1, 1, 1}, {2, 6, 5, 7}, {3, 4, 11}, {1, 12, 2, 3, 2}} {
			for _, groups := range []int{0, 1, 2, 3} { // 0: InstanceNormalization
				c := shape[1]
				if groups > 0 && c%groups != 0 {
					continue
				}
				for _, perGroup := range []bool{false, true} {
					if perGroup && groups == 0 {
						continue
					}
					t.Run(fmt.Sprintf("%v/%v/groups=%d/perGroup=%v", dt, shape, groups, perGroup), func(t *testing.T) {
						np := c
						if perGroup {
							np = groups
						}
						x, sc, b := randTensor(r, dt, shape...), randTensor(r, dt, np), randTensor(r, dt, np)
						op, attrs, g := "InstanceNormalization", graph.Attrs{}, c
						if groups > 0 {
							op, g = "GroupNormalization", groups
							attrs["num_groups"] = graph.Int(int64(groups))
						}
						out, err := runOp(op, attrs, 1, feed(x), konst(sc), konst(b))
						if err != nil {
							t.Fatal(err)
						}
						inner := tensor.NumElements(shape[2:])
						eps := float64(float32(1e-5))
						want, _, _ := refNormGroups(x, c/g*inner, eps, func(i int, v float64) float64 {
							ch := i / inner % c
							pi := ch
							if perGroup {
								pi = ch / (c / g)
							}
							return v*sc.Float64At(pi) + b.Float64At(pi)
						})
						closeTo(t, op, out[0], shape, want, 10)
					})
				}
			}
		}
	}
	x := randTensor(r, tensor.Float32, 1, 6, 4)
	_, err := runOp("GroupNormalization", graph.Attrs{"num_groups": graph.Int(4)}, 1, feed(x), feed(randTensor(r, tensor.Float32, 6)), feed(randTensor(r, tensor.Float32, 6)))
	wantErr(t, "groups do not divide", err)
	_, err = runOp("InstanceNormalization", nil, 1, feed(x), feed(randTensor(r, tensor.Float32, 5)), feed(randTensor(r, tensor.Float32, 5)))
	wantErr(t, "scale length", err)
}

func TestLRNAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 1))
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
		for _, size := range []int{1, 2, 3, 5} {
			shape := []int{2, 7, 3, 4}
			x := randTensor(r, dt, shape...)
			alpha, beta, bias := float32(0.02), float32(0.75), float32(1.5)
			out, err := runOp("LRN", graph.Attrs{"size": graph.Int(int64(size)), "alpha": graph.Float(alpha), "beta": graph.Float(beta), "bias": graph.Float(bias)}, 1, feed(x))
			if err != nil {
				t.Fatal(err)
			}
			want := make([]float64, x.Len())
			inner, c := 12, 7
			for i := range want {
				ch := i / inner % c
				s := 0.0
				for cc := ch - (size-1)/2; cc <= ch+(size-1)-(size-1)/2; cc++ {
					if cc >= 0 && cc < c {
						v := x.Float64At(i + (cc-ch)*inner)
						s += v * v
					}
				}
				want[i] = x.Float64At(i) / math.Pow(float64(bias)+float64(alpha)/float64(size)*s, float64(beta))
			}
			closeTo(t, fmt.Sprintf("LRN size %d", size), out[0], shape, want, 1)
		}
	}
}
