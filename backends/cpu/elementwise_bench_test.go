package cpu_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// BenchmarkElementwise measures the elementwise, movement and reduction kernels on
// 1M-element float32 tensors (4 MiB), one thread and all threads. SetBytes counts the
// bytes read and written, so the MB/s column compares directly with the "copy"
// anchor (Go's copy of the same 4 MiB) measured in the same run.
func BenchmarkElementwise(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	big := randT(tensor.Float32, []int{1024, 1024}, uniform(r, -3, 3, false))
	big2 := randT(tensor.Float32, []int{1024, 1024}, uniform(r, -3, 3, false))
	bias := randT(tensor.Float32, []int{1024}, uniform(r, -3, 3, false))
	scalar := randT(tensor.Float32, []int{}, uniform(r, 1, 3, false))
	idx := randT(tensor.Int64, []int{512}, uniform(r, 0, 1024, true))
	mask := randT(tensor.Bool, []int{1024, 1024}, uniform(r, 0, 2, true))
	half1 := randT(tensor.Float32, []int{1024, 512}, uniform(r, -3, 3, false))
	nhwc := randT(tensor.Float32, []int{1, 64, 64, 256}, uniform(r, -3, 3, false))
	const n = 1 << 20
	cases := []struct {
		name  string
		op    string
		attrs graph.Attrs
		ins   []nodeInput
		bytes int
	}{
		{"Add", "Add", nil, []nodeInput{feed(big), feed(big2)}, 12 * n},
		{"AddBias", "Add", nil, []nodeInput{feed(big), konst(bias)}, 8 * n},
		{"MulScalar", "Mul", nil, []nodeInput{feed(big), konst(scalar)}, 8 * n},
		{"Less", "Less", nil, []nodeInput{feed(big), feed(big2)}, 9 * n},
		{"Relu", "Relu", nil, []nodeInput{feed(big)}, 8 * n},
		{"Sigmoid", "Sigmoid", nil, []nodeInput{feed(big)}, 8 * n},
		{"Tanh", "Tanh", nil, []nodeInput{feed(big)}, 8 * n},
		{"Silu", "Silu", nil, []nodeInput{feed(big)}, 8 * n},
		{"Erf", "Erf", nil, []nodeInput{feed(big)}, 8 * n},
		{"Exp", "Exp", nil, []nodeInput{feed(big)}, 8 * n},
		{"Gelu", "Gelu", nil, []nodeInput{feed(big)}, 8 * n},
		{"Clip", "Clip", nil, []nodeInput{feed(big), konst(f32s(nil, 0)), konst(f32s(nil, 6))}, 8 * n},
		{"Transpose", "Transpose", nil, []nodeInput{feed(big)}, 8 * n},
		{"Slice", "Slice", nil, []nodeInput{feed(big), konst(vec(0, 1)), konst(vec(1024, 1024)), konst(vec(0, 1)), konst(vec(1, 2))}, 4 * n},
		{"Gather", "Gather", nil, []nodeInput{konst(big), feed(idx)}, 4 * n},
		{"ReduceSumRows", "ReduceSum", nil, []nodeInput{feed(big), konst(vec(-1))}, 4 * n},
		{"ReduceMeanCols", "ReduceMean", nil, []nodeInput{feed(big), konst(vec(0))}, 4 * n},
		{"CastF16", "Cast", graph.Attrs{"to": graph.Int(int64(tensor.Float16))}, []nodeInput{feed(big)}, 6 * n},
		{"Where", "Where", nil, []nodeInput{feed(mask), feed(big), feed(big2)}, 13 * n},
		{"Concat", "Concat", graph.Attrs{"axis": graph.Int(1)}, []nodeInput{feed(half1), feed(half1)}, 8 * n},
		{"NHWCtoNCHW", "Transpose", graph.Attrs{"perm": graph.Ints(0, 3, 1, 2)}, []nodeInput{feed(nhwc)}, 8 * n},
	}
	for _, threads := range []int{1, 0} {
		dev := cpu.New(cpu.Options{Threads: threads})
		tn := "threads=" + map[bool]string{true: "1", false: "all"}[threads == 1]
		b.Run("copy/"+tn, func(b *testing.B) {
			src, dst := big.Bytes(), make([]byte, 4*n)
			b.SetBytes(8 * n)
			for b.Loop() {
				copy(dst, src)
			}
		})
		// Plain single-threaded Go loops, the anchors for the vectorized kernels.
		b.Run("loop_add/"+tn, func(b *testing.B) {
			x, y, z := big.Float32s(), big2.Float32s(), make([]float32, n)
			b.SetBytes(12 * n)
			for b.Loop() {
				for i := range z {
					z[i] = x[i] + y[i]
				}
			}
		})
		b.Run("loop_math_sigmoid/"+tn, func(b *testing.B) {
			x, z := big.Float32s(), make([]float32, n)
			b.SetBytes(8 * n)
			for b.Loop() {
				for i, v := range x {
					z[i] = float32(1 / (1 + math.Exp(-float64(v))))
				}
			}
		})
		for _, c := range cases {
			b.Run(c.name+"/"+tn, func(b *testing.B) {
				k, ins, outs := benchKernel(b, dev, c.op, c.attrs, c.ins...)
				b.SetBytes(int64(c.bytes))
				runBench(b, k, ins, outs, 0)
			})
		}
	}
}

// BenchmarkEinsumAttention measures the attention-score contraction bhid,bhjd->bhij
// (BERT-base shapes, sequence 128) through the GEMM path, in GFLOP/s.
func BenchmarkEinsumAttention(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	q := randT(tensor.Float32, []int{1, 12, 128, 64}, uniform(r, -1, 1, false))
	k := randT(tensor.Float32, []int{1, 12, 128, 64}, uniform(r, -1, 1, false))
	for _, threads := range []int{1, 0} {
		b.Run("threads="+map[bool]string{true: "1", false: "all"}[threads == 1], func(b *testing.B) {
			kern, ins, outs := benchKernel(b, cpu.New(cpu.Options{Threads: threads}), "Einsum",
				graph.Attrs{"equation": graph.String("bhid,bhjd->bhij")}, feed(q), feed(k))
			runBench(b, kern, ins, outs, 2*12*128*128*64)
		})
	}
}
