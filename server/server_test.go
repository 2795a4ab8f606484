package server_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/formats/native"
	"github.com/lightiam/lightos/engine/governor"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
	"github.com/lightiam/lightos/server"
	pb "github.com/lightiam/lightos/server/inferpb"
)

const inDim, outDim = 11, 7

// mlpWeights are the test model's parameters, kept for the float64 reference.
type mlpWeights struct{ w, b []float32 }

func (m mlpWeights) reference(x []float32, batch int) []float64 {
	out := make([]float64, batch*outDim)
	for i := 0; i < batch; i++ {
		for j := 0; j < outDim; j++ {
			s := float64(m.b[j])
			for k := 0; k < inDim; k++ {
				s += float64(x[i*inDim+k]) * float64(m.w[k*outDim+j])
			}
			out[i*outDim+j] = math.Max(s, 0)
		}
	}
	return out
}

// writeRepo makes a repository with model "mlp" (no batching) and "mlp_batched".
func writeRepo(t *testing.T) (string, mlpWeights) {
	t.Helper()
	r := rand.New(rand.NewPCG(9, 9))
	wt := tensor.New(tensor.Float32, []int{inDim, outDim})
	bt := tensor.New(tensor.Float32, []int{outDim})
	for i := range wt.Float32s() {
		wt.Float32s()[i] = float32(r.NormFloat64())
	}
	for i := range bt.Float32s() {
		bt.Float32s()[i] = float32(r.NormFloat64())
	}
	b := graph.NewBuilder("mlp")
	b.Input("x", tensor.Float32, graph.Shape{{Size: -1, Param: "batch"}, {Size: inDim}})
	b.Const("w", wt)
	b.Const("b", bt)
	b.Op("MatMul", "fc", []string{"x", "w"}, []string{"y"}, nil)
	b.Op("Add", "bias", []string{"y", "b"}, []string{"y"}, nil)
	b.Op("Relu", "relu", []string{"y"}, []string{"y"}, nil)
	b.Output("y")
	g, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	configs := map[string]string{
		"mlp":         `{"max_batch_size": 0}`,
		"mlp_batched": `{"max_batch_size": 16, "dynamic_batching": {"preferred_batch_size": [4], "max_queue_delay_microseconds": 5000000}}`,
	}
	for name, cfg := range configs {
		if err := os.MkdirAll(filepath.Join(dir, name, "1"), 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, name, "config.json"), []byte(cfg), 0o644)
		if err := native.Save(g, filepath.Join(dir, name, "1", "model.lightos")); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(dir, "broken", "1"), 0o755)
	os.WriteFile(filepath.Join(dir, "broken", "1", "model.lightos"), []byte("not a model"), 0o644)
	return dir, mlpWeights{append([]float32(nil), wt.Float32s()...), append([]float32(nil), bt.Float32s()...)}
}

// nativeLoaders loads model.lightos files (memory-mapped).
func nativeLoaders() map[string]server.Loader {
	return map[string]server.Loader{"model.lightos": func(p string) (*graph.Graph, io.Closer, error) {
		f, err := native.Open(p)
		if err != nil {
			return nil, nil, err
		}
		return f.Graph, f, nil
	}}
}

func newServer(t *testing.T) (*server.Server, mlpWeights) {
	dir, w := writeRepo(t)
	srv, err := server.New(server.Options{
		ModelRepository: dir,
		Device:          cpu.New(cpu.Options{}),
		Logger:          log.New(io.Discard, "", 0),
		Loaders:         nativeLoaders(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.LoadAll(); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("LoadAll: %v, want an error about the broken model", err)
	}
	return srv, w
}

func dialGRPC(t *testing.T, srv *server.Server) *grpc.ClientConn {
	lis := bufconn.Listen(1 << 20)
	gs, _ := srv.NewGRPCServer()
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet", grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
		return lis.DialContext(ctx)
	}), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func randInput(r *rand.Rand, batch int) []float32 {
	x := make([]float32, batch*inDim)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

func rawBytes(x []float32) []byte {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

func fromRaw(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

func near(t *testing.T, got []float32, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d values, want %d", len(got), len(want))
	}
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > 1e-4*(1+math.Abs(want[i])) {
			t.Fatalf("element %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestGRPCInferRawAndTyped(t *testing.T) {
	srv, w := newServer(t)
	c := pb.NewGRPCInferenceServiceClient(dialGRPC(t, srv))
	ctx := context.Background()
	live, err := c.ServerLive(ctx, &pb.ServerLiveRequest{})
	if err != nil || !live.Live {
		t.Fatalf("ServerLive: %v %v", live, err)
	}
	meta, err := c.ModelMetadata(ctx, &pb.ModelMetadataRequest{Name: "mlp"})
	if err != nil {
		t.Fatal(err)
	}
	if meta.Inputs[0].Name != "x" || meta.Inputs[0].Datatype != "FP32" || meta.Inputs[0].Shape[0] != -1 || meta.Outputs[0].Name != "y" {
		t.Fatalf("metadata %v", meta)
	}
	r := rand.New(rand.NewPCG(1, 1))
	for _, batch := range []int{1, 3} {
		x := randInput(r, batch)
		in := &pb.ModelInferRequest_InferInputTensor{Name: "x", Datatype: "FP32", Shape: []int64{int64(batch), inDim}}
		resp, err := c.ModelInfer(ctx, &pb.ModelInferRequest{ModelName: "mlp", Inputs: []*pb.ModelInferRequest_InferInputTensor{in}, RawInputContents: [][]byte{rawBytes(x)}})
		if err != nil {
			t.Fatal(err)
		}
		near(t, fromRaw(resp.RawOutputContents[0]), w.reference(x, batch))
		typed := &pb.ModelInferRequest_InferInputTensor{Name: "x", Datatype: "FP32", Shape: in.Shape, Contents: &pb.InferTensorContents{Fp32Contents: x}}
		resp, err = c.ModelInfer(ctx, &pb.ModelInferRequest{ModelName: "mlp", Inputs: []*pb.ModelInferRequest_InferInputTensor{typed}})
		if err != nil {
			t.Fatal(err)
		}
		near(t, fromRaw(resp.RawOutputContents[0]), w.reference(x, batch))
	}
}

func TestGRPCBadRequestsGetProtocolErrors(t *testing.T) {
	srv, _ := newServer(t)
	c := pb.NewGRPCInferenceServiceClient(dialGRPC(t, srv))
	x := rawBytes(make([]float32, 2*inDim))
	input := func(name, dt string, shape ...int64) []*pb.ModelInferRequest_InferInputTensor {
		return []*pb.ModelInferRequest_InferInputTensor{{Name: name, Datatype: dt, Shape: shape}}
	}
	cases := []struct {
		name string
		req  *pb.ModelInferRequest
		code codes.Code
		msg  string
	}{
		{"unknown model", &pb.ModelInferRequest{ModelName: "nope", Inputs: input("x", "FP32", 2, inDim), RawInputContents: [][]byte{x}}, codes.NotFound, `"nope"`},
		{"wrong shape", &pb.ModelInferRequest{ModelName: "mlp", Inputs: input("x", "FP32", 2, inDim+1), RawInputContents: [][]byte{x}}, codes.InvalidArgument, "needs"},
		{"wrong trailing dim", &pb.ModelInferRequest{ModelName: "mlp", Inputs: input("x", "FP32", 1, 2*inDim), RawInputContents: [][]byte{x}}, codes.InvalidArgument, "expected"},
		{"wrong dtype", &pb.ModelInferRequest{ModelName: "mlp", Inputs: input("x", "FP64", 1, inDim), RawInputContents: [][]byte{x[:8*inDim]}}, codes.InvalidArgument, "datatype FP64"},
		{"unknown dtype", &pb.ModelInferRequest{ModelName: "mlp", Inputs: input("x", "FP8", 1, inDim), RawInputContents: [][]byte{x}}, codes.InvalidArgument, "FP8"},
		{"missing input", &pb.ModelInferRequest{ModelName: "mlp"}, codes.InvalidArgument, `missing input "x"`},
		{"unknown input", &pb.ModelInferRequest{ModelName: "mlp", Inputs: append(input("x", "FP32", 2, inDim), input("z", "FP32", 1)...), RawInputContents: [][]byte{x, x[:4]}}, codes.InvalidArgument, `no input "z"`},
		{"negative dim", &pb.ModelInferRequest{ModelName: "mlp", Inputs: input("x", "FP32", -2, inDim), RawInputContents: [][]byte{x}}, codes.InvalidArgument, "bad shape"},
		{"raw count", &pb.ModelInferRequest{ModelName: "mlp", Inputs: input("x", "FP32", 2, inDim), RawInputContents: [][]byte{x, x}}, codes.InvalidArgument, "raw_input_contents"},
		{"typed count", &pb.ModelInferRequest{ModelName: "mlp", Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "x", Datatype: "FP32", Shape: []int64{1, inDim}, Contents: &pb.InferTensorContents{Fp32Contents: []float32{1}}}}}, codes.InvalidArgument, "needs 11 values"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.ModelInfer(context.Background(), tc.req)
			st, _ := status.FromError(err)
			if st.Code() != tc.code || !strings.Contains(st.Message(), tc.msg) {
				t.Fatalf("got %v %q, want %v containing %q", st.Code(), st.Message(), tc.code, tc.msg)
			}
		})
	}
	// still serving afterwards
	if _, err := c.ModelInfer(context.Background(), &pb.ModelInferRequest{ModelName: "mlp", Inputs: input("x", "FP32", 2, inDim), RawInputContents: [][]byte{x}}); err != nil {
		t.Fatal(err)
	}
}

func TestHealthAndRepositoryAPI(t *testing.T) {
	srv, _ := newServer(t)
	conn := dialGRPC(t, srv)
	h, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || h.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v %v", h, err)
	}
	c := pb.NewGRPCInferenceServiceClient(conn)
	ctx := context.Background()
	if _, err := c.RepositoryModelUnload(ctx, &pb.RepositoryModelUnloadRequest{ModelName: "mlp"}); err != nil {
		t.Fatal(err)
	}
	if r, _ := c.ModelReady(ctx, &pb.ModelReadyRequest{Name: "mlp"}); r.Ready {
		t.Fatal("unloaded model reports ready")
	}
	idx, _ := c.RepositoryIndex(ctx, &pb.RepositoryIndexRequest{})
	states := map[string]string{}
	for _, m := range idx.Models {
		states[m.Name] = m.State
	}
	if states["mlp"] != "UNAVAILABLE" || states["mlp_batched"] != "READY" || states["broken"] != "UNAVAILABLE" {
		t.Fatalf("index %v", states)
	}
	if _, err := c.RepositoryModelLoad(ctx, &pb.RepositoryModelLoadRequest{ModelName: "mlp"}); err != nil {
		t.Fatal(err)
	}
	if r, _ := c.ModelReady(ctx, &pb.ModelReadyRequest{Name: "mlp"}); !r.Ready {
		t.Fatal("reloaded model not ready")
	}
	_, err = c.RepositoryModelLoad(ctx, &pb.RepositoryModelLoadRequest{ModelName: "broken"})
	if st, _ := status.FromError(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "malformed") {
		t.Fatalf("loading a broken model: %v", err)
	}
	_, err = c.RepositoryModelLoad(ctx, &pb.RepositoryModelLoadRequest{ModelName: "../etc"})
	if st, _ := status.FromError(err); st.Code() != codes.InvalidArgument {
		t.Fatalf("path traversal: %v", err)
	}
}

func TestDynamicBatchingCombinesRequests(t *testing.T) {
	srv, w := newServer(t)
	c := pb.NewGRPCInferenceServiceClient(dialGRPC(t, srv))
	r := rand.New(rand.NewPCG(2, 2))
	// Four requests of batch 1 and a preferred size of 4: the batch runs when the
	// fourth arrives (the 5 s queue delay is never reached).
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		x := randInput(r, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := &pb.ModelInferRequest_InferInputTensor{Name: "x", Datatype: "FP32", Shape: []int64{1, inDim}}
			resp, err := c.ModelInfer(context.Background(), &pb.ModelInferRequest{ModelName: "mlp_batched", Inputs: []*pb.ModelInferRequest_InferInputTensor{in}, RawInputContents: [][]byte{rawBytes(x)}})
			if err != nil {
				t.Error(err)
				return
			}
			near(t, fromRaw(resp.RawOutputContents[0]), w.reference(x, 1))
		}()
	}
	wg.Wait()
	ts := httptest.NewServer(srv.HTTPHandler())
	defer ts.Close()
	body := get(t, ts.URL+"/metrics")
	if !strings.Contains(body, `lightos_batch_size_sum{model="mlp_batched"} 4`) || !strings.Contains(body, `lightos_batch_size_count{model="mlp_batched"} 1`) {
		t.Fatalf("metrics do not show one batch of 4:\n%s", grep(body, "batch_size"))
	}
}

func get(t *testing.T, url string) string {
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestHTTPInferJSONAndBinary(t *testing.T) {
	srv, w := newServer(t)
	ts := httptest.NewServer(srv.HTTPHandler())
	defer ts.Close()
	r := rand.New(rand.NewPCG(3, 3))
	x := randInput(r, 2)
	// JSON in, JSON out
	req := map[string]any{"inputs": []any{map[string]any{"name": "x", "shape": []int{2, inDim}, "datatype": "FP32", "data": x}}}
	js, _ := json.Marshal(req)
	resp, err := http.Post(ts.URL+"/v2/models/mlp/infer", "application/json", bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Outputs []struct {
			Name  string    `json:"name"`
			Shape []int     `json:"shape"`
			Data  []float32 `json:"data"`
		} `json:"outputs"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(out.Outputs) != 1 || out.Outputs[0].Shape[1] != outDim {
		t.Fatalf("status %d, outputs %+v", resp.StatusCode, out)
	}
	near(t, out.Outputs[0].Data, w.reference(x, 2))

	// binary extension both ways
	hdr, _ := json.Marshal(map[string]any{
		"inputs":  []any{map[string]any{"name": "x", "shape": []int{2, inDim}, "datatype": "FP32", "parameters": map[string]any{"binary_data_size": 8 * inDim}}},
		"outputs": []any{map[string]any{"name": "y", "parameters": map[string]any{"binary_data": true}}},
	})
	hreq, _ := http.NewRequest("POST", ts.URL+"/v2/models/mlp/infer", bytes.NewReader(append(hdr, rawBytes(x)...)))
	hreq.Header.Set("Inference-Header-Content-Length", strconv.Itoa(len(hdr)))
	hresp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(hresp.Body)
	hresp.Body.Close()
	n, _ := strconv.Atoi(hresp.Header.Get("Inference-Header-Content-Length"))
	if hresp.StatusCode != 200 || n == 0 || len(body) != n+4*2*outDim {
		t.Fatalf("binary response: status %d header %d body %d", hresp.StatusCode, n, len(body))
	}
	near(t, fromRaw(body[n:]), w.reference(x, 2))

	// errors: status codes and messages, and the server keeps serving
	bad := []struct {
		path, body string
		status     int
		msg        string
	}{
		{"/v2/models/mlp/infer", "{not json", 400, "malformed"},
		{"/v2/models/nope/infer", `{"inputs":[]}`, 404, "nope"},
		{"/v2/models/mlp/infer", `{"inputs":[{"name":"x","shape":[1,11],"datatype":"FP32","data":[1,2]}]}`, 400, "needs 11 values"},
		{"/v2/models/mlp/infer", `{"inputs":[{"name":"x","shape":[1,11],"datatype":"FP32","data":["a"]}]}`, 400, "unexpected"},
		{"/v2/models/mlp/infer", `{"inputs":[{"name":"x","shape":[1,11],"datatype":"FP32","parameters":{"binary_data_size":44}}]}`, 400, "binary_data_size"},
	}
	for _, b := range bad {
		resp, err := http.Post(ts.URL+b.path, "application/json", strings.NewReader(b.body))
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != b.status || !strings.Contains(string(msg), b.msg) {
			t.Errorf("%s %s: status %d %s, want %d containing %q", b.path, b.body, resp.StatusCode, msg, b.status, b.msg)
		}
	}
	for path, want := range map[string]int{"/v2/health/live": 200, "/v2/health/ready": 200, "/v2/models/mlp/ready": 200, "/v2/models/nope/ready": 503} {
		resp, _ := http.Get(ts.URL + path)
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, want)
		}
		resp.Body.Close()
	}
	metrics := get(t, ts.URL+"/metrics")
	if !strings.Contains(metrics, `lightos_requests_total{model="mlp",outcome="success"} 2`) || !strings.Contains(metrics, `outcome="InvalidArgument"`) {
		t.Fatalf("metrics:\n%s", grep(metrics, "requests_total"))
	}
}

func TestDrainRefusesNewRequests(t *testing.T) {
	srv, _ := newServer(t)
	if err := srv.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if srv.Ready() {
		t.Fatal("ready after drain")
	}
	_, _, err := srv.Infer(context.Background(), "mlp", "", nil)
	if st, _ := status.FromError(err); st.Code() != codes.Unavailable {
		t.Fatalf("infer after drain: %v", err)
	}
}

func TestInferenceThroughThePowerGovernor(t *testing.T) {
	dir, w := writeRepo(t)
	dev := cpu.New(cpu.Options{})
	gov, err := governor.New([]backends.Device{dev}, governor.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer gov.Close()
	srv, err := server.New(server.Options{ModelRepository: dir, Device: dev, Logger: log.New(io.Discard, "", 0),
		Scheduler: &server.GovernorScheduler{Governor: gov},
		Loaders: map[string]server.Loader{"model.lightos": func(p string) (*graph.Graph, io.Closer, error) {
			f, err := native.Open(p)
			if err != nil {
				return nil, nil, err
			}
			return f.Graph, f, nil
		}}})
	if err != nil {
		t.Fatal(err)
	}
	srv.LoadAll()
	r := rand.New(rand.NewPCG(4, 4))
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		x := randInput(r, 1+i%3)
		wg.Add(1)
		go func(model string) {
			defer wg.Done()
			xt, _ := tensor.FromFloat32([]int{len(x) / inDim, inDim}, x)
			out, _, err := srv.Infer(context.Background(), model, "", map[string]*tensor.Tensor{"x": xt})
			if err != nil {
				t.Error(err)
				return
			}
			near(t, out["y"].Float32s(), w.reference(x, len(x)/inDim))
		}("mlp")
	}
	wg.Wait()
	if m := gov.Metrics(); m.Completed == 0 {
		t.Fatalf("governor ran no jobs: %+v", m)
	}
}

func TestSimplePredictAPI(t *testing.T) {
	srv, w := newServer(t)
	r := rand.New(rand.NewPCG(5, 5))
	x := randInput(r, 2)
	// gRPC lightos.Predictor/Predict
	p := pb.NewPredictorClient(dialGRPC(t, srv))
	resp, err := p.Predict(context.Background(), &pb.PredictRequest{ModelName: "mlp",
		Inputs: []*pb.NamedTensor{{Name: "x", Datatype: "FP32", Shape: []int64{2, inDim}, Raw: rawBytes(x)}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Outputs) != 1 || resp.Outputs[0].Name != "y" || resp.LatencyMs <= 0 {
		t.Fatalf("response %v", resp)
	}
	near(t, fromRaw(resp.Outputs[0].Raw), w.reference(x, 2))
	if _, err := p.Predict(context.Background(), &pb.PredictRequest{ModelName: "nope"}); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown model: %v", err)
	}
	// HTTP POST /v1/predict with nested lists
	ts := httptest.NewServer(srv.HTTPHandler())
	defer ts.Close()
	rows := [][]float32{x[:inDim], x[inDim:]}
	body, _ := json.Marshal(map[string]any{"model_name": "mlp", "inputs": map[string]any{"x": rows}})
	hr, err := http.Post(ts.URL+"/v1/predict", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer hr.Body.Close()
	var out struct {
		Outputs map[string]struct {
			Shape []int     `json:"shape"`
			Data  []float32 `json:"data"`
		} `json:"outputs"`
		LatencyMs float64 `json:"latency_ms"`
	}
	if err := json.NewDecoder(hr.Body).Decode(&out); err != nil || hr.StatusCode != 200 {
		t.Fatalf("status %d, %v", hr.StatusCode, err)
	}
	near(t, out.Outputs["y"].Data, w.reference(x, 2))
	bad, _ := http.Post(ts.URL+"/v1/predict", "application/json", strings.NewReader(`{"model_name":"mlp","inputs":{"z":[[1]]}}`))
	if bad.StatusCode != 400 {
		t.Fatalf("unknown input: status %d", bad.StatusCode)
	}
	bad.Body.Close()
}

func TestOversizedRequestsAreRefused(t *testing.T) {
	dir, _ := writeRepo(t)
	srv, err := server.New(server.Options{ModelRepository: dir, Device: cpu.New(cpu.Options{}), MaxMessageBytes: 1024,
		Logger: log.New(io.Discard, "", 0),
		Loaders: map[string]server.Loader{"model.lightos": func(p string) (*graph.Graph, io.Closer, error) {
			f, err := native.Open(p)
			if err != nil {
				return nil, nil, err
			}
			return f.Graph, f, nil
		}}})
	if err != nil {
		t.Fatal(err)
	}
	srv.LoadAll()
	ts := httptest.NewServer(srv.HTTPHandler())
	defer ts.Close()
	resp, err := http.Post(ts.URL+"/v2/models/mlp/infer", "application/json", bytes.NewReader(make([]byte, 4096)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("HTTP: status %d, want 413", resp.StatusCode)
	}
	c := pb.NewGRPCInferenceServiceClient(dialGRPC(t, srv))
	in := &pb.ModelInferRequest_InferInputTensor{Name: "x", Datatype: "FP32", Shape: []int64{64, inDim}}
	_, err = c.ModelInfer(context.Background(), &pb.ModelInferRequest{ModelName: "mlp", Inputs: []*pb.ModelInferRequest_InferInputTensor{in}, RawInputContents: [][]byte{make([]byte, 64*inDim*4)}})
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("gRPC: %v, want ResourceExhausted", err)
	}
}
