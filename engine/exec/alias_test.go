package exec

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"unsafe"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// The tests here compare runs with view aliasing (the default) against runs with
// Options.NoAlias on the same random inputs, bit for bit (the same kernels run on the
// same numbers), check that feeds and constants are never written and that outputs
// own their buffers, and verify the memory plan independently: no two buffers whose
// lifetimes (including every alias's readers) overlap share arena bytes.

// viewShapes are the shapes of 24 elements the random graphs move between.
var viewShapes = [][]int{{24}, {2, 12}, {4, 6}, {2, 3, 4}, {1, 24}, {24, 1}, {2, 1, 12}, {3, 8}, {1, 2, 1, 12}}

type viewVal struct {
	name  string
	shape []int
}

// viewGraph is a random graph of steps over inputs x [2 3 4], y [24] and a constant
// c [4 6]: compute nodes (Relu, Neg, Sigmoid, Add, Mul) and view nodes (Reshape,
// Flatten, Squeeze, Unsqueeze, Identity) applied to random earlier values, so views of
// inputs, of constants, of intermediates and chains of views all occur. The last value
// and a few random others (views among them) are outputs.
func viewGraph(t testing.TB, r *rand.Rand, steps int) *graph.Graph {
	t.Helper()
	b := graph.NewBuilder("views")
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(b.Input("x", tensor.Float32, graph.ShapeOf(2, 3, 4)))
	must(b.Input("y", tensor.Float32, graph.ShapeOf(24)))
	c := tensor.New(tensor.Float32, []int{4, 6})
	for i := range c.Float32s() {
		c.Float32s()[i] = float32(r.NormFloat64())
	}
	must(b.Const("c", c))
	pool := []viewVal{{"x", []int{2, 3, 4}}, {"y", []int{24}}, {"c", []int{4, 6}}}
	nShapes := 0
	reshape := func(src viewVal, to []int, name string) viewVal {
		sh := tensor.New(tensor.Int64, []int{len(to)})
		for i, d := range to {
			sh.Int64s()[i] = int64(d)
		}
		nShapes++
		sn := fmt.Sprintf("shape%d", nShapes)
		must(b.Const(sn, sh))
		must(b.Op("Reshape", "", []string{src.name, sn}, []string{name}, nil))
		return viewVal{name, to}
	}
	for i := 0; i < steps; i++ {
		src := pool[r.IntN(len(pool))]
		name := fmt.Sprintf("v%d", i)
		var v viewVal
		switch k := r.IntN(10); k {
		case 0, 1, 2:
			op := []string{"Relu", "Neg", "Sigmoid"}[k]
			must(b.Op(op, "", []string{src.name}, []string{name}, nil))
			v = viewVal{name, src.shape}
		case 3, 4:
			other := pool[r.IntN(len(pool))]
			if fmt.Sprint(other.shape) != fmt.Sprint(src.shape) {
				other = reshape(other, src.shape, name+"_r")
			}
			must(b.Op([]string{"Add", "Mul"}[k-3], "", []string{src.name, other.name}, []string{name}, nil))
			v = viewVal{name, src.shape}
		case 5:
			v = reshape(src, viewShapes[r.IntN(len(viewShapes))], name)
		case 6:
			axis := r.IntN(len(src.shape) + 1)
			must(b.Op("Flatten", "", []string{src.name}, []string{name}, graph.Attrs{"axis": graph.Int(int64(axis))}))
			v = viewVal{name, []int{tensor.NumElements(src.shape[:axis]), tensor.NumElements(src.shape[axis:])}}
		case 7:
			var ones []int64
			var rest []int
			for j, d := range src.shape {
				if d == 1 {
					ones = append(ones, int64(j))
				} else {
					rest = append(rest, d)
				}
			}
			if len(ones) == 0 || len(rest) == 0 {
				must(b.Op("Identity", "", []string{src.name}, []string{name}, nil))
				v = viewVal{name, src.shape}
				break
			}
			must(b.Op("Squeeze", "", []string{src.name}, []string{name}, graph.Attrs{"axes": graph.Ints(ones...)}))
			v = viewVal{name, rest}
		case 8:
			at := r.IntN(len(src.shape) + 1)
			sh := append(append(append([]int(nil), src.shape[:at]...), 1), src.shape[at:]...)
			must(b.Op("Unsqueeze", "", []string{src.name}, []string{name}, graph.Attrs{"axes": graph.Ints(int64(at))}))
			v = viewVal{name, sh}
		default:
			must(b.Op("Identity", "", []string{src.name}, []string{name}, nil))
			v = viewVal{name, src.shape}
		}
		pool = append(pool, v)
	}
	outs := map[string]bool{pool[len(pool)-1].name: true}
	for i := 0; i < 3; i++ {
		if v := pool[3+r.IntN(len(pool)-3)]; !outs[v.name] {
			outs[v.name] = true
			b.Output(v.name)
		}
	}
	b.Output(pool[len(pool)-1].name)
	g, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func randFeeds(r *rand.Rand) map[string]*tensor.Tensor {
	f := map[string]*tensor.Tensor{"x": tensor.New(tensor.Float32, []int{2, 3, 4}), "y": tensor.New(tensor.Float32, []int{24})}
	for _, t := range f {
		for i := range t.Float32s() {
			t.Float32s()[i] = float32(r.NormFloat64())
		}
	}
	return f
}

// overlaps reports whether a and b share any byte.
func overlaps(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	pa, pb := uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&b[0]))
	return pa < pb+uintptr(len(b)) && pb < pa+uintptr(len(a))
}

// checkArenaLifetimes recomputes each arena buffer's lifetime from the plan's steps
// (from the step writing it to the last step reading it or any value aliasing it) and
// fails if two buffers alive at the same step share bytes.
func checkArenaLifetimes(t *testing.T, p *Plan) {
	t.Helper()
	owner := func(s int) int {
		for n := 0; p.slots[s].aliasOf >= 0; n++ {
			if n > len(p.slots) {
				t.Fatalf("alias cycle at slot %d", s)
			}
			s = p.slots[s].aliasOf
		}
		return s
	}
	def, last := map[int]int{}, map[int]int{}
	for si, st := range p.steps {
		for _, s := range st.outputs {
			if s >= 0 && p.slots[s].offset >= 0 {
				def[s], last[s] = si, si
			}
		}
		for _, s := range st.inputs {
			if s < 0 {
				continue
			}
			if o := owner(s); p.slots[o].offset >= 0 {
				last[o] = max(last[o], si)
			}
		}
	}
	size := func(s int) int {
		return tensor.NumElements(p.slots[s].shape) * p.slots[s].value.DType.Size()
	}
	for a := range def {
		for b := range def {
			if a >= b {
				continue
			}
			live := def[a] <= last[b] && def[b] <= last[a]
			oa, ob := p.slots[a].offset, p.slots[b].offset
			if handedOver(p, a, b, def, last, owner) || handedOver(p, b, a, def, last, owner) {
				continue // an in-place step's output took over its input's buffer
			}
			shared := oa < ob+size(b) && ob < oa+size(a) && size(a) > 0 && size(b) > 0
			if live && shared {
				t.Fatalf("%q (steps %d-%d, bytes %d+%d) and %q (steps %d-%d, bytes %d+%d) share arena bytes while both are alive",
					p.slots[a].value.Name, def[a], last[a], oa, size(a), p.slots[b].value.Name, def[b], last[b], ob, size(b))
			}
		}
	}
}

// handedOver reports whether value b is output 0 of an in-place step (step.inPlace)
// whose in-place input is a's buffer read last there, in exactly a's bytes.
func handedOver(p *Plan, a, b int, def, last map[int]int, owner func(int) int) bool {
	st := p.steps[def[b]]
	if st.inPlace < 0 || len(st.outputs) == 0 || st.outputs[0] != b || st.inputs[st.inPlace] < 0 {
		return false
	}
	return owner(st.inputs[st.inPlace]) == a && last[a] == def[b] && p.slots[a].offset == p.slots[b].offset
}

// runBoth runs g aliased and unaliased on feeds and compares every output bit for bit;
// it also checks that feeds are unchanged and outputs share no storage with the feeds,
// the constants or each other.
func runBoth(t *testing.T, aliased, plain *Session, feeds map[string]*tensor.Tensor) {
	t.Helper()
	before := map[string][]byte{}
	for k, v := range feeds {
		before[k] = append([]byte(nil), v.Bytes()...)
	}
	got, err := aliased.Run(context.Background(), feeds, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	want, err := plain.Run(context.Background(), feeds, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer want.Release()
	for i, o := range got.Outputs {
		w := want.Outputs[i]
		if fmt.Sprint(o.Shape()) != fmt.Sprint(w.Shape()) {
			t.Fatalf("output %q: aliased run gave %v, unaliased %v", got.Names[i], o, w)
		}
		for j, v := range o.Float32s() {
			if v != w.Float32s()[j] {
				t.Fatalf("output %q element %d: aliased run gave %v, unaliased %v", got.Names[i], j, v, w.Float32s()[j])
			}
		}
		for k, f := range feeds {
			if overlaps(o.Bytes(), f.Bytes()) {
				t.Fatalf("output %q shares storage with input %q", got.Names[i], k)
			}
		}
		for _, v := range aliased.g.Initializers {
			if v.Const != nil && overlaps(o.Bytes(), v.Const.Bytes()) {
				t.Fatalf("output %q shares storage with constant %q", got.Names[i], v.Name)
			}
		}
		for j, o2 := range got.Outputs[:i] {
			if overlaps(o.Bytes(), o2.Bytes()) {
				t.Fatalf("outputs %q and %q share storage", got.Names[i], got.Names[j])
			}
		}
	}
	for k, v := range feeds {
		if string(v.Bytes()) != string(before[k]) {
			t.Fatalf("input %q was written", k)
		}
	}
}

// sessions returns a default session of g on a one-thread CPU device and one with
// Options.NoAlias.
func sessions(t testing.TB, g *graph.Graph) (aliased, plain *Session) {
	t.Helper()
	return sessionsOn(t, g, cpu.New(cpu.Options{Threads: 1}))
}

// sessionsOn is sessions on device dev.
func sessionsOn(t testing.TB, g *graph.Graph, dev backends.KernelProvider) (aliased, plain *Session) {
	t.Helper()
	a, err := NewSession(g, dev, Options{HeapOutputs: true})
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewSession(g, dev, Options{HeapOutputs: true, NoAlias: true})
	if err != nil {
		t.Fatal(err)
	}
	return a, p
}

func TestAliasedViewsMatchCopiesOnRandomGraphs(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 4))
	aliasedTotal := 0
	for gi := 0; gi < 60; gi++ {
		steps := 3 + r.IntN(25)
		t.Run(fmt.Sprintf("graph%d/steps%d", gi, steps), func(t *testing.T) {
			g := viewGraph(t, r, steps)
			consts := map[*graph.Value][]byte{}
			for _, v := range g.Initializers {
				if v.Const != nil {
					consts[v] = append([]byte(nil), v.Const.Bytes()...)
				}
			}
			a, p := sessions(t, g)
			for run := 0; run < 2; run++ {
				runBoth(t, a, p, randFeeds(r))
			}
			plan, err := a.Plan(map[string][]int{"x": {2, 3, 4}, "y": {24}})
			if err != nil {
				t.Fatal(err)
			}
			checkArenaLifetimes(t, plan)
			aliasedTotal += plan.Stats().AliasedNodes
			unaliased, err := p.Plan(map[string][]int{"x": {2, 3, 4}, "y": {24}})
			if err != nil {
				t.Fatal(err)
			}
			if unaliased.Stats().AliasedNodes != 0 {
				t.Fatalf("NoAlias plan aliases %d nodes", unaliased.Stats().AliasedNodes)
			}
			checkArenaLifetimes(t, unaliased)
			for v, b := range consts {
				if string(v.Const.Bytes()) != string(b) {
					t.Fatalf("constant %q was written", v.Name)
				}
			}
		})
	}
	if aliasedTotal < 60 {
		t.Fatalf("only %d view nodes aliased over 60 random graphs: aliasing is not happening", aliasedTotal)
	}
}

// chainGraph is x -> Relu -> Reshape -> Flatten -> Unsqueeze -> Squeeze -> Identity
// (a chain of views of one intermediate), then three more compute nodes whose buffers
// would land on the Relu's if the plan freed it at the first view, and finally an Add
// reading the end of the view chain. Outputs: the sum, and Reshapes of it and of the
// Relu (graph outputs that are views of other outputs or of intermediates).
func chainGraph(t testing.TB) *graph.Graph {
	b := graph.NewBuilder("chain")
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(b.Input("x", tensor.Float32, graph.ShapeOf(6, 20)))
	sh := tensor.New(tensor.Int64, []int{3})
	copy(sh.Int64s(), []int64{2, 3, 20})
	must(b.Const("s3", sh))
	sh2 := tensor.New(tensor.Int64, []int{2})
	copy(sh2.Int64s(), []int64{6, 20})
	must(b.Const("s2", sh2))
	must(b.Op("Relu", "", []string{"x"}, []string{"a"}, nil))
	must(b.Op("Reshape", "", []string{"a", "s3"}, []string{"v1"}, nil))
	must(b.Op("Flatten", "", []string{"v1"}, []string{"v2"}, graph.Attrs{"axis": graph.Int(1)}))
	must(b.Op("Unsqueeze", "", []string{"v2"}, []string{"v3"}, graph.Attrs{"axes": graph.Ints(0)}))
	must(b.Op("Squeeze", "", []string{"v3"}, []string{"v4"}, graph.Attrs{"axes": graph.Ints(0)}))
	must(b.Op("Identity", "", []string{"v4"}, []string{"v5"}, nil))
	must(b.Op("Neg", "", []string{"x"}, []string{"n1"}, nil))
	must(b.Op("Sigmoid", "", []string{"n1"}, []string{"n2"}, nil))
	must(b.Op("Neg", "", []string{"n2"}, []string{"n3"}, nil))
	must(b.Op("Reshape", "", []string{"n3", "s3"}, []string{"n4"}, nil))
	must(b.Op("Flatten", "", []string{"n4"}, []string{"n5"}, graph.Attrs{"axis": graph.Int(1)}))
	must(b.Op("Add", "", []string{"v5", "n5"}, []string{"sum"}, nil))
	must(b.Op("Reshape", "", []string{"sum", "s3"}, []string{"sum3"}, nil))
	must(b.Op("Reshape", "", []string{"v1", "s2"}, []string{"relu2"}, nil))
	must(b.Op("Reshape", "", []string{"x", "s3"}, []string{"x3"}, nil))
	must(b.Op("Identity", "", []string{"x"}, []string{"xid"}, nil))
	for _, o := range []string{"sum", "sum3", "relu2", "x3", "xid"} {
		b.Output(o)
	}
	g, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestAliasedViewChainKeepsItsBufferAlive(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	g := chainGraph(t)
	a, p := sessions(t, g)
	for run := 0; run < 3; run++ {
		runBoth(t, a, p, map[string]*tensor.Tensor{"x": randMatrix(r, 6, 20)})
	}
	plan, err := a.Plan(map[string][]int{"x": {6, 20}})
	if err != nil {
		t.Fatal(err)
	}
	checkArenaLifetimes(t, plan)
	// v1..v5 and n4, n5 alias; sum3, relu2, x3 and xid are graph outputs and copy.
	if n := plan.Stats().AliasedNodes; n != 7 {
		t.Fatalf("%d aliased nodes, want 7", n)
	}
	// the sum against a float64 reference, to catch a wrong answer both modes share
	x := randMatrix(r, 6, 20)
	res, err := a.Run(context.Background(), map[string]*tensor.Tensor{"x": x}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range x.Float32s() {
		xv := float64(v)
		want := max(xv, 0) - 1/(1+math.Exp(xv))
		if got := float64(res.Get("sum").Float32s()[i]); math.Abs(got-want) > 1e-6 {
			t.Fatalf("sum[%d] = %v, want %v", i, got, want)
		}
		if got := res.Get("relu2").Float32s()[i]; float64(got) != max(xv, 0) || res.Get("xid").Float32s()[i] != v {
			t.Fatalf("relu2[%d] = %v, xid = %v for x = %v", i, got, res.Get("xid").Float32s()[i], v)
		}
	}
}

func randMatrix(r *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(tensor.Float32, shape)
	for i := range t.Float32s() {
		t.Float32s()[i] = float32(r.NormFloat64())
	}
	return t
}

// A Reshape whose target shape is a feed is planned as dynamic (its shape is known
// only at run time); it still aliases, including views of a planned intermediate.
func TestAliasedDynamicReshape(t *testing.T) {
	b := graph.NewBuilder("dyn")
	b.Input("x", tensor.Float32, graph.ShapeOf(4, 6))
	b.Input("shape", tensor.Int64, graph.ShapeOf(2))
	b.Op("Relu", "", []string{"x"}, []string{"a"}, nil)
	b.Op("Reshape", "", []string{"a", "shape"}, []string{"v"}, nil)
	b.Op("Neg", "", []string{"x"}, []string{"n"}, nil)
	b.Op("Sigmoid", "", []string{"v"}, []string{"s"}, nil)
	b.Output("s")
	b.Output("n")
	g, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	a, p := sessions(t, g)
	r := rand.New(rand.NewPCG(8, 8))
	for _, shape := range [][]int64{{3, 8}, {24, 1}, {2, 12}} {
		sh := tensor.New(tensor.Int64, []int{2})
		copy(sh.Int64s(), shape)
		runBoth(t, a, p, map[string]*tensor.Tensor{"x": randMatrix(r, 4, 6), "shape": sh})
	}
}

// Concurrent runs of an aliased plan (go test -race) each match the unaliased result.
func TestAliasedViewsConcurrentRuns(t *testing.T) {
	g := chainGraph(t)
	a, p := sessions(t, g)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 1))
			for i := 0; i < 20; i++ {
				feeds := map[string]*tensor.Tensor{"x": randMatrix(r, 6, 20)}
				got, err := a.Run(context.Background(), feeds, nil)
				if err != nil {
					errs <- err
					return
				}
				want, err := p.Run(context.Background(), feeds, nil)
				if err != nil {
					errs <- err
					return
				}
				for j := range got.Outputs {
					if string(got.Outputs[j].Bytes()) != string(want.Outputs[j].Bytes()) {
						errs <- fmt.Errorf("worker %d run %d: output %q differs from the unaliased run", seed, i, got.Names[j])
						return
					}
				}
			}
		}(uint64(w))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
