package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/formats/native"
	"github.com/lightiam/lightos/engine/formats/onnx"
	"github.com/lightiam/lightos/engine/governor"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/passes"
	"github.com/lightiam/lightos/server"
)

// modelLoaders are the formats the server reads from a model repository.
func modelLoaders() map[string]server.Loader {
	return map[string]server.Loader{
		"model.onnx": func(path string) (*graph.Graph, io.Closer, error) {
			g, err := onnx.Load(path, onnx.Options{})
			return g, nil, err
		},
		"model.lightos": func(path string) (*graph.Graph, io.Closer, error) {
			f, err := native.Open(path)
			if err != nil {
				return nil, nil, err
			}
			return f.Graph, f, nil
		},
	}
}

func serveCommand(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	grpcPort := fs.Int("grpc-port", 50051, "gRPC port (KServe v2, health, Predict); 0 disables")
	httpPort := fs.Int("http-port", 8000, "HTTP port (KServe v2 REST, /metrics); 0 disables")
	host := fs.String("host", "0.0.0.0", "address to listen on")
	devices := fs.String("devices", "auto", "devices to run on: auto or cpu")
	repo := fs.String("model-repository", "", "folder of models (NAME/VERSION/model.{onnx,lightos})")
	threads := fs.Int("threads", 0, "CPU threads per run (0: all cores)")
	grace := fs.Duration("drain-timeout", 30*time.Second, "how long SIGTERM waits for requests in flight")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *repo == "" {
		return errors.New("--model-repository is required")
	}
	if *devices != "auto" && *devices != "cpu" {
		return fmt.Errorf("--devices %q: this build serves on the CPU (auto or cpu)", *devices)
	}
	dev := cpu.New(cpu.Options{Threads: *threads})
	gov, err := governor.New([]backends.Device{dev}, governor.Options{})
	if err != nil {
		return err
	}
	defer gov.Close()
	srv, err := server.New(server.Options{
		Scheduler:       &server.GovernorScheduler{Governor: gov},
		ModelRepository: *repo,
		Loaders:         modelLoaders(),
		Device:          dev,
		Prepare: func(g *graph.Graph) error {
			_, err := passes.Optimize(g, passes.Options{})
			return err
		},
	})
	if err != nil {
		return err
	}
	if err := srv.LoadAll(); err != nil {
		log.Printf("lightos serve: %v", err)
	}
	return runServers(srv, *host, *grpcPort, *httpPort, *grace)
}

// runServers listens on the gRPC and HTTP ports until SIGTERM or SIGINT, then drains.
func runServers(srv *server.Server, host string, grpcPort, httpPort int, grace time.Duration) error {
	errc := make(chan error, 2)
	gs, health := srv.NewGRPCServer()
	if grpcPort > 0 {
		lis, err := net.Listen("tcp", fmt.Sprintf("%s:%d", host, grpcPort))
		if err != nil {
			return fmt.Errorf("gRPC: %w", err)
		}
		log.Printf("lightos serve: gRPC on %s", lis.Addr())
		go func() { errc <- gs.Serve(lis) }()
	}
	hs := &http.Server{Handler: srv.HTTPHandler(), ReadHeaderTimeout: 10 * time.Second}
	if httpPort > 0 {
		lis, err := net.Listen("tcp", fmt.Sprintf("%s:%d", host, httpPort))
		if err != nil {
			return fmt.Errorf("HTTP: %w", err)
		}
		log.Printf("lightos serve: HTTP on %s", lis.Addr())
		go func() { errc <- hs.Serve(lis) }()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case s := <-sig:
		log.Printf("lightos serve: %v: draining requests in flight", s)
	case err := <-errc:
		return err
	}
	health.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	drainErr := srv.Drain(ctx)
	hs.Shutdown(ctx)
	gs.GracefulStop()
	log.Printf("lightos serve: stopped")
	return drainErr
}
