package cpu

import (
	"context"
	"fmt"
	"math"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

func init() {
	register("", "MaxPool", poolFactory(poolMax))
	register("", "AveragePool", poolFactory(poolAvg))
	register("", "LpPool", poolFactory(poolLp))
	register("", "GlobalAveragePool", globalPoolFactory(poolAvg))
	register("", "GlobalMaxPool", globalPoolFactory(poolMax))
	register("", "GlobalLpPool", globalPoolFactory(poolLp))
}

type poolKind int

const (
	poolMax poolKind = iota
	poolAvg
	poolLp
)

// poolParams is what one pooling run needs besides the geometry.
type poolParams struct {
	kind         poolKind
	includePad   bool    // AveragePool count_include_pad
	p            float64 // LpPool p
	colMajor     bool    // MaxPool storage_order 1 (indices column-major per plane)
	wantIndices  bool
	planes, inSz int
}

// poolFactory prepares MaxPool, AveragePool or LpPool (1 to 3 spatial axes): each
// (image, channel) plane is pooled independently, planes split across threads.
func poolFactory(kind poolKind) Factory {
	return func(n *graph.Node, env *Env) (backends.Kernel, error) {
		dt := n.Inputs[0].DType
		if dt != tensor.Float32 && dt != tensor.Float64 {
			return nil, unsupported(n, "dtype %v", dt)
		}
		pp := poolParams{kind: kind, includePad: n.Attrs.GetInt("count_include_pad", 0) != 0,
			p: float64(n.Attrs.GetInt("p", 2)), colMajor: n.Attrs.GetInt("storage_order", 0) != 0}
		name, attrs, op := n.Name, n.Attrs, n.Op
		return backends.KernelFunc(func(_ context.Context, in, out []*tensor.Tensor) error {
			x, y := in[0], out[0]
			xs := x.Shape()
			if len(xs) < 3 || len(xs) > 5 {
				return fmt.Errorf("cpu: node %q (%s): X %v must have 1 to 3 spatial axes", name, op, xs)
			}
			g, err := ops.PoolGeometry(attrs, xs[2:])
			if err != nil {
				return fmt.Errorf("cpu: node %q (%s): %w", name, op, err)
			}
			want := append([]int{xs[0], xs[1]}, g.Out...)
			if fmt.Sprint(y.Shape()) != fmt.Sprint(want) {
				return fmt.Errorf("cpu: node %q (%s): output %v, expected %v", name, op, y, want)
			}
			q := pp
			if q.colMajor && len(xs) != 4 {
				return fmt.Errorf("cpu: node %q (%s): storage_order 1 needs 2-D pooling", name, op)
			}
			var idx []int64
			if len(out) > 1 && out[1] != nil {
				idx = out[1].Int64s()
				q.wantIndices = true
			}
			q.planes, q.inSz = xs[0]*xs[1], tensor.NumElements(xs[2:])
			g3 := toGeo3(g)
			if dt == tensor.Float32 {
				poolRun(env, &g3, q, x.Float32s(), y.Float32s(), idx)
			} else {
				poolRun(env, &g3, q, x.Float64s(), y.Float64s(), idx)
			}
			return nil
		}), nil
	}
}

func poolRun[T float32 | float64](env *Env, g *geo3, q poolParams, x, y []T, idx []int64) {
	inSz, outSz := g.inSize(), g.outSize()
	env.Parallel(q.planes, max(1, 8192/max(1, outSz*g.kernelSize())), func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			xp := x[pl*inSz : (pl+1)*inSz]
			yp := y[pl*outSz : (pl+1)*outSz]
			var ip []int64
			if q.wantIndices {
				ip = idx[pl*outSz : (pl+1)*outSz]
			}
			poolPlane(g, q, xp, yp, ip, int64(pl*inSz))
		}
	})
}

// poolPlane pools one plane. Windows start at o*stride - padBegin and take kernel
// taps dilation apart; taps in the padding are skipped (max, Lp) or counted as zeros
// when count_include_pad asks (average: the divisor counts taps inside the padded
// input, never beyond the end padding that ceil_mode may add).
func poolPlane[T float32 | float64](g *geo3, q poolParams, x, y []T, idx []int64, base int64) {
	o := 0
	for od := 0; od < g.out[0]; od++ {
		for oh := 0; oh < g.out[1]; oh++ {
			for ow := 0; ow < g.out[2]; ow++ {
				var start [3]int
				start[0], start[1], start[2] = od*g.s[0]-g.pb[0], oh*g.s[1]-g.pb[1], ow*g.s[2]-g.pb[2]
				best, bestAt := math.Inf(-1), -1
				sum, count, padCount := 0.0, 0, 0
				for kd := 0; kd < g.k[0]; kd++ {
					id := start[0] + kd*g.d[0]
					if id >= g.in[0]+g.pe[0] {
						break
					}
					for kh := 0; kh < g.k[1]; kh++ {
						ih := start[1] + kh*g.d[1]
						if ih >= g.in[1]+g.pe[1] {
							break
						}
						for kw := 0; kw < g.k[2]; kw++ {
							iw := start[2] + kw*g.d[2]
							if iw >= g.in[2]+g.pe[2] {
								break
							}
							padCount++
							if id < 0 || id >= g.in[0] || ih < 0 || ih >= g.in[1] || iw < 0 || iw >= g.in[2] {
								continue
							}
							at := (id*g.in[1]+ih)*g.in[2] + iw
							v := float64(x[at])
							count++
							switch q.kind {
							case poolMax:
								if v > best || (bestAt < 0 && math.IsNaN(v)) {
									best, bestAt = v, at
								}
							case poolAvg:
								sum += v
							case poolLp:
								sum += math.Pow(math.Abs(v), q.p)
							}
						}
					}
				}
				switch q.kind {
				case poolMax:
					y[o] = T(best)
					if idx != nil {
						if bestAt < 0 {
							bestAt = 0
						}
						if q.colMajor {
							h, w := bestAt/g.in[2], bestAt%g.in[2]
							bestAt = w*g.in[1] + h
						}
						idx[o] = base + int64(bestAt)
					}
				case poolAvg:
					div := count
					if q.includePad {
						div = padCount
					}
					y[o] = T(sum / float64(max(div, 1)))
				case poolLp:
					y[o] = T(math.Pow(sum, 1/q.p))
				}
				o++
			}
		}
	}
}

// globalPoolFactory prepares GlobalAveragePool, GlobalMaxPool and GlobalLpPool: one
// value per (image, channel) plane.
func globalPoolFactory(kind poolKind) Factory {
	return func(n *graph.Node, env *Env) (backends.Kernel, error) {
		dt := n.Inputs[0].DType
		if dt != tensor.Float32 && dt != tensor.Float64 {
			return nil, unsupported(n, "dtype %v", dt)
		}
		p := float64(n.Attrs.GetInt("p", 2))
		name, op := n.Name, n.Op
		return backends.KernelFunc(func(_ context.Context, in, out []*tensor.Tensor) error {
			xs := in[0].Shape()
			if len(xs) < 2 {
				return fmt.Errorf("cpu: node %q (%s): X %v has no channel axis", name, op, xs)
			}
			planes := xs[0] * xs[1]
			if out[0].Len() != planes {
				return fmt.Errorf("cpu: node %q (%s): output %v, expected %d values", name, op, out[0], planes)
			}
			if dt == tensor.Float32 {
				globalPool(env, kind, p, in[0].Float32s(), out[0].Float32s(), planes)
			} else {
				globalPool(env, kind, p, in[0].Float64s(), out[0].Float64s(), planes)
			}
			return nil
		}), nil
	}
}

func globalPool[T float32 | float64](env *Env, kind poolKind, p float64, x, y []T, planes int) {
	if planes == 0 {
		return
	}
	sz := len(x) / planes
	env.Parallel(planes, max(1, 16384/max(1, sz)), func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			xp := x[pl*sz : (pl+1)*sz]
			switch kind {
			case poolMax:
				best := math.Inf(-1)
				for _, v := range xp {
					if f := float64(v); f > best || math.IsNaN(f) {
						best = f
						if math.IsNaN(f) {
							break
						}
					}
				}
				y[pl] = T(best)
			case poolAvg:
				// four partial sums: faster than one dependent chain
				var s0, s1, s2, s3 float64
				i := 0
				for ; i+4 <= len(xp); i += 4 {
					s0 += float64(xp[i])
					s1 += float64(xp[i+1])
					s2 += float64(xp[i+2])
					s3 += float64(xp[i+3])
				}
				for ; i < len(xp); i++ {
					s0 += float64(xp[i])
				}
				y[pl] = T((s0 + s1 + s2 + s3) / float64(max(sz, 1)))
			case poolLp:
				s := 0.0
				for _, v := range xp {
					s += math.Pow(math.Abs(float64(v)), p)
				}
				y[pl] = T(math.Pow(s, 1/p))
			}
		}
	})
}
