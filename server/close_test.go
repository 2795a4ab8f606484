package server_test

import (
	"context"
	"io"
	"log"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
	"github.com/lightiam/lightos/server"
	pb "github.com/lightiam/lightos/server/inferpb"
)

// planCPU is a CPU device that compiles whole graphs, as the GPU backend does, and
// counts the plans it made and the plans closed.
type planCPU struct {
	*cpu.Device
	made, closed atomic.Int32
}

func (d *planCPU) CompileGraph(g *graph.Graph) (backends.GraphPlan, error) {
	s, err := exec.NewSession(g.Clone(), d.Device, exec.Options{HeapOutputs: true})
	if err != nil {
		return nil, err
	}
	d.made.Add(1)
	return &countedPlan{s: s, d: d}, nil
}

type countedPlan struct {
	s *exec.Session
	d *planCPU
}

func (p *countedPlan) Run(ctx context.Context, feeds map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	res, err := p.s.Run(ctx, feeds, nil)
	if err != nil {
		return nil, err
	}
	out := map[string]*tensor.Tensor{}
	for i, name := range res.Names {
		out[name] = res.Outputs[i]
	}
	return out, nil
}

func (p *countedPlan) Close() error { p.d.closed.Add(1); return nil }

// TestUnloadFreesDevicePlans: a served model's device plans are freed when the model is
// unloaded (the GPU memory of its whole-graph plans, one per batch size).
func TestUnloadFreesDevicePlans(t *testing.T) {
	dir, w := writeRepo(t)
	dev := &planCPU{Device: cpu.New(cpu.Options{})}
	srv, err := server.New(server.Options{ModelRepository: dir, Device: dev, Logger: log.New(io.Discard, "", 0), Loaders: nativeLoaders()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.LoadModel("mlp"); err != nil {
		t.Fatal(err)
	}
	p := pb.NewPredictorClient(dialGRPC(t, srv))
	r := rand.New(rand.NewPCG(3, 1))
	for _, batch := range []int{1, 2} {
		x := randInput(r, batch)
		resp, err := p.Predict(context.Background(), &pb.PredictRequest{ModelName: "mlp",
			Inputs: []*pb.NamedTensor{{Name: "x", Datatype: "FP32", Shape: []int64{int64(batch), inDim}, Raw: rawBytes(x)}}})
		if err != nil {
			t.Fatal(err)
		}
		near(t, fromRaw(resp.Outputs[0].Raw), w.reference(x, batch))
	}
	if dev.made.Load() != 2 || dev.closed.Load() != 0 {
		t.Fatalf("before unload: %d plans made, %d closed; want 2, 0", dev.made.Load(), dev.closed.Load())
	}
	if err := srv.UnloadModel("mlp"); err != nil {
		t.Fatal(err)
	}
	if n := dev.closed.Load(); n != 2 {
		t.Errorf("after unload: %d of 2 device plans closed", n)
	}
}
