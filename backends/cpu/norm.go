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
	register("", "BatchNormalization", viaFloat32(newBatchNorm))
	register("", "LayerNormalization", viaFloat32(newLayerNorm))
	register("", "InstanceNormalization", viaFloat32(newChannelNorm))
	register("", "GroupNormalization", viaFloat32(newChannelNorm))
	register("", "LRN", viaFloat32(newLRN))
}

func floatKernel(n *graph.Node) error {
	if dt := n.Inputs[0].DType; dt != tensor.Float32 && dt != tensor.Float64 {
		return unsupported(n, "dtype %v", dt)
	}
	return nil
}

// batchNormAffine turns inference batch-norm parameters into y = x·a + b per
// channel (or per element, for the opset < 9 spatial=0 form). It is shared with the
// Conv+BatchNorm folding kernels.
func batchNormAffine(scale, bias, mean, variance *tensor.Tensor, eps float64) (a, b []float64) {
	n := scale.Len()
	a, b = make([]float64, n), make([]float64, n)
	for i := 0; i < n; i++ {
		a[i] = scale.Float64At(i) / math.Sqrt(variance.Float64At(i)+eps)
		b[i] = bias.Float64At(i) - mean.Float64At(i)*a[i]
	}
	return a, b
}

// newBatchNorm is BatchNormalization: y = (x-mean)/sqrt(var+eps)·scale + B, computed
// as one multiply-add per element with coefficients folded once (at kernel creation
// when the parameters are constant). In inference mode the optional statistics outputs
// receive the running mean and variance unchanged. With training_mode 1, mean and var
// are the batch's (over every axis but 1, population variance, in float64) and the
// outputs are the running statistics updated with momentum:
// running = input·momentum + batch·(1-momentum), then (opset < 14) the batch ones.
func newBatchNorm(n *graph.Node, env *Env) (backends.Kernel, error) {
	if err := floatKernel(n); err != nil {
		return nil, err
	}
	eps := float64(n.Attrs.GetFloat("epsilon", 1e-5))
	if n.Attrs.GetInt("training_mode", 0) != 0 {
		return newBatchNormTraining(n, env, eps, float64(n.Attrs.GetFloat("momentum", 0.9))), nil
	}
	var ca, cb []float64
	allConst := true
	for _, v := range n.Inputs[1:5] {
		allConst = allConst && v.IsConst()
	}
	if allConst {
		ca, cb = batchNormAffine(n.Inputs[1].Const, n.Inputs[2].Const, n.Inputs[3].Const, n.Inputs[4].Const, eps)
	}
	name := n.Name
	return backends.KernelFunc(func(_ context.Context, in, out []*tensor.Tensor) error {
		x, y := in[0], out[0]
		xs := x.Shape()
		if len(xs) < 2 {
			return fmt.Errorf("cpu: node %q (BatchNormalization): X %v has no channel axis", name, xs)
		}
		ch := xs[1]
		per := ch // parameters per channel, or per element of X.shape[1:]
		if in[1].Len() != ch {
			per = tensor.NumElements(xs[1:])
		}
		for i, p := range in[1:5] {
			if p.Len() != per || p.DType() != x.DType() {
				return fmt.Errorf("cpu: node %q (BatchNormalization): input %d is %v; expected %v[%d] for X %v", name, i+1, p, x.DType(), ch, xs)
			}
		}
		a, b := ca, cb
		if a == nil {
			a, b = batchNormAffine(in[1], in[2], in[3], in[4], eps)
		}
		inner := tensor.NumElements(xs[2:])
		if per != ch {
			inner = 1
		}
		if x.DType() == tensor.Float32 {
			affineRun(env, x.Float32s(), y.Float32s(), a, b, per, inner)
		} else {
			affineRun(env, x.Float64s(), y.Float64s(), a, b, per, inner)
		}
		for i := 1; i < len(out); i++ {
			if out[i] != nil {
				copy(out[i].Bytes(), in[3+(i-1)%2].Bytes())
			}
		}
		return nil
	}), nil
}

// newBatchNormTraining is BatchNormalization with training_mode 1 (see newBatchNorm).
func newBatchNormTraining(n *graph.Node, env *Env, eps, momentum float64) backends.Kernel {
	name := n.Name
	return backends.KernelFunc(func(_ context.Context, in, out []*tensor.Tensor) error {
		x := in[0]
		xs := x.Shape()
		if len(xs) < 2 {
			return fmt.Errorf("cpu: node %q (BatchNormalization): X %v has no channel axis", name, xs)
		}
		ch, inner := xs[1], tensor.NumElements(xs[2:])
		for i, p := range in[1:5] {
			if p.Len() != ch || p.DType() != x.DType() {
				return fmt.Errorf("cpu: node %q (BatchNormalization): training mode input %d is %v; expected %v[%d] for X %v", name, i+1, p, x.DType(), ch, xs)
			}
		}
		count := x.Len() / max(1, ch)
		if count == 0 {
			return fmt.Errorf("cpu: node %q (BatchNormalization): training mode on an empty batch %v", name, xs)
		}
		mean, variance := make([]float64, ch), make([]float64, ch)
		rows := x.Len() / max(1, inner)
		for r := 0; r < rows; r++ {
			c := r % ch
			for i := r * inner; i < (r+1)*inner; i++ {
				mean[c] += x.Float64At(i)
			}
		}
		for c := range mean {
			mean[c] /= float64(count)
		}
		for r := 0; r < rows; r++ {
			c := r % ch
			for i := r * inner; i < (r+1)*inner; i++ {
				d := x.Float64At(i) - mean[c]
				variance[c] += d * d
			}
		}
		for c := range variance {
			variance[c] /= float64(count)
		}
		a, b := make([]float64, ch), make([]float64, ch)
		for c := range a {
			a[c] = in[1].Float64At(c) / math.Sqrt(variance[c]+eps)
			b[c] = in[2].Float64At(c) - mean[c]*a[c]
		}
		if x.DType() == tensor.Float32 {
			affineRun(env, x.Float32s(), out[0].Float32s(), a, b, ch, inner)
		} else {
			affineRun(env, x.Float64s(), out[0].Float64s(), a, b, ch, inner)
		}
		stats := [][]float64{mean, variance}
		for i := 1; i < len(out) && i < 5; i++ {
			o := out[i]
			if o == nil {
				continue
			}
			for c := 0; c < ch && c < o.Len(); c++ {
				if i <= 2 { // running mean and variance
					o.SetFloat64At(c, in[2+i].Float64At(c)*momentum+stats[i-1][c]*(1-momentum))
				} else { // batch mean and variance
					o.SetFloat64At(c, stats[i-3][c])
				}
			}
		}
		return nil
	})
}

// affineRun computes y = x·a[c] + b[c] where c = (index / inner) % channels.
func affineRun[T float32 | float64](env *Env, x, y []T, a, b []float64, channels, inner int) {
	rows := len(x) / max(1, inner)
	env.Parallel(rows, max(1, 32768/max(1, inner)), func(lo, hi int) {
		x32, _ := any(x).([]float32)
		y32, _ := any(y).([]float32)
		for r := lo; r < hi; r++ {
			c := r % channels
			if x32 != nil {
				scaleShift(x32[r*inner:(r+1)*inner], y32[r*inner:(r+1)*inner], float32(a[c]), float32(b[c]))
				continue
			}
			av, bv := T(a[c]), T(b[c])
			xr, yr := x[r*inner:(r+1)*inner], y[r*inner:(r+1)*inner]
			for i, v := range xr {
				yr[i] = v*av + bv
			}
		}
	})
}

// newLayerNorm normalizes over the axes from axis on: for each of the outer rows,
// mean and variance in float64, then y = (x-mean)·invstd·Scale + B. Scale and B
// broadcast to the normalized shape (expanded once per run when they are not full).
func newLayerNorm(n *graph.Node, env *Env) (backends.Kernel, error) {
	if err := floatKernel(n); err != nil {
		return nil, err
	}
	eps := float64(n.Attrs.GetFloat("epsilon", 1e-5))
	axisAttr := n.Attrs.GetInt("axis", -1)
	name := n.Name
	return backends.KernelFunc(func(_ context.Context, in, out []*tensor.Tensor) error {
		x := in[0]
		xs := x.Shape()
		if len(xs) == 0 {
			return fmt.Errorf("cpu: node %q (LayerNormalization): X is a scalar", name)
		}
		ax, err := ops.NormAxis(axisAttr, len(xs))
		if err != nil {
			return fmt.Errorf("cpu: node %q (LayerNormalization): %w", name, err)
		}
		normShape := xs[ax:]
		d := tensor.NumElements(normShape)
		params := make([][]float64, 2)
		for i := 1; i <= 2; i++ {
			if i >= len(in) || in[i] == nil {
				continue
			}
			p, err := expandTo(in[i], normShape)
			if err != nil {
				return fmt.Errorf("cpu: node %q (LayerNormalization): input %d: %w", name, i, err)
			}
			params[i-1] = p
		}
		var mean, inv *tensor.Tensor
		if len(out) > 1 {
			mean = out[1]
		}
		if len(out) > 2 {
			inv = out[2]
		}
		if x.DType() == tensor.Float32 {
			layerNormRun(env, x.Float32s(), out[0].Float32s(), d, params[0], params[1], eps, mean, inv)
		} else {
			layerNormRun(env, x.Float64s(), out[0].Float64s(), d, params[0], params[1], eps, mean, inv)
		}
		return nil
	}), nil
}

// expandTo returns t's values broadcast (unidirectionally) to shape, as float64.
func expandTo(t *tensor.Tensor, shape []int) ([]float64, error) {
	st, err := broadcastTo(t.Shape(), shape)
	if err != nil {
		return nil, err
	}
	n := tensor.NumElements(shape)
	out := make([]float64, n)
	if t.Len() == n {
		for i := range out {
			out[i] = t.Float64At(i)
		}
		return out, nil
	}
	for i := range out {
		idx, rem := 0, i
		for d := len(shape) - 1; d >= 0; d-- {
			idx += rem % shape[d] * st[d]
			rem /= shape[d]
		}
		out[i] = t.Float64At(idx)
	}
	return out, nil
}

func layerNormRun[T float32 | float64](env *Env, x, y []T, d int, scale, bias []float64, eps float64, meanT, invT *tensor.Tensor) {
	if d == 0 {
		return
	}
	rows := len(x) / d
	sc, bs := make([]T, d), make([]T, d)
	for i := range sc {
		sc[i] = 1
		if scale != nil {
			sc[i] = T(scale[i])
		}
		if bias != nil {
			bs[i] = T(bias[i])
		}
	}
	x32, _ := any(x).([]float32)
	norm := func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, yr := x[r*d:(r+1)*d], y[r*d:(r+1)*d]
			mean, variance := meanVar(xr)
			inv := 1 / math.Sqrt(variance+eps)
			if x32 != nil {
				normAffine(x32[r*d:(r+1)*d], any(yr).([]float32), any(sc).([]float32), any(bs).([]float32), float32(mean), float32(inv))
			} else {
				m, iv := T(mean), T(inv)
				for i, v := range xr {
					yr[i] = (v-m)*iv*sc[i] + bs[i]
				}
			}
			if meanT != nil {
				meanT.SetFloat64At(r, mean)
			}
			if invT != nil {
				invT.SetFloat64At(r, inv)
			}
		}
	}
	// In a transformer LayerNorm sits between products, whose workers are then
	// polling for work (see Env.ParallelW).
	env.ParallelW(rows, max(1, 16384/d), norm)
}

// meanVar returns the mean and the (biased) variance of xs with a two-pass formula:
// float32 data on the vector helpers (sums in 32 float32 lanes), float64 data
// accumulated in float64.
func meanVar[T float32 | float64](xs []T) (float64, float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	if f, ok := any(xs).([]float32); ok {
		n := float64(len(f))
		mean := float64(sum(f)) / n
		return mean, float64(sqDiffSum(f, float32(mean))) / n
	}
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(xs); i += 4 {
		s0 += float64(xs[i])
		s1 += float64(xs[i+1])
		s2 += float64(xs[i+2])
		s3 += float64(xs[i+3])
	}
	for ; i < len(xs); i++ {
		s0 += float64(xs[i])
	}
	mean := (s0 + s1 + s2 + s3) / float64(len(xs))
	var q0, q1 float64
	i = 0
	for ; i+2 <= len(xs); i += 2 {
		a, b := float64(xs[i])-mean, float64(xs[i+1])-mean
		q0 += a * a
		q1 += b * b
	}
	for ; i < len(xs); i++ {
		a := float64(xs[i]) - mean
		q0 += a * a
	}
	return mean, (q0 + q1) / float64(len(xs))
}

// newChannelNorm is InstanceNormalization (each channel of each image normalized over
// its spatial positions) and GroupNormalization (groups of C/num_groups channels
// normalized together). Scale and bias are per channel, or per group for the
// GroupNormalization form before opset 21.
func newChannelNorm(n *graph.Node, env *Env) (backends.Kernel, error) {
	if err := floatKernel(n); err != nil {
		return nil, err
	}
	eps := float64(n.Attrs.GetFloat("epsilon", 1e-5))
	groups := 0
	if n.Op == "GroupNormalization" {
		groups = int(n.Attrs.GetInt("num_groups", 0))
		if groups < 1 {
			return nil, fmt.Errorf("cpu: node %q (GroupNormalization): num_groups %d must be positive", n.Name, groups)
		}
	}
	name, op := n.Name, n.Op
	return backends.KernelFunc(func(_ context.Context, in, out []*tensor.Tensor) error {
		x := in[0]
		xs := x.Shape()
		if len(xs) < 2 {
			return fmt.Errorf("cpu: node %q (%s): X %v has no channel axis", name, op, xs)
		}
		ch := xs[1]
		g := groups
		if g == 0 {
			g = ch
		}
		if ch%g != 0 {
			return fmt.Errorf("cpu: node %q (%s): num_groups %d does not divide %d channels", name, op, g, ch)
		}
		sc, bs := in[1], in[2]
		if sc.Len() != bs.Len() || (sc.Len() != ch && sc.Len() != g) {
			return fmt.Errorf("cpu: node %q (%s): scale %v and bias %v must have %d values", name, op, sc, bs, ch)
		}
		perGroup := sc.Len() != ch
		a, b := sc.AsFloat64s(), bs.AsFloat64s()
		inner := tensor.NumElements(xs[2:])
		if x.DType() == tensor.Float32 {
			channelNormRun(env, x.Float32s(), out[0].Float32s(), xs[0], ch, g, inner, a, b, perGroup, eps)
		} else {
			channelNormRun(env, x.Float64s(), out[0].Float64s(), xs[0], ch, g, inner, a, b, perGroup, eps)
		}
		return nil
	}), nil
}

func channelNormRun[T float32 | float64](env *Env, x, y []T, batch, ch, groups, inner int, scale, bias []float64, perGroup bool, eps float64) {
	cpg := ch / groups
	size := cpg * inner
	env.Parallel(batch*groups, max(1, 16384/max(1, size)), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			gr := i % groups
			xg, yg := x[i*size:(i+1)*size], y[i*size:(i+1)*size]
			mean, variance := meanVar(xg)
			inv := 1 / math.Sqrt(variance+eps)
			for c := 0; c < cpg; c++ {
				pi := gr*cpg + c
				if perGroup {
					pi = gr
				}
				a := T(scale[pi] * inv)
				b := T(bias[pi] - mean*scale[pi]*inv)
				xr, yr := xg[c*inner:(c+1)*inner], yg[c*inner:(c+1)*inner]
				if x32, ok := any(xr).([]float32); ok {
					scaleShift(x32, any(yr).([]float32), float32(a), float32(b))
					continue
				}
				for j, v := range xr {
					yr[j] = v*a + b
				}
			}
		}
	})
}

// newLRN is local response normalization across channels:
// y = x / (bias + alpha/size · Σ x²)^beta over channels c-⌊(size-1)/2⌋ … c+⌈(size-1)/2⌉.
func newLRN(n *graph.Node, env *Env) (backends.Kernel, error) {
	if err := floatKernel(n); err != nil {
		return nil, err
	}
	size := int(n.Attrs.GetInt("size", 0))
	if size < 1 {
		return nil, fmt.Errorf("cpu: node %q (LRN): size %d must be positive", n.Name, size)
	}
	alpha := float64(n.Attrs.GetFloat("alpha", 1e-4))
	beta := float64(n.Attrs.GetFloat("beta", 0.75))
	bias := float64(n.Attrs.GetFloat("bias", 1))
	name := n.Name
	return backends.KernelFunc(func(_ context.Context, in, out []*tensor.Tensor) error {
		x, y := in[0], out[0]
		xs := x.Shape()
		if len(xs) < 3 {
			return fmt.Errorf("cpu: node %q (LRN): X %v must be [N, C, spatial...]", name, xs)
		}
		ch, inner := xs[1], tensor.NumElements(xs[2:])
		lo, hi := (size-1)/2, (size-1)-(size-1)/2
		env.Parallel(xs[0]*ch, max(1, 4096/max(1, inner*size)), func(p0, p1 int) {
			for p := p0; p < p1; p++ {
				img, c := p/ch, p%ch
				for j := 0; j < inner; j++ {
					s := 0.0
					for cc := max(0, c-lo); cc <= min(ch-1, c+hi); cc++ {
						v := x.Float64At((img*ch+cc)*inner + j)
						s += v * v
					}
					i := p*inner + j
					y.SetFloat64At(i, x.Float64At(i)/math.Pow(bias+alpha/float64(size)*s, beta))
				}
			}
		})
		return nil
	}), nil
}
