package server_test

import (
	"context"
	"io"
	"log"
	"math/rand/v2"
	"testing"

	"github.com/lightiam/lightos/engine/exec/exectest"
	"github.com/lightiam/lightos/server"
	pb "github.com/lightiam/lightos/server/inferpb"
)

// TestUnloadFreesDevicePlans: a served model's device plans are freed when the model is
// unloaded (the GPU memory of its whole-graph plans, one per batch size).
func TestUnloadFreesDevicePlans(t *testing.T) {
	dir, w := writeRepo(t)
	dev := exectest.NewWholeDevice()
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
	if dev.Compiles.Load() != 2 || dev.Closes.Load() != 0 {
		t.Fatalf("before unload: %d plans made, %d closed; want 2, 0", dev.Compiles.Load(), dev.Closes.Load())
	}
	if err := srv.UnloadModel("mlp"); err != nil {
		t.Fatal(err)
	}
	if n := dev.Closes.Load(); n != 2 {
		t.Errorf("after unload: %d of 2 device plans closed", n)
	}
}
