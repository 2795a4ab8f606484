// Command resnet times one ResNet-50 inference (batch 1, CPU) run from a
// kernel cell against the same run from compiled Go, in one process.
//
// The cell path is the kernel's evaluator (package kernel/eval with the
// engine's symbol tables): the graph is built by interpreting resnet50.go's
// source, and each timed sample is one cell, "res, err := sess.Run(...)",
// parsed, compiled and executed by yaegi, calling the compiled engine. The
// compiled path builds the graph with the same code compiled and calls
// sess.Run directly. Samples alternate between the two paths.
//
//	go run ./bench/kernel/resnet [-n 10] [-threads 0]
package main

import (
	"context"
	_ "embed"
	"flag"
	"fmt"
	"log"
	"math/rand"
	"os"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/traefik/yaegi/interp"

	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/passes"
	"github.com/lightiam/lightos/engine/passes/cpufold"
	"github.com/lightiam/lightos/engine/tensor"
	"github.com/lightiam/lightos/kernel/eval"
	"github.com/lightiam/lightos/kernel/symbols"
)

//go:embed resnet50.go
var resnetSource string

// newRandn returns a seeded generator of n normal samples scaled for He-like
// initialisation small enough to keep activations finite.
func newRandn(seed int64) func(n int) []float32 {
	rng := rand.New(rand.NewSource(seed))
	return func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64()) * 0.02
		}
		return v
	}
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func main() {
	n := flag.Int("n", 10, "timed runs per path")
	threads := flag.Int("threads", 0, "CPU threads (0: GOMAXPROCS)")
	flag.Parse()
	if err := run(*n, *threads); err != nil {
		log.Fatal(err)
	}
}

func run(n, threads int) error {
	ctx := context.Background()
	// Compiled path.
	g, err := BuildResNet50(1, newRandn(1))
	if err != nil {
		return err
	}
	if _, err := passes.Optimize(g, passes.Options{Eval: cpufold.New()}); err != nil {
		return err
	}
	sess, err := exec.NewSession(g, cpu.New(cpu.Options{Threads: threads}), exec.Options{HeapOutputs: true})
	if err != nil {
		return err
	}
	x, err := tensor.FromFloat32([]int{1, 3, 224, 224}, newRandn(2)(3*224*224))
	if err != nil {
		return err
	}
	feeds := map[string]*tensor.Tensor{"x": x}
	compiled := func() error {
		res, err := sess.Run(ctx, feeds, nil)
		if err != nil {
			return err
		}
		res.Release()
		return nil
	}

	// Cell path: the same source, interpreted.
	bench := interp.Exports{"lightos.bench/util/util": {
		"Randn":   reflect.ValueOf(newRandn),
		"Threads": reflect.ValueOf(threads),
	}}
	s, err := eval.New(eval.Options{Stdout: os.Stdout, Stderr: os.Stderr, Symbols: append(symbols.Exports(), bench)})
	if err != nil {
		return err
	}
	src := resnetSource[strings.Index(resnetSource, "import ("):]
	if _, err := s.Run(ctx, "cell[1]", src); err != nil {
		return fmt.Errorf("cell 1: %w", err)
	}
	setup := `import (
	"context"
	"lightos.bench/util"
	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/passes"
	"github.com/lightiam/lightos/engine/passes/cpufold"
)
cg, err := BuildResNet50(1, util.Randn(1))
if err != nil {
	panic(err)
}
if _, err := passes.Optimize(cg, passes.Options{Eval: cpufold.New()}); err != nil {
	panic(err)
}
csess, err := exec.NewSession(cg, cpu.New(cpu.Options{Threads: util.Threads}), exec.Options{HeapOutputs: true})
if err != nil {
	panic(err)
}
cx, _ := tensor.FromFloat32([]int{1, 3, 224, 224}, util.Randn(2)(3*224*224))
cfeeds := map[string]*tensor.Tensor{"x": cx}
len(cg.Nodes)`
	res, err := s.Run(ctx, "cell[2]", setup)
	if err != nil {
		return fmt.Errorf("cell 2: %w", err)
	}
	if res.Value.Interface().(int) != len(g.Nodes) {
		return fmt.Errorf("the interpreted graph has %v nodes, the compiled one %d", res.Value, len(g.Nodes))
	}
	cellCode := "cres, err := csess.Run(context.Background(), cfeeds, nil)\nif err != nil {\n\tpanic(err)\n}\ncres.Release()"
	cell := func() error {
		_, err := s.Run(ctx, "cell[3]", cellCode)
		return err
	}

	// Warm both, then alternate.
	for _, f := range []func() error{compiled, cell, compiled, cell} {
		if err := f(); err != nil {
			return err
		}
	}
	var tc, ti []time.Duration
	for i := 0; i < n; i++ {
		for _, p := range []struct {
			f   func() error
			out *[]time.Duration
		}{{compiled, &tc}, {cell, &ti}} {
			t0 := time.Now()
			if err := p.f(); err != nil {
				return err
			}
			*p.out = append(*p.out, time.Since(t0))
		}
	}
	mc, mi := median(tc), median(ti)
	fmt.Printf("ResNet-50 batch 1, %d nodes after optimization, %d threads, GOMAXPROCS %d, %d runs each\n",
		len(g.Nodes), cpu.New(cpu.Options{Threads: threads}).Threads(), runtime.GOMAXPROCS(0), n)
	fmt.Printf("compiled Go:  median %v (min %v)\n", mc, minDur(tc))
	fmt.Printf("kernel cell:  median %v (min %v)\n", mi, minDur(ti))
	fmt.Printf("cell / compiled = %.3f (goal <= 1.05)\n", float64(mi)/float64(mc))
	return nil
}

func minDur(d []time.Duration) time.Duration {
	m := d[0]
	for _, x := range d {
		if x < m {
			m = x
		}
	}
	return m
}
