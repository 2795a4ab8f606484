// Command gpu times LightOS on an NVIDIA GPU (package backends/cuda) and prints one
// JSON line per measurement; torch_ref.py times the same work with PyTorch on the same
// card, and run.sh runs both and prints the ratios. See README.md.
//
//	gpu -case gemm      bf16 8192³ product through cuBLASLt
//	gpu -case mlp       4 × FusedMatMul(4096→4096, ReLU), batch 512, float32 (TF32)
//	gpu -case encoder   BERT-base encoder (12 layers, 768 wide, 12 heads, sequence 128),
//	                    batch 1 and 32, float32 (TF32)
//	gpu -case resnet    ResNet-50 v1.5 (optimized graph: FusedConv through cuDNN),
//	                    batch 1 and 64, float32 (TF32)
//	gpu -case session-resnet
//	                    ResNet-50 through exec.Session (what the server and the Python
//	                    module use: the device's whole-graph plan) against cuda.Plan.Run,
//	                    host clock with copies, batch 1 and 64, alternating rounds; batch
//	                    1 also node by node (the session's path before GraphCompiler)
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"time"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/cuda"
	"github.com/lightiam/lightos/backends/cuda/cudatest"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/passes"
	"github.com/lightiam/lightos/engine/passes/cpufold"
	"github.com/lightiam/lightos/engine/tensor"
)

type result struct {
	Case     string  `json:"case"`
	Impl     string  `json:"impl"`
	Device   string  `json:"device"`
	MedianMs float64 `json:"median_ms"`
	MinMs    float64 `json:"min_ms"`
	TFLOPs   float64 `json:"tflops"`
	Reps     int     `json:"reps"`
}

func main() {
	which := flag.String("case", "all", "gemm, mlp, encoder, resnet, matmul512, session-resnet or all")
	reps := flag.Int("reps", 50, "timed repetitions")
	layers := flag.Int("layers", 12, "encoder layers")
	flag.Parse()
	if err := run(*which, *reps, *layers); err != nil {
		fmt.Fprintln(os.Stderr, "gpu:", err)
		os.Exit(1)
	}
}

func emit(r result) {
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
}

func run(which string, reps, layers int) error {
	d, err := cuda.Open(0, cuda.Options{TF32: true})
	if err != nil {
		return err
	}
	defer d.Close()
	name := d.Info().Name
	if which == "gemm" || which == "all" {
		const n = 8192
		ms, err := d.TimeGEMM(tensor.BFloat16, n, n, n, 10, reps)
		if err != nil {
			return err
		}
		emit(result{Case: "gemm-bf16-8192", Impl: "lightos-cublaslt", Device: name, MedianMs: ms[len(ms)/2], MinMs: ms[0],
			TFLOPs: 2 * n * n * n / ms[len(ms)/2] / 1e9, Reps: reps})
	}
	if which == "mlp" || which == "all" {
		g, flops := mlp(512, 4096, 4)
		if err := timeGraph(d, g, "mlp-b512-4x4096", map[string][]int{"x": {512, 4096}}, flops, reps, name); err != nil {
			return err
		}
	}
	if which == "matmul512" || which == "all" {
		// The product description's headline: one 512x512 float32 product, timed on the
		// device and with the copies in and out (compare with bench/gpu/pyloop.py).
		b := graph.NewBuilder("matmul512")
		b.Input("a", tensor.Float32, graph.ShapeOf(512, 512))
		b.Input("b", tensor.Float32, graph.ShapeOf(512, 512))
		b.Op("MatMul", "mm", []string{"a", "b"}, []string{"c"}, nil)
		b.Output("c")
		g, err := b.Finish()
		if err != nil {
			return err
		}
		if err := timeGraph(d, g, "matmul512-fp32", map[string][]int{"a": {512, 512}, "b": {512, 512}}, 2*512*512*512, reps, name); err != nil {
			return err
		}
	}
	if which == "resnet" || which == "all" {
		for _, b := range []int{1, 64} {
			g, flops, err := cudatest.ResNet50(b, 1)
			if err != nil {
				return err
			}
			if _, err := passes.Optimize(g, passes.Options{Eval: cpufold.New()}); err != nil {
				return err
			}
			c := fmt.Sprintf("resnet50-b%d", b)
			shapes := map[string][]int{"x": {b, 3, 224, 224}}
			if err := timeGraph(d, g, c, shapes, flops, reps, name); err != nil {
				return fmt.Errorf("%s: %w", c, err)
			}
			// The same plan with every value NCHW (no channels-last region).
			p, err := d.Compile(g, shapes, cuda.PlanOptions{NoChannelsLast: true})
			if err != nil {
				return err
			}
			ms, err := p.Time(10, reps)
			p.Close()
			if err != nil {
				return err
			}
			emit(result{Case: c, Impl: "lightos-plan-graph-nchw", Device: name, MedianMs: ms[len(ms)/2], MinMs: ms[0],
				TFLOPs: flops / ms[len(ms)/2] / 1e9, Reps: reps})
		}
	}
	if which == "session-resnet" || which == "all" {
		if err := sessionResNet(d, reps, name); err != nil {
			return fmt.Errorf("session-resnet: %w", err)
		}
	}
	if which == "encoder" || which == "all" {
		for _, b := range []int{1, 32} {
			g, flops := encoder(layers, 768, 12, 3072, 128)
			c := fmt.Sprintf("bert%d-s128-b%d", layers, b)
			if err := timeGraph(d, g, c, map[string][]int{"x": {b, 128, 768}}, flops*float64(b), reps, name); err != nil {
				return err
			}
			// The same with the tanh GELU in the product's epilogue: the cost of the
			// separate exact-GELU pass.
			gt, _ := encoderAct(layers, 768, 12, 3072, 128, ops.ActGeluTanh)
			p, err := d.Compile(gt, map[string][]int{"x": {b, 128, 768}}, cuda.PlanOptions{})
			if err != nil {
				return err
			}
			ms, err := p.Time(10, reps)
			p.Close()
			if err != nil {
				return err
			}
			emit(result{Case: c, Impl: "lightos-plan-graph-gelutanh-epilogue", Device: name, MedianMs: ms[len(ms)/2], MinMs: ms[0],
				TFLOPs: flops * float64(b) / ms[len(ms)/2] / 1e9, Reps: reps})
		}
	}
	return nil
}

// timeGraph times the plan's device work as a CUDA graph and launched step by step
// (CUDA events), and whole Runs with copies (host clock).
func timeGraph(d *cuda.Device, g *graph.Graph, c string, shapes map[string][]int, flops float64, reps int, dev string) error {
	feeds := map[string]*tensor.Tensor{}
	r := rand.New(rand.NewPCG(9, 9))
	for k, s := range shapes {
		feeds[k] = randT(r, s, 1)
	}
	for _, mode := range []string{"graph", "eager"} {
		p, err := d.Compile(g, shapes, cuda.PlanOptions{NoGraph: mode == "eager"})
		if err != nil {
			return err
		}
		if _, err := p.Run(context.Background(), feeds); err != nil {
			p.Close()
			return err
		}
		if mode == "graph" {
			k, _ := json.Marshal(p.Kernels())
			fmt.Printf("{\"case\":%q,\"plan_device_bytes\":%d,\"kernels\":%s}\n", c, p.Bytes, k)
		}
		ms, err := p.Time(10, reps)
		if err != nil {
			p.Close()
			return err
		}
		emit(result{Case: c, Impl: "lightos-plan-" + mode, Device: dev, MedianMs: ms[len(ms)/2], MinMs: ms[0],
			TFLOPs: flops / ms[len(ms)/2] / 1e9, Reps: reps})
		if mode == "eager" {
			prof, err := p.Profile(10)
			if err != nil {
				p.Close()
				return err
			}
			for _, o := range prof {
				fmt.Printf("{\"case\":%q,\"profile_op\":%q,\"steps\":%d,\"ms\":%.4f}\n", c, o.Op, o.Steps, o.Ms)
			}
		}
		if mode == "graph" {
			ms, err := p.TimeRun(feeds, 3, min(reps, 20))
			if err != nil {
				p.Close()
				return err
			}
			emit(result{Case: c, Impl: "lightos-plan-graph+copies", Device: dev, MedianMs: ms[len(ms)/2], MinMs: ms[0],
				TFLOPs: flops / ms[len(ms)/2] / 1e9, Reps: len(ms)})
			// Feeds already in the plan's device buffers: RunDevice, host clock.
			dms, err := timeRunDevice(p, min(reps, 20))
			if err != nil {
				p.Close()
				return err
			}
			emit(result{Case: c, Impl: "lightos-plan-rundevice", Device: dev, MedianMs: dms[len(dms)/2], MinMs: dms[0],
				TFLOPs: flops / dms[len(dms)/2] / 1e9, Reps: len(dms)})
		}
		p.Close()
	}
	return nil
}

// timeRunDevice times whole RunDevice calls (launch and wait, no copies) with the
// host clock after 3 untimed ones; milliseconds, sorted.
func timeRunDevice(p *cuda.Plan, reps int) ([]float64, error) {
	var ms []float64
	for i := 0; i < 3+reps; i++ {
		t0 := time.Now()
		if _, err := p.RunDevice(context.Background(), nil); err != nil {
			return nil, err
		}
		if i >= 3 {
			ms = append(ms, float64(time.Since(t0).Microseconds())/1000)
		}
	}
	sort.Float64s(ms)
	return ms, nil
}

func randT(r *rand.Rand, shape []int, scale float64) *tensor.Tensor {
	t := tensor.New(tensor.Float32, shape)
	for i := range t.Float32s() {
		t.Float32s()[i] = float32(r.NormFloat64() * scale)
	}
	return t
}

type gb struct {
	b *graph.Builder
	r *rand.Rand
	n int
}

func (g *gb) konst(shape []int, scale float64) string {
	g.n++
	name := fmt.Sprintf("c%d", g.n)
	if _, err := g.b.Const(name, randT(g.r, shape, scale)); err != nil {
		panic(err)
	}
	return name
}

func (g *gb) op(domain, op string, in []string, attrs graph.Attrs) string {
	g.n++
	out := fmt.Sprintf("v%d", g.n)
	n, err := g.b.Op(op, "", in, []string{out}, attrs)
	if err != nil {
		panic(err)
	}
	n.Domain = domain
	return out
}

func (g *gb) linear(x string, in, out int, act string) string {
	w, b := g.konst([]int{in, out}, 1/math.Sqrt(float64(in))), g.konst([]int{out}, 0.02)
	return g.op(ops.DomainLightOS, ops.FusedMatMul, []string{x, w, b}, graph.Attrs{"activation": graph.String(act)})
}

func mlp(batch, width, layers int) (*graph.Graph, float64) {
	g := &gb{b: graph.NewBuilder("mlp"), r: rand.New(rand.NewPCG(1, 1))}
	g.b.Input("x", tensor.Float32, graph.ShapeOf(batch, width))
	x := "x"
	for i := 0; i < layers; i++ {
		x = g.linear(x, width, width, ops.ActRelu)
	}
	g.b.Output(x)
	gr, err := g.b.Finish()
	if err != nil {
		panic(err)
	}
	return gr, float64(2 * batch * width * width * layers)
}

// encoder is cudatest.Encoder with exact GELU in the FFN.
func encoder(layers, e, heads, ffn, seq int) (*graph.Graph, float64) {
	return encoderAct(layers, e, heads, ffn, seq, ops.ActGelu)
}

// encoderAct is cudatest.Encoder with the FFN activation act (GeluTanh runs in
// cuBLASLt's epilogue; exact Gelu as a second pass).
func encoderAct(layers, e, heads, ffn, seq int, act string) (*graph.Graph, float64) {
	g, flops, err := cudatest.Encoder(layers, e, heads, ffn, seq, act)
	if err != nil {
		panic(err)
	}
	return g, flops
}

// nodeOnly hides a device's GraphCompiler: exec.Session then runs node by node.
type nodeOnly struct{ backends.KernelProvider }

// sessionResNet times ResNet-50 Runs (host clock, copies in and out included) through
// exec.Session on d, with the optimizer as Specialize as the server does, against the
// optimized graph's cuda.Plan.Run: rounds alternate, each reps/2 runs after a warm one.
func sessionResNet(d *cuda.Device, reps int, dev string) error {
	opt := func(g *graph.Graph) error {
		_, err := passes.Optimize(g, passes.Options{Eval: cpufold.New()})
		return err
	}
	timeRuns := func(n int, run func() error) ([]float64, error) {
		var ms []float64
		for i := 0; i < n; i++ {
			t0 := time.Now()
			if err := run(); err != nil {
				return nil, err
			}
			ms = append(ms, float64(time.Since(t0).Microseconds())/1000)
		}
		return ms, nil
	}
	for _, b := range []int{1, 64} {
		g, flops, err := cudatest.ResNet50(b, 1)
		if err != nil {
			return err
		}
		c := fmt.Sprintf("resnet50-b%d", b)
		feeds := map[string]*tensor.Tensor{"x": randT(rand.New(rand.NewPCG(9, 9)), []int{b, 3, 224, 224}, 1)}
		og := g.Clone()
		if err := opt(og); err != nil {
			return err
		}
		p, err := d.Compile(og, nil, cuda.PlanOptions{})
		if err != nil {
			return err
		}
		s, err := exec.NewSession(g, d, exec.Options{HeapOutputs: true, Specialize: opt})
		if err != nil {
			p.Close()
			return err
		}
		impls := []struct {
			name string
			run  func() error
		}{
			{"lightos-plan-graph+copies", func() error { _, err := p.Run(context.Background(), feeds); return err }},
			{"lightos-session-whole", func() error { _, err := s.Run(context.Background(), feeds, nil); return err }},
		}
		if b == 1 {
			sn, err := exec.NewSession(og, nodeOnly{d}, exec.Options{HeapOutputs: true})
			if err != nil {
				return err
			}
			impls = append(impls, struct {
				name string
				run  func() error
			}{"lightos-session-node-by-node", func() error { _, err := sn.Run(context.Background(), feeds, nil); return err }})
		}
		all := make([][]float64, len(impls))
		for round := 0; round < 2; round++ {
			for i, im := range impls {
				n := max(reps/4, 3)
				if im.name == "lightos-session-node-by-node" {
					n = 3
				}
				if _, err := timeRuns(1, im.run); err != nil { // warm (first: compiles)
					return fmt.Errorf("%s %s: %w", c, im.name, err)
				}
				ms, err := timeRuns(n, im.run)
				if err != nil {
					return fmt.Errorf("%s %s: %w", c, im.name, err)
				}
				all[i] = append(all[i], ms...)
			}
		}
		for i, im := range impls {
			ms := all[i]
			sort.Float64s(ms)
			emit(result{Case: c, Impl: im.name, Device: dev, MedianMs: ms[len(ms)/2], MinMs: ms[0],
				TFLOPs: flops / ms[len(ms)/2] / 1e9, Reps: len(ms)})
		}
		p.Close()
		s.Close()
	}
	return nil
}
