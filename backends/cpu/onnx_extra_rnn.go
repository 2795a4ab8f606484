package cpu

import (
	"math"
	"strings"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// RNN, GRU and LSTM per the ONNX operator specification, computed in float64.

func init() {
	registerExtra("", "RNN", xSimple(xRunRecurrent))
	registerExtra("", "GRU", xSimple(xRunRecurrent))
	registerExtra("", "LSTM", xSimple(xRunRecurrent))
}

func xActivation(n *graph.Node, name string, i int) (func(float64) float64, error) {
	alphas, betas := n.Attrs.GetFloats("activation_alpha", nil), n.Attrs.GetFloats("activation_beta", nil)
	ab := func(defA, defB float64) (float64, float64) {
		a, b := defA, defB
		if i < len(alphas) {
			a = float64(alphas[i])
		}
		if i < len(betas) {
			b = float64(betas[i])
		}
		return a, b
	}
	switch strings.ToLower(name) {
	case "sigmoid":
		return func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }, nil
	case "tanh":
		return math.Tanh, nil
	case "relu":
		return func(x float64) float64 { return math.Max(x, 0) }, nil
	case "affine":
		a, b := ab(1, 0)
		return func(x float64) float64 { return a*x + b }, nil
	case "leakyrelu":
		a, _ := ab(0.01, 0)
		return func(x float64) float64 {
			if x < 0 {
				return a * x
			}
			return x
		}, nil
	case "thresholdedrelu":
		a, _ := ab(1, 0)
		return func(x float64) float64 {
			if x > a {
				return x
			}
			return 0
		}, nil
	case "scaledtanh":
		a, b := ab(1, 1)
		return func(x float64) float64 { return a * math.Tanh(b*x) }, nil
	case "hardsigmoid":
		a, b := ab(0.2, 0.5)
		return func(x float64) float64 { return math.Max(0, math.Min(1, a*x+b)) }, nil
	case "elu":
		a, _ := ab(1, 0)
		return func(x float64) float64 {
			if x < 0 {
				return a * (math.Exp(x) - 1)
			}
			return x
		}, nil
	case "softsign":
		return func(x float64) float64 { return x / (1 + math.Abs(x)) }, nil
	case "softplus":
		return func(x float64) float64 { return math.Log1p(math.Exp(x)) }, nil
	}
	return nil, xExtraErr(n, "unknown activation %q", name)
}

func xRunRecurrent(n *graph.Node, in, out []*tensor.Tensor) error {
	opt := func(i int) *tensor.Tensor {
		if i < len(in) && in[i] != nil && in[i].Len() > 0 {
			return in[i]
		}
		return nil
	}
	gates, defActs := 1, []string{"Tanh"}
	switch n.Op {
	case "GRU":
		gates, defActs = 3, []string{"Sigmoid", "Tanh"}
	case "LSTM":
		gates, defActs = 4, []string{"Sigmoid", "Tanh", "Tanh"}
	}
	x, w, r := in[0], in[1], in[2]
	layout := n.Attrs.GetInt("layout", 0)
	xs := x.Shape()
	seq, batch, inSize := xs[0], xs[1], xs[2]
	if layout == 1 {
		seq, batch = xs[1], xs[0]
	}
	dir := n.Attrs.GetString("direction", "forward")
	dirs := 1
	if dir == "bidirectional" {
		dirs = 2
	}
	H := r.Shape()[2]
	if w.Shape()[0] != dirs || w.Shape()[1] != gates*H || w.Shape()[2] != inSize {
		return xExtraErr(n, "W has shape %v, expected [%d, %d, %d]", w.Shape(), dirs, gates*H, inSize)
	}
	names := defActs
	if a := n.Attrs["activations"]; a.Kind == graph.AttrStrings && len(a.Strings) > 0 {
		names = a.Strings
	}
	k := len(defActs)
	acts := make([]func(float64) float64, dirs*k)
	for i := range acts {
		name := defActs[i%k]
		if i < len(names) {
			name = names[i]
		} else if len(names) == k {
			name = names[i%k]
		}
		f, err := xActivation(n, name, i)
		if err != nil {
			return err
		}
		acts[i] = f
	}
	clip := float64(n.Attrs.GetFloat("clip", 0))
	cl := func(v float64) float64 {
		if clip > 0 {
			return math.Max(-clip, math.Min(clip, v))
		}
		return v
	}
	lbr := n.Attrs.GetInt("linear_before_reset", 0) != 0
	inputForget := n.Attrs.GetInt("input_forget", 0) != 0
	xv, wv, rv := toFloat64s(x), toFloat64s(w), toFloat64s(r)
	var bv, h0, c0, pv []float64
	if t := opt(3); t != nil {
		bv = toFloat64s(t)
	}
	lens := make([]int, batch)
	for b := range lens {
		lens[b] = seq
	}
	if t := opt(4); t != nil {
		for b := range lens {
			lens[b] = int(t.Int64At(b))
		}
	}
	if t := opt(5); t != nil {
		h0 = toFloat64s(t)
	}
	if n.Op == "LSTM" {
		if t := opt(6); t != nil {
			c0 = toFloat64s(t)
		}
		if t := opt(7); t != nil {
			pv = toFloat64s(t)
		}
	}
	xAt := func(t, b, i int) float64 {
		if layout == 1 {
			return xv[(b*seq+t)*inSize+i]
		}
		return xv[(t*batch+b)*inSize+i]
	}
	stateAt := func(v []float64, d, b, j int) float64 {
		if v == nil {
			return 0
		}
		if layout == 1 {
			return v[(b*dirs+d)*H+j]
		}
		return v[(d*batch+b)*H+j]
	}
	Y := make([]float64, seq*dirs*batch*H)
	Yh := make([]float64, dirs*batch*H)
	Yc := make([]float64, dirs*batch*H)
	yIdx := func(t, d, b, j int) int {
		if layout == 1 {
			return ((b*seq+t)*dirs+d)*H + j
		}
		return ((t*dirs+d)*batch+b)*H + j
	}
	hIdx := func(d, b, j int) int {
		if layout == 1 {
			return (b*dirs+d)*H + j
		}
		return (d*batch+b)*H + j
	}
	G := gates * H
	pre := make([]float64, G) // X W^T + Wb
	rec := make([]float64, G) // H R^T + Rb
	for d := 0; d < dirs; d++ {
		reverse := dir == "reverse" || d == 1
		W := wv[d*G*inSize : (d+1)*G*inSize]
		R := rv[d*G*H : (d+1)*G*H]
		var Wb, Rb, P []float64
		if bv != nil {
			Wb, Rb = bv[d*2*G:d*2*G+G], bv[d*2*G+G:(d+1)*2*G]
		}
		if pv != nil {
			P = pv[d*3*H : (d+1)*3*H]
		}
		f, g, hfn := acts[d*k], acts[d*k], acts[d*k]
		if k > 1 {
			g = acts[d*k+1]
		}
		if k > 2 {
			hfn = acts[d*k+2]
		}
		for b := 0; b < batch; b++ {
			h := make([]float64, H)
			c := make([]float64, H)
			for j := 0; j < H; j++ {
				h[j] = stateAt(h0, d, b, j)
				c[j] = stateAt(c0, d, b, j)
			}
			L := min(lens[b], seq)
			for s := 0; s < L; s++ {
				t := s
				if reverse {
					t = L - 1 - s
				}
				for q := 0; q < G; q++ {
					var a, rr float64
					for i := 0; i < inSize; i++ {
						a += xAt(t, b, i) * W[q*inSize+i]
					}
					for i := 0; i < H; i++ {
						rr += h[i] * R[q*H+i]
					}
					if Wb != nil {
						a += Wb[q]
						rr += Rb[q]
					}
					pre[q], rec[q] = a, rr
				}
				switch n.Op {
				case "RNN":
					for j := 0; j < H; j++ {
						h[j] = f(cl(pre[j] + rec[j]))
					}
				case "GRU":
					nh := make([]float64, H)
					for j := 0; j < H; j++ {
						z := f(cl(pre[j] + rec[j]))
						rg := f(cl(pre[H+j] + rec[H+j]))
						var hh float64
						if lbr {
							hh = g(cl(pre[2*H+j] + rg*rec[2*H+j]))
						} else {
							var s float64
							for i := 0; i < H; i++ {
								s += rg * h[i] * R[(2*H+j)*H+i]
							}
							if Rb != nil {
								s += Rb[2*H+j]
							}
							hh = g(cl(pre[2*H+j] + s))
						}
						nh[j] = (1-z)*hh + z*h[j]
					}
					copy(h, nh)
				case "LSTM":
					for j := 0; j < H; j++ {
						var pi, po, pf float64
						if P != nil {
							pi, po, pf = P[j], P[H+j], P[2*H+j]
						}
						ig := f(cl(pre[j] + rec[j] + pi*c[j]))
						fg := f(cl(pre[2*H+j] + rec[2*H+j] + pf*c[j]))
						if inputForget {
							fg = 1 - ig
						}
						cc := g(cl(pre[3*H+j] + rec[3*H+j]))
						c[j] = fg*c[j] + ig*cc
						og := f(cl(pre[H+j] + rec[H+j] + po*c[j]))
						h[j] = og * hfn(c[j])
					}
				}
				for j := 0; j < H; j++ {
					Y[yIdx(t, d, b, j)] = h[j]
				}
			}
			for j := 0; j < H; j++ {
				Yh[hIdx(d, b, j)] = h[j]
				Yc[hIdx(d, b, j)] = c[j]
			}
		}
	}
	for i, v := range [][]float64{Y, Yh, Yc} {
		if i < len(out) && out[i] != nil {
			fromFloat64s(out[i], v)
		}
	}
	return nil
}
