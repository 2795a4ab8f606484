package server

import (
	"context"
	"fmt"
	"io"
	"log"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// Version is reported by ServerMetadata.
const Version = "0.1.0"

// Options configures a Server. Zero values are documented defaults.
type Options struct {
	// ModelRepository is the folder of models (required for repository operations).
	ModelRepository string
	// Loaders maps model file names ("model.onnx") to loaders.
	Loaders map[string]Loader
	// Device runs the models (required).
	Device backends.KernelProvider
	// Devices are reported in /metrics (default: Device alone).
	Devices []backends.Device
	// Scheduler decides when and where runs happen (default DirectScheduler).
	Scheduler Scheduler
	// Prepare, when set, transforms each loaded graph (the optimizer) unless the
	// model's config says "optimize": false; it then also runs on each plan's copy of
	// the graph once a request fixes the input shapes (exec.Options.Specialize), so it
	// must be safe to call concurrently on different graphs.
	Prepare func(*graph.Graph) error
	// BatchBuckets pads each dynamic batch with zero rows up to the next bucket (a
	// preferred batch size, a power of two, or max_batch_size) and compiles the plans
	// of every bucket when the model loads. For devices that compile a plan per input
	// shape (GPUs: cuDNN and cuBLASLt time their algorithms per shape), so that a new
	// batch size never compiles while requests wait. lightos serve sets it for
	// --devices nvidia.
	BatchBuckets bool
	// MaxMessageBytes bounds a request's size (default 64 MiB).
	MaxMessageBytes int
	// Logger receives load/unload events (default: log.Default()).
	Logger *log.Logger
}

// Server holds the loaded models and answers protocol-neutral calls; gRPC and HTTP
// front ends translate to and from them.
type Server struct {
	opts     Options
	repo     *Repository
	models   registry
	metrics  *metrics
	loadMu   sync.Mutex // serializes load and unload
	draining atomic.Bool
	inflight sync.WaitGroup
}

// New makes a server; call LoadAll or LoadModel to load models.
func New(opts Options) (*Server, error) {
	if opts.Device == nil {
		return nil, fmt.Errorf("server: Options.Device is required")
	}
	if opts.Scheduler == nil {
		opts.Scheduler = DirectScheduler{}
	}
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = 64 << 20
	}
	if opts.Logger == nil {
		opts.Logger = log.Default()
	}
	if len(opts.Devices) == 0 {
		opts.Devices = []backends.Device{opts.Device}
	}
	s := &Server{opts: opts, models: registry{models: map[string]*Model{}}, metrics: newMetrics(opts.Devices)}
	if opts.ModelRepository != "" {
		s.repo = NewRepository(opts.ModelRepository, opts.Loaders)
	}
	return s, nil
}

// LoadAll loads every model in the repository; it returns the errors of those that
// failed (the others stay loaded).
func (s *Server) LoadAll() error {
	if s.repo == nil {
		return nil
	}
	names, err := s.repo.ModelNames()
	if err != nil {
		return err
	}
	var failed []string
	for _, name := range names {
		if err := s.LoadModel(name); err != nil {
			s.opts.Logger.Printf("lightos serve: model %q not loaded: %v", name, err)
			failed = append(failed, fmt.Sprintf("%s: %v", name, err))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("server: %d models failed to load: %v", len(failed), failed)
	}
	return nil
}

// LoadModel loads (or reloads) the newest version of a model from the repository.
func (s *Server) LoadModel(name string) (err error) {
	if s.repo == nil {
		return errorf(codes.FailedPrecondition, "the server has no model repository")
	}
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			err = errorf(codes.Internal, "model %q: loading panicked: %v", name, r)
		}
	}()
	f, err := s.repo.find(name)
	if err != nil {
		return err
	}
	g, closer, err := f.loader(f.path)
	if err != nil {
		return errorf(codes.InvalidArgument, "model %q: %v", name, err)
	}
	m, err := s.prepare(f, g, closer)
	if err != nil {
		if closer != nil {
			closer.Close()
		}
		return err
	}
	s.models.mu.Lock()
	old := s.models.models[name]
	s.models.models[name] = m
	s.models.mu.Unlock()
	if old != nil {
		old.close()
	}
	s.opts.Logger.Printf("lightos serve: loaded %s", describe(m))
	return nil
}

// AddModel serves an in-memory graph under name (version "1") without a repository.
func (s *Server) AddModel(name string, g *graph.Graph, cfg Config) error {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	m, err := s.prepare(&found{name: name, version: "1", platform: "lightos_native", config: cfg}, g, nil)
	if err != nil {
		return err
	}
	s.models.mu.Lock()
	old := s.models.models[name]
	s.models.models[name] = m
	s.models.mu.Unlock()
	if old != nil {
		old.close()
	}
	return nil
}

func (s *Server) prepare(f *found, g *graph.Graph, closer io.Closer) (*Model, error) {
	eo := exec.Options{HeapOutputs: true}
	if s.opts.Prepare != nil && (f.config.Optimize == nil || *f.config.Optimize) {
		// Plans for concrete input shapes are prepared again: the fusions that need
		// shapes an exporter computes at run time fire then.
		eo.Specialize = s.opts.Prepare
		if err := s.opts.Prepare(g); err != nil {
			return nil, errorf(codes.InvalidArgument, "model %q: optimizing: %v", f.name, err)
		}
	}
	if err := g.TopoSort(); err != nil {
		return nil, errorf(codes.InvalidArgument, "model %q: %v", f.name, err)
	}
	// Infer output types for metadata; shapes depending on data stay dynamic.
	_ = ops.Infer(g, ops.InferOptions{})
	sess, err := exec.NewSession(g, s.opts.Device, eo)
	if err != nil {
		return nil, errorf(codes.InvalidArgument, "model %q: %v", f.name, err)
	}
	m := newModel(f, sess, closer, s.opts.Scheduler, s.metrics, s.opts.BatchBuckets)
	if m.batcher != nil && s.opts.BatchBuckets {
		if err := m.batcher.warm(); err != nil {
			m.close()
			return nil, errorf(codes.InvalidArgument, "model %q: %v", f.name, err)
		}
	}
	return m, nil
}

// UnloadModel stops serving a model; requests in its batch queue still complete.
func (s *Server) UnloadModel(name string) error {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	s.models.mu.Lock()
	m := s.models.models[name]
	delete(s.models.models, name)
	s.models.mu.Unlock()
	if m == nil {
		return errorf(codes.NotFound, "model %q is not loaded", name)
	}
	m.close()
	s.opts.Logger.Printf("lightos serve: unloaded %s", describe(m))
	return nil
}

// Model returns a loaded model ("" for the loaded version).
func (s *Server) Model(name, version string) (*Model, error) { return s.models.get(name, version) }

// ModelIndex is one row of the repository index.
type ModelIndex struct {
	Name, Version, State, Reason string
}

// Index lists the repository's models and loaded ones with their state.
func (s *Server) Index() []ModelIndex {
	seen := map[string]bool{}
	var out []ModelIndex
	s.models.mu.RLock()
	for name, m := range s.models.models {
		out = append(out, ModelIndex{Name: name, Version: m.Version, State: "READY"})
		seen[name] = true
	}
	s.models.mu.RUnlock()
	if s.repo != nil {
		names, _ := s.repo.ModelNames()
		for _, n := range names {
			if !seen[n] {
				out = append(out, ModelIndex{Name: n, State: "UNAVAILABLE", Reason: "unloaded"})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Live reports whether the process serves requests at all.
func (s *Server) Live() bool { return true }

// Ready reports whether the server takes inference requests (false while draining).
func (s *Server) Ready() bool { return !s.draining.Load() }

// Infer runs one request on a model and records metrics. It returns the outputs by
// name and the time the request spent queued for batching.
func (s *Server) Infer(ctx context.Context, name, version string, feeds map[string]*tensor.Tensor) (out map[string]*tensor.Tensor, queued time.Duration, err error) {
	if s.draining.Load() {
		return nil, 0, errorf(codes.Unavailable, "the server is shutting down")
	}
	s.inflight.Add(1)
	defer s.inflight.Done()
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			err = errorf(codes.Internal, "model %q: inference panicked: %v", name, r)
		}
		outcome := "success"
		if err != nil {
			outcome = codeOf(err).String()
		}
		s.metrics.requests.WithLabelValues(name, outcome).Inc()
		if err == nil {
			s.metrics.latency.WithLabelValues(name).Observe(time.Since(start).Seconds())
			s.metrics.queueTime.WithLabelValues(name).Observe(queued.Seconds())
		}
	}()
	m, err := s.models.get(name, version)
	if err != nil {
		return nil, 0, err
	}
	return m.infer(ctx, s.opts.Scheduler, feeds)
}

// reject counts a request that failed before reaching a model (bad payload).
func (s *Server) reject(model string, err error) error {
	s.metrics.requests.WithLabelValues(model, codeOf(err).String()).Inc()
	return err
}

// Drain stops taking requests and waits for those in flight (or ctx's end).
func (s *Server) Drain(ctx context.Context) error {
	s.draining.Store(true)
	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.models.mu.Lock()
	defer s.models.mu.Unlock()
	for name, m := range s.models.models {
		m.close()
		delete(s.models.models, name)
	}
	return nil
}
