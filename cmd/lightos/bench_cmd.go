package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// benchCommand times a model on random inputs and prints latency percentiles.
func benchCommand(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	runs := fs.Int("runs", 50, "timed runs")
	warmup := fs.Int("warmup", 5, "untimed runs first")
	batch := fs.Int("batch", 1, "size of symbolic dimensions (the batch)")
	threads := fs.Int("threads", 0, "CPU threads (0: all cores)")
	optimize := fs.Bool("optimize", true, "run the optimizer first")
	channelsLast := fs.Bool("channels-last", true, "let the optimizer run convolution chains channels-last (NHWC) on the CPU")
	profile := fs.Bool("profile", false, "print the per-operator time of the last run")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("usage: lightos bench [flags] MODEL")
	}
	loadStart := time.Now()
	g, closeFn, err := openModel(pos[0])
	if err != nil {
		return err
	}
	defer closeFn()
	fmt.Printf("load: %v\n", time.Since(loadStart).Round(time.Microsecond))
	if *optimize {
		if _, err := optimizeGraph(g, *channelsLast); err != nil {
			return err
		}
	}
	dev := cpu.New(cpu.Options{Threads: *threads})
	opts := exec.Options{HeapOutputs: true, Profile: *profile}
	if *optimize {
		opts.Specialize = specializer(*channelsLast)
	}
	sess, err := exec.NewSession(g, dev, opts)
	if err != nil {
		return err
	}
	feeds, err := randomFeeds(g, *batch, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		return err
	}
	var last *exec.Result
	for i := 0; i < *warmup; i++ {
		if _, err := sess.Run(context.Background(), feeds, nil); err != nil {
			return err
		}
	}
	times := make([]time.Duration, *runs)
	for i := range times {
		t0 := time.Now()
		last, err = sess.Run(context.Background(), feeds, nil)
		if err != nil {
			return err
		}
		times[i] = time.Since(t0)
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	pct := func(p int) time.Duration { return times[min(len(times)-1, len(times)*p/100)] }
	fmt.Printf("%s on %s (%d threads), batch %d, %d runs: p50 %v  p90 %v  p99 %v  min %v\n", pos[0], dev.Info().Name,
		dev.Threads(), *batch, *runs, pct(50), pct(90), pct(99), times[0])
	if *profile && last != nil && last.Profile != nil {
		for _, op := range last.Profile.ByOp() {
			fmt.Printf("  %-24s %v\n", op.Op, op.Duration)
		}
	}
	return nil
}

// randomFeeds makes a random tensor for every graph input; symbolic dimensions take
// the batch size.
func randomFeeds(g *graph.Graph, batch int, r *rand.Rand) (map[string]*tensor.Tensor, error) {
	feeds := map[string]*tensor.Tensor{}
	for _, in := range g.Inputs {
		if !in.HasShape {
			return nil, fmt.Errorf("input %q has no known rank; give inputs explicitly", in.Name)
		}
		shape := make([]int, len(in.Shape))
		for i, d := range in.Shape {
			shape[i] = int(d.Size)
			if !d.Known() {
				shape[i] = batch
			}
		}
		t := tensor.New(in.DType, shape)
		for i := 0; i < t.Len(); i++ {
			switch {
			case in.DType.IsFloat():
				t.SetFloat64At(i, r.NormFloat64())
			case in.DType == tensor.Bool:
				t.SetFloat64At(i, float64(r.IntN(2)))
			default:
				t.SetFloat64At(i, float64(r.IntN(4)))
			}
		}
		feeds[in.Name] = t
	}
	return feeds, nil
}
