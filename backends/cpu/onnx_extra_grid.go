package cpu

import (
	"math"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// GridSample after onnx/reference/ops/op_grid_sample.py: the separable nested 1-D
// interpolation of the reference is written as a product of per-axis taps.

func init() {
	registerExtra("", "GridSample", xSimple(xRunGridSample))
}

func xGsReflect(x, lo, hi float64) float64 {
	rng := hi - lo
	if x < lo {
		dx := lo - x
		n := math.Floor(dx / rng)
		r := dx - n*rng
		if int(n)%2 == 0 {
			return lo + r
		}
		return hi - r
	}
	if x > hi {
		dx := x - hi
		n := math.Floor(dx / rng)
		r := dx - n*rng
		if int(n)%2 == 0 {
			return hi - r
		}
		return lo + r
	}
	return x
}

type xGsTap struct {
	idx int // -1: a zero pixel
	w   float64
}

func xRunGridSample(n *graph.Node, in, out []*tensor.Tensor) error {
	x, grid, y := in[0], in[1], out[0]
	xs, gs := x.Shape(), grid.Shape()
	nd := len(xs) - 2
	if gs[len(gs)-1] != nd {
		return xExtraErr(n, "grid's last dimension is %d, expected %d", gs[len(gs)-1], nd)
	}
	mode := n.Attrs.GetString("mode", "linear")
	switch mode {
	case "bilinear":
		mode = "linear"
	case "bicubic":
		mode = "cubic"
	}
	pad := n.Attrs.GetString("padding_mode", "zeros")
	align := n.Attrs.GetInt("align_corners", 0) != 0
	dims := xs[2:]
	lo, hi := make([]float64, nd), make([]float64, nd)
	for i, d := range dims {
		lo[i], hi[i] = -0.5, float64(d)-0.5
		if align {
			lo[i], hi[i] = 0, float64(d)-1
		}
	}
	pixel := func(i, d int) int {
		switch pad {
		case "border":
			return min(max(i, 0), dims[d]-1)
		case "reflection":
			return int(xGsReflect(float64(i), lo[d], hi[d]))
		}
		if i < 0 || i >= dims[d] {
			return -1
		}
		return i
	}
	xv, gv := toFloat64s(x), toFloat64s(grid)
	N, C := xs[0], xs[1]
	spatial := xProd(dims)
	points := xProd(gs[1 : len(gs)-1])
	xst := xStridesOf(dims)
	yv := make([]float64, y.Len())
	taps := make([][]xGsTap, nd)
	pick := make([]int, nd)
	for b := 0; b < N; b++ {
		for p := 0; p < points; p++ {
			g := gv[(b*points+p)*nd : (b*points+p+1)*nd]
			for d := 0; d < nd; d++ {
				v := g[nd-1-d] // the grid lists the innermost axis first
				var c float64
				if align {
					c = (v + 1) / 2 * float64(dims[d]-1)
				} else {
					c = ((v+1)*float64(dims[d]) - 1) / 2
				}
				if mode == "nearest" {
					c = math.RoundToEven(c)
				}
				if c < lo[d] || c > hi[d] {
					switch pad {
					case "border":
						c = math.Min(math.Max(c, 0), float64(dims[d]-1))
					case "reflection":
						c = xGsReflect(c, lo[d], hi[d])
					}
				}
				taps[d] = taps[d][:0]
				switch mode {
				case "nearest":
					taps[d] = append(taps[d], xGsTap{pixel(int(c), d), 1})
				case "cubic":
					x0 := math.Floor(c)
					t := c - x0
					for k := -1; k <= 2; k++ {
						taps[d] = append(taps[d], xGsTap{pixel(int(x0)+k, d), xCubicWeight(t-float64(k), -0.75)})
					}
				default:
					x0 := math.Floor(c)
					t := c - x0
					taps[d] = append(taps[d], xGsTap{pixel(int(x0), d), 1 - t}, xGsTap{pixel(int(x0)+1, d), t})
				}
			}
			for ch := 0; ch < C; ch++ {
				base := (b*C + ch) * spatial
				var sum float64
				for d := range pick {
					pick[d] = 0
				}
				for {
					w, off := 1.0, 0
					for d := 0; d < nd; d++ {
						t := taps[d][pick[d]]
						if t.idx < 0 {
							w = 0
							break
						}
						w *= t.w
						off += t.idx * xst[d]
					}
					if w != 0 {
						sum += w * xv[base+off]
					}
					d := nd - 1
					for ; d >= 0; d-- {
						pick[d]++
						if pick[d] < len(taps[d]) {
							break
						}
						pick[d] = 0
					}
					if d < 0 {
						break
					}
				}
				yv[(b*C+ch)*points+p] = sum
			}
		}
	}
	fromFloat64s(y, yv)
	return nil
}
