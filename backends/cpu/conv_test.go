package cpu_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// convCase is one convolution geometry; spatial sizes have 1 to 3 axes.
type convCase struct {
	n, c, m, group int
	in, k          []int
	strides, dil   []int
	pads           []int // begin..., end...
	autoPad        string
	bias           bool
}

func ones(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = 1
	}
	return s
}

func (c convCase) fill() convCase {
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
	if c.group == 0 {
		c.group = 1
	}
	return c
}

func int64s(v []int) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

// resolvePads computes what auto_pad means, independently of the kernels: the pads
// for SAME_UPPER / SAME_LOWER (output ceil(in/stride)), zeros for VALID.
func resolvePads(c convCase) []int {
	sp := len(c.in)
	pads := append([]int(nil), c.pads...)
	for i := 0; i < sp; i++ {
		ek := (c.k[i]-1)*c.dil[i] + 1
		switch c.autoPad {
		case "VALID":
			pads[i], pads[sp+i] = 0, 0
		case "SAME_UPPER", "SAME_LOWER":
			out := (c.in[i] + c.strides[i] - 1) / c.strides[i]
			total := max(0, (out-1)*c.strides[i]+ek-c.in[i])
			lo, hi := total/2, total-total/2
			if c.autoPad == "SAME_LOWER" {
				lo, hi = hi, lo
			}
			pads[i], pads[sp+i] = lo, hi
		}
	}
	return pads
}

// unravel turns a flat index into a multi-index of shape dims.
func nnUnravel(i int, dims []int) []int {
	idx := make([]int, len(dims))
	for d := len(dims) - 1; d >= 0; d-- {
		idx[d] = i % dims[d]
		i /= dims[d]
	}
	return idx
}

func nnRavel(idx, dims []int) int {
	f := 0
	for d := range dims {
		f = f*dims[d] + idx[d]
	}
	return f
}

// refConv is the direct ONNX convolution in float64.
func refConv(c convCase, x, w, b *tensor.Tensor) ([]int, []float64) {
	sp := len(c.in)
	pads := resolvePads(c)
	out := make([]int, sp)
	for i := range out {
		ek := (c.k[i]-1)*c.dil[i] + 1
		out[i] = (c.in[i]+pads[i]+pads[sp+i]-ek)/c.strides[i] + 1
	}
	cg, mg := c.c/c.group, c.m/c.group
	inSz, outSz, kSz := tensor.NumElements(c.in), tensor.NumElements(out), tensor.NumElements(c.k)
	y := make([]float64, c.n*c.m*outSz)
	for n := 0; n < c.n; n++ {
		for m := 0; m < c.m; m++ {
			gr := m / mg
			for o := 0; o < outSz; o++ {
				oi := nnUnravel(o, out)
				s := 0.0
				if b != nil {
					s = b.Float64At(m)
				}
				for ci := 0; ci < cg; ci++ {
					for kf := 0; kf < kSz; kf++ {
						ki := nnUnravel(kf, c.k)
						ii := make([]int, sp)
						ok := true
						for d := 0; d < sp; d++ {
							ii[d] = oi[d]*c.strides[d] - pads[d] + ki[d]*c.dil[d]
							if ii[d] < 0 || ii[d] >= c.in[d] {
								ok = false
							}
						}
						if !ok {
							continue
						}
						xv := x.Float64At((n*c.c+gr*cg+ci)*inSz + nnRavel(ii, c.in))
						wv := w.Float64At((m*cg+ci)*kSz + kf)
						s += xv * wv
					}
				}
				y[(n*c.m+m)*outSz+o] = s
			}
		}
	}
	return append([]int{c.n, c.m}, out...), y
}

func (c convCase) attrs() graph.Attrs {
	a := graph.Attrs{
		"strides":   graph.Ints(int64s(c.strides)...),
		"dilations": graph.Ints(int64s(c.dil)...),
		"group":     graph.Int(int64(c.group)),
	}
	if c.autoPad != "" {
		a["auto_pad"] = graph.String(c.autoPad)
	} else {
		a["pads"] = graph.Ints(int64s(c.pads)...)
	}
	return a
}

var convCases = []convCase{
	{n: 1, c: 1, m: 1, in: []int{1, 1}, k: []int{1, 1}},
	{n: 2, c: 3, m: 5, in: []int{7, 9}, k: []int{3, 3}, pads: []int{1, 1, 1, 1}, bias: true},
	{n: 1, c: 16, m: 24, in: []int{13, 11}, k: []int{1, 1}, bias: true},                                   // pointwise
	{n: 1, c: 7, m: 13, in: []int{17, 19}, k: []int{3, 2}, strides: []int{2, 3}, pads: []int{2, 0, 1, 1}}, // asymmetric pads
	{n: 1, c: 5, m: 3, in: []int{11, 13}, k: []int{3, 3}, dil: []int{2, 3}, pads: []int{2, 3, 2, 3}},
	{n: 2, c: 6, m: 9, group: 3, in: []int{9, 8}, k: []int{3, 3}, pads: []int{1, 1, 1, 1}, bias: true},
	{n: 1, c: 8, m: 8, group: 8, in: []int{12, 11}, k: []int{3, 3}, pads: []int{1, 1, 1, 1}, bias: true}, // depthwise
	{n: 1, c: 4, m: 8, group: 4, in: []int{10, 9}, k: []int{3, 3}, strides: []int{2, 2}, pads: []int{1, 1, 1, 1}},
	{n: 1, c: 3, m: 4, in: []int{10, 7}, k: []int{3, 3}, strides: []int{2, 2}, autoPad: "SAME_UPPER"},
	{n: 1, c: 3, m: 4, in: []int{10, 7}, k: []int{4, 4}, strides: []int{3, 2}, autoPad: "SAME_LOWER", bias: true},
	{n: 1, c: 3, m: 4, in: []int{10, 7}, k: []int{3, 2}, autoPad: "VALID"},
	{n: 1, c: 3, m: 64, in: []int{29, 31}, k: []int{7, 7}, strides: []int{2, 2}, pads: []int{3, 3, 3, 3}, bias: true},
	{n: 2, c: 5, m: 7, in: []int{23}, k: []int{5}, strides: []int{2}, pads: []int{2, 1}, bias: true}, // 1-D
	{n: 1, c: 4, m: 6, group: 2, in: []int{17}, k: []int{3}, dil: []int{2}, autoPad: "SAME_UPPER"},
	{n: 1, c: 3, m: 4, in: []int{5, 6, 7}, k: []int{3, 2, 3}, strides: []int{1, 2, 1}, pads: []int{1, 0, 1, 1, 1, 0}, bias: true}, // 3-D
	{n: 2, c: 4, m: 4, group: 2, in: []int{4, 5, 3}, k: []int{1, 1, 1}},
}

func TestConvAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 1))
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
		for i, c := range convCases {
			c = c.fill()
			for _, constW := range []bool{true, false} {
				t.Run(fmt.Sprintf("%v/%d/const=%v", dt, i, constW), func(t *testing.T) {
					x := randTensor(r, dt, append([]int{c.n, c.c}, c.in...)...)
					w := randTensor(r, dt, append([]int{c.m, c.c / c.group}, c.k...)...)
					ins := []nodeInput{feed(x), feed(w)}
					if constW {
						ins[1] = konst(w)
					}
					var b *tensor.Tensor
					if c.bias {
						b = randTensor(r, dt, c.m)
						ins = append(ins, konst(b))
					}
					out, err := runOp("Conv", c.attrs(), 1, ins...)
					if err != nil {
						t.Fatal(err)
					}
					shape, want := refConv(c, x, w, b)
					closeTo(t, "Conv", out[0], shape, want, math.Sqrt(float64(c.c*tensor.NumElements(c.k)))+1)
				})
			}
		}
	}
}

func TestConvErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	f := func(s ...int) *tensor.Tensor { return randTensor(r, tensor.Float32, s...) }
	cases := []struct {
		name  string
		attrs graph.Attrs
		x, w  *tensor.Tensor
	}{
		{"channel mismatch", nil, f(1, 3, 5, 5), f(2, 4, 3, 3)},
		{"group does not divide", graph.Attrs{"group": graph.Int(2)}, f(1, 3, 5, 5), f(2, 3, 3, 3)},
		{"kernel too big", nil, f(1, 1, 2, 2), f(1, 1, 3, 3)},
		{"bad strides", graph.Attrs{"strides": graph.Ints(0, 1)}, f(1, 1, 5, 5), f(1, 1, 3, 3)},
		{"strides length", graph.Attrs{"strides": graph.Ints(1)}, f(1, 1, 5, 5), f(1, 1, 3, 3)},
		{"bad auto_pad", graph.Attrs{"auto_pad": graph.String("SAME")}, f(1, 1, 5, 5), f(1, 1, 3, 3)},
		{"rank mismatch", nil, f(1, 1, 5, 5), f(1, 1, 3)},
		{"negative pads", graph.Attrs{"pads": graph.Ints(-1, 0, 0, 0)}, f(1, 1, 5, 5), f(1, 1, 3, 3)},
		{"kernel_shape disagrees", graph.Attrs{"kernel_shape": graph.Ints(2, 2)}, f(1, 1, 5, 5), f(1, 1, 3, 3)},
	}
	for _, c := range cases {
		for _, constW := range []bool{false, true} {
			ins := []nodeInput{feed(c.x), feed(c.w)}
			if constW {
				ins[1] = konst(c.w)
			}
			_, err := runOp("Conv", c.attrs, 1, ins...)
			wantErr(t, c.name, err)
		}
	}
	_, err := runOp("Conv", nil, 1, feed(f(1, 2, 5, 5)), feed(f(3, 2, 3, 3)), feed(f(4)))
	wantErr(t, "bias length", err)
}

// refConvTranspose is the direct ONNX transposed convolution in float64: every input
// element scatters x·w into the output.
func refConvTranspose(c convCase, outPad, outShape []int, x, w, b *tensor.Tensor) ([]int, []float64) {
	sp := len(c.in)
	pads := append([]int(nil), c.pads...)
	out := make([]int, sp)
	for i := 0; i < sp; i++ {
		full := c.strides[i]*(c.in[i]-1) + outPad[i] + (c.k[i]-1)*c.dil[i] + 1
		switch {
		case outShape != nil:
			total := full - outShape[i]
			if total < 0 { // a larger output: negative pads, split with floor division as in ONNX
				small := (total - 1) / 2
				if total%2 == 0 {
					small = total / 2
				}
				if c.autoPad == "SAME_UPPER" {
					pads[i], pads[sp+i] = small, total-small
				} else {
					pads[i], pads[sp+i] = total-small, small
				}
				out[i] = outShape[i]
				break
			}
			if c.autoPad == "SAME_UPPER" {
				pads[i], pads[sp+i] = total/2, total-total/2
			} else {
				pads[i], pads[sp+i] = total-total/2, total/2
			}
			out[i] = outShape[i]
		case c.autoPad == "SAME_UPPER" || c.autoPad == "SAME_LOWER":
			total := full - c.in[i]*c.strides[i]
			if c.autoPad == "SAME_UPPER" {
				pads[i], pads[sp+i] = total/2, total-total/2
			} else {
				pads[i], pads[sp+i] = total-total/2, total/2
			}
			out[i] = c.in[i] * c.strides[i]
		default:
			out[i] = full - pads[i] - pads[sp+i]
		}
	}
	cg, mg := c.c/c.group, c.m/c.group
	inSz, outSz, kSz := tensor.NumElements(c.in), tensor.NumElements(out), tensor.NumElements(c.k)
	y := make([]float64, c.n*c.m*outSz)
	for n := 0; n < c.n; n++ {
		for ci := 0; ci < c.c; ci++ {
			gr := ci / cg
			for i := 0; i < inSz; i++ {
				ii := nnUnravel(i, c.in)
				xv := x.Float64At((n*c.c+ci)*inSz + i)
				for mm := 0; mm < mg; mm++ {
					m := gr*mg + mm
					for kf := 0; kf < kSz; kf++ {
						ki := nnUnravel(kf, c.k)
						oi := make([]int, sp)
						ok := true
						for d := 0; d < sp; d++ {
							oi[d] = ii[d]*c.strides[d] - pads[d] + ki[d]*c.dil[d]
							if oi[d] < 0 || oi[d] >= out[d] {
								ok = false
							}
						}
						if ok {
							y[(n*c.m+m)*outSz+nnRavel(oi, out)] += xv * w.Float64At((ci*mg+mm)*kSz+kf)
						}
					}
				}
			}
		}
	}
	if b != nil {
		for i := range y {
			y[i] += b.Float64At(i / outSz % c.m)
		}
	}
	return append([]int{c.n, c.m}, out...), y
}

func TestConvTransposeAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 1))
	type tcase struct {
		convCase
		outPad, outShape []int
	}
	cases := []tcase{
		{convCase: convCase{n: 1, c: 1, m: 1, in: []int{1, 1}, k: []int{1, 1}}},
		{convCase: convCase{n: 2, c: 3, m: 5, in: []int{5, 7}, k: []int{3, 3}, strides: []int{2, 2}, pads: []int{1, 1, 1, 1}, bias: true}},
		{convCase: convCase{n: 1, c: 4, m: 6, in: []int{5, 6}, k: []int{3, 4}, strides: []int{2, 3}, pads: []int{0, 1, 2, 1}}, outPad: []int{1, 2}},
		{convCase: convCase{n: 1, c: 6, m: 4, group: 2, in: []int{7, 5}, k: []int{3, 3}, dil: []int{2, 1}, pads: []int{1, 1, 1, 1}, bias: true}},
		{convCase: convCase{n: 1, c: 4, m: 4, group: 4, in: []int{6, 6}, k: []int{4, 4}, strides: []int{2, 2}, pads: []int{1, 1, 1, 1}}},
		{convCase: convCase{n: 1, c: 3, m: 2, in: []int{5, 4}, k: []int{3, 3}, strides: []int{2, 2}}, outShape: []int{10, 8}},
		{convCase: convCase{n: 1, c: 3, m: 2, in: []int{5, 4}, k: []int{3, 3}, strides: []int{2, 2}, autoPad: "SAME_UPPER"}, outShape: []int{10, 8}},
		{convCase: convCase{n: 1, c: 2, m: 3, in: []int{3, 3}, k: []int{3, 3}, strides: []int{3, 2}, bias: true}, outShape: []int{12, 9}}, // larger than the natural 9x7
		{convCase: convCase{n: 1, c: 2, m: 3, in: []int{3, 3}, k: []int{3, 3}, strides: []int{3, 2}, autoPad: "SAME_UPPER"}, outShape: []int{10, 8}},
		{convCase: convCase{n: 1, c: 3, m: 2, in: []int{5, 4}, k: []int{3, 3}, strides: []int{2, 2}, autoPad: "SAME_LOWER"}},
		{convCase: convCase{n: 1, c: 3, m: 2, in: []int{5, 4}, k: []int{3, 3}, strides: []int{2, 2}, autoPad: "SAME_UPPER", bias: true}},
		{convCase: convCase{n: 2, c: 5, m: 3, in: []int{11}, k: []int{4}, strides: []int{3}, pads: []int{1, 2}, bias: true}, outPad: []int{1}}, // 1-D
		{convCase: convCase{n: 1, c: 2, m: 3, in: []int{3, 4, 3}, k: []int{2, 3, 2}, strides: []int{2, 1, 2}, pads: []int{0, 1, 0, 1, 1, 0}}},  // 3-D
		{convCase: convCase{n: 1, c: 32, m: 16, in: []int{9, 9}, k: []int{4, 4}, strides: []int{2, 2}, pads: []int{1, 1, 1, 1}, bias: true}},
	}
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
		for i, c := range cases {
			c.convCase = c.convCase.fill()
			sp := len(c.in)
			if c.outPad == nil {
				c.outPad = make([]int, sp)
			}
			constW := i%2 == 0 // packed constant weights, or fed weights
			t.Run(fmt.Sprintf("%v/%d/const=%v", dt, i, constW), func(t *testing.T) {
				x := randTensor(r, dt, append([]int{c.n, c.c}, c.in...)...)
				w := randTensor(r, dt, append([]int{c.c, c.m / c.group}, c.k...)...)
				ins := []nodeInput{feed(x), feed(w)}
				if constW {
					ins[1] = konst(w)
				}
				var b *tensor.Tensor
				if c.bias {
					b = randTensor(r, dt, c.m)
					ins = append(ins, konst(b))
				}
				a := c.attrs()
				a["output_padding"] = graph.Ints(int64s(c.outPad)...)
				if c.outShape != nil {
					a["output_shape"] = graph.Ints(int64s(c.outShape)...)
				}
				out, err := runOp("ConvTranspose", a, 1, ins...)
				if err != nil {
					t.Fatal(err)
				}
				shape, want := refConvTranspose(c.convCase, c.outPad, c.outShape, x, w, b)
				closeTo(t, "ConvTranspose", out[0], shape, want, math.Sqrt(float64(c.c*tensor.NumElements(c.k)))+1)
			})
		}
	}
}

func TestConvTransposeErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	f := func(s ...int) *tensor.Tensor { return randTensor(r, tensor.Float32, s...) }
	_, err := runOp("ConvTranspose", nil, 1, feed(f(1, 3, 5, 5)), feed(f(2, 4, 3, 3)))
	wantErr(t, "channel mismatch", err)
	_, err = runOp("ConvTranspose", graph.Attrs{"output_padding": graph.Ints(3, 0)}, 1, feed(f(1, 2, 5, 5)), feed(f(2, 4, 3, 3)))
	wantErr(t, "output_padding too large", err)
	_, err = runOp("ConvTranspose", graph.Attrs{"output_shape": graph.Ints(0, 5)}, 1, feed(f(1, 2, 5, 5)), feed(f(2, 4, 3, 3)))
	wantErr(t, "output_shape not positive", err)
}
