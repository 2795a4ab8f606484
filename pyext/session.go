package pyext

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/lightiam/lightos/engine/custom"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

type sessObj struct {
	sess    *exec.Session
	g       *graph.Graph
	reg     *custom.Registry
	profile atomic.Pointer[exec.Profile]
	outs    sync.Map // input shapes key -> []*graph.Value: the plan's outputs (typed)
}

// close frees the session's device plans (GPU memory); the CPU holds none.
func (o *sessObj) close() error { return o.sess.Close() }

// outputTypes returns the typed graph outputs of the plan for the feeds' shapes. The
// session caches plans itself; this cache only skips building its key (with fmt) twice
// per run, which matters for small graphs called from Python.
func (so *sessObj) outputTypes(feeds map[string]*tensor.Tensor) ([]*graph.Value, error) {
	var buf [128]byte
	key := buf[:0]
	for _, in := range so.g.Inputs {
		for _, d := range feeds[in.Name].Shape() {
			key = strconv.AppendInt(key, int64(d), 10)
			key = append(key, ',')
		}
		key = append(key, ';')
	}
	if v, ok := so.outs.Load(string(key)); ok {
		return v.([]*graph.Value), nil
	}
	shapes := make(map[string][]int, len(feeds))
	for n, t := range feeds {
		shapes[n] = t.Shape()
	}
	plan, err := so.sess.Plan(shapes)
	if err != nil {
		return nil, classify(err, KindShape)
	}
	outs := plan.Graph().Outputs
	so.outs.Store(string(key), outs)
	return outs, nil
}

// SessionNew prepares graph h for running on device dev. customSpec registers the
// Python custom ops the graph uses, as "op=handle,op=handle". The graph must not be
// changed (optimized, edited) while the session is used.
func SessionNew(h, dev int64, customSpec string) (s int64, err error) {
	defer guard(&err)
	g, err := get[*graphObj](h, "graph")
	if err != nil {
		return 0, err
	}
	d, err := get[*deviceObj](dev, "device")
	if err != nil {
		return 0, err
	}
	reg, err := parseCustomSpec(customSpec)
	if err != nil {
		return 0, err
	}
	sess, err := exec.NewSession(g.g, custom.Wrap(d.kp, reg), exec.Options{Profile: true, Specialize: g.specialize(d.onCPU())})
	if err != nil {
		return 0, classify(err, KindGraph)
	}
	return put(&sessObj{sess: sess, g: g.g, reg: reg}), nil
}

// Meta layout of SessionRun (int64 values, at address meta):
//
//	[0] number of inputs given   [1] number of caller outputs given   [2] capacity   [3] 0
//	per input:          [input index, ptr, dtype code, rank, 8 dims]
//	per caller output:  [output index, ptr, dtype code, rank, 8 dims]
//	per graph output (written by Go): [buffer id or 0, ptr, dtype code, rank, 8 dims]

// SessionRun runs session s once. token identifies the run to the Python custom-op
// dispatcher. Inputs are borrowed from the given addresses for the duration of the
// call; outputs go into the caller's arrays or into pooled mapped buffers whose ids
// are written back (release each with BufferRelease).
func SessionRun(s, token int64, meta uintptr) (err error) {
	defer guard(&err)
	so, err := get[*sessObj](s, "session")
	if err != nil {
		return err
	}
	if meta == 0 {
		return kerr(KindArgument, "SessionRun: nil metadata pointer")
	}
	head := unsafe.Slice((*int64)(foreign(meta)), 4)
	nIn, nOut, capacity := int(head[0]), int(head[1]), int(head[2])
	g := so.g
	need := 4 + recWidth*(nIn+nOut+len(g.Outputs))
	if nIn < 0 || nOut < 0 || capacity < need {
		return kerr(KindArgument, "SessionRun: metadata holds %d values, needs %d", capacity, need)
	}
	m := unsafe.Slice((*int64)(foreign(meta)), need)

	feeds, err := parseFeeds(g, m, nIn)
	if err != nil {
		return err
	}
	pouts, err := so.outputTypes(feeds)
	if err != nil {
		return err
	}

	// Outputs: caller arrays first, then pooled buffers where the shape is known.
	caller := map[int]*tensor.Tensor{}
	for i := 0; i < nOut; i++ {
		rec := m[4+(nIn+i)*recWidth : 4+(nIn+i+1)*recWidth]
		idx := int(rec[0])
		if idx < 0 || idx >= len(pouts) {
			return kerr(KindArgument, "output index %d out of range (graph has %d outputs)", idx, len(pouts))
		}
		t, err := borrow(rec, "out= array for "+pouts[idx].Name)
		if err != nil {
			return err
		}
		if err := checkAgainst(pouts[idx], t, "out= array for output"); err != nil {
			return err
		}
		caller[idx] = t
	}
	bufs := map[int]pooled{}
	defer func() {
		for _, b := range bufs {
			if b.mem != nil {
				pool.give(b.mem)
			}
		}
	}()
	ro := &exec.RunOptions{Outputs: map[string]*tensor.Tensor{}}
	for i, v := range pouts {
		if t, ok := caller[i]; ok {
			ro.Outputs[v.Name] = t
			continue
		}
		if !v.HasShape || !v.Shape.Known() {
			continue
		}
		n := tensor.NumElements(v.Shape.Ints()) * v.DType.Size()
		if n == 0 {
			continue
		}
		mem, err := pool.take(n)
		if err != nil {
			return kerr(KindInternal, "output %q: %v", v.Name, err)
		}
		view, err := tensor.FromBytes(v.DType, v.Shape.Ints(), mem.Bytes())
		if err != nil {
			pool.give(mem)
			return kerr(KindInternal, "output %q: %v", v.Name, err)
		}
		bufs[i] = pooled{mem, view}
		ro.Outputs[v.Name] = view
	}

	ctx := context.WithValue(context.Background(), tokenKey{}, token)
	res, err := so.sess.Run(ctx, feeds, ro)
	if err != nil {
		return classify(err, KindExecution)
	}
	if res.Profile != nil {
		so.profile.Store(res.Profile)
	}
	base := 4 + (nIn+nOut)*recWidth
	return writeResults(res, m[base:], caller, bufs)
}

func borrow(rec []int64, what string) (*tensor.Tensor, error) {
	dt := tensor.DType(rec[2])
	if !dt.Valid() {
		return nil, kerr(KindDType, "%s: unknown dtype code %d", what, rec[2])
	}
	rank := int(rec[3])
	if rank < 0 || rank > maxRank {
		return nil, kerr(KindShape, "%s: rank %d not supported (at most %d)", what, rank, maxRank)
	}
	shape := make([]int, rank)
	for i := range shape {
		shape[i] = int(rec[4+i])
		if shape[i] < 0 {
			return nil, kerr(KindShape, "%s: negative dimension %d", what, shape[i])
		}
	}
	t, err := tensor.Borrow(dt, shape, uintptr(rec[1]))
	if err != nil {
		return nil, kerr(KindArgument, "%s: %v", what, err)
	}
	return t, nil
}

func checkAgainst(v *graph.Value, t *tensor.Tensor, what string) error {
	if t.DType() != v.DType {
		return kerr(KindDType, "%s %q: got %v, expected %v", what, v.Name, t.DType(), v.DType)
	}
	if !v.HasShape {
		return nil
	}
	shape := t.Shape()
	if len(shape) != len(v.Shape) {
		return kerr(KindShape, "%s %q: got shape %v (rank %d), expected %v", what, v.Name, shape, len(shape), v.Shape)
	}
	for i, d := range v.Shape {
		if d.Known() && int64(shape[i]) != d.Size {
			return kerr(KindShape, "%s %q: got shape %v, expected %v (dimension %d)", what, v.Name, shape, v.Shape, i)
		}
	}
	return nil
}

// SessionDescribe returns JSON with the session's inputs and outputs (name, dtype, shape).
func SessionDescribe(s int64) (out string, err error) {
	defer guard(&err)
	so, err := get[*sessObj](s, "session")
	if err != nil {
		return "", err
	}
	d := struct {
		Inputs  []valueDesc `json:"inputs"`
		Outputs []valueDesc `json:"outputs"`
	}{[]valueDesc{}, []valueDesc{}}
	g := inferred(so.g)
	for _, v := range g.Inputs {
		d.Inputs = append(d.Inputs, describeValue(v))
	}
	for _, v := range g.Outputs {
		d.Outputs = append(d.Outputs, describeValue(v))
	}
	b, err := json.Marshal(d)
	return string(b), err
}

// SessionProfile returns the last run's per-node times as JSON
// [{node, op, seconds, shapes}], or "[]" before the first run.
func SessionProfile(s int64) (out string, err error) {
	defer guard(&err)
	so, err := get[*sessObj](s, "session")
	if err != nil {
		return "", err
	}
	p := so.profile.Load()
	type row struct {
		Node    string  `json:"node"`
		Op      string  `json:"op"`
		Seconds float64 `json:"seconds"`
		Shapes  [][]int `json:"shapes"`
	}
	rows := []row{}
	if p != nil {
		for _, n := range p.Nodes {
			rows = append(rows, row{n.Node, n.Op, n.Duration.Seconds(), n.OutputShapes})
		}
	}
	b, err := json.Marshal(rows)
	return string(b), err
}

// SessionPlanStats returns the plan statistics for the given input shapes (JSON object
// name -> shape list) as JSON: nodes, arena_bytes, naive_bytes, flops.
func SessionPlanStats(s int64, shapesJSON string) (out string, err error) {
	defer guard(&err)
	so, err := get[*sessObj](s, "session")
	if err != nil {
		return "", err
	}
	var shapes map[string][]int
	if err := json.Unmarshal([]byte(shapesJSON), &shapes); err != nil {
		return "", kerr(KindArgument, "shapes: %v", err)
	}
	p, err := so.sess.Plan(shapes)
	if err != nil {
		return "", classify(err, KindShape)
	}
	st := p.Stats()
	b, err := json.Marshal(map[string]any{"nodes": st.Nodes, "arena_bytes": st.ArenaBytes,
		"naive_bytes": st.NaiveBytes, "flops": st.FLOPs, "dynamic_nodes": st.DynamicNodes})
	return string(b), err
}

// Sleep blocks for the given seconds without holding the GIL (tests use it to show
// that Python threads run while Go works).
func Sleep(seconds float64) { time.Sleep(time.Duration(seconds * float64(time.Second))) }

// Panic panics (tests use it to show that a panic becomes an exception).
func Panic(msg string) (err error) {
	defer guard(&err)
	panic(errors.New(msg))
}

// parseFeeds borrows the nIn input records of m and checks them against g's inputs.
func parseFeeds(g *graph.Graph, m []int64, nIn int) (map[string]*tensor.Tensor, error) {
	feeds := make(map[string]*tensor.Tensor, nIn)
	for i := 0; i < nIn; i++ {
		rec := m[4+i*recWidth : 4+(i+1)*recWidth]
		idx := int(rec[0])
		if idx < 0 || idx >= len(g.Inputs) {
			return nil, kerr(KindArgument, "input index %d out of range (graph has %d inputs)", idx, len(g.Inputs))
		}
		in := g.Inputs[idx]
		t, err := borrow(rec, "input "+in.Name)
		if err != nil {
			return nil, err
		}
		if err := checkAgainst(in, t, "input"); err != nil {
			return nil, err
		}
		feeds[in.Name] = t
	}
	var missing []string
	for _, in := range g.Inputs {
		if feeds[in.Name] == nil {
			missing = append(missing, fmt.Sprintf("%q (%v)", in.Name, in.Type))
		}
	}
	if len(missing) > 0 {
		return nil, kerr(KindMissingInput, "graph %q: no value fed for input %v", g.Name, missing)
	}
	return feeds, nil
}

// writeResults writes one record per output into m (caller arrays, pooled buffers
// or engine tensors handed over as buffers); pooled buffers used are removed from bufs.
func writeResults(res *exec.Result, m []int64, caller map[int]*tensor.Tensor, bufs map[int]pooled) error {
	for i, t := range res.Outputs {
		rec := m[i*recWidth : (i+1)*recWidth]
		var id int64
		switch {
		case caller[i] != nil:
			if t != caller[i] {
				copy(caller[i].Bytes(), t.Bytes())
			}
			t = caller[i]
		case bufs[i].mem != nil:
			b := bufs[i]
			if t != b.view {
				copy(b.view.Bytes(), t.Bytes())
			}
			id = put(&bufObj{mem: b.mem})
			delete(bufs, i)
			t = b.view
		case len(t.Bytes()) == 0:
		default: // shape known only at run time: hand out the engine's tensor
			if !t.Mapped() {
				mem, err := pool.take(len(t.Bytes()))
				if err != nil {
					return kerr(KindInternal, "output %q: %v", res.Names[i], err)
				}
				copy(mem.Bytes(), t.Bytes())
				t, _ = tensor.FromBytes(t.DType(), t.Shape(), mem.Bytes())
				id = put(&bufObj{mem: mem})
			} else {
				id = put(&bufObj{mem: t}) // the buffer owns (and later reuses) t's map
			}
		}
		if err := writeTensor(rec, id, t); err != nil {
			return err
		}
	}
	return nil
}

type pooled struct{ mem, view *tensor.Tensor }
