package cpu

import (
	"fmt"
	"unsafe"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// Movement kernels only move elements, so they work on the bits of any dtype: each
// is instantiated for 1-, 2-, 4- and 8-byte words and picked by element size.

func init() {
	register("", "Transpose", newTranspose)
	register("", "Slice", newSlice)
	register("", "Expand", newExpand)
	register("", "Tile", newTile)
	register("", "Concat", newConcat)
	register("", "Split", newSplit)
	register("", "Gather", newGather)
	register("", "GatherElements", newGatherElements)
	register("", "Pad", newPad)
}

// contiguousStrides are the element strides of a row-major shape.
func contiguousStrides(shape []int) []int {
	st := make([]int, len(shape))
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = s
		s *= shape[i]
	}
	return st
}

// coalesce drops size-1 dimensions and merges neighbours that a strided walk visits
// as one (strides[d] == strides[d+1]*shape[d+1]). It always returns at least one
// dimension.
func coalesce(shape, strides []int) ([]int, []int) {
	var s, st []int
	for d := range shape {
		if shape[d] == 1 {
			continue
		}
		if n := len(s); n > 0 && st[n-1] == strides[d]*shape[d] {
			s[n-1] *= shape[d]
			st[n-1] = strides[d]
			continue
		}
		s = append(s, shape[d])
		st = append(st, strides[d])
	}
	if len(s) == 0 {
		return []int{1}, []int{0}
	}
	return s, st
}

// gatherStrided fills dst, contiguous over shape, from src read at off plus the
// multi-index dotted with strides (which may be 0 or negative).
func gatherStrided[T any](env *Env, dst, src []T, shape []int, off int, strides []int) {
	total := tensor.NumElements(shape)
	if total == 0 {
		return
	}
	shape, strides = coalesce(shape, strides)
	r := len(shape) - 1
	inner, step := shape[r], strides[r]
	if r >= 1 && strides[r-1] == 1 && step != 1 && step != 0 && inner >= 8 && shape[r-1] >= 8 {
		transposeBlocked(env, dst, src, shape, off, strides)
		return
	}
	rows := total / inner
	// Long rows are cut into pieces so that a single merged row still spreads over
	// the threads.
	const piece = 16384
	pieces := (inner + piece - 1) / piece
	chunk := (inner + pieces - 1) / pieces
	env.Parallel(rows*pieces, max(1, 32768/chunk), func(lo, hi int) {
		idx := make([]int, r)
		lastRow := -1
		for it := lo; it < hi; it++ {
			row, p := it/pieces, it%pieces
			if row == lastRow+1 && lastRow >= 0 {
				for d := r - 1; d >= 0; d-- { // odometer step to the next row
					idx[d]++
					if idx[d] < shape[d] {
						break
					}
					idx[d] = 0
				}
			} else if row != lastRow {
				rem := row
				for d := r - 1; d >= 0; d-- {
					idx[d] = rem % shape[d]
					rem /= shape[d]
				}
			}
			lastRow = row
			o := off
			for d := 0; d < r; d++ {
				o += idx[d] * strides[d]
			}
			start := p * chunk
			n := min(chunk, inner-start)
			o += start * step
			out := dst[row*inner+start : row*inner+start+n]
			switch step {
			case 1:
				copy(out, src[o:o+n])
			case 0:
				v := src[o]
				for i := range out {
					out[i] = v
				}
			default:
				for i := range out {
					out[i] = src[o]
					o += step
				}
			}
		}
	})
}

// moveStrided runs gatherStrided on the words of dst's element size.
func moveStrided(env *Env, dst, src *tensor.Tensor, shape []int, off int, strides []int) error {
	switch dst.DType().Size() {
	case 1:
		gatherStrided(env, raw[uint8](dst), raw[uint8](src), shape, off, strides)
	case 2:
		gatherStrided(env, raw[uint16](dst), raw[uint16](src), shape, off, strides)
	case 4:
		gatherStrided(env, raw[uint32](dst), raw[uint32](src), shape, off, strides)
	case 8:
		gatherStrided(env, raw[uint64](dst), raw[uint64](src), shape, off, strides)
	default:
		return fmt.Errorf("dtype %v has no kernel", dst.DType())
	}
	return nil
}

// checkOut fails unless the output has the shape the kernel computed.
func checkOut(out *tensor.Tensor, shape []int) error {
	if !sameInts(out.Shape(), shape) {
		return fmt.Errorf("output is %v, but the inputs give shape %v", out, shape)
	}
	return nil
}

func sameInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// inferCtx is an inference context over actual input tensors, so that kernels resolve
// attributes and shape inputs with the same helpers as inference.
func inferCtx(n *graph.Node, in []*tensor.Tensor) *ops.InferContext {
	c := &ops.InferContext{Node: n, Consts: in, In: make([]graph.Type, len(in))}
	for i, t := range in {
		if t != nil {
			c.In[i] = ops.Typed(t.DType(), graph.ShapeOf(t.Shape()...))
		}
	}
	return c
}

func newTranspose(n *graph.Node, env *Env) (backends.Kernel, error) {
	return wrap(n, func(in, out []*tensor.Tensor) error {
		x := in[0]
		perm, err := ops.TransposePerm(n.Attrs, x.Rank())
		if err != nil {
			return err
		}
		st := contiguousStrides(x.Shape())
		shape, strides := make([]int, len(perm)), make([]int, len(perm))
		for i, p := range perm {
			shape[i], strides[i] = x.Shape()[p], st[p]
		}
		if err := checkOut(out[0], shape); err != nil {
			return err
		}
		if transposeToNHWC(env, x, out[0], perm) { // nhwc.go: NCHW inputs of channels-last regions
			return nil
		}
		return moveStrided(env, out[0], x, shape, 0, strides)
	}), nil
}

func newSlice(n *graph.Node, env *Env) (backends.Kernel, error) {
	return wrap(n, func(in, out []*tensor.Tensor) error {
		x := in[0]
		starts, ends, axes, steps, _ := ops.SliceArgs(inferCtx(n, in))
		p, err := ops.SliceParams(x.Shape(), starts, ends, axes, steps)
		if err != nil {
			return err
		}
		st := contiguousStrides(x.Shape())
		shape, strides := make([]int, len(p)), make([]int, len(p))
		off := 0
		for i, s := range p {
			shape[i], strides[i] = s.Count, st[i]*s.Step
			off += s.Start * st[i]
		}
		if err := checkOut(out[0], shape); err != nil {
			return err
		}
		return moveStrided(env, out[0], x, shape, off, strides)
	}), nil
}

func newExpand(n *graph.Node, env *Env) (backends.Kernel, error) {
	return wrap(n, func(in, out []*tensor.Tensor) error {
		x, o := in[0], out[0]
		shape, err := ops.BroadcastInts(x.Shape(), intsOf(in[1].AsInt64s()))
		if err != nil {
			return err
		}
		if err := checkOut(o, shape); err != nil {
			return err
		}
		return moveStrided(env, o, x, shape, 0, broadcastStrides(x.Shape(), shape))
	}), nil
}

func intsOf(v []int64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

func newTile(n *graph.Node, env *Env) (backends.Kernel, error) {
	return wrap(n, func(in, out []*tensor.Tensor) error {
		x := in[0]
		reps := in[1].AsInt64s()
		if len(reps) != x.Rank() {
			return fmt.Errorf("repeats %v has %d entries for rank %d", reps, len(reps), x.Rank())
		}
		// out viewed as [r0, d0, r1, d1, ...]: the repeat axes have stride 0.
		st := contiguousStrides(x.Shape())
		var shape, strides, want []int
		for i, d := range x.Shape() {
			shape = append(shape, int(reps[i]), d)
			strides = append(strides, 0, st[i])
			want = append(want, int(reps[i])*d)
		}
		if err := checkOut(out[0], want); err != nil {
			return err
		}
		return moveStrided(env, out[0], x, shape, 0, strides)
	}), nil
}

// blocks describes a tensor as outer × (axis·inner) for Concat and Split, in bytes.
func blocks(shape []int, axis, esize int) (outer, inner int) {
	outer, inner = 1, esize
	for _, d := range shape[:axis] {
		outer *= d
	}
	for _, d := range shape[axis+1:] {
		inner *= d
	}
	return outer, inner
}

func newConcat(n *graph.Node, env *Env) (backends.Kernel, error) {
	return wrap(n, func(in, out []*tensor.Tensor) error {
		o := out[0]
		axis, err := ops.NormAxis(n.Attrs.GetInt("axis", 0), o.Rank())
		if err != nil {
			return err
		}
		outer, inner := blocks(o.Shape(), axis, o.DType().Size())
		row := o.Shape()[axis] * inner
		dst := o.Bytes()
		at := 0
		for _, t := range in {
			if t.Rank() != o.Rank() {
				return fmt.Errorf("input %v and output %v differ in rank", t, o)
			}
			blk := t.Shape()[axis] * inner
			if at+blk > row || len(t.Bytes()) != outer*blk {
				return fmt.Errorf("input %v does not fit output %v", t, o)
			}
			src := t.Bytes()
			env.Parallel(outer, max(1, 65536/max(1, blk)), func(lo, hi int) {
				for r := lo; r < hi; r++ {
					copy(dst[r*row+at:r*row+at+blk], src[r*blk:(r+1)*blk])
				}
			})
			at += blk
		}
		return nil
	}), nil
}

func newSplit(n *graph.Node, env *Env) (backends.Kernel, error) {
	return wrap(n, func(in, out []*tensor.Tensor) error {
		x := in[0]
		axis, err := ops.NormAxis(n.Attrs.GetInt("axis", 0), x.Rank())
		if err != nil {
			return err
		}
		outer, inner := blocks(x.Shape(), axis, x.DType().Size())
		row := x.Shape()[axis] * inner
		src := x.Bytes()
		at := 0
		for _, t := range out {
			if t == nil {
				continue // an omitted output still takes its part: sizes come from the others
			}
			blk := t.Shape()[axis] * inner
			if at+blk > row {
				return fmt.Errorf("output %v does not fit input %v", t, x)
			}
			dst := t.Bytes()
			env.Parallel(outer, max(1, 65536/max(1, blk)), func(lo, hi int) {
				for r := lo; r < hi; r++ {
					copy(dst[r*blk:(r+1)*blk], src[r*row+at:r*row+at+blk])
				}
			})
			at += blk
		}
		return nil
	}), nil
}

// normIndex turns a possibly negative index into [0, dim) or fails.
func normIndex(i int64, dim int) (int, error) {
	if i < 0 {
		i += int64(dim)
	}
	if i < 0 || i >= int64(dim) {
		return 0, fmt.Errorf("index %d is out of range for an axis of size %d", i, dim)
	}
	return int(i), nil
}

func newGather(n *graph.Node, env *Env) (backends.Kernel, error) {
	return wrap(n, func(in, out []*tensor.Tensor) error {
		x, o := in[0], out[0]
		axis, err := ops.NormAxis(n.Attrs.GetInt("axis", 0), x.Rank())
		if err != nil {
			return err
		}
		dim := x.Shape()[axis]
		idx := in[1].AsInt64s()
		pos := make([]int, len(idx))
		for i, v := range idx {
			if pos[i], err = normIndex(v, dim); err != nil {
				return err
			}
		}
		outer, inner := blocks(x.Shape(), axis, x.DType().Size())
		if len(o.Bytes()) != outer*len(pos)*inner {
			return fmt.Errorf("output %v does not match data %v and %d indices", o, x, len(pos))
		}
		src, dst := x.Bytes(), o.Bytes()
		env.Parallel(outer*len(pos), max(1, 65536/max(1, inner)), func(lo, hi int) {
			for k := lo; k < hi; k++ {
				r, j := k/len(pos), k%len(pos)
				s := (r*dim + pos[j]) * inner
				copy(dst[k*inner:(k+1)*inner], src[s:s+inner])
			}
		})
		return nil
	}), nil
}

func newGatherElements(n *graph.Node, env *Env) (backends.Kernel, error) {
	return wrap(n, func(in, out []*tensor.Tensor) error {
		x, o := in[0], out[0]
		axis, err := ops.NormAxis(n.Attrs.GetInt("axis", 0), x.Rank())
		if err != nil {
			return err
		}
		ishape := in[1].Shape()
		if len(ishape) != x.Rank() {
			return fmt.Errorf("indices %v and data %v differ in rank", ishape, x.Shape())
		}
		src, err := elementOffsets(x.Shape(), ishape, axis, in[1].AsInt64s())
		if err != nil {
			return err
		}
		return takeOffsets(o, x, src)
	}), nil
}

// elementOffsets maps each position of an indices tensor (of shape ishape) to the flat
// offset in data (of shape dshape) that GatherElements/ScatterElements address.
func elementOffsets(dshape, ishape []int, axis int, idx []int64) ([]int, error) {
	for d := range ishape {
		if d != axis && ishape[d] > dshape[d] {
			return nil, fmt.Errorf("indices shape %v exceeds data shape %v on axis %d", ishape, dshape, d)
		}
	}
	st := contiguousStrides(dshape)
	offs := make([]int, len(idx))
	pos := make([]int, len(ishape))
	for k, v := range idx {
		a, err := normIndex(v, dshape[axis])
		if err != nil {
			return nil, err
		}
		o := 0
		for d, p := range pos {
			if d == axis {
				p = a
			}
			o += p * st[d]
		}
		offs[k] = o
		for d := len(pos) - 1; d >= 0; d-- {
			pos[d]++
			if pos[d] < ishape[d] {
				break
			}
			pos[d] = 0
		}
	}
	return offs, nil
}

// takeOffsets sets dst[k] = src[offs[k]].
func takeOffsets(dst, src *tensor.Tensor, offs []int) error {
	switch dst.DType().Size() {
	case 1:
		take(raw[uint8](dst), raw[uint8](src), offs)
	case 2:
		take(raw[uint16](dst), raw[uint16](src), offs)
	case 4:
		take(raw[uint32](dst), raw[uint32](src), offs)
	case 8:
		take(raw[uint64](dst), raw[uint64](src), offs)
	default:
		return fmt.Errorf("dtype %v has no kernel", dst.DType())
	}
	return nil
}

func take[T any](dst, src []T, offs []int) {
	for k, o := range offs {
		dst[k] = src[o]
	}
}

func newPad(n *graph.Node, env *Env) (backends.Kernel, error) {
	mode := n.Attrs.GetString("mode", "constant")
	return wrap(n, func(in, out []*tensor.Tensor) error {
		x, o := in[0], out[0]
		begin, end, _, err := ops.PadSpec(inferCtx(n, in), x.Rank())
		if err != nil {
			return err
		}
		r := x.Rank()
		shape := make([]int, r)
		maps := make([][]int, r)
		for a, d := range x.Shape() {
			shape[a] = d + begin[a] + end[a]
			if shape[a] < 0 {
				return fmt.Errorf("pads remove more than axis %d holds", a)
			}
			if d == 0 && shape[a] > 0 && mode != "constant" {
				return fmt.Errorf("cannot %s-pad an empty axis %d", mode, a)
			}
			m := make([]int, shape[a])
			for i := range m {
				m[i] = padSource(i-begin[a], d, mode)
			}
			maps[a] = m
		}
		if err := checkOut(o, shape); err != nil {
			return err
		}
		fill := tensor.New(o.DType(), []int{1})
		switch {
		case len(in) > 2 && in[2] != nil && in[2].Len() > 0:
			copy(fill.Bytes(), in[2].Bytes()[:o.DType().Size()])
		case n.Attrs.Has("value"):
			fill.SetFloat64At(0, float64(n.Attrs.GetFloat("value", 0)))
		}
		st := contiguousStrides(x.Shape())
		switch o.DType().Size() {
		case 1:
			padGather(env, raw[uint8](o), raw[uint8](x), shape, st, maps, raw[uint8](fill)[0])
		case 2:
			padGather(env, raw[uint16](o), raw[uint16](x), shape, st, maps, raw[uint16](fill)[0])
		case 4:
			padGather(env, raw[uint32](o), raw[uint32](x), shape, st, maps, raw[uint32](fill)[0])
		case 8:
			padGather(env, raw[uint64](o), raw[uint64](x), shape, st, maps, raw[uint64](fill)[0])
		default:
			return fmt.Errorf("dtype %v has no kernel", o.DType())
		}
		return nil
	}), nil
}

// padSource is the input position that output position p (relative to the input's
// start) reads along an axis of size d, or -1 for the constant fill.
func padSource(p, d int, mode string) int {
	if p >= 0 && p < d {
		return p
	}
	switch mode {
	case "edge":
		return max(0, min(p, d-1))
	case "wrap":
		return ((p % d) + d) % d
	case "reflect":
		if d == 1 {
			return 0
		}
		period := 2 * (d - 1)
		p = ((p % period) + period) % period
		if p >= d {
			p = period - p
		}
		return p
	}
	return -1
}

// padGather fills dst (of shape) from src through per-axis position maps (-1: fill).
func padGather[T any](env *Env, dst, src []T, shape, strides []int, maps [][]int, fill T) {
	total := tensor.NumElements(shape)
	if total == 0 {
		return
	}
	if len(shape) == 0 {
		dst[0] = src[0]
		return
	}
	r := len(shape) - 1
	inner := shape[r]
	last := maps[r]
	env.Parallel(total/inner, max(1, 32768/inner), func(lo, hi int) {
		idx := make([]int, r)
		rem := lo
		for d := r - 1; d >= 0; d-- {
			idx[d] = rem % shape[d]
			rem /= shape[d]
		}
		for row := lo; row < hi; row++ {
			out := dst[row*inner : row*inner+inner]
			base, inside := 0, true
			for d := 0; d < r; d++ {
				s := maps[d][idx[d]]
				if s < 0 {
					inside = false
					break
				}
				base += s * strides[d]
			}
			if !inside {
				for i := range out {
					out[i] = fill
				}
			} else {
				for i, s := range last {
					if s < 0 {
						out[i] = fill
					} else {
						out[i] = src[base+s]
					}
				}
			}
			for d := r - 1; d >= 0; d-- {
				idx[d]++
				if idx[d] < shape[d] {
					break
				}
				idx[d] = 0
			}
		}
	})
}

// transposeBlocked is gatherStrided for the transposing case: the last two (merged)
// dimensions are a matrix whose rows the source stores as columns (strides 1 and
// step). It copies 32×32 tiles so that reads and writes both stay in cache.
func transposeBlocked[T any](env *Env, dst, src []T, shape []int, off int, strides []int) {
	const tile = 32
	r := len(shape) - 1
	rows, cols, step := shape[r-1], shape[r], strides[r]
	outer := tensor.NumElements(shape[:r-1])
	rowTiles := (rows + tile - 1) / tile
	var zero T
	w32 := unsafe.Sizeof(zero) == 4
	env.Parallel(outer*rowTiles, max(1, 16384/(tile*cols)), func(lo, hi int) {
		idx := make([]int, r-1)
		for t := lo; t < hi; t++ {
			o, rt := t/rowTiles, t%rowTiles
			rem := o
			base := off
			for d := r - 2; d >= 0; d-- {
				idx[d] = rem % shape[d]
				rem /= shape[d]
				base += idx[d] * strides[d]
			}
			out := dst[o*rows*cols:]
			i0, i1 := rt*tile, min(rt*tile+tile, rows)
			for k0 := 0; k0 < cols; k0 += tile {
				k1 := min(k0+tile, cols)
				if w32 && step > 0 && i1-i0 == tile && k1-k0 == tile {
					// Full tile of 4-byte elements: 8×8 register transposes.
					d32, s32 := asWords32(out), asWords32(src)
					done := true
					for i := i0; i < i1 && done; i += 8 {
						for k := k0; k < k1; k += 8 {
							if !transpose8x8(d32[i*cols+k:], cols, s32[base+i+k*step:], step) {
								done = false
								break
							}
						}
					}
					if done {
						continue
					}
				}
				for i := i0; i < i1; i++ {
					row := out[i*cols+k0 : i*cols+k1]
					s := base + i + k0*step
					for k := range row {
						row[k] = src[s]
						s += step
					}
				}
			}
		}
	})
}

// asWords32 reinterprets a slice of 4-byte elements as []uint32.
func asWords32[T any](s []T) []uint32 {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*uint32)(unsafe.Pointer(&s[0])), len(s))
}
