package server_test

import (
	"context"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/server"
	pb "github.com/lightiam/lightos/server/inferpb"
)

// batchRecorder is a Scheduler that notes the batch size of every run.
type batchRecorder struct {
	mu      sync.Mutex
	batches []int
}

func (r *batchRecorder) Run(ctx context.Context, job server.Job, fn func(context.Context) error) error {
	r.mu.Lock()
	r.batches = append(r.batches, job.Batch)
	r.mu.Unlock()
	return fn(ctx)
}

// TestBatchBucketsPadBatches: with BatchBuckets a batch of 3 rows runs padded to the
// bucket of 4 (zero rows), each request still gets exactly its own rows; without it the
// batch runs at 3.
func TestBatchBucketsPadBatches(t *testing.T) {
	for _, tc := range []struct {
		buckets bool
		want    int
	}{{false, 3}, {true, 4}} {
		dir, w := writeRepo(t)
		cfg := `{"max_batch_size": 8, "dynamic_batching": {}}`
		if err := os.WriteFile(filepath.Join(dir, "mlp_batched", "config.json"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		rec := &batchRecorder{}
		srv, err := server.New(server.Options{
			ModelRepository: dir,
			Device:          cpu.New(cpu.Options{}),
			Scheduler:       rec,
			BatchBuckets:    tc.buckets,
			Logger:          log.New(io.Discard, "", 0),
			Loaders:         nativeLoaders(),
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.LoadModel("mlp_batched"); err != nil {
			t.Fatal(err)
		}
		x := randInput(rand.New(rand.NewPCG(11, 3)), 3)
		p := pb.NewPredictorClient(dialGRPC(t, srv))
		resp, err := p.Predict(context.Background(), &pb.PredictRequest{ModelName: "mlp_batched",
			Inputs: []*pb.NamedTensor{{Name: "x", Datatype: "FP32", Shape: []int64{3, inDim}, Raw: rawBytes(x)}}})
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Outputs[0].Shape; len(got) != 2 || got[0] != 3 {
			t.Fatalf("buckets %v: output shape %v, want [3 %d]", tc.buckets, got, outDim)
		}
		near(t, fromRaw(resp.Outputs[0].Raw), w.reference(x, 3))
		rec.mu.Lock()
		if !slices.Equal(rec.batches, []int{tc.want}) {
			t.Errorf("buckets %v: runs of batch %v, want [%d]", tc.buckets, rec.batches, tc.want)
		}
		rec.mu.Unlock()
	}
}
