package server_test

import (
	"context"
	"io"
	"log"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/passes"
	"github.com/lightiam/lightos/server"
	pb "github.com/lightiam/lightos/server/inferpb"
)

// TestPlansAreSpecializedWithPrepare: with Prepare set (the optimizer, as lightos serve
// sets it), each plan's copy of the graph is prepared again once a request fixes the
// batch size, so fusions that need concrete shapes can fire; answers stay exact.
func TestPlansAreSpecializedWithPrepare(t *testing.T) {
	dir, w := writeRepo(t)
	var mu sync.Mutex
	var batches [][]int // the input shape of every graph Prepare saw
	srv, err := server.New(server.Options{
		ModelRepository: dir,
		Device:          cpu.New(cpu.Options{}),
		Logger:          log.New(io.Discard, "", 0),
		Loaders:         nativeLoaders(),
		Prepare: func(g *graph.Graph) error {
			mu.Lock()
			batches = append(batches, g.Inputs[0].Shape.Ints())
			mu.Unlock()
			_, err := passes.Optimize(g, passes.Options{})
			return err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.LoadModel("mlp"); err != nil {
		t.Fatal(err)
	}
	x := randInput(rand.New(rand.NewPCG(7, 7)), 3)
	p := pb.NewPredictorClient(dialGRPC(t, srv))
	resp, err := p.Predict(context.Background(), &pb.PredictRequest{ModelName: "mlp",
		Inputs: []*pb.NamedTensor{{Name: "x", Datatype: "FP32", Shape: []int64{3, inDim}, Raw: rawBytes(x)}}})
	if err != nil {
		t.Fatal(err)
	}
	near(t, fromRaw(resp.Outputs[0].Raw), w.reference(x, 3))
	mu.Lock()
	defer mu.Unlock()
	if !slices.ContainsFunc(batches, func(d []int) bool { return len(d) == 2 && d[0] == 3 && d[1] == inDim }) {
		t.Fatalf("Prepare saw input shapes %v, want the load-time graph and a plan's copy with [3 %d]", batches, inDim)
	}
}
