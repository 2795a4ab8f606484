package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// multiFlag collects a repeated flag ("--input a=x.npy --input b=y.npy").
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// runCommand is `lightos run MODEL [flags]`: load an ONNX or .lightos model, optimize
// it, run it on the given .npy inputs (random ones when none are given) and print a
// summary of each output and the latency.
func runCommand(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var inputs, dims multiFlag
	fs.Var(&inputs, "input", "an input as NAME=FILE.npy (repeatable); inputs not given are random")
	fs.Var(&dims, "dim", "the size of a symbolic dimension for random inputs, as NAME=SIZE (repeatable; default 1)")
	noOpt := fs.Bool("no-optimize", false, "run the graph as loaded, without engine/passes.Optimize")
	channelsLast := fs.Bool("channels-last", true, "let the optimizer run convolution chains channels-last (NHWC) on the CPU")
	noWinograd := fs.Bool("no-winograd", false, "run 3x3 convolutions without Winograd (for comparisons)")
	noWinograd4 := fs.Bool("no-winograd4", false, "run 3x3 convolutions without Winograd F(4x4, 3x3), F(2x2, 3x3) still timed (for comparisons)")
	threads := fs.Int("threads", 0, "intra-op threads (0: every core)")
	repeat := fs.Int("repeat", 10, "timed runs after the first (which includes compiling the plan)")
	warmup := fs.Int("warmup", 0, "untimed runs between the first run and the timed ones")
	seed := fs.Uint64("seed", 1, "seed of the random inputs")
	save := fs.String("save", "", "a directory to write each output to as NAME.npy")
	loadOnly := fs.Int("load-only", 0, "only load the model this many times and print the fastest load time")
	profile := fs.Bool("profile", false, "print the time per operator of the last run")
	profileNodes := fs.Bool("profile-nodes", false, "print every node's median and fastest time over the timed runs, in execution order")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: lightos run MODEL.onnx|MODEL.lightos [--input NAME=FILE.npy ...] [flags]")
		fs.PrintDefaults()
	}
	// The model path may come before or after the flags.
	var path string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		path, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if path == "" && fs.NArg() > 0 {
		path = fs.Arg(0)
	}
	if path == "" {
		fs.Usage()
		return errors.New("no model given")
	}

	if *loadOnly > 0 {
		best := time.Duration(math.MaxInt64)
		for i := 0; i < *loadOnly; i++ {
			start := time.Now()
			g, closeModel, err := openModel(path)
			if err != nil {
				return err
			}
			best = min(best, time.Since(start))
			if i == 0 {
				fmt.Printf("model      %s: %d nodes, %d initializers\n", path, len(g.Nodes), len(g.Initializers))
			}
			closeModel()
		}
		fmt.Printf("load       fastest of %d: %s\n", *loadOnly, best.Round(time.Microsecond))
		return nil
	}
	start := time.Now()
	g, closeModel, err := openModel(path)
	if err != nil {
		return err
	}
	defer closeModel()
	loadTime := time.Since(start)
	fmt.Printf("model      %s: %d nodes, %d inputs, %d outputs, opset %d (loaded in %s)\n",
		path, len(g.Nodes), len(g.Inputs), len(g.Outputs), g.Opset, loadTime.Round(time.Microsecond))
	if !*noOpt {
		start = time.Now()
		rep, err := optimizeGraph(g, *channelsLast)
		if err != nil {
			return fmt.Errorf("optimize: %w", err)
		}
		fmt.Printf("optimize   %d -> %d nodes, %d rewrites (%s)\n", rep.NodesBefore, rep.NodesAfter, len(rep.Fired), time.Since(start).Round(time.Microsecond))
	}

	feeds, err := makeFeeds(g, inputs, dims, *seed)
	if err != nil {
		return err
	}
	dev := cpu.New(cpu.Options{Threads: *threads, NoWinograd: *noWinograd, NoWinograd4: *noWinograd4})
	opts := exec.Options{HeapOutputs: true, Profile: *profile || *profileNodes}
	if !*noOpt {
		opts.Specialize = specializer(*channelsLast)
	}
	sess, err := exec.NewSession(g, dev, opts)
	if err != nil {
		return err
	}
	ctx := context.Background()
	start = time.Now()
	res, err := sess.Run(ctx, feeds, nil)
	if err != nil {
		return err
	}
	first := time.Since(start)
	shapes := map[string][]int{}
	for name, t := range feeds {
		shapes[name] = t.Shape()
	}
	if plan, err := sess.Plan(shapes); err == nil && plan.Stats().Nodes > 0 {
		st := plan.Stats()
		fmt.Printf("plan       %d steps; intermediates in %.1f MB (%.1f MB without reuse); %d views share their input's buffer, %d outputs written over an input\n",
			st.Nodes, float64(st.ArenaBytes)/1e6, float64(st.NaiveBytes)/1e6, st.AliasedNodes, st.InPlaceNodes)
	}
	for i := 0; i < *warmup; i++ {
		r, err := sess.Run(ctx, feeds, nil)
		if err != nil {
			return err
		}
		r.Release()
	}
	times := make([]time.Duration, 0, *repeat)
	last := res.Profile
	var nodeTimes [][]time.Duration // per node, its time in each timed run (--profile-nodes)
	for i := 0; i < *repeat; i++ {
		start = time.Now()
		r, err := sess.Run(ctx, feeds, nil)
		if err != nil {
			return err
		}
		times = append(times, time.Since(start))
		last = r.Profile
		if *profileNodes && last != nil {
			if nodeTimes == nil {
				nodeTimes = make([][]time.Duration, len(last.Nodes))
			}
			for j, n := range last.Nodes {
				if j < len(nodeTimes) {
					nodeTimes[j] = append(nodeTimes[j], n.Duration)
				}
			}
		}
		r.Release()
	}
	if last != nil && *profileNodes {
		fmt.Printf("node       %-40s %-18s %10s %10s %s\n", "(median and fastest of the timed runs)", "op", "median", "min", "shapes")
		for j, n := range last.Nodes {
			d := n.Duration
			lo := d
			if j < len(nodeTimes) && len(nodeTimes[j]) > 0 {
				ts := slices.Clone(nodeTimes[j])
				slices.Sort(ts)
				d, lo = ts[len(ts)/2], ts[0]
			}
			fmt.Printf("node       %-40s %-18s %10s %10s %v\n", n.Node, n.Op, d.Round(time.Microsecond), lo.Round(time.Microsecond), n.OutputShapes)
		}
	}
	if last != nil {
		total := last.Total()
		for _, op := range last.ByOp() {
			fmt.Printf("profile    %-24s %10s %5.1f%%\n", op.Op, op.Duration.Round(time.Microsecond), 100*float64(op.Duration)/float64(max(total, 1)))
		}
	}
	for i, name := range res.Names {
		fmt.Printf("output     %s\n", summarize(name, res.Outputs[i]))
		if *save != "" {
			if err := os.MkdirAll(*save, 0o755); err != nil {
				return err
			}
			if err := writeNPY(fmt.Sprintf("%s/%s.npy", *save, sanitize(name)), res.Outputs[i]); err != nil {
				return err
			}
		}
	}
	res.Release()
	fmt.Printf("latency    first run %s (includes planning)", first.Round(time.Microsecond))
	if len(times) > 0 {
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		var sum time.Duration
		for _, t := range times {
			sum += t
		}
		fmt.Printf("; %d runs: median %s, mean %s, min %s", len(times), times[len(times)/2].Round(time.Microsecond),
			(sum / time.Duration(len(times))).Round(time.Microsecond), times[0].Round(time.Microsecond))
	}
	fmt.Printf(" on %d threads of %s\n", dev.Threads(), dev.Info().Name)
	return nil
}

func sanitize(name string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ':' {
			return '_'
		}
		return r
	}, name)
}

// makeFeeds reads the named .npy inputs and fills the others with random data.
func makeFeeds(g *graph.Graph, inputs, dims []string, seed uint64) (map[string]*tensor.Tensor, error) {
	feeds := map[string]*tensor.Tensor{}
	for _, spec := range inputs {
		name, file, ok := strings.Cut(spec, "=")
		if !ok {
			return nil, fmt.Errorf("--input %q: expected NAME=FILE.npy", spec)
		}
		if g.Value(name) == nil {
			return nil, fmt.Errorf("--input %q: the model has no input %q", spec, name)
		}
		t, err := readNPY(file)
		if err != nil {
			return nil, fmt.Errorf("--input %s: %w", name, err)
		}
		feeds[name] = t
	}
	sizes := map[string]int{}
	for _, d := range dims {
		name, v, ok := strings.Cut(d, "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 {
			return nil, fmt.Errorf("--dim %q: expected NAME=SIZE", d)
		}
		sizes[name] = n
	}
	r := rand.New(rand.NewPCG(seed, 7))
	for _, in := range g.Inputs {
		if _, ok := feeds[in.Name]; ok {
			continue
		}
		if !in.HasShape {
			return nil, fmt.Errorf("input %q has no declared shape: give it with --input", in.Name)
		}
		shape := make([]int, len(in.Shape))
		for i, d := range in.Shape {
			switch {
			case d.Known():
				shape[i] = int(d.Size)
			case sizes[d.Param] > 0:
				shape[i] = sizes[d.Param]
			default:
				shape[i] = 1
			}
		}
		if !in.DType.Valid() {
			return nil, fmt.Errorf("input %q has no known element type", in.Name)
		}
		t := tensor.New(in.DType, shape)
		for i := 0; i < t.Len(); i++ {
			switch {
			case in.DType.IsFloat():
				t.SetFloat64At(i, r.Float64()*2-1)
			case in.DType == tensor.Bool:
				t.SetFloat64At(i, float64(r.IntN(2)))
			default:
				t.SetFloat64At(i, float64(r.IntN(10)))
			}
		}
		feeds[in.Name] = t
		fmt.Printf("input      %s: random %v%v\n", in.Name, in.DType, shape)
	}
	return feeds, nil
}

// summarize describes an output: dtype, shape, min, max, mean and its first values.
func summarize(name string, t *tensor.Tensor) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %v%v", name, t.DType(), t.Shape())
	n := t.Len()
	if n == 0 {
		return b.String()
	}
	lo, hi, sum := math.Inf(1), math.Inf(-1), 0.0
	for i := 0; i < n; i++ {
		v := t.Float64At(i)
		lo, hi, sum = math.Min(lo, v), math.Max(hi, v), sum+v
	}
	fmt.Fprintf(&b, " min %.6g max %.6g mean %.6g first [", lo, hi, sum/float64(n))
	for i := 0; i < min(n, 5); i++ {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%.6g", t.Float64At(i))
	}
	if n > 5 {
		b.WriteString(" ...")
	}
	b.WriteString("]")
	return b.String()
}
