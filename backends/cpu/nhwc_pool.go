package cpu

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// Channels-last pools (engine/ops/nhwc.go). In N×H×W×C a pixel's channels are one
// contiguous row, so every loop runs over channel rows: a max pool reduces the
// window's input rows into a scratch row (vertical pass, rows of W·C floats) and then
// the window's columns of that row into each output pixel (horizontal pass, rows of C
// floats), both through maxWindows, vectorized over channels.

// newNhwcPool prepares NhwcMaxPool or NhwcAveragePool (float32, 2-D).
func newNhwcPool(n *graph.Node, env *Env) (backends.Kernel, error) {
	if err := requireF32(n); err != nil {
		return nil, err
	}
	kind := poolMax
	if n.Op == ops.NhwcAveragePool {
		kind = poolAvg
	}
	includePad := n.Attrs.GetInt("count_include_pad", 0) != 0
	name, op, attrs := n.Name, n.Op, n.Attrs
	var rows sync.Pool // *[][]float32: nhwcPool's per-thread rows, one set per concurrent run
	return backends.KernelFunc(func(_ context.Context, in, out []*tensor.Tensor) error {
		xs := in[0].Shape()
		if len(xs) != 4 {
			return fmt.Errorf("cpu: node %q (%s): X %v must be [N, H, W, C]", name, op, xs)
		}
		g, err := ops.PoolGeometry(attrs, xs[1:3])
		if err != nil {
			return fmt.Errorf("cpu: node %q (%s): %w", name, op, err)
		}
		if want := []int{xs[0], g.Out[0], g.Out[1], xs[3]}; !slices.Equal(out[0].Shape(), want) {
			return fmt.Errorf("cpu: node %q (%s): output %v, expected %v", name, op, out[0], want)
		}
		tmps, _ := rows.Get().(*[][]float32)
		if tmps == nil {
			tmps = new([][]float32)
		}
		*tmps = nhwcPool(env, kind, includePad, g, xs, in[0].Float32s(), out[0].Float32s(), *tmps)
		rows.Put(tmps)
		return nil
	}), nil
}

// nhwcPool pools x (N×H×W×C) into y (N×OH×OW×C), output rows split across threads.
// tmps holds each thread's row for max pooling's vertical pass; it is grown as needed
// and returned, for the caller to keep for its next run.
func nhwcPool(env *Env, kind poolKind, includePad bool, g *ops.Geometry, xs []int, x, y []float32, tmps [][]float32) [][]float32 {
	n, h, w, c := xs[0], xs[1], xs[2], xs[3]
	oh, ow := g.Out[0], g.Out[1]
	if n*oh*ow*c == 0 {
		return tmps
	}
	th := axisTaps(h, oh, g.Kernel[0], g.Strides[0], g.Dilations[0], g.PadsBegin[0], g.PadsEnd[0])
	tw := axisTaps(w, ow, g.Kernel[1], g.Strides[1], g.Dilations[1], g.PadsBegin[1], g.PadsEnd[1])
	dh, dw := g.Dilations[0], g.Dilations[1]
	rowIn, rowOut := w*c, ow*c
	work := ow * c * g.Kernel[0] * g.Kernel[1]
	if threads := env.GEMM().Threads(); len(tmps) < threads {
		tmps = make([][]float32, threads) // per thread: the vertical pass's row
	}
	env.ParallelW(n*oh, max(1, 32768/max(work, 1)), func(w, lo, hi int) {
		for r := lo; r < hi; r++ {
			img, o := r/oh, r%oh
			dst := y[r*rowOut : (r+1)*rowOut]
			t := th[o]
			rows := t.hi - t.lo
			if rows == 0 {
				fillNoTaps(dst, kind)
				continue
			}
			first := (img*h + o*g.Strides[0] - g.PadsBegin[0] + t.lo*dh) * rowIn
			if kind == poolMax {
				// Vertical pass: the window's rows reduced into one row (or read in
				// place when the window has one row).
				src := x[first : first+rowIn]
				if rows > 1 {
					if len(tmps[w]) < rowIn {
						tmps[w] = make([]float32, rowIn)
					}
					maxWindows(tmps[w], x[first:], rowIn, rows, dh*rowIn, 1, 0)
					src = tmps[w][:rowIn]
				}
				// Horizontal pass: the pixels whose window lies inside the row in one
				// call, the edges one by one.
				j0, j1 := fullWindows(tw, g.Kernel[1])
				sw := g.Strides[1]
				if j1 > j0 {
					col := j0*sw - g.PadsBegin[1]
					maxWindows(dst[j0*c:], src[col*c:], c, g.Kernel[1], dw*c, j1-j0, sw*c)
				}
				for j := 0; j < ow; j++ {
					if j == j0 && j1 > j0 {
						j = j1 - 1
						continue
					}
					u := tw[j]
					out := dst[j*c : (j+1)*c]
					if u.hi == u.lo {
						fillNoTaps(out, kind)
						continue
					}
					col := j*sw - g.PadsBegin[1] + u.lo*dw
					maxWindows(out, src[col*c:], c, u.hi-u.lo, dw*c, 1, 0)
				}
				continue
			}
			for j := range ow {
				u := tw[j]
				out := dst[j*c : (j+1)*c]
				clear(out)
				col := j*g.Strides[1] - g.PadsBegin[1] + u.lo*dw
				for kh := 0; kh < rows; kh++ {
					for kw := 0; kw < u.hi-u.lo; kw++ {
						p := first + kh*dh*rowIn + (col+kw*dw)*c
						for i, v := range x[p : p+c] {
							out[i] += v
						}
					}
				}
				div := rows * (u.hi - u.lo)
				if includePad {
					div = t.pad * u.pad
				}
				scale := 1 / float32(max(div, 1))
				for i := range out {
					out[i] *= scale
				}
			}
		}
	})
	return tmps
}

// fullWindows returns the run [j0, j1) of output positions whose windows have all k
// taps inside the input (j1 = j0 when there is none). Windows are monotone, so
// those positions are contiguous.
func fullWindows(taps []tapRange, k int) (j0, j1 int) {
	for j0 < len(taps) && (taps[j0].lo != 0 || taps[j0].hi != k) {
		j0++
	}
	j1 = j0
	for j1 < len(taps) && taps[j1].lo == 0 && taps[j1].hi == k {
		j1++
	}
	return j0, j1
}

// fillNoTaps writes what a window without input taps gives: -Inf for max, 0 for
// average (as the NCHW kernels).
func fillNoTaps(y []float32, kind poolKind) {
	v := float32(0)
	if kind == poolMax {
		v = float32(math.Inf(-1))
	}
	for i := range y {
		y[i] = v
	}
}

// maxWindows sets, for each j < count, z[j·n + i] to the max over t in [0, k) of
// x[j·xstride + t·step + i] for i < n (k ≥ 1): count windows of k rows of n values,
// each row step apart, the windows xstride apart. A NaN among the taps gives NaN. The
// AVX2 loop (nhwc_pool_amd64.s) runs it where available and n is a multiple of 8,
// maxWindowsGo otherwise.
func maxWindows(z, x []float32, n, k, step, count, xstride int) {
	if n <= 0 || count <= 0 {
		return
	}
	z = z[:count*n]
	_ = x[(count-1)*xstride+(k-1)*step+n-1] // the AVX2 loop reads up to here
	if !maxWindowsAsm(z, x, n, k, step, count, xstride) {
		maxWindowsGo(z, x, n, k, step, count, xstride)
	}
}

// maxWindowsGo is the reference loop of maxWindows.
func maxWindowsGo(z, x []float32, n, k, step, count, xstride int) {
	for j := range count {
		zj, xj := z[j*n:(j+1)*n], x[j*xstride:]
		for i := range zj {
			m := xj[i]
			for t := 1; t < k; t++ {
				if v := xj[t*step+i]; v > m || v != v {
					m = v
				}
			}
			zj[i] = m
		}
	}
}

// newNhwcGlobalAveragePool prepares NhwcGlobalAveragePool (float32): each image's
// H·W channel rows summed in float64, in chunks of channels across threads.
func newNhwcGlobalAveragePool(n *graph.Node, env *Env) (backends.Kernel, error) {
	if err := requireF32(n); err != nil {
		return nil, err
	}
	name := n.Name
	return backends.KernelFunc(func(_ context.Context, in, out []*tensor.Tensor) error {
		xs := in[0].Shape()
		if len(xs) != 4 {
			return fmt.Errorf("cpu: node %q (NhwcGlobalAveragePool): X %v must be [N, H, W, C]", name, xs)
		}
		if want := []int{xs[0], 1, 1, xs[3]}; !slices.Equal(out[0].Shape(), want) {
			return fmt.Errorf("cpu: node %q (NhwcGlobalAveragePool): output %v, expected %v", name, out[0], want)
		}
		nhwcGlobalAverage(env, xs[0], xs[1]*xs[2], xs[3], in[0].Float32s(), out[0].Float32s())
		return nil
	}), nil
}

// nhwcGlobalAverageChunk is how many channels one task of the global pool sums.
const nhwcGlobalAverageChunk = 256

// nhwcGlobalAverage sets y[img][ch] to the mean of x[img][p][ch] over the hw pixels p.
func nhwcGlobalAverage(env *Env, n, hw, c int, x, y []float32) {
	chunks := (c + nhwcGlobalAverageChunk - 1) / nhwcGlobalAverageChunk
	if n*chunks == 0 {
		return
	}
	env.ParallelW(n*chunks, max(1, 65536/max(1, hw*nhwcGlobalAverageChunk)), func(_, lo, hi int) {
		var acc [nhwcGlobalAverageChunk]float64
		for t := lo; t < hi; t++ {
			img, c0 := t/chunks, (t%chunks)*nhwcGlobalAverageChunk
			c1 := min(c0+nhwcGlobalAverageChunk, c)
			a := acc[:c1-c0]
			clear(a)
			for p := 0; p < hw; p++ {
				row := x[(img*hw+p)*c+c0 : (img*hw+p)*c+c1]
				done := accumF32(a, row, false)
				for i, v := range row[done:] {
					a[done+i] += float64(v)
				}
			}
			inv := 1 / float64(max(hw, 1))
			for i, v := range a {
				y[img*c+c0+i] = float32(v * inv)
			}
		}
	})
}
