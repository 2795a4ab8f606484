package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/backends/cuda"
	"github.com/lightiam/lightos/engine/custom"
	"github.com/lightiam/lightos/engine/formats/native"
	"github.com/lightiam/lightos/engine/formats/onnx"
	"github.com/lightiam/lightos/engine/formats/torchscript"
	"github.com/lightiam/lightos/engine/governor"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/passes"
	"github.com/lightiam/lightos/engine/passes/cpufold"
)

// This file holds what `lightos serve` (cmd/lightos) and `python -m
// lightos_accelerated.serve` (pyext) share: the flags, the standard set-up (CPU
// device, PowerGovernor, optimizer, model formats) and the listen/drain loop.

// Flags are the command-line settings of the standard server.
type Flags struct {
	GRPCPort        int           // gRPC port; 0 disables gRPC
	HTTPPort        int           // HTTP port; 0 disables HTTP
	Host            string        // address to listen on
	Devices         string        // "auto" or "cpu" (the CPU), or "nvidia" (GPU 0)
	ModelRepository string        // folder of models (required)
	Threads         int           // CPU threads per run (0: all cores)
	DrainTimeout    time.Duration // how long a stop waits for requests in flight
}

// ParseFlags parses the arguments of `lightos serve` (without the command name).
// Usage and flag errors are written to usage; -h gives flag.ErrHelp.
func ParseFlags(name string, args []string, usage io.Writer) (Flags, error) {
	var f Flags
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.IntVar(&f.GRPCPort, "grpc-port", 50051, "gRPC port (KServe v2, health, Predict); 0 disables")
	fs.IntVar(&f.HTTPPort, "http-port", 8000, "HTTP port (KServe v2 REST, /metrics); 0 disables")
	fs.StringVar(&f.Host, "host", "0.0.0.0", "address to listen on")
	fs.StringVar(&f.Devices, "devices", "auto", "devices to run on: auto or cpu (the CPU), or nvidia (GPU 0; operators the GPU backend lacks run on the CPU)")
	fs.StringVar(&f.ModelRepository, "model-repository", "", "folder of models (NAME/VERSION/model.{onnx,lightos})")
	fs.IntVar(&f.Threads, "threads", 0, "CPU threads per run (0: all cores)")
	fs.DurationVar(&f.DrainTimeout, "drain-timeout", 30*time.Second, "how long SIGTERM waits for requests in flight")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("server: unexpected arguments %q", fs.Args())
	}
	if f.ModelRepository == "" {
		return f, errors.New("server: --model-repository is required")
	}
	if f.Devices != "auto" && f.Devices != "cpu" && f.Devices != "nvidia" {
		return f, fmt.Errorf("server: --devices %q: want auto, cpu or nvidia", f.Devices)
	}
	if f.GRPCPort < 0 || f.GRPCPort > 65535 || f.HTTPPort < 0 || f.HTTPPort > 65535 {
		return f, fmt.Errorf("server: ports must be in 0..65535 (got gRPC %d, HTTP %d)", f.GRPCPort, f.HTTPPort)
	}
	if f.Threads < 0 {
		return f, fmt.Errorf("server: --threads %d: must be >= 0", f.Threads)
	}
	return f, nil
}

// DefaultLoaders are the model formats the standard server reads from a repository:
// model.onnx, model.lightos and model.pt (a traced TorchScript archive). ONNX nodes whose op is named in customOps (an op
// type, or domain.op) become custom nodes (see onnx.Options.CustomOps).
func DefaultLoaders(customOps []string) map[string]Loader {
	names := append([]string(nil), customOps...)
	return map[string]Loader{
		"model.onnx": func(path string) (*graph.Graph, io.Closer, error) {
			m, err := onnx.Open(path, onnx.Options{CustomOps: names}) // weights borrowed from a map
			if err != nil {
				return nil, nil, err
			}
			return m.Graph, m, nil
		},
		"model.lightos": func(path string) (*graph.Graph, io.Closer, error) {
			f, err := native.Open(path)
			if err != nil {
				return nil, nil, err
			}
			return f.Graph, f, nil
		},
		"model.pt": torchscript.LoadGraph,
	}
}

// Extensions add to the standard server; the zero value adds nothing.
type Extensions struct {
	// Custom serves custom nodes (ONNX nodes of its op names) from a registry.
	Custom *custom.Registry
	// AfterLoad, when set, sees each loaded graph before the optimizer (to declare
	// custom nodes' output types, for example).
	AfterLoad func(*graph.Graph) error
	// Logger receives server events (default log.Default()).
	Logger *log.Logger
}

// NewStandard builds the standard server for f: a CPU device (or GPU 0 with
// --devices nvidia, falling back to the CPU for operators the GPU lacks; auto means
// the CPU), every run through a
// PowerGovernor, the optimizer on each loaded model, and DefaultLoaders. It does not
// load models (call LoadAll). The returned function releases the governor; call it
// after the server has drained.
func NewStandard(f Flags, ext Extensions) (*Server, func(), error) {
	var dev backends.KernelProvider = cpu.New(cpu.Options{Threads: f.Threads})
	var closeDev func()
	if f.Devices == "nvidia" {
		gpu, err := cuda.Open(0, cuda.Options{})
		if err != nil {
			return nil, nil, fmt.Errorf("server: --devices nvidia: %w", err)
		}
		// operators the GPU backend lacks (convolution) run on the CPU, node by node
		dev = &backends.Fallback{Primary: gpu, Secondary: dev}
		closeDev = func() { gpu.Close() }
	}
	gov, err := governor.New([]backends.Device{dev}, governor.Options{})
	if err != nil {
		if closeDev != nil {
			closeDev()
		}
		return nil, nil, fmt.Errorf("server: governor: %w", err)
	}
	var kp backends.KernelProvider = dev
	var names []string
	if ext.Custom != nil {
		kp = custom.Wrap(dev, ext.Custom)
		names = ext.Custom.Names()
	}
	loaders := DefaultLoaders(names)
	if ext.AfterLoad != nil {
		for file, load := range loaders {
			loaders[file] = func(path string) (*graph.Graph, io.Closer, error) {
				g, c, err := load(path)
				if err != nil {
					return nil, nil, err
				}
				if err := ext.AfterLoad(g); err != nil {
					if c != nil {
						c.Close()
					}
					return nil, nil, err
				}
				return g, c, nil
			}
		}
	}
	srv, err := New(Options{
		BatchBuckets:    f.Devices == "nvidia",
		Scheduler:       &GovernorScheduler{Governor: gov},
		ModelRepository: f.ModelRepository,
		Loaders:         loaders,
		Device:          kp,
		Devices:         []backends.Device{dev},
		Logger:          ext.Logger,
		Prepare: func(g *graph.Graph) error {
			// Channels-last only where the models run on the CPU: the GPU's plans keep
			// their own NHWC handling and have no kernels for the NHWC operators.
			_, err := passes.Optimize(g, passes.Options{Eval: cpufold.New(), ChannelsLast: f.Devices != "nvidia"})
			return err
		},
	})
	release := func() {
		gov.Close()
		if closeDev != nil {
			closeDev()
		}
	}
	if err != nil {
		release()
		return nil, nil, err
	}
	return srv, release, nil
}

// RunOptions configure Run.
type RunOptions struct {
	Host         string
	GRPCPort     int           // 0 disables gRPC
	HTTPPort     int           // 0 disables HTTP
	DrainTimeout time.Duration // default 30 s
	// Ready, when set, is called once the listeners are open, with their addresses
	// (nil for a disabled protocol).
	Ready func(grpcAddr, httpAddr net.Addr)
}

// RunOptions returns the listening part of the flags.
func (f Flags) RunOptions() RunOptions {
	return RunOptions{Host: f.Host, GRPCPort: f.GRPCPort, HTTPPort: f.HTTPPort, DrainTimeout: f.DrainTimeout}
}

// Run serves srv over gRPC and HTTP until ctx is done, then stops taking requests,
// drains those in flight (up to o.DrainTimeout) and returns. It returns early with
// the error of a listener that fails.
func Run(ctx context.Context, srv *Server, o RunOptions) error {
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 30 * time.Second
	}
	logger := srv.opts.Logger
	var gl, hl net.Listener
	if o.GRPCPort > 0 {
		l, err := net.Listen("tcp", net.JoinHostPort(o.Host, fmt.Sprint(o.GRPCPort)))
		if err != nil {
			return fmt.Errorf("server: gRPC: %w", err)
		}
		gl = l
	}
	if o.HTTPPort > 0 {
		l, err := net.Listen("tcp", net.JoinHostPort(o.Host, fmt.Sprint(o.HTTPPort)))
		if err != nil {
			if gl != nil {
				gl.Close()
			}
			return fmt.Errorf("server: HTTP: %w", err)
		}
		hl = l
	}
	errc := make(chan error, 2)
	gs, health := srv.NewGRPCServer()
	hs := &http.Server{Handler: srv.HTTPHandler(), ReadHeaderTimeout: 10 * time.Second}
	var ga, ha net.Addr
	if gl != nil {
		ga = gl.Addr()
		logger.Printf("lightos serve: gRPC on %s", ga)
		go func() { errc <- gs.Serve(gl) }()
	}
	if hl != nil {
		ha = hl.Addr()
		logger.Printf("lightos serve: HTTP on %s", ha)
		go func() {
			if err := hs.Serve(hl); !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	if o.Ready != nil {
		o.Ready(ga, ha)
	}
	var serveErr error
	select {
	case <-ctx.Done():
		logger.Printf("lightos serve: stopping: draining requests in flight")
	case serveErr = <-errc:
		serveErr = fmt.Errorf("server: %w", serveErr)
	}
	health.Shutdown()
	dctx, cancel := context.WithTimeout(context.Background(), o.DrainTimeout)
	defer cancel()
	drainErr := srv.Drain(dctx)
	hs.Shutdown(dctx)
	// GracefulStop waits for open streams (health Watch) too: bound it by the drain timeout.
	stopped := make(chan struct{})
	go func() { gs.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-dctx.Done():
		gs.Stop()
	}
	logger.Printf("lightos serve: stopped")
	return errors.Join(serveErr, drainErr)
}
