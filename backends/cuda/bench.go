package cuda

import (
	"fmt"

	"github.com/lightiam/lightos/engine/tensor"
)

// TimeGEMM times the row-major product C[m,n] = A[m,k]·B[k,n] through cuBLASLt on
// device-resident uniform random data of type dt (float32 honours Options.TF32):
// warm untimed runs, then reps runs timed one by one with CUDA events. It returns
// the sorted milliseconds of the timed runs.
func (d *Device) TimeGEMM(dt tensor.DType, m, n, k, warm, reps int) ([]float64, error) {
	if m <= 0 || n <= 0 || k <= 0 || reps <= 0 {
		return nil, fmt.Errorf("cuda: TimeGEMM: sizes %d×%d×%d and %d reps must be positive", m, n, k, reps)
	}
	fill := map[tensor.DType]string{tensor.Float32: "fill_uniform_f32", tensor.BFloat16: "fill_uniform_bf16"}[dt]
	if fill == "" {
		return nil, fmt.Errorf("cuda: TimeGEMM of %s: %w", dt, errUnsupported)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var ms []float64
	err := d.g.do(func() error {
		if err := d.ensureCore(); err != nil {
			return err
		}
		if err := d.ensureBlas(); err != nil {
			return err
		}
		p := &Plan{d: d}
		defer p.release()
		var bufs [3]uintptr
		for i, elems := range []int{m * k, k * n, m * n} {
			b, err := p.scratchBuf(elems * dt.Size())
			if err != nil {
				return err
			}
			bufs[i] = b
			if i < 2 {
				cnt, seed := int64(elems), uint64(i+1)
				g, bl := p.grid1(elems)
				if err := p.launchArgs(d.core.funcs[fill], g, bl, &b, &cnt, &seed); err != nil {
					return err
				}
			}
		}
		gm, err := p.newGemm(gemmSpec{dt: dt, m: m, n: n, k: k, lda: k, ldb: n, ldc: n, batch: 1})
		if err != nil {
			return err
		}
		return timeEvents(d.g, warm, reps, func() error { return gm.run(d, bufs[0], bufs[1], bufs[2], 0) }, &ms)
	})
	if err != nil {
		return nil, fmt.Errorf("cuda: TimeGEMM %s %d×%d×%d: %w", dt, m, n, k, err)
	}
	return ms, nil
}
