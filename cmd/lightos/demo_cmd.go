package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/formats/native"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// The demo model classifies points drawn from Gaussian blobs. Its hidden layer is
// random and its readout is fitted in closed form (ridge regression), so the model is
// made in the repository in milliseconds, with no download, and its predictions mean
// something: the demo reports accuracy on held-out points.
const (
	demoFeatures = 32
	demoHidden   = 256
	demoClasses  = 5
)

func demoCommand(args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	dir := fs.String("dir", ".work/demo", "where to write the generated model")
	runs := fs.Int("runs", 200, "timed runs per batch size")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(2026, 11))
	centers := make([][]float64, demoClasses)
	for c := range centers {
		centers[c] = make([]float64, demoFeatures)
		for j := range centers[c] {
			centers[c][j] = 2.5 * r.NormFloat64()
		}
	}
	sample := func(n int) (*tensor.Tensor, []int) {
		x := tensor.New(tensor.Float32, []int{n, demoFeatures})
		labels := make([]int, n)
		for i := 0; i < n; i++ {
			c := r.IntN(demoClasses)
			labels[i] = c
			for j := 0; j < demoFeatures; j++ {
				x.Float32s()[i*demoFeatures+j] = float32(centers[c][j] + 5*r.NormFloat64())
			}
		}
		return x, labels
	}

	// 1. Make the model: random ReLU features, least-squares readout.
	fmt.Println("== 1. model: a 2-layer classifier fitted on generated data (Gaussian blobs)")
	trainX, trainY := sample(4000)
	g, err := fitDemoModel(r, trainX, trainY)
	if err != nil {
		return err
	}
	path := filepath.Join(*dir, "classifier.lightos")
	if err := native.Save(g, path); err != nil {
		return err
	}
	start := time.Now()
	f, err := native.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Printf("saved %s and mapped it back in %v (weights borrowed from the map)\n", path, time.Since(start).Round(time.Microsecond))

	// 2. Optimize.
	fmt.Println("\n== 2. optimizer")
	model := f.Graph
	report, err := optimizeGraph(model, true) // the demo runs on the CPU
	if err != nil {
		return err
	}
	fmt.Printf("nodes: %d before, %d after\n", report.NodesBefore, report.NodesAfter)
	if len(report.Fired) == 0 {
		fmt.Println("no rewrites fired")
	}
	for _, fr := range report.Fired {
		fmt.Printf("  %-24s %v -> %s\n", fr.Pass, fr.Nodes, fr.Result)
	}
	fmt.Print(model)

	// 3. Run.
	dev := cpu.New(cpu.Options{})
	sess, err := exec.NewSession(model, dev, exec.Options{HeapOutputs: true})
	if err != nil {
		return err
	}
	fmt.Println("\n== 3. predictions on held-out points")
	testX, testY := sample(1000)
	res, err := sess.Run(context.Background(), map[string]*tensor.Tensor{"x": testX}, nil)
	if err != nil {
		return err
	}
	scores := res.Outputs[0].Float32s()
	correct := 0
	for i := range testY {
		if argmax(scores[i*demoClasses:(i+1)*demoClasses]) == testY[i] {
			correct++
		}
	}
	for i := 0; i < 8; i++ {
		p := argmax(scores[i*demoClasses : (i+1)*demoClasses])
		fmt.Printf("  point %d: predicted class %d (true %d)\n", i, p, testY[i])
	}
	fmt.Printf("accuracy on %d held-out points: %.1f%%\n", len(testY), 100*float64(correct)/float64(len(testY)))

	fmt.Println("\n== 4. latency (CPU, median and p99 over", *runs, "runs)")
	for _, batch := range []int{1, 64} {
		x, _ := sample(batch)
		feeds := map[string]*tensor.Tensor{"x": x}
		times := make([]time.Duration, *runs)
		for i := range times {
			t0 := time.Now()
			if _, err := sess.Run(context.Background(), feeds, nil); err != nil {
				return err
			}
			times[i] = time.Since(t0)
		}
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		fmt.Printf("  batch %3d: p50 %v  p99 %v\n", batch, times[len(times)/2].Round(time.Microsecond), times[len(times)*99/100].Round(time.Microsecond))
	}

	fmt.Println("\n== 5. device")
	info := dev.Info()
	fmt.Printf("  %s: %s, %d cores, %.1f GiB, ISA %v\n", info.Kind, info.Name, info.ComputeUnits, float64(info.MemoryBytes)/(1<<30), info.ISA)
	tel, err := dev.Telemetry()
	if err != nil {
		return err
	}
	unit := func(r backends.Reading, scale float64, u string) string {
		if !r.Valid {
			return "unavailable"
		}
		return fmt.Sprintf("%.1f %s", r.Value*scale, u)
	}
	fmt.Printf("  temperature %s, power %s, energy %s, utilization %s, clock %s\n", unit(tel.TemperatureC, 1, "C"),
		unit(tel.PowerW, 1, "W"), unit(tel.EnergyJ, 1, "J"), unit(tel.Utilization, 100, "%"), unit(tel.ClockMHz, 1, "MHz"))
	return nil
}

func argmax(xs []float32) int {
	best := 0
	for i, v := range xs {
		if v > xs[best] {
			best = i
		}
	}
	return best
}

// fitDemoModel draws a random hidden layer and fits the readout by ridge regression
// on one-hot targets, then returns the graph scores = relu(x·W1 + b1)·W2 + b2.
func fitDemoModel(r *rand.Rand, x *tensor.Tensor, y []int) (*graph.Graph, error) {
	n := len(y)
	w1 := tensor.New(tensor.Float32, []int{demoFeatures, demoHidden})
	b1 := tensor.New(tensor.Float32, []int{demoHidden})
	scale := 1 / math.Sqrt(demoFeatures)
	for i := range w1.Float32s() {
		w1.Float32s()[i] = float32(r.NormFloat64() * scale)
	}
	for i := range b1.Float32s() {
		b1.Float32s()[i] = float32(r.NormFloat64())
	}
	// hidden features H (n x hidden+1, last column 1 for the bias)
	h := mat.NewDense(n, demoHidden+1, nil)
	xs := x.Float32s()
	for i := 0; i < n; i++ {
		for j := 0; j < demoHidden; j++ {
			s := float64(b1.Float32s()[j])
			for k := 0; k < demoFeatures; k++ {
				s += float64(xs[i*demoFeatures+k]) * float64(w1.Float32s()[k*demoHidden+j])
			}
			h.Set(i, j, math.Max(s, 0))
		}
		h.Set(i, demoHidden, 1)
	}
	t := mat.NewDense(n, demoClasses, nil)
	for i, c := range y {
		t.Set(i, c, 1)
	}
	var hth, htt mat.Dense
	hth.Mul(h.T(), h)
	for i := 0; i < demoHidden+1; i++ {
		hth.Set(i, i, hth.At(i, i)+1e-2)
	}
	htt.Mul(h.T(), t)
	var w mat.Dense
	if err := w.Solve(&hth, &htt); err != nil {
		return nil, fmt.Errorf("demo: fitting the readout: %w", err)
	}
	w2 := tensor.New(tensor.Float32, []int{demoHidden, demoClasses})
	b2 := tensor.New(tensor.Float32, []int{demoClasses})
	for i := 0; i < demoHidden; i++ {
		for c := 0; c < demoClasses; c++ {
			w2.Float32s()[i*demoClasses+c] = float32(w.At(i, c))
		}
	}
	for c := 0; c < demoClasses; c++ {
		b2.Float32s()[c] = float32(w.At(demoHidden, c))
	}
	b := graph.NewBuilder("blob_classifier")
	b.Input("x", tensor.Float32, graph.Shape{{Size: -1, Param: "batch"}, {Size: demoFeatures}})
	b.Const("fc1.weight", w1)
	b.Const("fc1.bias", b1)
	b.Const("fc2.weight", w2)
	b.Const("fc2.bias", b2)
	steps := []struct {
		op, name string
		ins, out []string
	}{
		{"MatMul", "fc1", []string{"x", "fc1.weight"}, []string{"h"}},
		{"Add", "fc1_bias", []string{"h", "fc1.bias"}, []string{"h"}},
		{"Relu", "relu1", []string{"h"}, []string{"h"}},
		{"MatMul", "fc2", []string{"h", "fc2.weight"}, []string{"scores"}},
		{"Add", "fc2_bias", []string{"scores", "fc2.bias"}, []string{"scores"}},
	}
	for _, s := range steps {
		if _, err := b.Op(s.op, s.name, s.ins, s.out, nil); err != nil {
			return nil, err
		}
	}
	b.Output("scores")
	return b.Finish()
}
