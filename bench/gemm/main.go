// Command gemm-bench times the backends/cpu/gemm kernels for bench/gemm/run.py,
// which compares them with NumPy in the same run. Each invocation prints one
// JSON object with the best and all per-repetition timings.
//
//	go run ./bench/gemm -case sgemm -n 1024 -threads 1 -reps 5
//
// Cases: peak (FMA loop, one core), sgemm (n×n×n), mlp-fused / mlp-unfused /
// mlp-unfused-scalar (64×1024·1024×1024 + bias + ReLU, weights pre-packed; the
// separate pass vectorized or a plain Go loop), conv-fused / conv-unfused /
// conv-unfused-scalar / convbn-unfused (3x3, 64→64 channels, 56x56, batch 1, + bias (or BN) + ReLU).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/lightiam/lightos/backends/cpu/gemm"
)

func main() {
	which := flag.String("case", "sgemm", "what to time")
	n := flag.Int("n", 1024, "matrix size for sgemm")
	threads := flag.Int("threads", 0, "threads (0: all)")
	reps := flag.Int("reps", 5, "timed repetitions")
	kernel := flag.String("kernel", "", "micro-kernel (default: the fastest available)")
	flag.Parse()
	if err := run(*which, *n, *threads, *reps, *kernel); err != nil {
		fmt.Fprintln(os.Stderr, "gemm-bench:", err)
		os.Exit(1)
	}
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

type result struct {
	Case    string    `json:"case"`
	N       int       `json:"n,omitempty"`
	Threads int       `json:"threads"`
	Kernel  string    `json:"kernel"`
	Flops   float64   `json:"flops"`
	Seconds []float64 `json:"seconds"`
	Best    float64   `json:"best_seconds"`
	GFLOPS  float64   `json:"gflops"`
}

func run(which string, n, threads, reps int, kernel string) error {
	if which == "peak" {
		g := gemm.MeasurePeakGFLOPS(300 * time.Millisecond)
		return json.NewEncoder(os.Stdout).Encode(map[string]any{"case": "peak", "gflops_per_core": g, "kernels": gemm.Kernels()})
	}
	ctx, err := gemm.NewContextKernel(threads, kernel)
	if err != nil {
		return err
	}
	defer ctx.Close()
	r := rand.New(rand.NewPCG(1, 2))
	var body func() error
	var flops float64
	switch which {
	case "sgemm":
		p := gemm.Params{M: n, N: n, K: n, A: randSlice(r, n*n), B: randSlice(r, n*n), C: make([]float32, n*n)}
		flops = 2 * float64(n) * float64(n) * float64(n)
		body = func() error { return gemm.Sgemm(ctx, p) }
	case "mlp-fused", "mlp-unfused", "mlp-unfused-scalar":
		m, k, nn := 64, 1024, 1024
		p := gemm.Params{M: m, N: nn, K: k, A: randSlice(r, m*k), B: randSlice(r, k*nn), C: make([]float32, m*nn)}
		bias := randSlice(r, nn)
		flops = 2 * float64(m) * float64(nn) * float64(k)
		// Constant weights are packed once, as the CPU backend does at load.
		pb, err := gemm.PackB(ctx, k, nn, p.B, 0, false)
		if err != nil {
			return err
		}
		p.B, p.PackedB = nil, pb
		switch which {
		case "mlp-unfused-scalar":
			body = func() error {
				if err := gemm.Sgemm(ctx, p); err != nil {
					return err
				}
				scalarBiasReLU(p.C, bias)
				return nil
			}
		case "mlp-fused":
			p.Bias, p.Act = bias, gemm.ActReLU
			body = func() error { return gemm.Sgemm(ctx, p) }
		default:
			body = func() error {
				if err := gemm.Sgemm(ctx, p); err != nil {
					return err
				}
				for i := 0; i < m; i++ {
					gemm.AddBiasAct(p.C[i*nn:(i+1)*nn], bias, gemm.ActReLU)
				}
				return nil
			}
		}
	case "conv-fused", "conv-unfused", "conv-unfused-scalar", "convbn-unfused":
		s := gemm.Conv2DShape{N: 1, C: 64, H: 56, W: 56, M: 64, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}
		w := randSlice(r, 64*64*9)
		pw, err := gemm.PackConv2DWeights(ctx, s, w)
		if err != nil {
			return err
		}
		plane := s.OutH() * s.OutW()
		p := gemm.Conv2DParams{Conv2DShape: s, X: randSlice(r, 64*56*56), W: pw, Y: make([]float32, 64*plane)}
		bias, scale := randSlice(r, 64), randSlice(r, 64)
		flops = 2 * 64 * 64 * 9 * float64(plane)
		switch which {
		case "conv-fused": // Conv+bias+ReLU, or Conv+BN+ReLU with BN folded into W and bias
			p.Bias, p.Act = bias, gemm.ActReLU
			body = func() error { return gemm.Conv2D(ctx, p) }
		case "conv-unfused": // Conv, then a (vectorized) bias+ReLU pass
			body = func() error {
				if err := gemm.Conv2D(ctx, p); err != nil {
					return err
				}
				for c := 0; c < 64; c++ {
					gemm.AddScalarAct(p.Y[c*plane:(c+1)*plane], bias[c], gemm.ActReLU)
				}
				return nil
			}
		case "conv-unfused-scalar": // Conv, then a plain Go bias+ReLU loop
			body = func() error {
				if err := gemm.Conv2D(ctx, p); err != nil {
					return err
				}
				for c := 0; c < 64; c++ {
					y, b := p.Y[c*plane:(c+1)*plane], bias[c]
					for i := range y {
						if v := y[i] + b; v > 0 {
							y[i] = v
						} else {
							y[i] = 0
						}
					}
				}
				return nil
			}
		default: // Conv, then a BatchNorm pass (scale, shift; Go loop), then a (vectorized) ReLU pass
			body = func() error {
				if err := gemm.Conv2D(ctx, p); err != nil {
					return err
				}
				for c := 0; c < 64; c++ {
					y, a, b := p.Y[c*plane:(c+1)*plane], scale[c], bias[c]
					for i, v := range y {
						y[i] = v*a + b
					}
				}
				gemm.AddBiasAct(p.Y, nil, gemm.ActReLU)
				return nil
			}
		}
	default:
		return fmt.Errorf("unknown case %q", which)
	}
	for i := 0; i < 2; i++ { // warm up: buffers, caches, clocks
		if err := body(); err != nil {
			return err
		}
	}
	res := result{Case: which, Threads: ctx.Threads(), Flops: flops, Kernel: fmt.Sprint(ctx)}
	if which == "sgemm" {
		res.N = n
	}
	for i := 0; i < reps; i++ {
		// Repeat short calls so that each sample lasts at least 50 ms.
		calls := 0
		t := time.Now()
		for calls == 0 || time.Since(t) < 50*time.Millisecond {
			if err := body(); err != nil {
				return err
			}
			calls++
		}
		res.Seconds = append(res.Seconds, time.Since(t).Seconds()/float64(calls))
	}
	res.Best = res.Seconds[0]
	for _, s := range res.Seconds {
		res.Best = min(res.Best, s)
	}
	res.GFLOPS = flops / res.Best / 1e9
	return json.NewEncoder(os.Stdout).Encode(res)
}

// scalarBiasReLU is the plain Go loop an unvectorized elementwise kernel
// would run: c[i][j] = max(c[i][j]+bias[j], 0).
func scalarBiasReLU(c, bias []float32) {
	n := len(bias)
	for i := 0; i+n <= len(c); i += n {
		row := c[i : i+n]
		for j := range row {
			if v := row[j] + bias[j]; v > 0 {
				row[j] = v
			} else {
				row[j] = 0
			}
		}
	}
}
