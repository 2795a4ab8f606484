package cpu

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/cpu/gemm"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

func init() {
	register("", "Conv", viaFloat32(newConvKernel))
}

// convEpilogue is what a convolution applies to its output after the product, so that
// fused kernels (FusedConv, Conv+BN+ReLU) reuse the convolution without an extra pass
// over memory where they can:
//
//	y[img][ch] = Post(img, ch, Act(conv(x, w)[img][ch] + Bias[ch] + Residual[img][ch]))
//
// Bias (one value per output channel; float32 or float64 like the tensors) and Act
// run inside the float32 GEMM's epilogue while the tile is in cache. Residual, if set,
// has the output's shape and dtype; with it the GEMM adds the bias only, and package
// gemm adds the residual and applies Act on its workers, while copying the output out
// of its scratch where it has one (batched small planes, 7x7 outputs), else in one
// vectorized pass over the output (float32 1-D/2-D; convFinish otherwise). Post, if set,
// runs once per output plane (one image, one channel, all spatial positions) after
// the whole convolution, for epilogues the GEMM cannot fuse (LeakyRelu, Clip, a
// residual Add). Exactly one of Post32 and Post64 is used, by the tensors' dtype.
type convEpilogue struct {
	Bias     *tensor.Tensor
	Residual *tensor.Tensor
	Act      gemm.Activation
	Post32   func(img, ch int, plane []float32)
	Post64   func(img, ch int, plane []float64)
}

// convCore is a prepared convolution: the attributes of a Conv node (or a fused
// node with Conv's inputs X, W and attributes), with its weights pre-packed when they
// are constant. Fused kernels in this package build one with prepareConv and call
// run with their own epilogue.
type convCore struct {
	name   string
	attrs  graph.Attrs
	dtype  tensor.DType
	packed *gemm.PackedWeights // float32 1-D/2-D with constant W: packed once
	wShape []int               // the shape packed was made for

	// Winograd (winograd.go): constant weights transformed on first use (the
	// calls' scratch is the Env's).
	winoOnce sync.Once
	wino     *winogradWeights
	winoErr  error
}

// prepareConv checks n's dtype and weights and pre-packs constant float32 weights for
// the GEMM path. n's inputs 0 and 1 are X and W.
func prepareConv(n *graph.Node, env *Env) (*convCore, error) {
	dt := n.Inputs[0].DType
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return nil, unsupported(n, "dtype %v", dt)
	}
	c := &convCore{name: n.Name, attrs: n.Attrs, dtype: dt}
	w := n.Inputs[1]
	if w.HasShape && (len(w.Shape) < 3 || len(w.Shape) > 5) {
		return nil, unsupported(n, "weights of shape %v (1 to 3 spatial axes are supported)", w.Shape)
	}
	if dt == tensor.Float32 && w.Const != nil && w.Const.Rank() >= 3 && w.Const.Rank() <= 4 {
		ws := w.Const.Shape()
		s, err := conv2DWeightShape(ws, int(n.Attrs.GetInt("group", 1)))
		if err != nil {
			return nil, fmt.Errorf("cpu: node %q (%s): %w", n.Name, n.Op, err)
		}
		if c.packed, err = gemm.PackConv2DWeights(env.GEMM(), s, w.Const.Float32s()); err != nil {
			return nil, fmt.Errorf("cpu: node %q (%s): packing weights: %w", n.Name, n.Op, err)
		}
		c.wShape = append([]int(nil), ws...)
	}
	return c, nil
}

// conv2DWeightShape is the weight part of a gemm.Conv2DShape for weights ws (1-D
// convolutions get a kernel height of 1).
func conv2DWeightShape(ws []int, group int) (gemm.Conv2DShape, error) {
	if group < 1 || ws[0]%group != 0 {
		return gemm.Conv2DShape{}, fmt.Errorf("group %d does not divide the %d output channels", group, ws[0])
	}
	s := gemm.Conv2DShape{M: ws[0], C: ws[1] * group, KH: 1, KW: ws[len(ws)-1], Group: group}
	if len(ws) == 4 {
		s.KH = ws[2]
	}
	s.H, s.W = s.KH, s.KW
	return s, nil
}

func newConvKernel(n *graph.Node, env *Env) (backends.Kernel, error) {
	c, err := prepareConv(n, env)
	if err != nil {
		return nil, err
	}
	return backends.KernelFunc(func(_ context.Context, in, out []*tensor.Tensor) error {
		var bias *tensor.Tensor
		if len(in) > 2 {
			bias = in[2]
		}
		return c.run(env, in[0], in[1], out[0], convEpilogue{Bias: bias})
	}), nil
}

// geometry resolves the node's attributes for x and w and checks the channels.
func (c *convCore) geometry(x, w *tensor.Tensor) (*ops.Geometry, error) {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) < 3 || len(xs) > 5 || len(ws) != len(xs) {
		return nil, fmt.Errorf("X %v and W %v must both have rank 3 to 5 (1 to 3 spatial axes)", xs, ws)
	}
	g, err := ops.ConvGeometry(c.attrs, xs[2:], ws[2:])
	if err != nil {
		return nil, err
	}
	if xs[1] != ws[1]*g.Group || ws[0]%g.Group != 0 {
		return nil, fmt.Errorf("X has %d channels, W %v with group %d expects %d", xs[1], ws, g.Group, ws[1]*g.Group)
	}
	return g, nil
}

// run computes y = epilogue(conv(x, w)) for the node's attributes.
func (c *convCore) run(env *Env, x, w, y *tensor.Tensor, epi convEpilogue) error {
	g, err := c.geometry(x, w)
	if err != nil {
		return fmt.Errorf("cpu: node %q: %w", c.name, err)
	}
	xs, ws := x.Shape(), w.Shape()
	want := append([]int{xs[0], ws[0]}, g.Out...)
	if !slices.Equal(y.Shape(), want) {
		return fmt.Errorf("cpu: node %q: output %v, expected %v", c.name, y, want)
	}
	if epi.Bias != nil && (epi.Bias.Len() != ws[0] || epi.Bias.DType() != x.DType()) {
		return fmt.Errorf("cpu: node %q: bias %v, expected %v[%d]", c.name, epi.Bias, x.DType(), ws[0])
	}
	if y.Len() == 0 {
		return nil
	}
	switch {
	case x.DType() == tensor.Float32 && winogradApplies(env, g, xs, ws, epi):
		err = c.runWinograd(env, g, x, w, y, epi)
	case x.DType() == tensor.Float32 && len(xs) <= 4:
		err = c.runGemm2D(env, g, x, w, y, epi)
	case x.DType() == tensor.Float32:
		err = convIm2col(env, g, xs, ws, x.Float32s(), w.Float32s(), y.Float32s(), f32GEMM(env))
		if err == nil {
			err = convFinish(y.Float32s(), xs[0], ws[0], epi, tensorF32(epi.Bias), tensorF32(epi.Residual), epi.Post32)
		}
	default:
		err = convIm2col(env, g, xs, ws, x.Float64s(), w.Float64s(), y.Float64s(), genericGEMM[float64](env))
		if err == nil {
			err = convFinish(y.Float64s(), xs[0], ws[0], epi, tensorF64(epi.Bias), tensorF64(epi.Residual), epi.Post64)
		}
	}
	if err != nil {
		return fmt.Errorf("cpu: node %q: %w", c.name, err)
	}
	return nil
}

func tensorF32(t *tensor.Tensor) []float32 {
	if t == nil {
		return nil
	}
	return t.Float32s()
}

func tensorF64(t *tensor.Tensor) []float64 {
	if t == nil {
		return nil
	}
	return t.Float64s()
}

// runGemm2D runs a float32 1-D or 2-D convolution on package gemm's implicit GEMM.
func (c *convCore) runGemm2D(env *Env, g *ops.Geometry, x, w, y *tensor.Tensor, epi convEpilogue) error {
	xs, ws := x.Shape(), w.Shape()
	s, err := conv2DWeightShape(ws, g.Group)
	if err != nil {
		return err
	}
	s.N = xs[0]
	sp := len(g.In)
	s.W, s.PadLeft, s.PadRight, s.StrideW, s.DilationW = g.In[sp-1], g.PadsBegin[sp-1], g.PadsEnd[sp-1], g.Strides[sp-1], g.Dilations[sp-1]
	s.H, s.StrideH, s.DilationH = 1, 1, 1
	if sp == 2 {
		s.H, s.PadTop, s.PadBottom, s.StrideH, s.DilationH = g.In[0], g.PadsBegin[0], g.PadsEnd[0], g.Strides[0], g.Dilations[0]
	}
	pw := c.packed
	if pw == nil || !slices.Equal(c.wShape, ws) {
		if pw, err = gemm.PackConv2DWeights(env.GEMM(), s, w.Float32s()); err != nil {
			return err
		}
	}
	p := gemm.Conv2DParams{Conv2DShape: s, X: x.Float32s(), W: pw, Bias: tensorF32(epi.Bias),
		Residual: tensorF32(epi.Residual), Act: epi.Act, Y: y.Float32s()}
	if err := gemm.Conv2D(env.GEMM(), p); err != nil {
		return err
	}
	runPost32(env, epi, y, xs[0], ws[0])
	return nil
}

// runPost32 runs epi.Post32, if set, on each output plane of y (n images, m channels).
func runPost32(env *Env, epi convEpilogue, y *tensor.Tensor, n, m int) {
	if epi.Post32 == nil {
		return
	}
	plane := y.Len() / (n * m)
	yv := y.Float32s()
	env.Parallel(n*m, max(1, 16384/max(plane, 1)), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			epi.Post32(i/m, i%m, yv[i*plane:(i+1)*plane])
		}
	})
}

// runWinograd runs a float32 3x3 stride-1 convolution through Winograd F(2x2, 3x3)
// (winograd.go), transforming constant weights once.
func (c *convCore) runWinograd(env *Env, g *ops.Geometry, x, w, y *tensor.Tensor, epi convEpilogue) error {
	xs, ws := x.Shape(), w.Shape()
	var ww *winogradWeights
	if c.packed != nil && slices.Equal(c.wShape, ws) {
		c.winoOnce.Do(func() { c.wino, c.winoErr = newWinogradWeights(env.GEMM(), w.Float32s(), ws[0], ws[1], 2) })
		if c.winoErr != nil {
			return c.winoErr
		}
		ww = c.wino
	}
	if err := runWinograd(env, g, xs, x.Float32s(), w.Float32s(), y.Float32s(), ww, ws[0], epi, &env.winoScratch); err != nil {
		return err
	}
	runPost32(env, epi, y, xs[0], ws[0])
	return nil
}

// convFinish applies the epilogue after a convolution that did not fuse it.
func convFinish[T float32 | float64](y []T, batch, cout int, epi convEpilogue, bias, residual []T, post func(img, ch int, plane []T)) error {
	plane := len(y) / (batch * cout)
	for i := 0; i < batch*cout; i++ {
		p := y[i*plane : (i+1)*plane]
		if bias != nil {
			b := bias[i%cout]
			for j := range p {
				p[j] += b
			}
		}
		if residual != nil {
			for j, r := range residual[i*plane : (i+1)*plane] {
				p[j] += r
			}
		}
		applyActivation(p, epi.Act)
		if post != nil {
			post(i/cout, i%cout, p)
		}
	}
	return nil
}

// applyActivation applies a gemm.Activation to a slice of either float type: float32
// through package gemm's vectorized row helper, float64 in float64 arithmetic.
func applyActivation[T float32 | float64](p []T, act gemm.Activation) {
	if act == gemm.ActNone {
		return
	}
	switch v := any(p).(type) {
	case []float32:
		gemm.AddBiasAct(v, nil, act)
	case []float64:
		for j, x := range v {
			switch act {
			case gemm.ActReLU:
				if x < 0 {
					v[j] = 0
				}
			case gemm.ActGELU:
				v[j] = 0.5 * x * (1 + math.Erf(x/math.Sqrt2))
			case gemm.ActGELUTanh:
				v[j] = 0.5 * x * (1 + math.Tanh(0.7978845608028654*(x+0.044715*x*x*x)))
			}
		}
	}
}

// matmulFunc computes C[m×n] = op(A)·B with leading dimensions (B never
// transposed), overwriting C: the product the im2col and col2im paths need.
type matmulFunc[T float32 | float64] func(transA bool, m, n, k int, a []T, lda int, b []T, ldb int, c []T, ldc int) error

func f32GEMM(env *Env) matmulFunc[float32] {
	return func(transA bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) error {
		return sgemm(env, gemm.Params{TransA: transA, M: m, N: n, K: k, A: a, LDA: lda, B: b, LDB: ldb, C: c, LDC: ldc})
	}
}

func genericGEMM[T float32 | float64](env *Env) matmulFunc[T] {
	return func(transA bool, m, n, k int, a []T, lda int, b []T, ldb int, c []T, ldc int) error {
		gemmGeneric(env, transA, false, m, n, k, a, lda, b, ldb, c, ldc, false)
		return nil
	}
}

// geo3 is a geometry padded to three spatial axes with leading unit axes, so that
// one set of loops serves 1-D, 2-D and 3-D.
type geo3 struct {
	in, out, k, s, d, pb, pe [3]int
}

func toGeo3(g *ops.Geometry) geo3 {
	var r geo3
	off := 3 - len(g.In)
	for i := 0; i < 3; i++ {
		r.in[i], r.out[i], r.k[i], r.s[i], r.d[i] = 1, 1, 1, 1, 1
	}
	for i := range g.In {
		r.in[off+i], r.out[off+i], r.k[off+i] = g.In[i], g.Out[i], g.Kernel[i]
		r.s[off+i], r.d[off+i], r.pb[off+i], r.pe[off+i] = g.Strides[i], g.Dilations[i], g.PadsBegin[i], g.PadsEnd[i]
	}
	return r
}

func (g *geo3) inSize() int     { return g.in[0] * g.in[1] * g.in[2] }
func (g *geo3) outSize() int    { return g.out[0] * g.out[1] * g.out[2] }
func (g *geo3) kernelSize() int { return g.k[0] * g.k[1] * g.k[2] }
func (g *geo3) pointwise() bool {
	return g.kernelSize() == 1 && g.s == [3]int{1, 1, 1} && g.pb == [3]int{} && g.in == g.out
}

// colBudget bounds the im2col buffer (elements): columns are processed in chunks.
const colBudget = 1 << 19

// convIm2col is the general convolution: for each image and group, im2col over
// chunks of output positions into a buffer, then C = W_g · col with mm. Pointwise
// convolutions read X directly.
func convIm2col[T float32 | float64](env *Env, geo *ops.Geometry, xs, ws []int, x, w, y []T, mm matmulFunc[T]) error {
	g := toGeo3(geo)
	batch, cin, cout, group := xs[0], xs[1], ws[0], geo.Group
	cg, mg := cin/group, cout/group
	kk := g.kernelSize()
	kg := cg * kk
	inSz, outSz := g.inSize(), g.outSize()
	chunk := outSz
	if !g.pointwise() {
		chunk = max(16, min(outSz, colBudget/max(1, kg)))
	}
	var col []T
	if !g.pointwise() {
		col = make([]T, kg*chunk)
	}
	for img := 0; img < batch; img++ {
		for gr := 0; gr < group; gr++ {
			xg := x[(img*cin+gr*cg)*inSz : (img*cin+(gr+1)*cg)*inSz]
			wg := w[gr*mg*kg : (gr+1)*mg*kg]
			yg := y[(img*cout+gr*mg)*outSz : (img*cout+(gr+1)*mg)*outSz]
			if g.pointwise() {
				if err := mm(false, mg, outSz, cg, wg, kg, xg, inSz, yg, outSz); err != nil {
					return err
				}
				continue
			}
			for p0 := 0; p0 < outSz; p0 += chunk {
				n := min(chunk, outSz-p0)
				im2col(env, &g, xg, cg, col[:kg*n], p0, n)
				if err := mm(false, mg, n, kg, wg, kg, col, n, yg[p0:], outSz); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// im2col writes col[r][j] = x[c][input position of output position p0+j shifted by
// kernel offset r] (zero in the padding) for every row r = (c, kd, kh, kw).
func im2col[T float32 | float64](env *Env, g *geo3, x []T, cg int, col []T, p0, n int) {
	kk := g.kernelSize()
	inSz := g.inSize()
	env.Parallel(cg*kk, max(1, 4096/n), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			c, rem := r/kk, r%kk
			kd, kh, kw := rem/(g.k[1]*g.k[2]), rem/g.k[2]%g.k[1], rem%g.k[2]
			xc := x[c*inSz : (c+1)*inSz]
			dst := col[r*n : (r+1)*n]
			// Walk the output positions p0..p0+n by (od, oh) rows.
			p := p0
			for j := 0; j < n; {
				ow0 := p % g.out[2]
				oh := p / g.out[2] % g.out[1]
				od := p / (g.out[2] * g.out[1])
				cnt := min(g.out[2]-ow0, n-j)
				seg := dst[j : j+cnt]
				id := od*g.s[0] - g.pb[0] + kd*g.d[0]
				ih := oh*g.s[1] - g.pb[1] + kh*g.d[1]
				if id < 0 || id >= g.in[0] || ih < 0 || ih >= g.in[1] {
					clear(seg)
				} else {
					row := xc[(id*g.in[1]+ih)*g.in[2] : (id*g.in[1]+ih+1)*g.in[2]]
					off := kw*g.d[2] - g.pb[2]
					st := g.s[2]
					for q := range seg {
						iw := (ow0+q)*st + off
						if iw >= 0 && iw < len(row) {
							seg[q] = row[iw]
						} else {
							seg[q] = 0
						}
					}
				}
				j += cnt
				p += cnt
			}
		}
	})
}
