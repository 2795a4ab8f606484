// Command nn-bench times the CPU backend's neural-network kernels (MatMul, Conv,
// Softmax, LayerNormalization) through cpu.Device kernels, as a plan runs them, for
// bench/nn/run.py, which compares them with NumPy in the same run. Each invocation
// prints one JSON object with the per-repetition timings.
//
//	go run ./bench/nn -case bert-ffn1 -threads 1 -reps 5
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"time"

	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// benchCase is one operator application: inputs (constants marked) and its FLOPs.
type benchCase struct {
	op     string
	attrs  graph.Attrs
	shapes [][]int
	consts []bool
	flops  float64
}

// cases holds the shapes of one BERT-base layer (sequence 128, batch 1) and of
// ResNet-50 convolutions; run.py uses the same names for its NumPy anchors.
var cases = map[string]benchCase{
	"bert-qkv":     {op: "MatMul", shapes: [][]int{{1, 128, 768}, {768, 768}}, consts: []bool{false, true}, flops: 2 * 128 * 768 * 768},
	"bert-ffn1":    {op: "MatMul", shapes: [][]int{{1, 128, 768}, {768, 3072}}, consts: []bool{false, true}, flops: 2 * 128 * 768 * 3072},
	"bert-ffn2":    {op: "MatMul", shapes: [][]int{{1, 128, 3072}, {3072, 768}}, consts: []bool{false, true}, flops: 2 * 128 * 768 * 3072},
	"bert-scores":  {op: "MatMul", shapes: [][]int{{1, 12, 128, 64}, {1, 12, 64, 128}}, consts: []bool{false, false}, flops: 2 * 12 * 128 * 128 * 64},
	"bert-context": {op: "MatMul", shapes: [][]int{{1, 12, 128, 128}, {1, 12, 128, 64}}, consts: []bool{false, false}, flops: 2 * 12 * 128 * 128 * 64},
	"softmax":      {op: "Softmax", shapes: [][]int{{1, 12, 128, 128}}, consts: []bool{false}, flops: 12 * 128 * 128},
	"layernorm":    {op: "LayerNormalization", shapes: [][]int{{1, 128, 768}, {768}, {768}}, consts: []bool{false, true, true}, flops: 128 * 768},
	"conv-3x3-64": {op: "Conv", attrs: graph.Attrs{"pads": graph.Ints(1, 1, 1, 1)},
		shapes: [][]int{{1, 64, 56, 56}, {64, 64, 3, 3}, {64}}, consts: []bool{false, true, true}, flops: 2 * 64 * 56 * 56 * 64 * 9},
	"conv-1x1-256": {op: "Conv", shapes: [][]int{{1, 256, 14, 14}, {1024, 256, 1, 1}, {1024}}, consts: []bool{false, true, true}, flops: 2 * 1024 * 14 * 14 * 256},
	"conv-7x7s2": {op: "Conv", attrs: graph.Attrs{"pads": graph.Ints(3, 3, 3, 3), "strides": graph.Ints(2, 2)},
		shapes: [][]int{{1, 3, 224, 224}, {64, 3, 7, 7}, {64}}, consts: []bool{false, true, true}, flops: 2 * 64 * 112 * 112 * 3 * 49},
}

func main() {
	which := flag.String("case", "bert-ffn1", "what to time")
	threads := flag.Int("threads", 0, "threads (0: all)")
	reps := flag.Int("reps", 5, "timed repetitions")
	list := flag.Bool("list", false, "list the cases")
	flag.Parse()
	if *list {
		names := make([]string, 0, len(cases))
		for n := range cases {
			names = append(names, n)
		}
		sort.Strings(names)
		_ = json.NewEncoder(os.Stdout).Encode(names)
		return
	}
	if err := run(*which, *threads, *reps); err != nil {
		fmt.Fprintln(os.Stderr, "nn-bench:", err)
		os.Exit(1)
	}
}

func run(which string, threads, reps int) error {
	c, ok := cases[which]
	if !ok {
		return fmt.Errorf("unknown case %q", which)
	}
	r := rand.New(rand.NewPCG(1, 2))
	g := graph.New("bench")
	vals := make([]*graph.Value, len(c.shapes))
	ins := make([]*tensor.Tensor, len(c.shapes))
	for i, s := range c.shapes {
		t := tensor.New(tensor.Float32, s)
		for j := range t.Float32s() {
			t.Float32s()[j] = float32(r.NormFloat64())
		}
		ins[i] = t
		if c.consts[i] {
			vals[i] = g.AddInitializer(fmt.Sprintf("c%d", i), t)
		} else {
			vals[i] = g.AddInput(fmt.Sprintf("x%d", i), tensor.Float32, graph.ShapeOf(s...))
		}
	}
	n := g.AddNode(c.op, which, vals, []string{"y"}, c.attrs)
	g.Outputs = n.Outputs
	if err := ops.Infer(g, ops.InferOptions{}); err != nil {
		return err
	}
	dev := cpu.New(cpu.Options{Threads: threads})
	k, err := dev.Kernel(n)
	if err != nil {
		return err
	}
	outs := []*tensor.Tensor{tensor.New(tensor.Float32, n.Outputs[0].Shape.Ints())}
	ctx := context.Background()
	call := func() error { return k.Run(ctx, ins, outs) }
	if err := warm(call); err != nil {
		return err
	}
	var secs []float64
	for i := 0; i < reps; i++ {
		calls, t0 := 0, time.Now()
		for calls == 0 || time.Since(t0) < 50*time.Millisecond {
			if err := call(); err != nil {
				return err
			}
			calls++
		}
		secs = append(secs, time.Since(t0).Seconds()/float64(calls))
	}
	best := secs[0]
	for _, s := range secs {
		best = min(best, s)
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"case": which, "threads": dev.Threads(), "flops": c.flops, "seconds": secs,
		"best_seconds": best, "gflops": c.flops / best / 1e9,
	})
}

func warm(call func() error) error {
	for i := 0; i < 2; i++ {
		if err := call(); err != nil {
			return err
		}
	}
	return nil
}
