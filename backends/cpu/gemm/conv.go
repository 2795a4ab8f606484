package gemm

import (
	"fmt"
	"sync"
	"unsafe"
)

// Conv2DShape describes a 2-D convolution as ONNX Conv gives it: input
// N×C×H×W (NCHW), weights M×(C/Group)×KH×KW (OIHW), output N×M×OH×OW.
// Zero strides, dilations and group mean 1.
type Conv2DShape struct {
	N, C, H, W int // input
	M          int // output channels
	KH, KW     int // kernel

	PadTop, PadLeft, PadBottom, PadRight int
	StrideH, StrideW                     int
	DilationH, DilationW                 int
	Group                                int
}

func (s *Conv2DShape) defaults() {
	for _, v := range []*int{&s.StrideH, &s.StrideW, &s.DilationH, &s.DilationW, &s.Group} {
		if *v == 0 {
			*v = 1
		}
	}
}

// OutH returns the output height (may be <= 0 for an invalid shape).
func (s Conv2DShape) OutH() int {
	s.defaults()
	return (s.H+s.PadTop+s.PadBottom-s.DilationH*(s.KH-1)-1)/s.StrideH + 1
}

// OutW returns the output width (may be <= 0 for an invalid shape).
func (s Conv2DShape) OutW() int {
	s.defaults()
	return (s.W+s.PadLeft+s.PadRight-s.DilationW*(s.KW-1)-1)/s.StrideW + 1
}

func (s Conv2DShape) String() string {
	s.defaults()
	return fmt.Sprintf("conv %dx%dx%dx%d -> %d, kernel %dx%d, pads %d,%d,%d,%d, strides %d,%d, dilations %d,%d, group %d",
		s.N, s.C, s.H, s.W, s.M, s.KH, s.KW, s.PadTop, s.PadLeft, s.PadBottom, s.PadRight,
		s.StrideH, s.StrideW, s.DilationH, s.DilationW, s.Group)
}

// checked returns the shape with defaults filled in, or what is wrong with it.
// (A value receiver: the caller's shape does not escape to the heap.)
func (s Conv2DShape) checked() (Conv2DShape, error) {
	s.defaults()
	bad := func(format string, args ...any) (Conv2DShape, error) {
		return s, fmt.Errorf("gemm: %v: %s: %w", s, fmt.Sprintf(format, args...), ErrInvalid)
	}
	for _, v := range []int{s.N, s.C, s.H, s.W, s.M, s.KH, s.KW, s.PadTop, s.PadLeft, s.PadBottom, s.PadRight} {
		if v < 0 {
			return bad("negative size or pad")
		}
	}
	if s.StrideH < 0 || s.StrideW < 0 || s.DilationH < 0 || s.DilationW < 0 || s.Group < 0 {
		return bad("negative stride, dilation or group")
	}
	const limit = 1 << 31 // every size, and every tensor's element count, stays below this
	if _, ok := product(s.N, s.C, s.H, s.W); !ok {
		return bad("input too large")
	}
	if _, ok := product(s.M, s.C, s.KH, s.KW); !ok {
		return bad("weights too large")
	}
	for _, v := range []int{s.StrideH, s.StrideW, s.DilationH, s.DilationW, s.PadTop + s.PadBottom + s.H, s.PadLeft + s.PadRight + s.W} {
		if v >= limit {
			return bad("size %d too large", v)
		}
	}
	if s.KH == 0 || s.KW == 0 || s.C == 0 || s.M == 0 {
		return bad("empty kernel or channels")
	}
	if s.C%s.Group != 0 || s.M%s.Group != 0 {
		return bad("group %d does not divide channels %d and %d", s.Group, s.C, s.M)
	}
	if s.OutH() <= 0 || s.OutW() <= 0 {
		return bad("the dilated kernel is larger than the padded input")
	}
	if _, ok := product(s.N, s.M, s.OutH(), s.OutW()); !ok {
		return bad("output too large")
	}
	return s, nil
}

// PackedWeights holds convolution weights packed once for a Context's
// micro-kernel, so that repeated Conv2D calls do not repack them.
type PackedWeights struct {
	m, cg, kh, kw, group int
	kern                 *kernel
	groups               []*packedA // GEMM path: one packed A per group
	dw                   []float32  // depthwise path: the M×KH×KW weights

	// The transposed weights (K×M packed as a B operand), for convolutions
	// with so few output pixels that they are better the GEMM's rows (see
	// convGemm); made from groups[0] on first use (ungrouped weights only).
	transOnce sync.Once
	trans     *PackedB
}

// transposed returns the weights as a packed K×M B operand (group 1 only).
func (pw *PackedWeights) transposed() *PackedB {
	pw.transOnce.Do(func() {
		pa, nr := pw.groups[0], pw.kern.nr
		k, m, mr := pa.k, pw.m, pa.mr
		pb := &PackedB{k: k, n: m, kern: pw.kern, data: alignedFloats(max(1, roundUp(m, nr)*k))}
		for i := 0; i < m; i++ {
			src := pa.data[i/mr*k*mr+i%mr:]
			dst := pb.data[i/nr*k*nr+i%nr:]
			for kk := 0; kk < k; kk++ {
				dst[kk*nr] = src[kk*mr]
			}
		}
		pw.trans = pb
	})
	return pw.trans
}

// depthwise reports whether each output channel reads one input channel.
func (s Conv2DShape) depthwise() bool { return s.Group == s.C && s.Group == s.M && s.Group > 1 }

// PackConv2DWeights packs w (M×(C/Group)×KH×KW, OIHW) for convolutions of
// shape s run on ctx (nil: the default kernel). Only the weight dimensions of
// s matter (M, C, KH, KW, Group).
func PackConv2DWeights(ctx *Context, s Conv2DShape, w []float32) (*PackedWeights, error) {
	t := s
	t.N, t.H, t.W = 0, max(s.H, s.KH), max(s.W, s.KW) // only weight dimensions matter here
	t.PadTop, t.PadBottom, t.PadLeft, t.PadRight = 0, 0, 0, 0
	t.DilationH, t.DilationW = 1, 1
	t, err := t.checked()
	if err != nil {
		return nil, err
	}
	cg, mg := t.C/t.Group, t.M/t.Group
	kg := cg * t.KH * t.KW
	if len(w) != t.M*kg {
		return nil, fmt.Errorf("gemm: weights have %d elements, want %d×%d×%d×%d = %d: %w",
			len(w), t.M, cg, t.KH, t.KW, t.M*kg, ErrInvalid)
	}
	kern := kernels[0]
	if ctx != nil {
		kern = ctx.kern
	}
	pw := &PackedWeights{m: t.M, cg: cg, kh: t.KH, kw: t.KW, group: t.Group, kern: kern}
	if t.depthwise() {
		pw.dw = append([]float32(nil), w...)
		return pw, nil
	}
	for g := 0; g < t.Group; g++ {
		pw.groups = append(pw.groups, newPackedA(w[g*mg*kg:], kg, mg, kg, kern.mr))
	}
	return pw, nil
}

// Conv2DParams is one convolution call: Y = Act(conv(X, W) + Bias + Residual).
type Conv2DParams struct {
	Conv2DShape
	X    []float32      // N×C×H×W
	W    *PackedWeights // from PackConv2DWeights with the same weight shape
	Bias []float32      // M values, or nil
	// Residual, if not nil, has Y's shape and is added before Act (a ResNet
	// shortcut); it must not overlap Y.
	Residual []float32
	Act      Activation
	Y        []float32 // N×M×OH×OW, overwritten
	// MaxThreads caps the workers used, as in Params.
	MaxThreads int
}

// Conv2D runs the convolution p describes on ctx's workers (nil: the calling
// goroutine only).
func Conv2D(ctx *Context, p Conv2DParams) error {
	s, err := p.Conv2DShape.checked()
	if err != nil {
		return err
	}
	p.Conv2DShape = s
	switch w := p.W; {
	case w == nil:
		return fmt.Errorf("gemm: %v: nil weights: %w", s, ErrInvalid)
	case w.m != s.M || w.cg*s.Group != s.C || w.kh != s.KH || w.kw != s.KW || w.group != s.Group:
		return fmt.Errorf("gemm: %v: weights were packed for %d×%d×%d×%d, group %d: %w",
			s, w.m, w.cg, w.kh, w.kw, w.group, ErrInvalid)
	}
	if err := checkConvBuffers("gemm", s, p.X, p.Y, p.Residual, p.Bias, p.Act, p.MaxThreads, false); err != nil {
		return err
	}
	if s.N == 0 {
		return nil
	}
	if ctx == nil {
		ctx = &Context{kern: p.W.kern, threads: 1, ws: make([]workspace, 1)}
	}
	if p.W.dw == nil && p.W.kern != ctx.kern {
		return fmt.Errorf("gemm: %v: weights were packed for kernel %s, the context runs %s: %w",
			s, p.W.kern.name, ctx.kern.name, ErrInvalid)
	}
	ctx.mu.Lock()
	defer ctx.mu.Unlock()
	if ctx.closed {
		return ErrClosed
	}
	parts := ctx.threads
	if p.MaxThreads > 0 {
		parts = min(parts, p.MaxThreads)
	}
	ctx.conv.p = p
	defer func() { // drop the caller's slices
		sc := &ctx.conv
		sc.p, sc.cb, sc.prob = Conv2DParams{}, convB{}, problem{}
	}()
	if p.W.dw != nil {
		ctx.depthwise(&ctx.conv.p, parts)
		if p.Residual != nil {
			ctx.parallelFor(forResidual, parts, s.N*s.M, len(p.Y))
		}
		return nil
	}
	ctx.convGemm(&ctx.conv.p, parts)
	return nil
}

// checkConvBuffers checks the lengths of a convolution's buffers against s
// (the same element counts in either layout), its activation and thread cap;
// prefix starts each error.
func checkConvBuffers(prefix string, s Conv2DShape, x, y, residual, bias []float32, act Activation, maxThreads int, residualInY bool) error {
	if n := s.N * s.C * s.H * s.W; len(x) != n {
		return fmt.Errorf("%s: %v: X has %d elements, want %d: %w", prefix, s, len(x), n, ErrInvalid)
	}
	if n := s.N * s.M * s.OutH() * s.OutW(); len(y) != n {
		return fmt.Errorf("%s: %v: Y has %d elements, want %d (N %d, M %d, output %dx%d): %w",
			prefix, s, len(y), n, s.N, s.M, s.OutH(), s.OutW(), ErrInvalid)
	}
	if residual != nil && len(residual) != len(y) {
		return fmt.Errorf("%s: %v: Residual has %d elements, want %d: %w", prefix, s, len(residual), len(y), ErrInvalid)
	}
	if overlaps(x, y) {
		return fmt.Errorf("%s: %v: X and Y share memory: %w", prefix, s, ErrInvalid)
	}
	if overlaps(residual, y) && !(residualInY && &residual[0] == &y[0]) {
		what := "share memory"
		if residualInY {
			what = "overlap without being the same slice"
		}
		return fmt.Errorf("%s: %v: Residual and Y %s: %w", prefix, s, what, ErrInvalid)
	}
	if bias != nil && len(bias) != s.M {
		return fmt.Errorf("%s: %v: Bias has %d elements, want %d: %w", prefix, s, len(bias), s.M, ErrInvalid)
	}
	if act < ActNone || act > ActGELUTanh {
		return fmt.Errorf("%s: unknown activation %d: %w", prefix, int(act), ErrInvalid)
	}
	if maxThreads < 0 {
		return fmt.Errorf("%s: MaxThreads %d is negative: %w", prefix, maxThreads, ErrInvalid)
	}
	return nil
}

// overlaps reports whether a and b share any element.
func overlaps(a, b []float32) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	pa, pb := uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&b[0]))
	return pa < pb+4*uintptr(len(b)) && pb < pa+4*uintptr(len(a))
}

// product returns the product of sizes and whether it stays below 2^31 (so
// that sums and products of a few such values cannot overflow an int).
func product(v ...int) (int, bool) {
	p := 1
	for _, x := range v {
		if x < 0 || x >= 1<<31 {
			return 0, false
		}
		p *= x
		if p >= 1<<31 {
			return 0, p == 0
		}
	}
	return p, true
}
