package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lightiam/lightos/server"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args []string
		want server.Flags
		err  string
	}{
		{args: []string{"--model-repository", "m"},
			want: server.Flags{GRPCPort: 50051, HTTPPort: 8000, Host: "0.0.0.0", Devices: "auto", ModelRepository: "m", DrainTimeout: 30 * time.Second}},
		{args: []string{"--grpc-port", "9", "--http-port", "0", "--host", "127.0.0.1", "--devices", "cpu", "--model-repository", "r", "--threads", "3", "--drain-timeout", "2s"},
			want: server.Flags{GRPCPort: 9, HTTPPort: 0, Host: "127.0.0.1", Devices: "cpu", ModelRepository: "r", Threads: 3, DrainTimeout: 2 * time.Second}},
		{args: []string{}, err: "--model-repository is required"},
		{args: []string{"--model-repository", "m", "--devices", "gpu3"}, err: `"gpu3"`},
		{args: []string{"--model-repository", "m", "--grpc-port", "70000"}, err: "0..65535"},
		{args: []string{"--model-repository", "m", "--threads", "-1"}, err: "--threads -1"},
		{args: []string{"--model-repository", "m", "extra"}, err: "unexpected arguments"},
		{args: []string{"--bogus"}, err: "bogus"},
	}
	for _, tc := range tests {
		f, err := server.ParseFlags("serve", tc.args, io.Discard)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want one containing %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil || f != tc.want {
			t.Errorf("%q: %+v, %v; want %+v", tc.args, f, err, tc.want)
		}
	}
	var usage bytes.Buffer
	if _, err := server.ParseFlags("serve", []string{"-h"}, &usage); !errors.Is(err, flag.ErrHelp) || !strings.Contains(usage.String(), "-drain-timeout") {
		t.Errorf("-h: %v, usage %q", err, usage.String())
	}
}

// TestStandardServerRunsAndDrains runs the standard set-up (CPU, PowerGovernor,
// optimizer, DefaultLoaders) through Run on real ports, infers over HTTP against the
// float64 reference, then cancels: Run drains and returns nil.
func TestStandardServerRunsAndDrains(t *testing.T) {
	dir, w := writeRepo(t)
	f, err := server.ParseFlags("serve", []string{"--model-repository", dir, "--host", "127.0.0.1", "--grpc-port", "0", "--http-port", "0", "--drain-timeout", "5s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	srv, release, err := server.NewStandard(f, server.Extensions{Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if err := srv.LoadAll(); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("LoadAll: %v, want an error about the broken model", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ro := f.RunOptions()
	ro.HTTPPort = lis.Addr().(*net.TCPAddr).Port
	// A port in use: Run fails at once instead of serving.
	if err := server.Run(context.Background(), srv, ro); err == nil || !strings.Contains(err.Error(), "HTTP") {
		t.Fatalf("Run on a port in use: %v", err)
	}
	lis.Close()
	ready := make(chan net.Addr, 1)
	ro.Ready = func(ga, ha net.Addr) {
		if ga != nil {
			t.Errorf("gRPC address %v with --grpc-port 0", ga)
		}
		ready <- ha
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Run(ctx, srv, ro) }()
	var addr net.Addr
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	x := randInput(rand.New(rand.NewPCG(4, 4)), 3)
	js, _ := json.Marshal(map[string]any{"inputs": []any{map[string]any{"name": "x", "shape": []int{3, inDim}, "datatype": "FP32", "data": x}}})
	resp, err := http.Post("http://"+addr.String()+"/v2/models/mlp/infer", "application/json", bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Outputs []struct {
			Data []float32 `json:"data"`
		} `json:"outputs"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(out.Outputs) != 1 {
		t.Fatalf("status %d, %+v", resp.StatusCode, out)
	}
	near(t, out.Outputs[0].Data, w.reference(x, 3))
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	if _, err := http.Get("http://" + addr.String() + "/v2/health/live"); err == nil {
		t.Fatal("HTTP still answers after Run returned")
	}
}
