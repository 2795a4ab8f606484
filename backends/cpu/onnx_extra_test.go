package cpu_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// Tests of the ONNX extra kernels (onnx_extra*.go) against plain float64 references on
// random inputs of awkward sizes. The ONNX conformance suite (engine/formats/onnx)
// checks them against the ONNX project's expected outputs as well.

func xCloseTo(t *testing.T, what string, got *tensor.Tensor, want []float64, tol float64) {
	t.Helper()
	if got.Len() != len(want) {
		t.Fatalf("%s: %d elements, want %d", what, got.Len(), len(want))
	}
	for i, w := range want {
		if g := got.Float64At(i); math.Abs(g-w) > tol*(1+math.Abs(w)) {
			t.Fatalf("%s: element %d = %g, want %g", what, i, g, w)
		}
	}
}

func TestExtraDepthSpaceRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, mode := range []string{"DCR", "CRD"} {
		x := randTensor(r, tensor.Float32, 2, 12, 3, 5)
		d2s, err := runOp("DepthToSpace", graph.Attrs{"blocksize": graph.Int(2), "mode": graph.String(mode)}, 1, feed(x))
		if err != nil {
			t.Fatal(err)
		}
		if s := d2s[0].Shape(); s[1] != 3 || s[2] != 6 || s[3] != 10 {
			t.Fatalf("DepthToSpace shape %v", s)
		}
		if mode == "CRD" {
			continue // SpaceToDepth inverts the DCR layout only
		}
		back, err := runOp("SpaceToDepth", graph.Attrs{"blocksize": graph.Int(2)}, 1, feed(d2s[0]))
		if err != nil {
			t.Fatal(err)
		}
		xCloseTo(t, "SpaceToDepth(DepthToSpace(x))", back[0], x.AsFloat64s(), 0)
	}
}

func TestExtraGatherScatterND(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	data := randTensor(r, tensor.Float32, 3, 4, 5)
	idx := tensor.New(tensor.Int64, []int{2, 3, 2})
	for i := 0; i < 6; i++ {
		idx.Int64s()[2*i] = int64(r.IntN(3)) - 3*int64(r.IntN(2)) // negative indices too
		idx.Int64s()[2*i+1] = int64(r.IntN(4))
	}
	out, err := runOp("GatherND", nil, 1, feed(data), feed(idx))
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float64, 0, 6*5)
	for i := 0; i < 6; i++ {
		a, b := int(idx.Int64s()[2*i]), int(idx.Int64s()[2*i+1])
		if a < 0 {
			a += 3
		}
		for k := 0; k < 5; k++ {
			want = append(want, data.Float64At((a*4+b)*5+k))
		}
	}
	xCloseTo(t, "GatherND", out[0], want, 0)

	// ScatterND with reduction add: duplicates accumulate.
	updates := randTensor(r, tensor.Float32, 2, 3, 5)
	out, err = runOp("ScatterND", graph.Attrs{"reduction": graph.String("add")}, 1, feed(data), feed(idx), feed(updates))
	if err != nil {
		t.Fatal(err)
	}
	ref := data.AsFloat64s()
	for i := 0; i < 6; i++ {
		a, b := int(idx.Int64s()[2*i]), int(idx.Int64s()[2*i+1])
		if a < 0 {
			a += 3
		}
		for k := 0; k < 5; k++ {
			ref[(a*4+b)*5+k] += updates.Float64At(i*5 + k)
		}
	}
	xCloseTo(t, "ScatterND add", out[0], ref, 1e-6)

	bad := tensor.New(tensor.Int64, []int{1, 2})
	bad.Int64s()[0] = 7
	if _, err := runOp("GatherND", nil, 1, feed(data), feed(bad)); err == nil {
		t.Error("GatherND with an out-of-range index: no error")
	}
}

func TestExtraOneHot(t *testing.T) {
	idx := tensor.New(tensor.Int64, []int{2, 3})
	copy(idx.Int64s(), []int64{0, 4, -1, 2, 9, -5})
	depth := tensor.New(tensor.Int64, nil)
	depth.Int64s()[0] = 5
	vals := tensor.New(tensor.Float32, []int{2})
	copy(vals.Float32s(), []float32{-1, 3})
	out, err := runOp("OneHot", graph.Attrs{"axis": graph.Int(1)}, 1, feed(idx), konst(depth), feed(vals))
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float64, 2*5*3)
	for b := 0; b < 2; b++ {
		for j := 0; j < 3; j++ {
			v := int(idx.Int64s()[b*3+j])
			if v < 0 {
				v += 5
			}
			for d := 0; d < 5; d++ {
				want[(b*5+d)*3+j] = -1
				if d == v {
					want[(b*5+d)*3+j] = 3
				}
			}
		}
	}
	xCloseTo(t, "OneHot", out[0], want, 0)
}

func TestExtraAttentionMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	B, H, S, T, D := 2, 3, 5, 7, 4
	q, k, v := randTensor(r, tensor.Float32, B, H, S, D), randTensor(r, tensor.Float32, B, H, T, D), randTensor(r, tensor.Float32, B, H, T, D)
	out, err := runOp("Attention", graph.Attrs{}, 1, feed(q), feed(k), feed(v))
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float64, B*H*S*D)
	for b := 0; b < B; b++ {
		for h := 0; h < H; h++ {
			for i := 0; i < S; i++ {
				p := make([]float64, T)
				m := math.Inf(-1)
				for j := 0; j < T; j++ {
					for d := 0; d < D; d++ {
						p[j] += q.Float64At(((b*H+h)*S+i)*D+d) * k.Float64At(((b*H+h)*T+j)*D+d)
					}
					p[j] /= math.Sqrt(float64(D))
					m = math.Max(m, p[j])
				}
				var sum float64
				for j := range p {
					p[j] = math.Exp(p[j] - m)
					sum += p[j]
				}
				for d := 0; d < D; d++ {
					for j := 0; j < T; j++ {
						want[((b*H+h)*S+i)*D+d] += p[j] / sum * v.Float64At(((b*H+h)*T+j)*D+d)
					}
				}
			}
		}
	}
	xCloseTo(t, "Attention", out[0], want, 1e-5)
}

func TestExtraResizeLinear(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	x := randTensor(r, tensor.Float32, 1, 2, 3, 5)
	scales := tensor.New(tensor.Float32, []int{4})
	copy(scales.Float32s(), []float32{1, 1, 2, 2})
	out, err := runOp("Resize", graph.Attrs{"mode": graph.String("linear")}, 1, feed(x), omitted, konst(scales))
	if err != nil {
		t.Fatal(err)
	}
	src := func(o, n int) (int, int, float64) { // half_pixel, clamped
		c := math.Max((float64(o)+0.5)/2-0.5, 0)
		i0 := int(math.Floor(c))
		i1 := min(i0+1, n-1)
		return i0, i1, c - float64(i0)
	}
	want := make([]float64, 0, 2*6*10)
	for ch := 0; ch < 2; ch++ {
		for oy := 0; oy < 6; oy++ {
			y0, y1, fy := src(oy, 3)
			for ox := 0; ox < 10; ox++ {
				x0, x1, fx := src(ox, 5)
				at := func(y, xx int) float64 { return x.Float64At((ch*3+y)*5 + xx) }
				top := at(y0, x0)*(1-fx) + at(y0, x1)*fx
				bot := at(y1, x0)*(1-fx) + at(y1, x1)*fx
				want = append(want, top*(1-fy)+bot*fy)
			}
		}
	}
	xCloseTo(t, "Resize linear", out[0], want, 1e-5)
}

func TestExtraGridSampleIdentity(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	x := randTensor(r, tensor.Float32, 2, 3, 4, 6)
	grid := tensor.New(tensor.Float32, []int{2, 4, 6, 2})
	for b := 0; b < 2; b++ {
		for i := 0; i < 4; i++ {
			for j := 0; j < 6; j++ {
				g := grid.Float32s()[((b*4+i)*6+j)*2:]
				g[0], g[1] = float32(-1+2*float64(j)/5), float32(-1+2*float64(i)/3)
			}
		}
	}
	for _, mode := range []string{"nearest", "linear", "cubic"} {
		out, err := runOp("GridSample", graph.Attrs{"align_corners": graph.Int(1), "mode": graph.String(mode)}, 1, feed(x), feed(grid))
		if err != nil {
			t.Fatal(err)
		}
		xCloseTo(t, "GridSample identity "+mode, out[0], x.AsFloat64s(), 1e-5)
	}
}
