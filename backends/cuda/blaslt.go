package cuda

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/lightiam/lightos/engine/tensor"
)

type blasLt struct {
	create, destroy, descCreate, descDestroy, descSet, layoutCreate, layoutDestroy, layoutSet,
	prefCreate, prefDestroy, prefSet, heuristic, matmul, statusString uintptr
}

var (
	ltOnce sync.Once
	ltLib  *blasLt
	ltErr  error
)

func loadBlasLt() (*blasLt, error) {
	ltOnce.Do(func() {
		h, err := openLib("cuBLASLt (libcublasLt)", "libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so")
		if err != nil {
			ltErr = err
			return
		}
		b := &blasLt{}
		ltErr = symbols(h, "libcublasLt",
			[]string{"cublasLtCreate", "cublasLtDestroy", "cublasLtMatmulDescCreate", "cublasLtMatmulDescDestroy",
				"cublasLtMatmulDescSetAttribute", "cublasLtMatrixLayoutCreate", "cublasLtMatrixLayoutDestroy",
				"cublasLtMatrixLayoutSetAttribute", "cublasLtMatmulPreferenceCreate", "cublasLtMatmulPreferenceDestroy",
				"cublasLtMatmulPreferenceSetAttribute", "cublasLtMatmulAlgoGetHeuristic", "cublasLtMatmul",
				"cublasLtGetStatusString"},
			[]*uintptr{&b.create, &b.destroy, &b.descCreate, &b.descDestroy, &b.descSet, &b.layoutCreate,
				&b.layoutDestroy, &b.layoutSet, &b.prefCreate, &b.prefDestroy, &b.prefSet, &b.heuristic,
				&b.matmul, &b.statusString})
		if ltErr == nil {
			ltLib = b
		}
	})
	return ltLib, ltErr
}

func (b *blasLt) check(fn string, r int) error {
	if r == 0 {
		return nil
	}
	s, _, _ := purecall(b.statusString, uintptr(r))
	return &Error{Call: fn, Code: r, Msg: goString(s)}
}

// cuBLASLt enums.
const (
	cudaR32F  = 0
	cudaR16F  = 2
	cudaR16BF = 14

	compute32F     = 68
	compute32FTF32 = 77

	descTransA  = 3
	descTransB  = 4
	descEpilog  = 7
	descBiasPtr = 8

	layoutBatch  = 5
	layoutStride = 6

	prefWorkspace = 1

	epiDefault  = 1
	epiRelu     = 2
	epiBias     = 4
	epiReluBias = 6
	epiGelu     = 32
	epiGeluBias = 36

	workspaceBytes = 32 << 20
)

// Epilogues a gemm can apply after the product.
const (
	EpiNone = iota
	EpiRelu
	EpiGeluTanh
)

// gemmSpec is a row-major product C[M,N] = alpha·op(A)·op(B) (+ bias[N]) then an
// optional activation, over batch matrices at the given element strides.
type gemmSpec struct {
	dt               tensor.DType
	tf32             bool
	transA, transB   bool
	m, n, k          int
	lda, ldb, ldc    int
	batch            int
	strideA, strideB int64
	strideC          int64
	alpha            float32
	bias             bool
	act              int
	residual         bool // C = ... + R: runC's cIn is added (beta 1)
}

// gemm is a prepared cuBLASLt call: descriptors and the chosen algorithm.
type gemm struct {
	lt          *blasLt
	spec        gemmSpec
	desc        uintptr
	la, lb, lc  uintptr
	heur        [96]byte   // cublasLtMatmulHeuristicResult_t; the algo is its first 64 bytes
	heurs       [][96]byte // the heuristic's ranked results (heur is one of them)
	alpha, beta float32
}

func cudaType(dt tensor.DType) (uintptr, error) {
	switch dt {
	case tensor.Float32:
		return cudaR32F, nil
	case tensor.BFloat16:
		return cudaR16BF, nil
	case tensor.Float16:
		return cudaR16F, nil
	}
	return 0, fmt.Errorf("cuda: matmul of %s: %w", dt, errUnsupported)
}

// newGemm prepares s on device d (call inside d.g.do).
func (d *Device) newGemm(s gemmSpec) (*gemm, error) {
	lt, err := loadBlasLt()
	if err != nil {
		return nil, err
	}
	if err := d.ensureBlas(); err != nil {
		return nil, err
	}
	ct, err := cudaType(s.dt)
	if err != nil {
		return nil, err
	}
	gm := &gemm{lt: lt, spec: s, alpha: s.alpha, beta: 0}
	if s.residual {
		gm.beta = 1
	}
	comp := uintptr(compute32F)
	if s.tf32 && s.dt == tensor.Float32 {
		comp = compute32FTF32
	}
	if err := lt.check("cublasLtMatmulDescCreate", call(lt.descCreate, uintptr(unsafe.Pointer(&gm.desc)), comp, cudaR32F)); err != nil {
		return nil, err
	}
	// Column-major view: Cᵀ[N,M] = op(B)ᵀ·op(A)ᵀ, so cuBLAS's first operand is B.
	ta, tb := int32(0), int32(0)
	if s.transB {
		ta = 1
	}
	if s.transA {
		tb = 1
	}
	set := func(attr int, p unsafe.Pointer, n int) error {
		return lt.check("cublasLtMatmulDescSetAttribute", call(lt.descSet, gm.desc, uintptr(attr), uintptr(p), uintptr(n)))
	}
	epi := int32(epiDefault)
	switch {
	case s.bias && s.act == EpiRelu:
		epi = epiReluBias
	case s.bias && s.act == EpiGeluTanh:
		epi = epiGeluBias
	case s.bias:
		epi = epiBias
	case s.act == EpiRelu:
		epi = epiRelu
	case s.act == EpiGeluTanh:
		epi = epiGelu
	}
	if err := firstErr(set(descTransA, unsafe.Pointer(&ta), 4), set(descTransB, unsafe.Pointer(&tb), 4), set(descEpilog, unsafe.Pointer(&epi), 4)); err != nil {
		gm.destroy()
		return nil, err
	}
	// Stored row-major R×C with leading dimension ld is column-major C×R.
	layout := func(out *uintptr, rows, cols, ld int, stride int64) error {
		if err := lt.check("cublasLtMatrixLayoutCreate", call(lt.layoutCreate, uintptr(unsafe.Pointer(out)), ct, uintptr(cols), uintptr(rows), uintptr(ld))); err != nil {
			return err
		}
		if s.batch > 1 {
			bc := int32(s.batch)
			if err := lt.check("cublasLtMatrixLayoutSetAttribute", call(lt.layoutSet, *out, layoutBatch, uintptr(unsafe.Pointer(&bc)), 4)); err != nil {
				return err
			}
			if err := lt.check("cublasLtMatrixLayoutSetAttribute", call(lt.layoutSet, *out, layoutStride, uintptr(unsafe.Pointer(&stride)), 8)); err != nil {
				return err
			}
		}
		return nil
	}
	ar, ac := s.m, s.k
	if s.transA {
		ar, ac = s.k, s.m
	}
	br, bc := s.k, s.n
	if s.transB {
		br, bc = s.n, s.k
	}
	if err := firstErr(layout(&gm.lb, br, bc, s.ldb, s.strideB), layout(&gm.la, ar, ac, s.lda, s.strideA),
		layout(&gm.lc, s.m, s.n, s.ldc, s.strideC)); err != nil {
		gm.destroy()
		return nil, err
	}
	var pref uintptr
	if err := lt.check("cublasLtMatmulPreferenceCreate", call(lt.prefCreate, uintptr(unsafe.Pointer(&pref)))); err != nil {
		gm.destroy()
		return nil, err
	}
	defer call(lt.prefDestroy, pref)
	ws := uint64(workspaceBytes)
	if err := lt.check("cublasLtMatmulPreferenceSetAttribute", call(lt.prefSet, pref, prefWorkspace, uintptr(unsafe.Pointer(&ws)), 8)); err != nil {
		gm.destroy()
		return nil, err
	}
	var found int32
	var heurs [maxHeuristics][96]byte
	if err := lt.check("cublasLtMatmulAlgoGetHeuristic", call(lt.heuristic, d.blas, gm.desc, gm.lb, gm.la, gm.lc, gm.lc,
		pref, maxHeuristics, uintptr(unsafe.Pointer(&heurs[0][0])), uintptr(unsafe.Pointer(&found)))); err != nil {
		gm.destroy()
		return nil, err
	}
	for _, h := range heurs[:found] {
		if *(*int32)(unsafe.Pointer(&h[72])) == 0 { // state: CUBLAS_STATUS_SUCCESS
			gm.heurs = append(gm.heurs, h)
		}
	}
	if len(gm.heurs) == 0 {
		gm.destroy()
		return nil, fmt.Errorf("cuda: cuBLASLt has no algorithm for %+v: %w", s, errUnsupported)
	}
	gm.heur = gm.heurs[0]
	return gm, nil
}

// maxHeuristics is how many of cuBLASLt's ranked algorithms a plan times (tune).
const maxHeuristics = 6

// run enqueues C = epilogue(alpha·op(A)·op(B) + bias) on the device's stream.
func (gm *gemm) run(d *Device, a, b, c, bias uintptr) error { return gm.runC(d, a, b, c, c, bias) }

// runC enqueues out = epilogue(alpha·op(A)·op(B) + beta·cIn + bias) (beta 1 for a
// residual spec, else 0).
func (gm *gemm) runC(d *Device, a, b, cIn, out, bias uintptr) error {
	lt := gm.lt
	if gm.spec.bias {
		if err := lt.check("cublasLtMatmulDescSetAttribute", call(lt.descSet, gm.desc, descBiasPtr, uintptr(unsafe.Pointer(&bias)), 8)); err != nil {
			return err
		}
	}
	return lt.check("cublasLtMatmul", call(lt.matmul, d.blas, gm.desc, uintptr(unsafe.Pointer(&gm.alpha)), b, gm.lb, a, gm.la,
		uintptr(unsafe.Pointer(&gm.beta)), cIn, gm.lc, out, gm.lc, uintptr(unsafe.Pointer(&gm.heur[0])), d.workspace, workspaceBytes, d.g.stream))
}

func (gm *gemm) destroy() {
	lt := gm.lt
	for _, l := range []uintptr{gm.la, gm.lb, gm.lc} {
		if l != 0 {
			call(lt.layoutDestroy, l)
		}
	}
	if gm.desc != 0 {
		call(lt.descDestroy, gm.desc)
	}
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
