package cpu

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/cpu/gemm"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// Kernels of the channels-last operators (engine/ops/nhwc.go), which the optimizer's
// channels-last pass produces for the CPU: NhwcConv runs package gemm's direct
// convolution over N×H×W×C tensors (ConvNHWC); the pools are in nhwc_pool.go.

func init() {
	register(ops.DomainLightOS, ops.NhwcConv, newNhwcConv)
	register(ops.DomainLightOS, ops.NhwcMaxPool, newNhwcPool)
	register(ops.DomainLightOS, ops.NhwcAveragePool, newNhwcPool)
	register(ops.DomainLightOS, ops.NhwcGlobalAveragePool, newNhwcGlobalAveragePool)
}

// nhwcConv is a prepared NhwcConv node: constant weights packed once for
// gemm.ConvNHWC, the activation split between the GEMM's epilogue (Relu) and a pass
// over the output (LeakyRelu, Clip); the 3x3 stride-1 layers of 64 channels and more
// may go through Winograd F(2x2, 3x3) or F(4x4, 3x3) instead (runWinograd), where it
// measured faster (pickRoute).
type nhwcConv struct {
	name   string
	attrs  graph.Attrs
	act    gemm.Activation
	post   func(y []float32) // nil: none
	packed *gemm.PackedNHWCWeights
	wShape []int // the shape packed was made for

	// The Winograd routes (runWinograd): constant weights transformed on first use
	// (by tile size: wino[2], wino[4]; those of a size that no shape's route
	// uses are dropped). The calls' scratch is the Env's.
	winoMu sync.Mutex
	wino   map[int]*winogradWeights

	// routes records, per input shape, the route that was the fastest when all
	// were timed on that shape's first run (pickRoute): 0 for the direct kernel,
	// else the Winograd tile size.
	routeMu sync.Mutex
	routes  map[[4]int]int
}

// newNhwcConv prepares an NhwcConv node (float32; group 1 or depthwise, as
// gemm.ConvNHWC).
func newNhwcConv(n *graph.Node, env *Env) (backends.Kernel, error) {
	if err := requireF32(n); err != nil {
		return nil, err
	}
	c := &nhwcConv{name: n.Name, attrs: n.Attrs}
	switch act := n.Attrs.GetString("activation", ""); act {
	case ops.ActNone:
	case ops.ActRelu:
		c.act = gemm.ActReLU
	case ops.ActLeakyRelu:
		alpha := n.Attrs.GetFloat("alpha", 0.01)
		c.post = func(y []float32) { leakyReluF32(y, y, alpha) }
	case ops.ActClip:
		lo, hi := n.Attrs.GetFloat("min", 0), n.Attrs.GetFloat("max", 0)
		c.post = func(y []float32) { clampF32(y, lo, hi) }
	default:
		return nil, unsupported(n, "activation %q", act)
	}
	if w := n.Inputs[1]; w.Const != nil {
		ws := w.Const.Shape()
		s, err := nhwcWeightShape(ws, int(n.Attrs.GetInt("group", 1)))
		if err == nil {
			c.packed, err = gemm.PackConvNHWCWeights(env.GEMM(), s, w.Const.Float32s())
		}
		if err != nil {
			return nil, fmt.Errorf("cpu: node %q (%s): packing weights: %w", n.Name, n.Op, err)
		}
		c.wShape = slices.Clone(ws)
	}
	return backends.KernelFunc(func(_ context.Context, in, out []*tensor.Tensor) error {
		var bias, res *tensor.Tensor
		if len(in) > 2 {
			bias = in[2]
		}
		if len(in) > 3 {
			res = in[3]
		}
		if err := c.run(env, in[0], in[1], bias, res, out[0]); err != nil {
			return fmt.Errorf("cpu: node %q (NhwcConv): %w", c.name, err)
		}
		return nil
	}), nil
}

// nhwcWeightShape is the weight part of a gemm.Conv2DShape for OIHW weights ws.
func nhwcWeightShape(ws []int, group int) (gemm.Conv2DShape, error) {
	if len(ws) != 4 {
		return gemm.Conv2DShape{}, fmt.Errorf("weights of shape %v; expected [M, C/group, KH, KW]", ws)
	}
	return conv2DWeightShape(ws, group)
}

// run computes out = act(conv(x, w) + bias + res) over NHWC tensors.
func (c *nhwcConv) run(env *Env, x, w, bias, res, y *tensor.Tensor) error {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 4 || len(ws) != 4 {
		return fmt.Errorf("X %v must be [N, H, W, C] and W %v [M, C/group, KH, KW]", xs, ws)
	}
	g, err := ops.ConvGeometry(c.attrs, xs[1:3], ws[2:])
	if err != nil {
		return err
	}
	if xs[3] != ws[1]*g.Group || ws[0]%g.Group != 0 {
		return fmt.Errorf("X has %d channels, W %v with group %d expects %d", xs[3], ws, g.Group, ws[1]*g.Group)
	}
	if want := []int{xs[0], g.Out[0], g.Out[1], ws[0]}; !slices.Equal(y.Shape(), want) {
		return fmt.Errorf("output %v, expected %v", y, want)
	}
	if bias != nil && bias.Len() != ws[0] {
		return fmt.Errorf("bias %v, expected %d values", bias, ws[0])
	}
	if res != nil && !slices.Equal(res.Shape(), y.Shape()) {
		return fmt.Errorf("residual %v, expected the output's shape %v", res, y.Shape())
	}
	s, err := nhwcWeightShape(ws, g.Group)
	if err != nil {
		return err
	}
	s.N, s.H, s.W = xs[0], xs[1], xs[2]
	s.PadTop, s.PadLeft, s.PadBottom, s.PadRight = g.PadsBegin[0], g.PadsBegin[1], g.PadsEnd[0], g.PadsEnd[1]
	s.StrideH, s.StrideW, s.DilationH, s.DilationW = g.Strides[0], g.Strides[1], g.Dilations[0], g.Dilations[1]
	pw := c.packed
	if pw == nil || !slices.Equal(c.wShape, ws) {
		if pw, err = gemm.PackConvNHWCWeights(env.GEMM(), s, w.Float32s()); err != nil {
			return err
		}
	}
	if y.Len() == 0 {
		return nil
	}
	f2, f4 := c.winogradSizes(env, g, xs, ws)
	routed := f2 || f4
	size, known := 0, false
	if routed {
		size, known = c.knownRoute([4]int(xs))
	}
	if routed && !known && res != nil && &res.Float32s()[0] == &y.Float32s()[0] {
		// The output is the residual's buffer (backends.InPlacer) and pickRoute
		// will run the layer several times: each run needs the residual intact.
		res = res.Clone()
	}
	direct := func() error {
		p := gemm.ConvNHWCParams{Conv2DShape: s, X: x.Float32s(), W: pw, Bias: tensorF32(bias),
			Residual: tensorF32(res), Act: c.act, Y: y.Float32s()}
		return gemm.ConvNHWC(env.GEMM(), p)
	}
	switch {
	case !routed || (known && size == 0):
		err = direct()
	case known:
		err = c.runWinograd(env, g, size, x, w, bias, res, y)
	default: // the shape's first run: time the routes
		routes := []nhwcRoute{{0, direct}}
		for _, r := range []struct {
			size int
			ok   bool
		}{{2, f2}, {4, f4}} {
			if r.ok {
				routes = append(routes, nhwcRoute{r.size, func() error { return c.runWinograd(env, g, r.size, x, w, bias, res, y) }})
			}
		}
		err = c.pickRoute([4]int(xs), routes)
	}
	if err != nil {
		return err
	}
	if c.post != nil {
		yv := y.Float32s()
		env.ParallelW(len(yv), 1<<15, func(_, lo, hi int) { c.post(yv[lo:hi]) })
	}
	return nil
}

// knownRoute returns the route pickRoute chose for input shape xs (0: the direct
// kernel, else the Winograd tile size), and whether it has chosen one.
func (c *nhwcConv) knownRoute(xs [4]int) (size int, known bool) {
	c.routeMu.Lock()
	defer c.routeMu.Unlock()
	size, known = c.routes[xs]
	return size, known
}

// routeTimings is how many times pickRoute times each route after its warm-up run.
const routeTimings = 3

// nhwcRoute is one way to compute a layer: size 0 the direct kernel, else
// Winograd of that tile size.
type nhwcRoute struct {
	size int
	run  func() error
}

// pickRoute runs the convolution through the fastest of routes (the direct kernel
// first) for input shape xs. The first run of a shape times all (each once to warm
// up, then the fastest of routeTimings runs, in turn; each writes the whole output)
// and remembers the fastest: it depends on the machine and the layer
// (nhwcWinogradMinChannels). The transformed weights of a Winograd size that no
// shape then uses are dropped.
func (c *nhwcConv) pickRoute(xs [4]int, routes []nhwcRoute) error {
	c.routeMu.Lock()
	size, known := c.routes[xs]
	c.routeMu.Unlock()
	if known {
		for _, r := range routes {
			if r.size == size {
				return r.run()
			}
		}
		return fmt.Errorf("no route of size %d among %d", size, len(routes))
	}
	// Each warms up once (weight transforms, scratch buffers), then all run
	// routeTimings times, in turn, and the fastest of each counts (with two, a
	// pause of the machine's other core now and then made the slower route
	// win: the first run is also when the garbage collector runs most). The last
	// route runs last, so that the first run's output is a Winograd route's (which
	// TestNhwcConvMatchesConv's batch-2 cases check; the direct kernel has its own).
	best := make([]time.Duration, len(routes))
	for i := range best {
		best[i] = time.Duration(math.MaxInt64)
	}
	for i := 0; i <= routeTimings; i++ {
		for k, r := range routes {
			start := time.Now()
			if err := r.run(); err != nil {
				return err
			}
			if d := time.Since(start); i > 0 && d < best[k] {
				best[k] = d
			}
		}
	}
	fastest := 0
	for k := range best {
		if best[k] < best[fastest] {
			fastest = k
		}
	}
	c.routeMu.Lock()
	if c.routes == nil {
		c.routes = map[[4]int]int{}
	}
	c.routes[xs] = routes[fastest].size
	used := map[int]bool{}
	for _, size := range c.routes {
		used[size] = true
	}
	c.routeMu.Unlock()
	c.winoMu.Lock()
	for size := range c.wino {
		if !used[size] {
			delete(c.wino, size)
		}
	}
	c.winoMu.Unlock()
	return nil
}

// nhwcWinogradMinChannels is the smallest input and output channel count for which
// NhwcConv considers the Winograd routes (pickRoute times them against the direct
// kernel). Channels-last, the transforms are copies and vector operations: on the
// 2-core Zen 4, F(2x2, 3x3) took 0.65-0.91 of the direct kernel's time on ResNet-50's
// stride-1 3x3 layers of 64-256 channels at batch 1 and 8 (1.6x at 512@7x7, batch 1,
// where pickRoute keeps the direct kernel), and F(4x4, 3x3) 0.43 at 64@56x56, batch 1
// (0.69 on a Xeon of the device pool); BenchmarkNhwcConvWinogradRoute.
const nhwcWinogradMinChannels = 64

// wino4MaxChannels bounds the input and output channels of the layers that
// NhwcConv times F(4x4, 3x3) on: its transformed weights are 4 times the
// weights (36·C·M floats; 9.4 MB at 256 channels), and at 512 channels the layers
// have few pixels (ResNet-50's 7x7), where the F(2x2) tiles fit better.
const wino4MaxChannels = 256

// winogradSizes reports which Winograd tile sizes NhwcConv times for a layer
// against the direct kernel, F(2x2, 3x3) and F(4x4, 3x3) (neither if the weights
// are not constant or the layer is no 3x3 stride-1 convolution of at least
// nhwcWinogradMinChannels channels).
func (c *nhwcConv) winogradSizes(env *Env, g *ops.Geometry, xs, ws []int) (f2, f4 bool) {
	if c.packed == nil || !winogradFits(env, g, []int{xs[0], xs[3], xs[1], xs[2]}, ws, convEpilogue{Act: c.act}, nhwcWinogradMinChannels) {
		return false, false
	}
	if env.NoWinograd4 || xs[3] > wino4MaxChannels || ws[0] > wino4MaxChannels {
		return true, false
	}
	if g.Out[0]%4 == 0 && g.Out[1]%4 == 0 {
		// F(4x4)'s tiles cover the output exactly: on every such layer
		// measured it beat F(2x2) by 1.2-2.1x (64@56x56 and 128@28x28, batch 1
		// and 8, Zen 4 and Xeon), so F(2x2) is not transformed and timed too.
		return false, true
	}
	return true, true
}

// runWinograd runs the convolution through Winograd F(size x size, 3x3) on the
// channels-last tensors as they are (winograd.go's NHWC layout: the input patches
// and output pixels are runs of channels, so no transposes); res may be y.
// Constant weights are transformed once per size.
func (c *nhwcConv) runWinograd(env *Env, g *ops.Geometry, size int, x, w, bias, res, y *tensor.Tensor) error {
	xs, ws := x.Shape(), w.Shape()
	c.winoMu.Lock()
	ww := c.wino[size]
	if ww == nil {
		var err error
		if ww, err = newWinogradWeights(env.GEMM(), w.Float32s(), ws[0], xs[3], size); err != nil {
			c.winoMu.Unlock()
			return err
		}
		if c.wino == nil {
			c.wino = map[int]*winogradWeights{}
		}
		c.wino[size] = ww
	}
	c.winoMu.Unlock()
	epi := convEpilogue{Bias: bias, Residual: res, Act: c.act}
	return runWinogradLayout(env, g, []int{xs[0], xs[3], xs[1], xs[2]}, true, size, x.Float32s(), w.Float32s(), y.Float32s(), ww, ws[0], epi, &env.winoScratch)
}

// clampF32 clamps y to [lo, hi] in place (Clip; ReLU6).
func clampF32(y []float32, lo, hi float32) { clampAffineF32(y, y, 1, 0, lo, hi, false) }

// nhwcSmallChannels bounds the channels for which transposeToNHWC takes over from the
// general blocked transpose (whose 32×32 tiles have little to work on when a pixel
// holds a handful of channels: the RGB input of a network), 8 times faster on the
// 1×3×224×224 input of ResNet-50 (BenchmarkTransposeToNHWC).
const nhwcSmallChannels = 16

// transposeToNHWC writes x (N×C×H×W, float32) into y as N×H×W×C when C is small, and
// reports whether it did (else the caller's general transpose runs). Pixels are split
// into chunks across threads; each output pixel's C values are gathered from the C
// planes in turn (RGB unrolled).
func transposeToNHWC(env *Env, x, y *tensor.Tensor, perm []int) bool {
	xs := x.Shape()
	if x.DType() != tensor.Float32 || len(xs) != 4 || !slices.Equal(perm, ops.NCHWToNHWC) || xs[1] > nhwcSmallChannels || x.Len() == 0 {
		return false
	}
	n, c, hw := xs[0], xs[1], xs[2]*xs[3]
	src, dst := x.Float32s(), y.Float32s()
	const chunk = 2048 // pixels: 2048·C floats of output, at most 128 KB
	per := (hw + chunk - 1) / chunk
	env.ParallelW(n*per, max(1, 16384/(chunk*c)), func(_, lo, hi int) {
		for t := lo; t < hi; t++ {
			img, p0 := t/per, (t%per)*chunk
			p1 := min(p0+chunk, hw)
			out := dst[(img*hw+p0)*c : (img*hw+p1)*c]
			if c == 3 {
				base := img*c*hw + p0
				s0, s1, s2 := src[base:base+p1-p0], src[base+hw:base+hw+p1-p0], src[base+2*hw:base+2*hw+p1-p0]
				for i := range s0 {
					o := out[i*3 : i*3+3 : i*3+3]
					o[0], o[1], o[2] = s0[i], s1[i], s2[i]
				}
				continue
			}
			base := img*c*hw + p0
			for i := range p1 - p0 {
				o := out[i*c : i*c+c : i*c+c]
				for ch := range o {
					o[ch] = src[base+ch*hw+i]
				}
			}
		}
	})
	return true
}
