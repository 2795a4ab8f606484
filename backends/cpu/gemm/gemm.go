package gemm

import (
	"errors"
	"fmt"
	"math"
)

// ErrInvalid is wrapped by every error that reports a bad argument.
var ErrInvalid = errors.New("invalid argument")

// Activation selects the function applied in the epilogue.
type Activation int

// Activations. The zero value is ActNone.
const (
	ActNone     Activation = iota // identity
	ActReLU                       // max(x, 0); NaN stays NaN
	ActGELU                       // x·Φ(x) = 0.5·x·(1+erf(x/√2)), the erf ("exact") form; erf to 1.5e-7
	ActGELUTanh                   // 0.5·x·(1+tanh(√(2/π)·(x+0.044715·x³)))
)

// String returns the activation's name.
func (a Activation) String() string {
	switch a {
	case ActNone:
		return "none"
	case ActReLU:
		return "relu"
	case ActGELU:
		return "gelu"
	case ActGELUTanh:
		return "gelu_tanh"
	}
	return fmt.Sprintf("Activation(%d)", int(a))
}

// Params describes one row-major product
//
//	C[M×N] = op(A)[M×K] · op(B)[K×N] + Beta·C, then C = Act(C + Bias).
//
// With TransA false A is stored M×K (row i at A[i*LDA:]); with TransA true it is
// stored K×M. Likewise B is K×N, or N×K when TransB. A zero leading dimension
// means "tightly packed" (the stored row length). C must not overlap A or B.
type Params struct {
	TransA, TransB bool
	M, N, K        int

	A   []float32
	LDA int
	B   []float32
	LDB int
	C   []float32
	LDC int

	// Beta is 0 (C is overwritten and may hold garbage, even NaN) or 1 (C is
	// accumulated into).
	Beta float32
	// Bias, if non-nil, holds N values added to every row of C.
	Bias []float32
	// Act is applied after the bias.
	Act Activation
	// MaxThreads caps the workers used by this call; 0 means all of the
	// Context's, 1 runs on the calling goroutine only.
	MaxThreads int
	// PackedB, if non-nil, replaces B, LDB and TransB: a K×N operand packed
	// once by PackB (for constant weights; saves packing B on every call,
	// which matters when M is small).
	PackedB *PackedB
}

// needLen is the slice length a rows×cols row-major matrix with leading
// dimension ld needs.
func needLen(rows, cols, ld int) int {
	if rows == 0 || cols == 0 {
		return 0
	}
	return (rows-1)*ld + cols
}

func checkMatrix(name string, s []float32, rows, cols int, ld *int) error {
	if *ld == 0 {
		*ld = max(cols, 1)
	}
	if *ld < max(cols, 1) {
		return fmt.Errorf("gemm: LD%s %d is smaller than the %d stored columns of %s: %w", name, *ld, cols, name, ErrInvalid)
	}
	if rows > 1 && *ld > (math.MaxInt-cols)/(rows-1) {
		return fmt.Errorf("gemm: %s: %d rows with leading dimension %d overflow: %w", name, rows, *ld, ErrInvalid)
	}
	if n := needLen(rows, cols, *ld); len(s) < n {
		return fmt.Errorf("gemm: %s has %d elements, a %dx%d matrix with leading dimension %d needs %d: %w",
			name, len(s), rows, cols, *ld, n, ErrInvalid)
	}
	return nil
}

// check validates p and fills in default leading dimensions.
func (p *Params) check() error {
	if p.M < 0 || p.N < 0 || p.K < 0 {
		return fmt.Errorf("gemm: negative size M=%d N=%d K=%d: %w", p.M, p.N, p.K, ErrInvalid)
	}
	if p.Beta != 0 && p.Beta != 1 {
		return fmt.Errorf("gemm: Beta is %v; only 0 and 1 are supported: %w", p.Beta, ErrInvalid)
	}
	if p.Act < ActNone || p.Act > ActGELUTanh {
		return fmt.Errorf("gemm: unknown activation %d: %w", int(p.Act), ErrInvalid)
	}
	if p.MaxThreads < 0 {
		return fmt.Errorf("gemm: MaxThreads %d is negative: %w", p.MaxThreads, ErrInvalid)
	}
	ar, ac := p.M, p.K
	if p.TransA {
		ar, ac = p.K, p.M
	}
	if err := checkMatrix("A", p.A, ar, ac, &p.LDA); err != nil {
		return err
	}
	if pb := p.PackedB; pb != nil {
		if pb.k != p.K || pb.n != p.N {
			return fmt.Errorf("gemm: PackedB is %dx%d, want K×N = %dx%d: %w", pb.k, pb.n, p.K, p.N, ErrInvalid)
		}
	} else {
		br, bc := p.K, p.N
		if p.TransB {
			br, bc = p.N, p.K
		}
		if err := checkMatrix("B", p.B, br, bc, &p.LDB); err != nil {
			return err
		}
	}
	if err := checkMatrix("C", p.C, p.M, p.N, &p.LDC); err != nil {
		return err
	}
	if p.Bias != nil && len(p.Bias) != p.N {
		return fmt.Errorf("gemm: Bias has %d elements, want N=%d: %w", len(p.Bias), p.N, ErrInvalid)
	}
	return nil
}

func (p *Params) problem() problem {
	return problem{
		m: p.M, n: p.N, k: p.K,
		a:       matrix{data: p.A, ld: p.LDA, trans: p.TransA},
		b:       matrix{data: p.B, ld: p.LDB, trans: p.TransB},
		pb:      p.PackedB,
		c:       p.C,
		ldc:     p.LDC,
		accum:   p.Beta == 1,
		colBias: p.Bias,
		act:     p.Act,
	}
}

// Sgemm computes the product p describes (see Params) using ctx's workers.
// A nil ctx runs on the calling goroutine with temporary buffers.
func Sgemm(ctx *Context, p Params) error {
	if err := p.check(); err != nil {
		return err
	}
	if p.M == 0 || p.N == 0 {
		return nil
	}
	if err := ctx.checkPacked(p.PackedB); err != nil {
		return err
	}
	return ctx.do(p.problem(), p.MaxThreads, nil)
}

func (c *Context) checkPacked(pb *PackedB) error {
	if pb == nil {
		return nil
	}
	kern := kernels[0]
	if c != nil {
		kern = c.kern
	}
	if pb.kern != kern {
		return fmt.Errorf("gemm: PackedB was packed for kernel %s, the context runs %s: %w", pb.kern.name, kern.name, ErrInvalid)
	}
	return nil
}

// Strided describes a batch of products for SgemmStrided: item i uses
// A[i*StrideA:], B[i*StrideB:] and C[i*StrideC:] (a zero stride reuses the
// same matrix for every item, e.g. shared weights).
type Strided struct {
	Batch                     int
	StrideA, StrideB, StrideC int
}

// SgemmStrided runs s.Batch products that differ only by their offsets into A,
// B and C. Items run in parallel when there are enough of them; each item is
// otherwise computed as Sgemm would.
func SgemmStrided(ctx *Context, p Params, s Strided) error {
	if s.Batch < 0 || s.StrideA < 0 || s.StrideB < 0 || s.StrideC < 0 {
		return fmt.Errorf("gemm: negative batch %d or stride (%d, %d, %d): %w",
			s.Batch, s.StrideA, s.StrideB, s.StrideC, ErrInvalid)
	}
	if s.Batch == 0 {
		return nil
	}
	if p.PackedB != nil && s.StrideB != 0 {
		return fmt.Errorf("gemm: StrideB is %d with a PackedB, which every item shares: %w", s.StrideB, ErrInvalid)
	}
	// Validate the first and the last item.
	q := p
	if err := q.check(); err != nil {
		return fmt.Errorf("batch item 0: %w", err)
	}
	last := s.Batch - 1
	if s.StrideC > 0 && s.StrideC < needLen(p.M, p.N, q.LDC) {
		return fmt.Errorf("gemm: StrideC %d makes the %dx%d outputs overlap: %w", s.StrideC, p.M, p.N, ErrInvalid)
	}
	if s.StrideC == 0 && s.Batch > 1 {
		return fmt.Errorf("gemm: StrideC is 0 with batch %d: the outputs would overlap: %w", s.Batch, ErrInvalid)
	}
	for _, c := range []struct {
		name   string
		s      []float32
		stride int
	}{{"A", p.A, s.StrideA}, {"B", p.B, s.StrideB}, {"C", p.C, s.StrideC}} {
		if len(c.s) < last*c.stride {
			return fmt.Errorf("gemm: %s has %d elements, batch item %d starts at %d: %w",
				c.name, len(c.s), last, last*c.stride, ErrInvalid)
		}
	}
	r := q
	r.A, r.B, r.C = p.A[last*s.StrideA:], p.B[last*s.StrideB:], p.C[last*s.StrideC:]
	if err := r.check(); err != nil {
		return fmt.Errorf("batch item %d: %w", last, err)
	}
	if p.M == 0 || p.N == 0 {
		return nil
	}
	if err := ctx.checkPacked(p.PackedB); err != nil {
		return err
	}
	return ctx.do(q.problem(), q.MaxThreads, &s)
}
