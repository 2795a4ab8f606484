package exec_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/exec/exectest"
	"github.com/lightiam/lightos/engine/tensor"
)

func checkMLP(t *testing.T, res *exec.Result, x, w, b *tensor.Tensor) {
	t.Helper()
	got := res.Get("y")
	if got == nil {
		t.Fatalf("no output y in %v", res.Names)
	}
	want := reference(x, w, b)
	for i, g := range got.Float32s() {
		if math.Abs(float64(g)-want[i]) > 1e-4*(1+math.Abs(want[i])) {
			t.Fatalf("element %d = %v, want %v", i, g, want[i])
		}
	}
}

func TestSessionUsesGraphCompilerPerShape(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	w, b := randTensor(r, 29, 11), randTensor(r, 11)
	for _, heap := range []bool{false, true} {
		dev := exectest.NewWholeDevice()
		sess, err := exec.NewSession(mlp(t, w, b), dev, exec.Options{Profile: true, HeapOutputs: heap})
		if err != nil {
			t.Fatal(err)
		}
		batches := []int{3, 5, 3, 1}
		for _, batch := range batches {
			x := randTensor(r, batch, 29)
			res, err := sess.Run(context.Background(), map[string]*tensor.Tensor{"x": x}, nil)
			if err != nil {
				t.Fatal(err)
			}
			checkMLP(t, res, x, w, b)
			if n := res.Profile.Nodes; len(n) != 1 || n[0].Op != "GraphPlan" || len(n[0].OutputShapes) != 1 || n[0].OutputShapes[0][0] != batch {
				t.Errorf("profile %+v, want one GraphPlan entry with output [%d 11]", n, batch)
			}
			res.Release()
		}
		if c, n := dev.Compiles.Load(), dev.Runs.Load(); c != 3 || n != int32(len(batches)) {
			t.Errorf("heap %v: %d compilations and %d runs, want 3 and %d", heap, c, n, len(batches))
		}
		if fmt.Sprint(dev.Shapes()) != "[[3 29] [5 29] [1 29]]" {
			t.Errorf("compiled for %v", dev.Shapes())
		}
		p, err := sess.Plan(map[string][]int{"x": {5, 29}})
		if err != nil {
			t.Fatal(err)
		}
		if st := p.Stats(); st.Nodes != 3 {
			t.Errorf("whole plan stats %+v, want 3 nodes", st)
		}
		if y := p.Graph().Outputs[0]; !y.HasShape || fmt.Sprint(y.Shape.Ints()) != "[5 11]" {
			t.Errorf("plan graph output %v, want inferred [5 11]", y.Type)
		}
		if err := sess.Close(); err != nil {
			t.Fatal(err)
		}
		if c := dev.Closes.Load(); c != 3 {
			t.Errorf("Close closed %d device plans, want 3", c)
		}
		if _, err := sess.Run(context.Background(), map[string]*tensor.Tensor{"x": randTensor(r, 3, 29)}, nil); err == nil {
			t.Error("a run after Close worked")
		}
		if err := sess.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	}
}

func TestSessionFallsBackWhenGraphCompilerLacksAnOp(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	w, b := randTensor(r, 17, 9), randTensor(r, 9)
	devs := map[string]backends.KernelProvider{
		"lacks Relu":          &exectest.WholeDevice{Device: cpu.New(cpu.Options{}), Lacks: "Relu"},
		"fallback, cpu first": &backends.Fallback{Primary: cpu.New(cpu.Options{}), Secondary: cpu.New(cpu.Options{})},
		"fallback, lacks":     &backends.Fallback{Primary: &exectest.WholeDevice{Device: cpu.New(cpu.Options{}), Lacks: "MatMul"}, Secondary: cpu.New(cpu.Options{})},
	}
	for name, dev := range devs {
		t.Run(name, func(t *testing.T) {
			sess, err := exec.NewSession(mlp(t, w, b), dev, exec.Options{Profile: true})
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Close()
			for _, batch := range []int{2, 6} {
				x := randTensor(r, batch, 17)
				res, err := sess.Run(context.Background(), map[string]*tensor.Tensor{"x": x}, nil)
				if err != nil {
					t.Fatal(err)
				}
				checkMLP(t, res, x, w, b)
				if len(res.Profile.Nodes) != 3 {
					t.Errorf("profile has %d entries, want 3 (node by node)", len(res.Profile.Nodes))
				}
				res.Release()
			}
		})
	}
	// Through Fallback, a primary that compiles the graph is used whole.
	wd := exectest.NewWholeDevice()
	sess, err := exec.NewSession(mlp(t, w, b), &backends.Fallback{Primary: wd, Secondary: cpu.New(cpu.Options{})}, exec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	x := randTensor(r, 4, 17)
	res, err := sess.Run(context.Background(), map[string]*tensor.Tensor{"x": x}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkMLP(t, res, x, w, b)
	if wd.Runs.Load() != 1 {
		t.Errorf("Fallback's primary ran %d whole plans, want 1", wd.Runs.Load())
	}
	sess.Close()
	if wd.Closes.Load() != 1 {
		t.Errorf("Close closed %d plans, want 1", wd.Closes.Load())
	}
}

func TestSessionReturnsGraphCompilerErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	boom := errors.New("out of device memory")
	sess, err := exec.NewSession(mlp(t, randTensor(r, 5, 3), randTensor(r, 3)), &exectest.WholeDevice{Device: cpu.New(cpu.Options{}), Fail: boom}, exec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = sess.Run(context.Background(), map[string]*tensor.Tensor{"x": randTensor(r, 2, 5)}, nil)
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the compiler's error", err)
	}
}

func TestSessionWholeGraphCallerOutputs(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	w, b := randTensor(r, 23, 7), randTensor(r, 7)
	sess, err := exec.NewSession(mlp(t, w, b), exectest.NewWholeDevice(), exec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	x := randTensor(r, 4, 23)
	dst := tensor.New(tensor.Float32, []int{4, 7})
	res, err := sess.Run(context.Background(), map[string]*tensor.Tensor{"x": x}, &exec.RunOptions{Outputs: map[string]*tensor.Tensor{"y": dst}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Get("y") != dst {
		t.Error("the result's output is not the caller's tensor")
	}
	checkMLP(t, res, x, w, b)
	bad := tensor.New(tensor.Float32, []int{4, 8})
	if _, err := sess.Run(context.Background(), map[string]*tensor.Tensor{"x": x}, &exec.RunOptions{Outputs: map[string]*tensor.Tensor{"y": bad}}); err == nil {
		t.Error("a caller output of the wrong shape was accepted")
	}
}

func TestSessionWholeGraphConcurrentRuns(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	w, b := randTensor(r, 19, 13), randTensor(r, 13)
	dev := exectest.NewWholeDevice()
	sess, err := exec.NewSession(mlp(t, w, b), dev, exec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		x := randTensor(r, 1+i%3, 19)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rep := 0; rep < 20; rep++ {
				res, err := sess.Run(context.Background(), map[string]*tensor.Tensor{"x": x}, nil)
				if err != nil {
					t.Error(err)
					return
				}
				want := reference(x, w, b)
				for j, g := range res.Outputs[0].Float32s() {
					if math.Abs(float64(g)-want[j]) > 1e-4*(1+math.Abs(want[j])) {
						t.Errorf("element %d = %v, want %v", j, g, want[j])
						return
					}
				}
				res.Release()
			}
		}()
	}
	wg.Wait()
	if c, n := dev.Compiles.Load(), dev.Runs.Load(); c != 3 || n != 160 {
		t.Errorf("%d compilations and %d whole runs, want 3 and 160", c, n)
	}
}
