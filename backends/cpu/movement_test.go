package cpu_test

import (
	"math/rand/v2"
	"testing"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// refMap builds the expected output of a movement op: src(idx) gives the input
// multi-index that output multi-index idx reads, or nil for the fill value.
func refMap(x *tensor.Tensor, outShape []int, fill float64, src func(idx []int) []int) []float64 {
	want := make([]float64, tensor.NumElements(outShape))
	for i := range want {
		s := src(multiIndex(i, outShape))
		if s == nil {
			want[i] = fill
			continue
		}
		want[i] = x.Float64At(flatIndex(s, x.Shape()))
	}
	return want
}

// seq makes a tensor of dtype dt holding 0, 1, 2, ... (wrapping at 100 for small types).
func seq(dt tensor.DType, shape ...int) *tensor.Tensor {
	t := tensor.New(dt, shape)
	for i := 0; i < t.Len(); i++ {
		v := float64(i)
		if dt.Size() < 4 || dt == tensor.Bool {
			v = float64(i % 100)
			if dt == tensor.Bool {
				v = float64(i % 2)
			}
		}
		t.SetFloat64At(i, v)
	}
	return t
}

var moveDTypes = []tensor.DType{tensor.Float32, tensor.Int64, tensor.Float16, tensor.Uint8, tensor.Bool, tensor.Float64}

func TestTranspose(t *testing.T) {
	perms := [][]int64{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}
	for _, dt := range moveDTypes {
		x := seq(dt, 2, 3, 5)
		for _, p := range perms {
			shape := []int{x.Shape()[p[0]], x.Shape()[p[1]], x.Shape()[p[2]]}
			out := opRun{op: "Transpose", attrs: graph.Attrs{"perm": graph.Ints(p...)}, ins: []*tensor.Tensor{x}}.mustRun(t)[0]
			want := refMap(x, shape, 0, func(idx []int) []int {
				s := make([]int, 3)
				for i, a := range p {
					s[a] = idx[i]
				}
				return s
			})
			checkClose(t, "Transpose", out, shape, want, 0)
		}
	}
	x := seq(tensor.Float32, 3, 1, 4, 7)
	out := opRun{op: "Transpose", ins: []*tensor.Tensor{x}}.mustRun(t)[0]
	want := refMap(x, []int{7, 4, 1, 3}, 0, func(idx []int) []int { return []int{idx[3], idx[2], idx[1], idx[0]} })
	checkClose(t, "Transpose default", out, []int{7, 4, 1, 3}, want, 0)
	big := seq(tensor.Float32, 67, 129)
	out = opRun{op: "Transpose", ins: []*tensor.Tensor{big}}.mustRun(t)[0]
	checkClose(t, "Transpose big", out, []int{129, 67}, refMap(big, []int{129, 67}, 0, func(idx []int) []int { return []int{idx[1], idx[0]} }), 0)
	// Layout changes of awkward sizes (the tiled path): NCHW <-> NHWC, and a 5-D case.
	for _, c := range []struct {
		shape []int
		perm  []int64
	}{
		{[]int{2, 3, 37, 41}, []int64{0, 2, 3, 1}},
		{[]int{2, 37, 41, 3}, []int64{0, 3, 1, 2}},
		{[]int{3, 9, 2, 33}, []int64{3, 1, 2, 0}},
		{[]int{2, 9, 1, 17, 5}, []int64{4, 1, 0, 2, 3}},
		{[]int{2, 70, 65}, []int64{0, 2, 1}}, // full 32×32 tiles (8×8 vector blocks) and ragged edges
		{[]int{64, 96}, []int64{1, 0}},
	} {
		for _, dt := range []tensor.DType{tensor.Float32, tensor.Uint8, tensor.Float16, tensor.Int64} {
			x := seq(dt, c.shape...)
			shape := make([]int, len(c.perm))
			for i, p := range c.perm {
				shape[i] = c.shape[p]
			}
			out := opRun{op: "Transpose", attrs: graph.Attrs{"perm": graph.Ints(c.perm...)}, ins: []*tensor.Tensor{x}}.mustRun(t)[0]
			want := refMap(x, shape, 0, func(idx []int) []int {
				s := make([]int, len(idx))
				for i, a := range c.perm {
					s[a] = idx[i]
				}
				return s
			})
			checkClose(t, "Transpose tiled", out, shape, want, 0)
		}
	}
	opRun{op: "Transpose", attrs: graph.Attrs{"perm": graph.Ints(0, 0, 1)}, ins: []*tensor.Tensor{x}}.wantErr(t, "bad perm")
}

func TestReshapeFamily(t *testing.T) {
	x := seq(tensor.Float32, 2, 3, 4)
	cases := []struct {
		spec  []int64
		attrs graph.Attrs
		want  []int
	}{
		{[]int64{4, 6}, nil, []int{4, 6}},
		{[]int64{0, -1}, nil, []int{2, 12}},
		{[]int64{-1}, nil, []int{24}},
		{[]int64{2, 0, 2, 2}, nil, []int{2, 3, 2, 2}},
		{[]int64{1, 1, 24, 1}, nil, []int{1, 1, 24, 1}},
	}
	for _, c := range cases {
		for _, konst := range []bool{true, false} {
			out := opRun{op: "Reshape", attrs: c.attrs, ins: []*tensor.Tensor{x, vec(c.spec...)}, consts: map[int]bool{1: konst}}.mustRun(t)[0]
			checkClose(t, "Reshape", out, c.want, x.AsFloat64s(), 0)
		}
	}
	empty := tensor.New(tensor.Float32, []int{0, 3})
	out := opRun{op: "Reshape", attrs: graph.Attrs{"allowzero": graph.Int(1)}, ins: []*tensor.Tensor{empty, vec(3, 0)}, consts: map[int]bool{1: true}}.mustRun(t)[0]
	checkClose(t, "Reshape allowzero", out, []int{3, 0}, nil, 0)
	opRun{op: "Reshape", ins: []*tensor.Tensor{x, vec(5, -1)}, consts: map[int]bool{1: true}}.wantErr(t, "indivisible")
	opRun{op: "Reshape", ins: []*tensor.Tensor{x, vec(5, 5)}}.wantErr(t, "wrong size at run time")
	opRun{op: "Reshape", ins: []*tensor.Tensor{x, vec(-1, -1)}, consts: map[int]bool{1: true}}.wantErr(t, "two -1")

	for axis, want := range map[int64][]int{0: {1, 24}, 1: {2, 12}, 2: {6, 4}, 3: {24, 1}, -1: {6, 4}, -3: {1, 24}} {
		out := opRun{op: "Flatten", attrs: graph.Attrs{"axis": graph.Int(axis)}, ins: []*tensor.Tensor{x}}.mustRun(t)[0]
		checkClose(t, "Flatten", out, want, x.AsFloat64s(), 0)
	}
	opRun{op: "Flatten", attrs: graph.Attrs{"axis": graph.Int(4)}, ins: []*tensor.Tensor{x}}.wantErr(t, "axis out of range")

	y := seq(tensor.Int32, 1, 3, 1, 5, 1)
	out = opRun{op: "Squeeze", ins: []*tensor.Tensor{y}}.mustRun(t)[0]
	checkClose(t, "Squeeze all", out, []int{3, 5}, y.AsFloat64s(), 0)
	out = opRun{op: "Squeeze", ins: []*tensor.Tensor{y, vec(0, -1)}, consts: map[int]bool{1: true}}.mustRun(t)[0]
	checkClose(t, "Squeeze input", out, []int{3, 1, 5}, y.AsFloat64s(), 0)
	out = opRun{op: "Squeeze", attrs: graph.Attrs{"axes": graph.Ints(2)}, ins: []*tensor.Tensor{y}}.mustRun(t)[0]
	checkClose(t, "Squeeze attr", out, []int{1, 3, 5, 1}, y.AsFloat64s(), 0)
	opRun{op: "Squeeze", ins: []*tensor.Tensor{y, vec(1)}, consts: map[int]bool{1: true}}.wantErr(t, "squeeze size 3")

	z := seq(tensor.Float32, 3, 4)
	out = opRun{op: "Unsqueeze", ins: []*tensor.Tensor{z, vec(0, -1)}, consts: map[int]bool{1: true}}.mustRun(t)[0]
	checkClose(t, "Unsqueeze", out, []int{1, 3, 4, 1}, z.AsFloat64s(), 0)
	out = opRun{op: "Unsqueeze", attrs: graph.Attrs{"axes": graph.Ints(3, 1)}, ins: []*tensor.Tensor{z}}.mustRun(t)[0]
	checkClose(t, "Unsqueeze attr unsorted", out, []int{3, 1, 4, 1}, z.AsFloat64s(), 0)
	out = opRun{op: "Unsqueeze", ins: []*tensor.Tensor{z, vec(1)}}.mustRun(t)[0]
	checkClose(t, "Unsqueeze fed axes", out, []int{3, 1, 4}, z.AsFloat64s(), 0)
	opRun{op: "Unsqueeze", ins: []*tensor.Tensor{z, vec(5)}, consts: map[int]bool{1: true}}.wantErr(t, "axis out of range")
}

func TestConcatSplit(t *testing.T) {
	for _, dt := range moveDTypes {
		a, b, c := seq(dt, 2, 3, 4), seq(dt, 2, 1, 4), seq(dt, 2, 5, 4)
		for _, axis := range []int64{1, -2} {
			out := opRun{op: "Concat", attrs: graph.Attrs{"axis": graph.Int(axis)}, ins: []*tensor.Tensor{a, b, c}}.mustRun(t)[0]
			shape := []int{2, 9, 4}
			want := make([]float64, 0, 72)
			for i := 0; i < 2; i++ {
				for _, src := range []*tensor.Tensor{a, b, c} {
					n := src.Shape()[1] * 4
					for j := 0; j < n; j++ {
						want = append(want, src.Float64At(i*n+j))
					}
				}
			}
			checkClose(t, "Concat", out, shape, want, 0)
			// Split it back three ways: split input, split attribute, and num_outputs.
			for _, r := range []opRun{
				{op: "Split", attrs: graph.Attrs{"axis": graph.Int(axis)}, ins: []*tensor.Tensor{out, vec(3, 1, 5)}, consts: map[int]bool{1: true}, nOut: 3},
				{op: "Split", attrs: graph.Attrs{"axis": graph.Int(axis), "split": graph.Ints(3, 1, 5)}, ins: []*tensor.Tensor{out}, nOut: 3},
			} {
				parts := r.mustRun(t)
				for k, src := range []*tensor.Tensor{a, b, c} {
					checkClose(t, "Split", parts[k], src.Shape(), src.AsFloat64s(), 0)
				}
			}
		}
	}
	x := seq(tensor.Float32, 7, 2)
	parts := opRun{op: "Split", attrs: graph.Attrs{"num_outputs": graph.Int(3)}, ins: []*tensor.Tensor{x}, nOut: 3}.mustRun(t)
	for k, rows := range [][2]int{{0, 3}, {3, 6}, {6, 7}} {
		want := x.AsFloat64s()[rows[0]*2 : rows[1]*2]
		checkClose(t, "Split num_outputs", parts[k], []int{rows[1] - rows[0], 2}, want, 0)
	}
	y := seq(tensor.Int64, 6)
	parts = opRun{op: "Split", ins: []*tensor.Tensor{y}, nOut: 3}.mustRun(t)
	for k := range parts {
		checkClose(t, "Split equal", parts[k], []int{2}, y.AsFloat64s()[2*k:2*k+2], 0)
	}
	opRun{op: "Concat", attrs: graph.Attrs{"axis": graph.Int(0)}, ins: []*tensor.Tensor{seq(tensor.Float32, 2, 3), seq(tensor.Float32, 2, 4)}}.wantErr(t, "mismatched dims")
	opRun{op: "Concat", attrs: graph.Attrs{"axis": graph.Int(2)}, ins: []*tensor.Tensor{seq(tensor.Float32, 2, 3)}}.wantErr(t, "axis out of range")
	opRun{op: "Split", ins: []*tensor.Tensor{y, vec(2, 2)}, consts: map[int]bool{1: true}, nOut: 2}.wantErr(t, "split does not sum")
}

func TestSlice(t *testing.T) {
	x := seq(tensor.Float32, 5, 7, 3)
	cases := []struct {
		starts, ends, axes, steps []int64
	}{
		{[]int64{1}, []int64{4}, nil, nil},
		{[]int64{0, 2}, []int64{5, 6}, []int64{0, 1}, []int64{2, 3}},
		{[]int64{-1}, []int64{-1000}, []int64{1}, []int64{-1}},
		{[]int64{-2, 10}, []int64{-100, -9}, []int64{-1, -2}, []int64{-1, -2}},
		{[]int64{0}, []int64{1 << 62}, []int64{2}, []int64{1}},
		{[]int64{100}, []int64{200}, []int64{0}, nil},
		{[]int64{3}, []int64{1}, []int64{0}, nil},
		{[]int64{-1 << 62, 1}, []int64{1 << 62, 6}, []int64{0, 1}, []int64{3, 4}},
	}
	for _, c := range cases {
		shape, starts, steps := refSlice(x.Shape(), c.starts, c.ends, c.axes, c.steps)
		want := refMap(x, shape, 0, func(idx []int) []int {
			s := make([]int, len(idx))
			for d := range idx {
				s[d] = starts[d] + idx[d]*steps[d]
			}
			return s
		})
		ins := []*tensor.Tensor{x, vec(c.starts...), vec(c.ends...), nil, nil}
		if c.axes != nil {
			ins[3] = vec(c.axes...)
		}
		if c.steps != nil {
			ins[4] = vec(c.steps...)
		}
		for _, konst := range []bool{true, false} {
			out := opRun{op: "Slice", ins: ins, consts: map[int]bool{1: konst, 2: konst, 3: konst, 4: konst}}.mustRun(t)[0]
			checkClose(t, "Slice", out, shape, want, 0)
		}
		if c.steps == nil {
			attrs := graph.Attrs{"starts": graph.Ints(c.starts...), "ends": graph.Ints(c.ends...)}
			if c.axes != nil {
				attrs["axes"] = graph.Ints(c.axes...)
			}
			out := opRun{op: "Slice", attrs: attrs, ins: []*tensor.Tensor{x}, opset: 9}.mustRun(t)[0]
			checkClose(t, "Slice opset 9", out, shape, want, 0)
		}
	}
	opRun{op: "Slice", ins: []*tensor.Tensor{x, vec(0), vec(1), vec(0), vec(0)}, consts: map[int]bool{1: true, 2: true, 3: true, 4: true}}.wantErr(t, "zero step")
	opRun{op: "Slice", ins: []*tensor.Tensor{x, vec(0), vec(1), vec(3)}, consts: map[int]bool{1: true, 2: true, 3: true}}.wantErr(t, "axis out of range")
}

// refSlice is an independent statement of the ONNX Slice rules: per axis, the output
// size, the first index and the step.
func refSlice(shape []int, starts, ends, axes, steps []int64) (out, first, step []int) {
	r := len(shape)
	out, first, step = append([]int{}, shape...), make([]int, r), make([]int, r)
	for i := range step {
		step[i] = 1
	}
	for i := range starts {
		a := i
		if axes != nil {
			a = int(axes[i])
			if a < 0 {
				a += r
			}
		}
		st := int64(1)
		if steps != nil {
			st = steps[i]
		}
		d := int64(shape[a])
		s, e := starts[i], ends[i]
		if s < 0 {
			s += d
		}
		if e < 0 {
			e += d
		}
		n := int64(0)
		if st > 0 {
			s = min(max(s, 0), d)
			e = min(max(e, 0), d)
			for v := s; v < e; v += st {
				n++
			}
		} else {
			s = min(max(s, 0), d-1)
			e = min(max(e, -1), d-1)
			for v := s; v > e; v += st {
				n++
			}
		}
		out[a], first[a], step[a] = int(n), int(s), int(st)
	}
	return out, first, step
}

func TestGather(t *testing.T) {
	for _, dt := range moveDTypes {
		x := seq(dt, 4, 3, 5)
		for _, c := range []struct {
			axis int64
			idx  *tensor.Tensor
		}{
			{0, vec(3, 0, -1, 1, 1)},
			{1, i64s([]int{2, 2}, 2, -3, 0, 1)},
			{-1, i64s(nil, 4)},
			{2, i64s([]int{0})},
		} {
			ax := int(c.axis)
			if ax < 0 {
				ax += 3
			}
			ishape := c.idx.Shape()
			shape := append(append(append([]int{}, x.Shape()[:ax]...), ishape...), x.Shape()[ax+1:]...)
			want := refMap(x, shape, 0, func(idx []int) []int {
				pos := int(c.idx.Int64At(flatIndex(idx[ax:ax+len(ishape)], ishape)))
				if pos < 0 {
					pos += x.Shape()[ax]
				}
				s := append(append(append([]int{}, idx[:ax]...), pos), idx[ax+len(ishape):]...)
				return s
			})
			out := opRun{op: "Gather", attrs: graph.Attrs{"axis": graph.Int(c.axis)}, ins: []*tensor.Tensor{x, c.idx}}.mustRun(t)[0]
			checkClose(t, "Gather", out, shape, want, 0)
		}
	}
	x := seq(tensor.Float32, 4, 3)
	i32 := tensor.New(tensor.Int32, []int{2})
	i32.Int32s()[0], i32.Int32s()[1] = 2, -4
	out := opRun{op: "Gather", ins: []*tensor.Tensor{x, i32}}.mustRun(t)[0]
	checkClose(t, "Gather int32", out, []int{2, 3}, []float64{6, 7, 8, 0, 1, 2}, 0)
	opRun{op: "Gather", ins: []*tensor.Tensor{x, vec(4)}}.wantErr(t, "index out of range")
	opRun{op: "Gather", attrs: graph.Attrs{"axis": graph.Int(2)}, ins: []*tensor.Tensor{x, vec(0)}}.wantErr(t, "axis out of range")

	idx := i64s([]int{2, 3}, 0, -1, 2, 3, 1, 0)
	out = opRun{op: "GatherElements", attrs: graph.Attrs{"axis": graph.Int(0)}, ins: []*tensor.Tensor{x, idx}}.mustRun(t)[0]
	want := refMap(x, []int{2, 3}, 0, func(p []int) []int {
		v := int(idx.Int64At(flatIndex(p, []int{2, 3})))
		if v < 0 {
			v += 4
		}
		return []int{v, p[1]}
	})
	checkClose(t, "GatherElements", out, []int{2, 3}, want, 0)
	opRun{op: "GatherElements", ins: []*tensor.Tensor{x, vec(0)}}.wantErr(t, "rank mismatch")
}

func TestExpandTile(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for _, dt := range moveDTypes {
		x := randT(dt, []int{3, 1, 2}, uniform(r, 0, 9, true))
		for _, c := range []struct {
			spec []int64
			want []int
		}{
			{[]int64{3, 4, 2}, []int{3, 4, 2}},
			{[]int64{2, 1, 1, 1}, []int{2, 3, 1, 2}},
			{[]int64{1}, []int{3, 1, 2}},
			{[]int64{5, 1}, []int{3, 5, 2}},
		} {
			out := opRun{op: "Expand", ins: []*tensor.Tensor{x, vec(c.spec...)}, consts: map[int]bool{1: true}}.mustRun(t)[0]
			checkClose(t, "Expand", out, c.want, refMap(x, c.want, 0, func(idx []int) []int {
				s := idx[len(idx)-3:]
				return []int{s[0], 0, s[2]}
			}), 0)
		}
		out := opRun{op: "Tile", ins: []*tensor.Tensor{x, vec(2, 3, 1)}}.mustRun(t)[0]
		shape := []int{6, 3, 2}
		checkClose(t, "Tile", out, shape, refMap(x, shape, 0, func(idx []int) []int { return []int{idx[0] % 3, 0, idx[2]} }), 0)
	}
	opRun{op: "Expand", ins: []*tensor.Tensor{seq(tensor.Float32, 3), vec(4)}, consts: map[int]bool{1: true}}.wantErr(t, "bad expand")
	opRun{op: "Tile", ins: []*tensor.Tensor{seq(tensor.Float32, 3), vec(4, 1)}, consts: map[int]bool{1: true}}.wantErr(t, "repeats rank")
}

func TestPad(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	x := randT(tensor.Float32, []int{3, 4}, uniform(r, -5, 5, false))
	pads := []int64{1, 3, 2, 2}
	for _, mode := range []string{"constant", "reflect", "edge", "wrap"} {
		shape := []int{6, 9}
		want := refMap(x, shape, 2.5, func(idx []int) []int {
			s := make([]int, 2)
			for d := range idx {
				p := idx[d] - int(pads[d])
				n := x.Shape()[d]
				switch mode {
				case "constant":
					if p < 0 || p >= n {
						return nil
					}
				case "edge":
					p = min(max(p, 0), n-1)
				case "wrap":
					p = ((p % n) + n) % n
				case "reflect":
					for p < 0 || p >= n {
						if p < 0 {
							p = -p
						}
						if p >= n {
							p = 2*(n-1) - p
						}
					}
				}
				s[d] = p
			}
			return s
		})
		cv := f32s(nil, 2.5)
		out := opRun{op: "Pad", attrs: graph.Attrs{"mode": graph.String(mode)}, ins: []*tensor.Tensor{x, vec(pads...), cv}, consts: map[int]bool{1: true}}.mustRun(t)[0]
		checkClose(t, "Pad "+mode, out, shape, want, 0)
		out = opRun{op: "Pad", attrs: graph.Attrs{"mode": graph.String(mode), "pads": graph.Ints(pads...), "value": graph.Float(2.5)}, ins: []*tensor.Tensor{x}, opset: 2}.mustRun(t)[0]
		checkClose(t, "Pad attrs "+mode, out, shape, want, 0)
	}
	// Negative pads crop; axes restrict the pads to some axes (opset 18).
	out := opRun{op: "Pad", ins: []*tensor.Tensor{x, vec(-1, 1), nil, vec(-1)}, consts: map[int]bool{1: true, 3: true}}.mustRun(t)[0]
	want := refMap(x, []int{3, 4}, 0, func(idx []int) []int {
		if idx[1]+1 >= 4 {
			return nil
		}
		return []int{idx[0], idx[1] + 1}
	})
	checkClose(t, "Pad crop with axes", out, []int{3, 4}, want, 0)
	opRun{op: "Pad", ins: []*tensor.Tensor{x, vec(1, 1)}, consts: map[int]bool{1: true}}.wantErr(t, "short pads")
	opRun{op: "Pad", attrs: graph.Attrs{"mode": graph.String("mirror")}, ins: []*tensor.Tensor{x, vec(1, 1, 1, 1)}}.wantErr(t, "bad mode")
}

func TestShapeOps(t *testing.T) {
	x := seq(tensor.Float32, 2, 3, 5, 7)
	out := opRun{op: "Shape", ins: []*tensor.Tensor{x}}.mustRun(t)[0]
	checkClose(t, "Shape", out, []int{4}, []float64{2, 3, 5, 7}, 0)
	out = opRun{op: "Shape", attrs: graph.Attrs{"start": graph.Int(-3), "end": graph.Int(-1)}, ins: []*tensor.Tensor{x}}.mustRun(t)[0]
	checkClose(t, "Shape start end", out, []int{2}, []float64{3, 5}, 0)
	out = opRun{op: "Shape", attrs: graph.Attrs{"start": graph.Int(10)}, ins: []*tensor.Tensor{x}}.mustRun(t)[0]
	checkClose(t, "Shape clipped", out, []int{0}, nil, 0)
	out = opRun{op: "Size", ins: []*tensor.Tensor{x}}.mustRun(t)[0]
	checkClose(t, "Size", out, []int{}, []float64{210}, 0)

	out = opRun{op: "ConstantOfShape", ins: []*tensor.Tensor{vec(2, 3)}}.mustRun(t)[0]
	checkClose(t, "ConstantOfShape default", out, []int{2, 3}, make([]float64, 6), 0)
	v := tensor.New(tensor.Int32, []int{1})
	v.Int32s()[0] = 7
	out = opRun{op: "ConstantOfShape", attrs: graph.Attrs{"value": graph.TensorAttr(v)}, ins: []*tensor.Tensor{vec(3)}, consts: map[int]bool{0: true}}.mustRun(t)[0]
	if out.DType() != tensor.Int32 {
		t.Fatalf("ConstantOfShape gave %v", out.DType())
	}
	checkClose(t, "ConstantOfShape int32", out, []int{3}, []float64{7, 7, 7}, 0)

	out = opRun{op: "Constant", attrs: graph.Attrs{"value_ints": graph.Ints(4, 5)}}.mustRun(t)[0]
	checkClose(t, "Constant ints", out, []int{2}, []float64{4, 5}, 0)
	out = opRun{op: "Constant", attrs: graph.Attrs{"value": graph.TensorAttr(f32s([]int{2, 1}, 1.5, 2))}}.mustRun(t)[0]
	checkClose(t, "Constant tensor", out, []int{2, 1}, []float64{1.5, 2}, 0)
	opRun{op: "Constant"}.wantErr(t, "no value")

	for _, c := range []struct {
		dt                  tensor.DType
		start, limit, delta float64
		want                []float64
	}{
		{tensor.Float32, 1, 2, 0.3, []float64{1, 1.3, 1.6, 1.9}},
		{tensor.Int32, 10, 4, -3, []float64{10, 7}},
		{tensor.Int64, 0, 5, 1, []float64{0, 1, 2, 3, 4}},
		{tensor.Float64, 5, 1, 1, nil},
	} {
		mk := func(v float64) *tensor.Tensor { s := tensor.New(c.dt, nil); s.SetFloat64At(0, v); return s }
		for _, konst := range []bool{true, false} {
			out := opRun{op: "Range", ins: []*tensor.Tensor{mk(c.start), mk(c.limit), mk(c.delta)}, consts: map[int]bool{0: konst, 1: konst, 2: konst}}.mustRun(t)[0]
			checkClose(t, "Range", out, []int{len(c.want)}, c.want, 1e-6)
		}
	}
	zero := tensor.New(tensor.Int64, nil)
	opRun{op: "Range", ins: []*tensor.Tensor{zero, zero, zero}, consts: map[int]bool{0: true, 1: true, 2: true}}.wantErr(t, "zero delta")

	outs := opRun{op: "Dropout", ins: []*tensor.Tensor{x}, nOut: 2}.mustRun(t)
	checkClose(t, "Dropout", outs[0], x.Shape(), x.AsFloat64s(), 0)
	if outs[1].DType() != tensor.Bool || !outs[1].Bools()[0] {
		t.Fatalf("Dropout mask: %v", outs[1])
	}
}

func TestCast(t *testing.T) {
	src := []float64{0, 1, -2, 3.75, -0.5, 100, 0.1}
	dts := []tensor.DType{tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16, tensor.Int8, tensor.Int16, tensor.Int32,
		tensor.Int64, tensor.Uint8, tensor.Uint16, tensor.Uint32, tensor.Uint64, tensor.Bool}
	for _, from := range dts {
		x := tensor.New(from, []int{len(src)})
		for i, v := range src {
			if !from.IsFloat() && v < 0 && from != tensor.Int8 && from != tensor.Int16 && from != tensor.Int32 && from != tensor.Int64 {
				v = -v
			}
			x.SetFloat64At(i, v)
		}
		for _, to := range dts {
			want := make([]float64, len(src))
			for i := range want {
				v := x.Float64At(i)
				switch {
				case to == tensor.Bool:
					want[i] = b2f(v != 0)
				case !to.IsFloat():
					want[i] = float64(int64(v)) // truncation towards zero
					if want[i] < 0 && (to == tensor.Uint8 || to == tensor.Uint16 || to == tensor.Uint32 || to == tensor.Uint64) {
						want[i] = -1 // out of range: undefined in ONNX; not compared
					}
				default:
					want[i] = roundTo(to, v)
				}
			}
			out := opRun{op: "Cast", attrs: graph.Attrs{"to": graph.Int(int64(to))}, ins: []*tensor.Tensor{x}}.mustRun(t)[0]
			if out.DType() != to {
				t.Fatalf("Cast to %v gave %v", to, out.DType())
			}
			for i, w := range want {
				if w == -1 && !to.IsFloat() && to != tensor.Int8 && to != tensor.Int16 && to != tensor.Int32 && to != tensor.Int64 {
					continue
				}
				if g := out.Float64At(i); g != w {
					t.Fatalf("Cast %v->%v: element %d (%v) = %v, want %v", from, to, i, x.Float64At(i), g, w)
				}
			}
			like := tensor.New(to, []int{1})
			out = opRun{op: "CastLike", ins: []*tensor.Tensor{x, like}}.mustRun(t)[0]
			if out.DType() != to {
				t.Fatalf("CastLike to %v gave %v", to, out.DType())
			}
		}
	}
	opRun{op: "Cast", ins: []*tensor.Tensor{seq(tensor.Float32, 2)}}.wantErr(t, "no to")
	opRun{op: "Cast", attrs: graph.Attrs{"to": graph.Int(8)}, ins: []*tensor.Tensor{seq(tensor.Float32, 2)}}.wantErr(t, "string")
}
