package cpu_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

type poolCase struct {
	n, c          int
	in, k         []int
	strides, dil  []int
	pads          []int
	ceil, inclPad bool
	autoPad       string
	colMajor      bool
}

// poolOut computes the output size the way ONNX (and PyTorch) define it, including
// the ceil_mode rule that the last window must start inside the input or left pad.
func poolOut(c poolCase, pads []int) []int {
	sp := len(c.in)
	out := make([]int, sp)
	for i := range out {
		if c.autoPad == "SAME_UPPER" || c.autoPad == "SAME_LOWER" {
			out[i] = (c.in[i] + c.strides[i] - 1) / c.strides[i]
			continue
		}
		ek := (c.k[i]-1)*c.dil[i] + 1
		span := c.in[i] + pads[i] + pads[sp+i] - ek
		if c.ceil {
			out[i] = int(math.Ceil(float64(span)/float64(c.strides[i]))) + 1
			if (out[i]-1)*c.strides[i] >= c.in[i]+pads[i] {
				out[i]--
			}
		} else {
			out[i] = span/c.strides[i] + 1
		}
	}
	return out
}

// refPool is the direct ONNX pooling in float64; it returns the values and, for max,
// the flat argmax indices.
func refPool(op string, c poolCase, p float64, x *tensor.Tensor) ([]int, []float64, []float64) {
	sp := len(c.in)
	cc := convCase{in: c.in, k: c.k, strides: c.strides, dil: c.dil, pads: c.pads, autoPad: c.autoPad}
	pads := resolvePads(cc)
	out := poolOut(c, pads)
	inSz, outSz, kSz := tensor.NumElements(c.in), tensor.NumElements(out), tensor.NumElements(c.k)
	y := make([]float64, c.n*c.c*outSz)
	ind := make([]float64, len(y))
	for pl := 0; pl < c.n*c.c; pl++ {
		for o := 0; o < outSz; o++ {
			oi := nnUnravel(o, out)
			best, bestAt, sum, cnt, padCnt := math.Inf(-1), 0, 0.0, 0, 0
			for kf := 0; kf < kSz; kf++ {
				ki := nnUnravel(kf, c.k)
				inside, inPadded := true, true
				ii := make([]int, sp)
				for d := 0; d < sp; d++ {
					ii[d] = oi[d]*c.strides[d] - pads[d] + ki[d]*c.dil[d]
					if ii[d] < 0 || ii[d] >= c.in[d] {
						inside = false
					}
					if ii[d] >= c.in[d]+pads[sp+d] {
						inPadded = false
					}
				}
				if inPadded {
					padCnt++
				}
				if !inside {
					continue
				}
				flat := nnRavel(ii, c.in)
				v := x.Float64At(pl*inSz + flat)
				cnt++
				sum += v
				if op == "LpPool" {
					sum += math.Pow(math.Abs(v), p) - v
				}
				if v > best {
					best, bestAt = v, flat
					if c.colMajor {
						bestAt = ii[1]*c.in[0] + ii[0]
					}
				}
			}
			switch op {
			case "MaxPool":
				y[pl*outSz+o] = best
				ind[pl*outSz+o] = float64(pl*inSz + bestAt)
			case "AveragePool":
				if c.inclPad {
					cnt = padCnt
				}
				y[pl*outSz+o] = sum / float64(cnt)
			case "LpPool":
				y[pl*outSz+o] = math.Pow(sum, 1/p)
			}
		}
	}
	return append([]int{c.n, c.c}, out...), y, ind
}

var poolCases = []poolCase{
	{n: 1, c: 1, in: []int{1, 1}, k: []int{1, 1}},
	{n: 2, c: 3, in: []int{7, 9}, k: []int{3, 3}, strides: []int{2, 2}},
	{n: 1, c: 5, in: []int{112, 112}, k: []int{3, 3}, strides: []int{2, 2}, pads: []int{1, 1, 1, 1}},
	{n: 1, c: 2, in: []int{11, 13}, k: []int{3, 2}, strides: []int{2, 3}, pads: []int{1, 0, 2, 1}, ceil: true},
	{n: 1, c: 2, in: []int{11, 13}, k: []int{3, 2}, strides: []int{2, 3}, pads: []int{1, 0, 2, 1}, ceil: true, inclPad: true},
	{n: 1, c: 3, in: []int{8, 7}, k: []int{2, 2}, strides: []int{2, 2}, ceil: true},
	{n: 1, c: 2, in: []int{10, 9}, k: []int{3, 3}, dil: []int{2, 2}, pads: []int{2, 2, 2, 2}},
	{n: 1, c: 2, in: []int{10, 9}, k: []int{3, 3}, strides: []int{2, 2}, autoPad: "SAME_UPPER"},
	{n: 1, c: 2, in: []int{10, 9}, k: []int{4, 4}, strides: []int{3, 2}, autoPad: "SAME_LOWER", inclPad: true},
	{n: 1, c: 2, in: []int{10, 9}, k: []int{3, 2}, autoPad: "VALID"},
	{n: 2, c: 3, in: []int{17}, k: []int{4}, strides: []int{3}, pads: []int{1, 2}, ceil: true},
	{n: 1, c: 2, in: []int{5, 6, 7}, k: []int{2, 3, 2}, strides: []int{2, 1, 2}, pads: []int{0, 1, 1, 1, 1, 0}},
	{n: 1, c: 2, in: []int{7, 5}, k: []int{3, 3}, pads: []int{1, 1, 1, 1}, colMajor: true},
}

func (c poolCase) fill() poolCase {
	sp := len(c.in)
	if c.strides == nil {
		c.strides = ones(sp)
	}
	if c.dil == nil {
		c.dil = ones(sp)
	}
	if c.pads == nil {
		c.pads = make([]int, 2*sp)
	}
	return c
}

func (c poolCase) attrs(op string) graph.Attrs {
	a := graph.Attrs{"kernel_shape": graph.Ints(int64s(c.k)...), "strides": graph.Ints(int64s(c.strides)...)}
	if op != "LpPool" {
		a["dilations"] = graph.Ints(int64s(c.dil)...)
	}
	if c.autoPad != "" {
		a["auto_pad"] = graph.String(c.autoPad)
	} else {
		a["pads"] = graph.Ints(int64s(c.pads)...)
	}
	if c.ceil {
		a["ceil_mode"] = graph.Int(1)
	}
	if c.inclPad {
		a["count_include_pad"] = graph.Int(1)
	}
	if c.colMajor {
		a["storage_order"] = graph.Int(1)
	}
	return a
}

func TestPoolAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 1))
	for _, op := range []string{"MaxPool", "AveragePool", "LpPool"} {
		for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
			for i, c := range poolCases {
				c = c.fill()
				if op == "LpPool" && (c.ceil || c.dil[0] > 1) || op != "MaxPool" && c.colMajor {
					continue
				}
				t.Run(fmt.Sprintf("%s/%v/%d", op, dt, i), func(t *testing.T) {
					x := randTensor(r, dt, append([]int{c.n, c.c}, c.in...)...)
					nOut := 1
					if op == "MaxPool" {
						nOut = 2
					}
					a := c.attrs(op)
					if op == "LpPool" {
						a["p"] = graph.Int(3)
					}
					out, err := runOp(op, a, nOut, feed(x))
					if err != nil {
						t.Fatal(err)
					}
					shape, want, ind := refPool(op, c, 3, x)
					closeTo(t, op, out[0], shape, want, 1)
					if op == "MaxPool" {
						closeTo(t, "MaxPool indices", out[1], shape, ind, 0)
						// without indices: the row loops, or float32's keyed fast path
						out, err = runOp(op, a, 1, feed(x))
						if err != nil {
							t.Fatal(err)
						}
						closeTo(t, "MaxPool values only", out[0], shape, want, 1)
					}
				})
			}
		}
	}
}

func TestGlobalPoolAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 1))
	for _, op := range []string{"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"} {
		for _, shape := range [][]int{{1, 1, 1, 1}, {2, 3, 7, 5}, {1, 2048, 7, 7}, {3, 5, 11}, {1, 2, 3, 4, 5}} {
			for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
				t.Run(fmt.Sprintf("%s/%v/%v", op, shape, dt), func(t *testing.T) {
					x := randTensor(r, dt, shape...)
					out, err := runOp(op, nil, 1, feed(x))
					if err != nil {
						t.Fatal(err)
					}
					planes, sz := shape[0]*shape[1], tensor.NumElements(shape[2:])
					want := make([]float64, planes)
					for p := range want {
						best, sum, lp := math.Inf(-1), 0.0, 0.0
						for i := 0; i < sz; i++ {
							v := x.Float64At(p*sz + i)
							best, sum, lp = math.Max(best, v), sum+v, lp+v*v
						}
						switch op {
						case "GlobalAveragePool":
							want[p] = sum / float64(sz)
						case "GlobalMaxPool":
							want[p] = best
						default:
							want[p] = math.Sqrt(lp)
						}
					}
					ws := []int{shape[0], shape[1]}
					for range shape[2:] {
						ws = append(ws, 1)
					}
					closeTo(t, op, out[0], ws, want, 1)
				})
			}
		}
	}
}

func TestPoolErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	x := randTensor(r, tensor.Float32, 1, 2, 5, 5)
	for name, a := range map[string]graph.Attrs{
		"no kernel_shape": {},
		"kernel too big":  {"kernel_shape": graph.Ints(7, 7)},
		"pad >= kernel":   {"kernel_shape": graph.Ints(2, 2), "pads": graph.Ints(2, 2, 2, 2)},
		"zero stride":     {"kernel_shape": graph.Ints(2, 2), "strides": graph.Ints(0, 1)},
		"kernel rank":     {"kernel_shape": graph.Ints(2)},
	} {
		_, err := runOp("MaxPool", a, 1, feed(x))
		wantErr(t, name, err)
	}
	_, err := runOp("AveragePool", graph.Attrs{"kernel_shape": graph.Ints(2)}, 1, feed(randTensor(r, tensor.Float32, 3, 4)))
	wantErr(t, "rank 2 input", err)
}
