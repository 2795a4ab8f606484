package ops

import (
	"sort"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// NonMaxSuppression's output length depends on the data, so inference runs the
// selection (NMSSelect) when the inputs are known, and the kernel runs it again.
func init() {
	xRegisterExtra(Schema{Name: "NonMaxSuppression", Doc: "greedy per-class box selection by score and IoU; [selected, 3] (batch, class, box)",
		Inputs: Arity{2, 5}, Outputs: Arity{1, 1}, Infer: xInferNMS})
}

func xInferNMS(c *InferContext) ([]graph.Type, error) {
	for i := 0; i < len(c.In); i++ {
		if c.Has(i) && c.Const(i) == nil {
			return []graph.Type{Typed(tensor.Int64, graph.Shape{{Size: -1}, {Size: 3}})}, nil
		}
	}
	sel, err := NMSSelect(c.Node, c.Consts)
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	return []graph.Type{Typed(tensor.Int64, graph.ShapeOf(len(sel), 3))}, nil
}

// NMSSelect runs NonMaxSuppression on its inputs (boxes [B, N, 4], scores [B, C, N],
// optional max_output_boxes_per_class, iou_threshold, score_threshold), following the
// ONNX reference, and returns the selected (batch, class, box) triples.
func NMSSelect(n *graph.Node, ins []*tensor.Tensor) ([][3]int64, error) {
	boxes, scores := ins[0], ins[1]
	opt := func(i int) *tensor.Tensor {
		if i < len(ins) && ins[i] != nil && ins[i].Len() > 0 {
			return ins[i]
		}
		return nil
	}
	bs, ss := boxes.Shape(), scores.Shape()
	if len(bs) != 3 || bs[2] != 4 || len(ss) != 3 || ss[0] != bs[0] || ss[2] != bs[1] {
		return nil, errorf("boxes %v and scores %v: expected [B, N, 4] and [B, C, N]", bs, ss)
	}
	maxOut := int64(0)
	if t := opt(2); t != nil {
		maxOut = max(t.Int64At(0), 0)
	}
	iou := 0.0
	if t := opt(3); t != nil {
		iou = t.Float64At(0)
	}
	thr, hasThr := 0.0, false
	if t := opt(4); t != nil {
		thr, hasThr = t.Float64At(0), true
	}
	center := n.Attrs.GetInt("center_point_box", 0) != 0
	bv, sv := boxes.AsFloat64s(), scores.AsFloat64s()
	B, C, N := bs[0], ss[1], bs[1]
	var out [][3]int64
	type cand struct {
		score float64
		idx   int
	}
	for b := 0; b < B; b++ {
		box := func(i int) []float64 { return bv[(b*N+i)*4 : (b*N+i+1)*4] }
		for c := 0; c < C; c++ {
			var cands []cand
			for i := 0; i < N; i++ {
				s := sv[(b*C+c)*N+i]
				if !hasThr || s > thr {
					cands = append(cands, cand{s, i})
				}
			}
			// highest score first; among equal scores the lower index first
			sort.SliceStable(cands, func(i, j int) bool {
				if cands[i].score != cands[j].score {
					return cands[i].score > cands[j].score
				}
				return cands[i].idx < cands[j].idx
			})
			var kept []int
			for _, cd := range cands {
				if int64(len(kept)) >= maxOut {
					break
				}
				ok := true
				for _, k := range kept {
					if nmsSuppress(box(cd.idx), box(k), center, iou) {
						ok = false
						break
					}
				}
				if ok {
					kept = append(kept, cd.idx)
					out = append(out, [3]int64{int64(b), int64(c), int64(cd.idx)})
				}
			}
		}
	}
	return out, nil
}

func nmsSuppress(a, b []float64, center bool, thr float64) bool {
	var ax0, ax1, ay0, ay1, bx0, bx1, by0, by1 float64
	if center {
		ax0, ax1 = a[0]-a[2]/2, a[0]+a[2]/2
		ay0, ay1 = a[1]-a[3]/2, a[1]+a[3]/2
		bx0, bx1 = b[0]-b[2]/2, b[0]+b[2]/2
		by0, by1 = b[1]-b[3]/2, b[1]+b[3]/2
	} else {
		ax0, ax1 = min(a[1], a[3]), max(a[1], a[3])
		ay0, ay1 = min(a[0], a[2]), max(a[0], a[2])
		bx0, bx1 = min(b[1], b[3]), max(b[1], b[3])
		by0, by1 = min(b[0], b[2]), max(b[0], b[2])
	}
	ix0, ix1 := max(ax0, bx0), min(ax1, bx1)
	iy0, iy1 := max(ay0, by0), min(ay1, by1)
	if ix1 <= ix0 || iy1 <= iy0 {
		return false
	}
	inter := (ix1 - ix0) * (iy1 - iy0)
	a1, a2 := (ax1-ax0)*(ay1-ay0), (bx1-bx0)*(by1-by0)
	union := a1 + a2 - inter
	if a1 <= 0 || a2 <= 0 || union <= 0 {
		return false
	}
	return inter/union > thr
}
