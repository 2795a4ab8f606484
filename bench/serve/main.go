// Command serve is the serving load generator: it starts a LightOS server on loopback,
// loads an MLP (784-512-512-10, generated here) and optionally an ONNX model given
// with -onnx (e.g. ResNet-50 from scripts/make_onnx_models.py), and drives it over gRPC
// at several concurrencies, with and without dynamic batching. The anchor, measured in
// the same run, is the model's in-process latency (exec.Session.Run, no network).
//
//	go run ./bench/serve [-duration 5s] [-conc 1,4,16,64] [-onnx model.onnx]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/backends/cuda"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/formats/onnx"
	"github.com/lightiam/lightos/engine/governor"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/passes"
	"github.com/lightiam/lightos/engine/tensor"
	"github.com/lightiam/lightos/server"
	pb "github.com/lightiam/lightos/server/inferpb"
)

func main() {
	duration := flag.Duration("duration", 5*time.Second, "load duration per configuration")
	concs := flag.String("conc", "1,4,16,64", "client concurrencies")
	onnxPath := flag.String("onnx", "", "an ONNX model to serve as well (input batch dimension 1)")
	useGov := flag.Bool("governor", true, "run every job through the PowerGovernor, as lightos serve does")
	device := flag.String("device", "cpu", "cpu, or cuda (the first NVIDIA GPU through exec.Session: one whole-graph plan per batch size)")
	flag.Parse()
	if err := run(*duration, *concs, *onnxPath, *useGov, *device); err != nil {
		fmt.Fprintln(os.Stderr, "bench/serve:", err)
		os.Exit(1)
	}
}

type model struct {
	name  string
	g     *graph.Graph
	input string
	shape []int // one request's input shape (batch 1)
}

func mlp() *graph.Graph {
	r := rand.New(rand.NewPCG(1, 2))
	b := graph.NewBuilder("mlp")
	b.Input("x", tensor.Float32, graph.Shape{{Size: -1, Param: "batch"}, {Size: 784}})
	prev := "x"
	dims := []int{784, 512, 512, 10}
	for i := 0; i+1 < len(dims); i++ {
		w := tensor.New(tensor.Float32, []int{dims[i], dims[i+1]})
		for j := range w.Float32s() {
			w.Float32s()[j] = float32(r.NormFloat64() * 0.05)
		}
		bias := tensor.New(tensor.Float32, []int{dims[i+1]})
		wn, bn, h := fmt.Sprint("w", i), fmt.Sprint("b", i), fmt.Sprint("h", i)
		b.Const(wn, w)
		b.Const(bn, bias)
		b.Op("MatMul", "", []string{prev, wn}, []string{h}, nil)
		b.Op("Add", "", []string{h, bn}, []string{h}, nil)
		if i+2 < len(dims) {
			b.Op("Relu", "", []string{h}, []string{h}, nil)
		}
		prev = h
	}
	b.Output(prev)
	g, err := b.Finish()
	if err != nil {
		panic(err)
	}
	return g
}

func run(duration time.Duration, concList, onnxPath string, useGov bool, device string) error {
	models := []model{{name: "mlp", g: mlp(), input: "x", shape: []int{1, 784}}}
	if onnxPath != "" {
		g, err := onnx.Load(onnxPath, onnx.Options{})
		if err != nil {
			return err
		}
		shape := g.Inputs[0].Shape.Ints()
		for i := range shape {
			if shape[i] < 0 {
				shape[i] = 1
			}
		}
		models = append(models, model{name: "onnx", g: g, input: g.Inputs[0].Name, shape: shape})
	}
	var concs []int
	for _, s := range strings.Split(concList, ",") {
		c, err := strconv.Atoi(s)
		if err != nil {
			return err
		}
		concs = append(concs, c)
	}
	var dev backends.KernelProvider = cpu.New(cpu.Options{})
	if device == "cuda" {
		d, err := cuda.Open(0, cuda.Options{TF32: true})
		if err != nil {
			return err
		}
		defer d.Close()
		dev = d
	}
	var sched server.Scheduler = server.DirectScheduler{}
	if useGov {
		gov, err := governor.New([]backends.Device{dev}, governor.Options{})
		if err != nil {
			return err
		}
		defer gov.Close()
		sched = &server.GovernorScheduler{Governor: gov}
	}
	srv, err := server.New(server.Options{Device: dev, Logger: log.New(io.Discard, "", 0), Scheduler: sched, BatchBuckets: device == "cuda",
		Prepare: func(g *graph.Graph) error { _, err := passes.Optimize(g, passes.Options{}); return err }})
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	gs, _ := srv.NewGRPCServer()
	go gs.Serve(lis)
	defer gs.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		return err
	}
	defer conn.Close()
	client := pb.NewGRPCInferenceServiceClient(conn)
	host, _ := os.Hostname()
	fmt.Printf("# bench/serve on %s (%s, %d cores), %s per point, gRPC over loopback, governor %v\n\n", host, dev.Info().Name, dev.Info().ComputeUnits, duration, useGov)
	fmt.Println("| model | batching | concurrency | req/s | p50 ms | p99 ms | p50 / in-process p50 |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, m := range models {
		anchor, err := inProcessP50(m, dev)
		if err != nil {
			return err
		}
		modes := []struct {
			label string
			dyn   *server.DynamicBatching
		}{
			{"off", nil},
			{"adaptive", &server.DynamicBatching{}},
			{"2 ms window", &server.DynamicBatching{PreferredBatchSizes: []int{8, 16, 32}, MaxQueueDelayMicroseconds: 2000}},
		}
		for _, mode := range modes {
			cfg := server.Config{MaxBatchSize: 64, Instances: 2, DynamicBatching: mode.dyn}
			if err := srv.AddModel(m.name, m.g.Clone(), cfg); err != nil {
				return err
			}
			for _, c := range concs {
				rps, p50, p99, err := load(client, m, c, duration)
				if err != nil {
					return err
				}
				fmt.Printf("| %s | %s | %d | %.0f | %.2f | %.2f | %.2f |\n", m.name, mode.label, c, rps,
					ms(p50), ms(p99), float64(p50)/float64(anchor))
			}
		}
		fmt.Printf("\nin-process anchor for %s: p50 %.3f ms (batch 1)\n\n", m.name, ms(anchor))
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func inProcessP50(m model, dev backends.KernelProvider) (time.Duration, error) {
	g := m.g.Clone()
	if _, err := passes.Optimize(g, passes.Options{}); err != nil {
		return 0, err
	}
	s, err := exec.NewSession(g, dev, exec.Options{HeapOutputs: true})
	if err != nil {
		return 0, err
	}
	x := tensor.New(tensor.Float32, m.shape)
	feeds := map[string]*tensor.Tensor{m.input: x}
	var times []time.Duration
	deadline := time.Now().Add(2 * time.Second)
	for len(times) < 20 || time.Now().Before(deadline) && len(times) < 2000 {
		t0 := time.Now()
		if _, err := s.Run(context.Background(), feeds, nil); err != nil {
			return 0, err
		}
		times = append(times, time.Since(t0))
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	return times[len(times)/2], nil
}

func load(c pb.GRPCInferenceServiceClient, m model, conc int, d time.Duration) (float64, time.Duration, time.Duration, error) {
	raw := make([]byte, tensor.NumElements(m.shape)*4)
	shape := make([]int64, len(m.shape))
	for i, s := range m.shape {
		shape[i] = int64(s)
	}
	req := &pb.ModelInferRequest{ModelName: m.name, Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: m.input, Datatype: "FP32", Shape: shape}}, RawInputContents: [][]byte{raw}}
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(stop) {
				t0 := time.Now()
				if _, err := c.ModelInfer(context.Background(), req); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return 0, 0, 0, firstErr
	}
	elapsed := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) == 0 {
		return 0, 0, 0, fmt.Errorf("no requests completed")
	}
	return float64(len(lat)) / elapsed.Seconds(), lat[len(lat)/2], lat[len(lat)*99/100], nil
}
