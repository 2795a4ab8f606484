package cpu

import (
	"math"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// ONNX Attention, computed in float64 following onnx/reference/ops/op_attention.py:
// Q and K are each scaled by sqrt(scale); softcap before the additive bias (mask,
// causal frontier offset by the cache length, sliding window, non-pad lengths); a row
// whose bias is all -inf yields zeros.

func init() {
	registerExtra("", "Attention", xSimple(xRunONNXAttention))
}

// xHeads4 is a float64 copy of a 4-D [B, H, S, D] tensor.
type xHeads4 struct {
	v          []float64
	B, H, S, D int
}

func (h *xHeads4) at(b, hh, s, d int) float64 { return h.v[((b*h.H+hh)*h.S+s)*h.D+d] }

// xToHeads converts a 4-D tensor, or a 3-D [B, S, H*D] one split into heads.
func xToHeads(t *tensor.Tensor, heads int) xHeads4 {
	v := toFloat64s(t)
	s := t.Shape()
	if len(s) == 4 {
		return xHeads4{v, s[0], s[1], s[2], s[3]}
	}
	B, S, D := s[0], s[1], s[2]/heads
	out := make([]float64, len(v))
	for b := 0; b < B; b++ {
		for i := 0; i < S; i++ {
			for h := 0; h < heads; h++ {
				copy(out[((b*heads+h)*S+i)*D:((b*heads+h)*S+i+1)*D], v[(b*S+i)*heads*D+h*D:(b*S+i)*heads*D+(h+1)*D])
			}
		}
	}
	return xHeads4{out, B, heads, S, D}
}

// xConcatSeq joins a past cache and new keys or values along the sequence axis.
func xConcatSeq(past *xHeads4, cur xHeads4) xHeads4 {
	if past == nil {
		return cur
	}
	S := past.S + cur.S
	out := make([]float64, cur.B*cur.H*S*cur.D)
	for b := 0; b < cur.B; b++ {
		for h := 0; h < cur.H; h++ {
			dst := out[(b*cur.H+h)*S*cur.D:]
			n := copy(dst, past.v[(b*cur.H+h)*past.S*past.D:(b*cur.H+h+1)*past.S*past.D])
			copy(dst[n:], cur.v[(b*cur.H+h)*cur.S*cur.D:(b*cur.H+h+1)*cur.S*cur.D])
		}
	}
	return xHeads4{out, cur.B, cur.H, S, cur.D}
}

func xRunONNXAttention(n *graph.Node, in, out []*tensor.Tensor) error {
	opt := func(i int) *tensor.Tensor {
		if i < len(in) {
			return in[i]
		}
		return nil
	}
	q3 := in[0].Rank() == 3
	qh, kvh := int(n.Attrs.GetInt("q_num_heads", 0)), int(n.Attrs.GetInt("kv_num_heads", 0))
	if !q3 {
		qh, kvh = in[0].Shape()[1], in[1].Shape()[1]
	}
	if qh <= 0 || kvh <= 0 || qh%kvh != 0 {
		return xExtraErr(n, "q heads %d and kv heads %d: q heads must be a multiple of kv heads", qh, kvh)
	}
	Q, K, V := xToHeads(in[0], qh), xToHeads(in[1], kvh), xToHeads(in[2], kvh)
	var pastK, pastV *xHeads4
	if p := opt(4); p != nil {
		h := xToHeads(p, kvh)
		pastK = &h
	}
	if p := opt(5); p != nil {
		h := xToHeads(p, kvh)
		pastV = &h
	}
	K, V = xConcatSeq(pastK, K), xConcatSeq(pastV, V)
	if len(out) > 1 && out[1] != nil {
		fromFloat64s(out[1], K.v)
	}
	if len(out) > 2 && out[2] != nil {
		fromFloat64s(out[2], V.v)
	}
	B, Sq, T, D, Dv := Q.B, Q.S, K.S, Q.D, V.D
	scale := 1 / math.Sqrt(float64(D))
	if n.Attrs.Has("scale") {
		scale = float64(n.Attrs.GetFloat("scale", 1))
	}
	// The reference scales Q and K by sqrt(scale) in the input precision.
	sqs := math.Sqrt(scale)
	if in[0].DType() == tensor.Float32 {
		sqs = float64(float32(sqs))
	}
	softcap := float64(n.Attrs.GetFloat("softcap", 0))
	mode := n.Attrs.GetInt("qk_matmul_output_mode", 0)
	causal := n.Attrs.GetInt("is_causal", 0) != 0
	left, right := int(n.Attrs.GetInt("left_window_size", -1)), int(n.Attrs.GetInt("right_window_size", -1))
	mask, nonpad := opt(3), opt(6)
	var mv []float64
	var ms []int
	if mask != nil {
		mv, ms = toFloat64s(mask), mask.Shape()
	}
	past := 0
	if pastK != nil {
		past = pastK.S
	}
	negInf := math.Inf(-1)
	bias := func(b, h, i, j int) float64 {
		var x float64
		if mask != nil {
			// right-aligned broadcast of the mask to [B, qh, Sq, T]; keys past its end are masked
			full := []int{b, h, i, j}
			if j >= ms[len(ms)-1] {
				x = negInf
			} else {
				off, stride := 0, 1
				dims := []int{B, qh, Sq, T}
				for d := 1; d <= len(ms); d++ {
					c := full[4-d]
					if ms[len(ms)-d] == 1 {
						c = 0
					}
					_ = dims
					off += c * stride
					stride *= ms[len(ms)-d]
				}
				x = mv[off]
				if mask.DType() == tensor.Bool {
					x = 0
					if mv[off] == 0 {
						x = negInf
					}
				}
			}
		}
		offset := past
		if pastK == nil && nonpad != nil {
			offset = int(nonpad.Int64At(b)) - Sq
		}
		if causal && j > i+offset {
			x += negInf
		}
		if left >= 0 || right >= 0 {
			diff := i + offset - j
			if (left >= 0 && diff > left) || (right >= 0 && -diff > right) {
				x += negInf
			}
		}
		if nonpad != nil && j >= int(nonpad.Int64At(b)) {
			x += negInf
		}
		return x
	}
	reps := qh / kvh
	y := make([]float64, B*qh*Sq*Dv)
	var qk []float64
	if len(out) > 3 && out[3] != nil {
		qk = make([]float64, B*qh*Sq*T)
	}
	raw, row, bs := make([]float64, T), make([]float64, T), make([]float64, T)
	for b := 0; b < B; b++ {
		for h := 0; h < qh; h++ {
			kh := h / reps
			for i := 0; i < Sq; i++ {
				allMasked := true
				for j := 0; j < T; j++ {
					var s float64
					for d := 0; d < D; d++ {
						s += Q.at(b, h, i, d) * sqs * K.at(b, kh, j, d) * sqs
					}
					if softcap > 0 {
						s = softcap * math.Tanh(s/softcap)
					}
					raw[j] = s
					bs[j] = bias(b, h, i, j)
					row[j] = s + bs[j]
					if !math.IsInf(bs[j], -1) {
						allMasked = false
					}
				}
				qkRow := raw
				if mode == 2 {
					copy(bs, row) // the biased scores; bs is free after the loop above
					qkRow = bs
				}
				if allMasked {
					for j := range row {
						row[j] = 0
					}
				} else {
					m := negInf
					for _, v := range row {
						m = math.Max(m, v)
					}
					var sum float64
					for j, v := range row {
						row[j] = math.Exp(v - m)
						sum += row[j]
					}
					for j := range row {
						row[j] /= sum
					}
				}
				if mode == 3 {
					qkRow = row
				}
				if qk != nil {
					copy(qk[((b*qh+h)*Sq+i)*T:], qkRow)
				}
				for d := 0; d < Dv; d++ {
					var s float64
					for j := 0; j < T; j++ {
						s += row[j] * V.at(b, kh, j, d)
					}
					if q3 {
						y[(b*Sq+i)*qh*Dv+h*Dv+d] = s
					} else {
						y[((b*qh+h)*Sq+i)*Dv+d] = s
					}
				}
			}
		}
	}
	fromFloat64s(out[0], y)
	if qk != nil {
		fromFloat64s(out[3], qk)
	}
	return nil
}
