package passes

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
)

// DumpEnv names the environment variable that prints the graph after the named passes
// (a comma-separated list; "all" means every pass). Options.DumpAfter overrides it.
const DumpEnv = "LIGHTOS_DUMP_AFTER"

// Options selects what Optimize does. The zero value runs every pass of Default
// except constant folding (which needs Eval).
type Options struct {
	// Disable lists pass names to skip.
	Disable []string
	// Eval evaluates a node on constant inputs, for constant folding. Nil disables
	// folding (passes never import a backend); callers build one with
	// engine/passes/cpufold.
	Eval ops.Evaluator
	// FoldLimit bounds the number of elements of a folded output (0: no bound).
	FoldLimit int
	// Verify checks the graph (Validate and ops.Infer) after every pass that changed
	// it and fails naming the pass. Tests turn it on.
	Verify bool
	// DumpAfter lists pass names (comma-separated, or "all") after which the graph is
	// printed to DumpTo. Empty: the value of the LIGHTOS_DUMP_AFTER environment
	// variable.
	DumpAfter string
	// DumpTo receives dumps (nil: standard error).
	DumpTo io.Writer
	// MaxRounds bounds the rounds of the pipeline run to a fixed point (0: 8).
	MaxRounds int
	// Pipeline replaces the default list of passes (nil: Default()).
	Pipeline []Pass
	// ChannelsLast turns on the channels-last pass: convolution chains rewritten into
	// the NHWC operators of engine/ops/nhwc.go. Only the CPU backend implements them,
	// so callers set it when the graph will run on the CPU (off: the graph keeps NCHW).
	ChannelsLast bool
}

// Fired records one rewrite: which pass, on which nodes, producing which node.
type Fired struct {
	Pass   string
	Nodes  []string // names of the nodes the rewrite matched
	Result string   // name of the node it produced ("" when nodes were only removed)
}

// Report says what the optimizer did.
type Report struct {
	NodesBefore int
	NodesAfter  int
	Fired       []Fired
	// Rounds is how many times the pipeline ran before nothing fired.
	Rounds int
}

// Count returns how many rewrites pass made.
func (r *Report) Count(pass string) int {
	c := 0
	for _, f := range r.Fired {
		if f.Pass == pass {
			c++
		}
	}
	return c
}

// Pass is one named step of the optimizer. Run rewrites c.G and records each rewrite
// with c.Fire (or c.Replace, which records it); a pass that changed nothing records
// nothing.
type Pass struct {
	Name string
	Run  func(c *Context) error
}

// Default is the optimizer's pipeline, in order. Cleanup comes first so that fusions
// see folded constants; attention is matched before MatMul fusion would take its
// MatMuls, and LayerNorm chains before LayerNorm+attention. ChannelsLast comes last, on
// convolutions already fused with their batch norms, activations and residuals.
func Default() []Pass {
	return []Pass{
		ConstantFolding,
		Simplify,
		DeadCode,
		CommonSubexpressions,
		LayerNormChains,
		GeluChains,
		AttentionFusion,
		AttentionHeads,
		LayerNormAttentionFusion,
		BatchNormFolding,
		ConvActivation,
		ConvResidual,
		MatMulFusion,
		GemmFusion,
		Layout,
		ChannelsLast,
	}
}

// Optimize rewrites g in place with the pipeline run to a fixed point and reports what
// changed. The numbers the graph computes never change (up to float rounding); a
// rewrite that would drop an intermediate another node reads, or a graph output, does
// not fire. Types are inferred before (best effort: passes skip nodes whose types are
// unknown) and after; inference failing after the pipeline where it succeeded before
// is an error.
func Optimize(g *graph.Graph, opts Options) (rep *Report, err error) {
	defer func() {
		if r := recover(); r != nil {
			rep, err = nil, fmt.Errorf("passes: graph %q: optimizer panicked: %v", g.Name, r)
		}
	}()
	if g == nil {
		return nil, errors.New("passes: Optimize of a nil graph")
	}
	rep = &Report{NodesBefore: len(g.Nodes)}
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("passes: graph %q is invalid before optimizing: %w", g.Name, err)
	}
	if err := g.TopoSort(); err != nil {
		return nil, fmt.Errorf("passes: %w", err)
	}
	inferredBefore := ops.Infer(g, ops.InferOptions{}) == nil
	pipeline := opts.Pipeline
	if pipeline == nil {
		pipeline = Default()
	}
	disabled := map[string]bool{}
	for _, name := range opts.Disable {
		disabled[strings.TrimSpace(name)] = true
	}
	dump := opts.DumpAfter
	if dump == "" {
		dump = os.Getenv(DumpEnv)
	}
	dumpSet := map[string]bool{}
	for _, name := range strings.Split(dump, ",") {
		if name = strings.TrimSpace(name); name != "" {
			dumpSet[name] = true
		}
	}
	out := opts.DumpTo
	if out == nil {
		out = os.Stderr
	}
	rounds := opts.MaxRounds
	if rounds <= 0 {
		rounds = 8
	}
	c := &Context{G: g, Opts: opts, report: rep}
	for round := 0; round < rounds; round++ {
		rep.Rounds = round + 1
		changed := false
		for _, p := range pipeline {
			if disabled[p.Name] {
				continue
			}
			c.pass, c.fired = p.Name, 0
			c.reset()
			if err := p.Run(c); err != nil {
				return nil, fmt.Errorf("passes: pass %q: %w", p.Name, err)
			}
			if c.fired > 0 {
				changed = true
				// Refresh types: folded constants can make later shapes known.
				_ = ops.Infer(g, ops.InferOptions{})
				if opts.Verify {
					if err := Verify(g); err != nil {
						return nil, fmt.Errorf("passes: after pass %q: %w", p.Name, err)
					}
				}
			}
			if dumpSet[p.Name] || dumpSet["all"] {
				fmt.Fprintf(out, "# after pass %s (round %d, %d rewrites)\n%s", p.Name, round+1, c.fired, g)
			}
		}
		if !changed {
			break
		}
	}
	if err := ops.Infer(g, ops.InferOptions{}); err != nil && inferredBefore {
		return nil, fmt.Errorf("passes: graph %q: types no longer infer after optimizing: %w", g.Name, err)
	}
	rep.NodesAfter = len(g.Nodes)
	return rep, nil
}

// Verify is the graph verifier run after every pass in tests: the structure is valid
// and every node's types infer.
func Verify(g *graph.Graph) error {
	if err := g.Validate(); err != nil {
		return err
	}
	return ops.Infer(g, ops.InferOptions{})
}
