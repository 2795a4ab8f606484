// Command fusion-bench times graphs before and after the optimizer's fusions, in the
// same run, through exec.Session on the CPU backend:
//
//   - mlp: MatMul + Add(bias) + Relu, x [64, 1024] · W [1024, 1024], against the
//     FusedMatMul the optimizer makes of it;
//   - conv: Conv (3x3, 64→64 channels, pads 1, bias) + BatchNormalization + Relu on
//     [1, 64, 56, 56], against the FusedConv with the batch norm folded in;
//   - attn: the attention half of a BERT-base layer (sequence 128, 12 heads of 64),
//     LayerNorm through the merged heads, against one LayerNormAttention node.
//
// Runs of the two graphs alternate, so drift in the machine's load hits both alike;
// the ratio of median times (unfused / fused) is printed with the times and the
// largest difference between the two graphs' outputs.
//
//	go run ./bench/fusion -reps 30 -threads 0
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"time"

	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/passes"
	"github.com/lightiam/lightos/engine/passes/cpufold"
	"github.com/lightiam/lightos/engine/tensor"
)

func main() {
	reps := flag.Int("reps", 30, "timed runs of each graph")
	threads := flag.Int("threads", 0, "CPU threads (0: all)")
	only := flag.String("case", "", "run only this case (mlp, conv or attn)")
	profile := flag.Bool("profile", false, "also print per-node times (summed over the timed runs)")
	cpuprofile := flag.String("cpuprofile", "", "write a Go CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fusion-bench:", err)
			os.Exit(1)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "fusion-bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("fusion-bench: %s/%s, GOMAXPROCS %d, threads %d, %d reps, %s\n",
		runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), *threads, *reps, time.Now().UTC().Format(time.RFC3339))
	for _, c := range []struct {
		name  string
		build func(r *rand.Rand) (*graph.Graph, map[string]*tensor.Tensor, error)
	}{{"mlp", buildMLP}, {"conv", buildConv}, {"attn", buildAttention}} {
		if *only != "" && *only != c.name {
			continue
		}
		if err := bench(c.name, c.build, *reps, *threads, *profile); err != nil {
			fmt.Fprintf(os.Stderr, "fusion-bench: %s: %v\n", c.name, err)
			pprof.StopCPUProfile()
			os.Exit(1)
		}
	}
}

func randT(r *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(tensor.Float32, shape)
	for i := range t.Float32s() {
		t.Float32s()[i] = float32(r.NormFloat64())
	}
	return t
}

// buildMLP is y = relu(x @ W + b) with x [64, 1024], W [1024, 1024].
func buildMLP(r *rand.Rand) (*graph.Graph, map[string]*tensor.Tensor, error) {
	const batch, k, n = 64, 1024, 1024
	b := graph.NewBuilder("mlp")
	if _, err := b.Input("x", tensor.Float32, graph.ShapeOf(batch, k)); err != nil {
		return nil, nil, err
	}
	w := randT(r, k, n)
	for i := range w.Float32s() {
		w.Float32s()[i] /= 32
	}
	b.Const("w", w)
	b.Const("b", randT(r, n))
	for _, s := range []struct {
		op  string
		ins []string
	}{{"MatMul", []string{"x", "w"}}, {"Add", []string{"y", "b"}}, {"Relu", []string{"y"}}} {
		if _, err := b.Op(s.op, "", s.ins, []string{"y"}, nil); err != nil {
			return nil, nil, err
		}
	}
	b.Output("y")
	g, err := b.Finish()
	return g, map[string]*tensor.Tensor{"x": randT(r, batch, k)}, err
}

// buildConv is y = relu(batchnorm(conv3x3(x, W) + b)) on [1, 64, 56, 56].
func buildConv(r *rand.Rand) (*graph.Graph, map[string]*tensor.Tensor, error) {
	const c, hw = 64, 56
	b := graph.NewBuilder("conv_bn_relu")
	if _, err := b.Input("x", tensor.Float32, graph.ShapeOf(1, c, hw, hw)); err != nil {
		return nil, nil, err
	}
	w := randT(r, c, c, 3, 3)
	for i := range w.Float32s() {
		w.Float32s()[i] /= 24
	}
	variance := randT(r, c)
	for i, v := range variance.Float32s() {
		variance.Float32s()[i] = 0.5 + v*v
	}
	b.Const("w", w)
	b.Const("b", randT(r, c))
	b.Const("scale", randT(r, c))
	b.Const("shift", randT(r, c))
	b.Const("mean", randT(r, c))
	b.Const("var", variance)
	conv := graph.Attrs{"kernel_shape": graph.Ints(3, 3), "pads": graph.Ints(1, 1, 1, 1)}
	if _, err := b.Op("Conv", "conv", []string{"x", "w", "b"}, []string{"y"}, conv); err != nil {
		return nil, nil, err
	}
	if _, err := b.Op("BatchNormalization", "bn", []string{"y", "scale", "shift", "mean", "var"}, []string{"y"}, nil); err != nil {
		return nil, nil, err
	}
	if _, err := b.Op("Relu", "relu", []string{"y"}, []string{"y"}, nil); err != nil {
		return nil, nil, err
	}
	b.Output("y")
	g, err := b.Finish()
	return g, map[string]*tensor.Tensor{"x": randT(r, 1, c, hw, hw)}, err
}

// buildAttention is the attention half of a BERT-base encoder layer at sequence 128:
// LayerNorm, Q/K/V projections (768x768 + bias), heads split (12 x 64), scaled
// scores with an additive mask, Softmax, P·V, heads merged. The optimizer makes one
// LayerNormAttention node of it.
func buildAttention(r *rand.Rand) (*graph.Graph, map[string]*tensor.Tensor, error) {
	const b, s, h, d = 1, 128, 12, 64
	const e = h * d
	g := graph.NewBuilder("attention")
	if _, err := g.Input("x", tensor.Float32, graph.ShapeOf(b, s, e)); err != nil {
		return nil, nil, err
	}
	if _, err := g.Input("mask", tensor.Float32, graph.ShapeOf(b, 1, 1, s)); err != nil {
		return nil, nil, err
	}
	ints := func(v ...int64) *tensor.Tensor { t, _ := tensor.FromInt64([]int{len(v)}, v); return t }
	scalar := func(v float32) *tensor.Tensor { t, _ := tensor.FromFloat32([]int{}, []float32{v}); return t }
	g.Const("gamma", randT(r, e))
	g.Const("beta", randT(r, e))
	g.Const("split", ints(b, s, h, d))
	g.Const("merge", ints(b, s, e))
	g.Const("sqrtd", scalar(8))
	type step struct {
		op    string
		ins   []string
		out   string
		attrs graph.Attrs
	}
	steps := []step{{"LayerNormalization", []string{"x", "gamma", "beta"}, "xn", graph.Attrs{"axis": graph.Int(-1)}}}
	for _, p := range []string{"q", "k", "v"} {
		w := randT(r, e, e)
		for i := range w.Float32s() {
			w.Float32s()[i] /= 28
		}
		g.Const("w"+p, w)
		g.Const("b"+p, randT(r, e))
		steps = append(steps,
			step{"MatMul", []string{"xn", "w" + p}, p, nil},
			step{"Add", []string{p, "b" + p}, p, nil},
			step{"Reshape", []string{p, "split"}, p, nil},
			step{"Transpose", []string{p}, p, graph.Attrs{"perm": graph.Ints(0, 2, 1, 3)}})
	}
	steps = append(steps,
		step{"Transpose", []string{"k"}, "kt", graph.Attrs{"perm": graph.Ints(0, 1, 3, 2)}},
		step{"MatMul", []string{"q", "kt"}, "s", nil},
		step{"Div", []string{"s", "sqrtd"}, "s", nil},
		step{"Add", []string{"s", "mask"}, "s", nil},
		step{"Softmax", []string{"s"}, "s", graph.Attrs{"axis": graph.Int(-1)}},
		step{"MatMul", []string{"s", "v"}, "y", nil},
		step{"Transpose", []string{"y"}, "y", graph.Attrs{"perm": graph.Ints(0, 2, 1, 3)}},
		step{"Reshape", []string{"y", "merge"}, "y", nil})
	for _, st := range steps {
		if _, err := g.Op(st.op, "", st.ins, []string{st.out}, st.attrs); err != nil {
			return nil, nil, err
		}
	}
	g.Output("y")
	gr, err := g.Finish()
	mask := tensor.New(tensor.Float32, []int{b, 1, 1, s})
	for i := s - 16; i < s; i++ {
		mask.Float32s()[i] = -10000 // padding positions
	}
	return gr, map[string]*tensor.Tensor{"x": randT(r, b, s, e), "mask": mask}, err
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func bench(name string, build func(*rand.Rand) (*graph.Graph, map[string]*tensor.Tensor, error), reps, threads int, profile bool) error {
	g, feeds, err := build(rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		return err
	}
	if err := ops.Infer(g, ops.InferOptions{}); err != nil {
		return err
	}
	fused := g.Clone()
	rep, err := passes.Optimize(fused, passes.Options{Eval: cpufold.New()})
	if err != nil {
		return err
	}
	dev := cpu.New(cpu.Options{Threads: threads})
	sessions := make([]*exec.Session, 2)
	for i, gr := range []*graph.Graph{g, fused} {
		if sessions[i], err = exec.NewSession(gr, dev, exec.Options{HeapOutputs: true, Profile: profile}); err != nil {
			return err
		}
	}
	ctx := context.Background()
	outs := make([]*tensor.Tensor, 2)
	for i, s := range sessions { // warm up: compile plans, pack weights
		for w := 0; w < 3; w++ {
			res, err := s.Run(ctx, feeds, nil)
			if err != nil {
				return err
			}
			outs[i] = res.Outputs[0]
		}
	}
	maxDiff := 0.0
	for j, v := range outs[0].Float32s() {
		maxDiff = math.Max(maxDiff, math.Abs(float64(v-outs[1].Float32s()[j])))
	}
	times := [2][]time.Duration{}
	perNode := [2]map[string]time.Duration{{}, {}}
	for rep := 0; rep < reps; rep++ {
		for i, s := range sessions {
			start := time.Now()
			res, err := s.Run(ctx, feeds, nil)
			if err != nil {
				return err
			}
			times[i] = append(times[i], time.Since(start))
			if res.Profile != nil {
				for _, nt := range res.Profile.Nodes {
					perNode[i][nt.Op] += nt.Duration
				}
			}
			res.Release()
		}
	}
	unf, fus := median(times[0]), median(times[1])
	minOf := func(d []time.Duration) time.Duration {
		m := d[0]
		for _, x := range d {
			m = min(m, x)
		}
		return m
	}
	fmt.Printf("%-5s unfused %d nodes %v, fused %d nodes %v\n", name, rep.NodesBefore, countOps(g), rep.NodesAfter, countOps(fused))
	fmt.Printf("%-5s unfused median %9.3f ms (min %9.3f)   fused median %9.3f ms (min %9.3f)   ratio unfused/fused %.3f (min-based %.3f)   max |diff| %.2g\n",
		name, ms(unf), ms(minOf(times[0])), ms(fus), ms(minOf(times[1])), float64(unf)/float64(fus),
		float64(minOf(times[0]))/float64(minOf(times[1])), maxDiff)
	if profile {
		for i, label := range []string{"unfused", "fused"} {
			fmt.Printf("%-5s %-7s per node, mean ms:", name, label)
			for op, d := range perNode[i] {
				fmt.Printf(" %s %.3f", op, ms(d)/float64(reps))
			}
			fmt.Println()
		}
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func countOps(g *graph.Graph) map[string]int {
	m := map[string]int{}
	for _, n := range g.Nodes {
		m[n.Op]++
	}
	return m
}
