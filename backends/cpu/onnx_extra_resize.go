package cpu

import (
	"math"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// Resize follows the ONNX reference implementation (onnx/reference/ops/op_resize.py):
// each axis maps an output coordinate to an input coordinate, then a 1-D filter
// (nearest, linear or cubic, widened when antialiasing a downscale) picks taps whose
// indices are clamped to the edge. N-D outputs take the product of the axes' taps.

func init() {
	registerExtra("", "Resize", xSimple(xRunResize))
	registerExtra("", "Upsample", xSimple(xRunResize))
}

type xResizeTap struct {
	idx int
	w   float64
}

// xResizeAxis lists, for each output coordinate of one axis, its input taps; outside
// marks coordinates beyond the input (tf_crop_and_resize extrapolation).
type xResizeAxis struct {
	taps    [][]xResizeTap
	outside []bool
}

func xRunResize(n *graph.Node, in, out []*tensor.Tensor) error {
	x, y := in[0], out[0]
	geo, err := ops.ResizeGeometryOf(n, x.Shape(), in)
	if err != nil {
		return xExtraErr(n, "%v", err)
	}
	opset := n.Attrs.GetInt("_opset", 0)
	mode := n.Attrs.GetString("mode", "nearest")
	coord := n.Attrs.GetString("coordinate_transformation_mode", "half_pixel")
	nearest := n.Attrs.GetString("nearest_mode", "round_prefer_floor")
	if n.Op == "Upsample" || (opset > 0 && opset < 11) {
		coord, nearest = "asymmetric", "floor"
		if mode == "bilinear" || mode == "trilinear" {
			mode = "linear"
		}
	}
	antialias := n.Attrs.GetInt("antialias", 0) != 0
	a := float64(n.Attrs.GetFloat("cubic_coeff_a", -0.75))
	exclude := n.Attrs.GetInt("exclude_outside", 0) != 0
	extrap := float64(n.Attrs.GetFloat("extrapolation_value", 0))
	xs, ys := x.Shape(), y.Shape()
	r := len(xs)
	axes := make([]xResizeAxis, r)
	for d := 0; d < r; d++ {
		inLen, outLen, scale := xs[d], ys[d], geo.Scales[d]
		at := xResizeAxis{taps: make([][]xResizeTap, outLen), outside: make([]bool, outLen)}
		identity := inLen == outLen && scale == 1 && coord != "tf_crop_and_resize"
		for o := 0; o < outLen; o++ {
			if identity {
				at.taps[o] = []xResizeTap{{o, 1}}
				continue
			}
			xo := xOriginalCoord(coord, float64(o), scale, outLen, inLen, geo.Roi, d, r)
			if coord == "tf_crop_and_resize" && (xo < 0 || xo > float64(inLen-1)) {
				at.outside[o] = true
				continue
			}
			at.taps[o] = xFilterTaps(mode, nearest, xo, scale, a, antialias, exclude, inLen)
		}
		axes[d] = at
	}
	xv := toFloat64s(x)
	yv := make([]float64, y.Len())
	xst := xStridesOf(xs)
	coords := make([]int, r)
	pick := make([]int, r)
	for i := range yv {
		outside := false
		for d := 0; d < r; d++ {
			if axes[d].outside[coords[d]] {
				outside = true
			}
		}
		if outside {
			yv[i] = extrap
		} else {
			var sum float64
			for d := range pick {
				pick[d] = 0
			}
			for {
				w, off := 1.0, 0
				for d := 0; d < r; d++ {
					t := axes[d].taps[coords[d]][pick[d]]
					w *= t.w
					off += t.idx * xst[d]
				}
				sum += w * xv[off]
				d := r - 1
				for ; d >= 0; d-- {
					pick[d]++
					if pick[d] < len(axes[d].taps[coords[d]]) {
						break
					}
					pick[d] = 0
				}
				if d < 0 {
					break
				}
			}
			yv[i] = sum
		}
		for d := r - 1; d >= 0; d-- {
			coords[d]++
			if coords[d] < ys[d] {
				break
			}
			coords[d] = 0
		}
	}
	if y.DType().IsInteger() {
		for i, v := range yv {
			yv[i] = math.RoundToEven(v)
		}
	}
	fromFloat64s(y, yv)
	return nil
}

// xOriginalCoord maps output coordinate o of axis d to the input axis.
func xOriginalCoord(mode string, o, scale float64, outLen, inLen int, roi []float64, d, rank int) float64 {
	switch mode {
	case "asymmetric":
		return o / scale
	case "align_corners":
		// the reference divides by the unrounded output length, in * scale
		resized := scale * float64(inLen)
		if resized == 1 {
			return 0
		}
		return o * float64(inLen-1) / (resized - 1)
	case "pytorch_half_pixel":
		if outLen == 1 {
			return 0
		}
		return (o+0.5)/scale - 0.5
	case "half_pixel_symmetric":
		adj := float64(outLen) / (scale * float64(inLen))
		center := float64(inLen) / 2
		return center*(1-adj) + (o+0.5)/scale - 0.5
	case "tf_crop_and_resize":
		start, end := roi[d], roi[rank+d]
		if outLen == 1 {
			return (end - start) * float64(inLen-1) / 2
		}
		return start*float64(inLen-1) + o*(end-start)*float64(inLen-1)/float64(outLen-1)
	}
	return (o+0.5)/scale - 0.5 // half_pixel
}

func xCubicWeight(x, a float64) float64 {
	x = math.Abs(x)
	switch {
	case x <= 1:
		return ((a+2)*x-(a+3))*x*x + 1
	case x < 2:
		return ((a*x-5*a)*x+8*a)*x - 4*a
	}
	return 0
}

// xFilterTaps returns the taps of one output coordinate whose input coordinate is xo.
func xFilterTaps(mode, nearest string, xo, scale, a float64, antialias, exclude bool, inLen int) []xResizeTap {
	clamp := func(i int) int { return min(max(i, 0), inLen-1) }
	if mode == "nearest" {
		var i float64
		switch nearest {
		case "floor":
			i = math.Floor(xo)
		case "ceil":
			i = math.Ceil(xo)
		case "round_prefer_ceil":
			i = math.Floor(xo + 0.5)
		default: // round_prefer_floor
			i = math.Ceil(xo - 0.5)
		}
		return []xResizeTap{{clamp(int(i)), 1}}
	}
	ratio := xo - math.Floor(xo)
	if ratio == 0 {
		ratio = 1 // prefer the pixel on the left, as the reference does
	}
	var w []float64
	s := 1.0
	if antialias && scale < 1 {
		s = scale
	}
	if mode == "cubic" {
		start := int(math.Floor(-2/s) + 1)
		for i := start; i < 2-start; i++ {
			w = append(w, xCubicWeight(s*(float64(i)-ratio), a))
		}
	} else {
		start := int(math.Floor(-1/s) + 1)
		for i := start; i < 2-start; i++ {
			w = append(w, math.Max(0, 1-math.Abs((float64(i)-ratio)*s)))
		}
	}
	first := int(math.Ceil(xo)) - len(w)/2
	var sum float64
	taps := make([]xResizeTap, 0, len(w))
	for j, wj := range w {
		idx := first + j
		if exclude && (idx < 0 || idx >= inLen) {
			continue
		}
		sum += wj
		taps = append(taps, xResizeTap{clamp(idx), wj})
	}
	if antialias || exclude {
		for j := range taps {
			taps[j].w /= sum
		}
	}
	return taps
}
