package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"

	"google.golang.org/grpc/codes"

	"github.com/lightiam/lightos/engine/graph"
)

// Config is a model's config.json. Every field is optional; zero values are defaults.
type Config struct {
	// MaxBatchSize is the largest batch one run takes; 0 means the model has no batch
	// dimension and requests are never combined.
	MaxBatchSize int `json:"max_batch_size"`
	// Instances is how many runs of the model may be in flight at once (default 1 per core... 2).
	Instances int `json:"instances"`
	// Device names the device: "cpu" (default) or "auto".
	Device string `json:"device"`
	// DynamicBatching, when present, queues requests and runs them together.
	DynamicBatching *DynamicBatching `json:"dynamic_batching"`
	// Optimize runs the graph optimizer after loading (default true).
	Optimize *bool `json:"optimize"`
}

// DynamicBatching configures request batching for a model.
type DynamicBatching struct {
	// PreferredBatchSizes are batch sizes that are run as soon as they are reached.
	PreferredBatchSizes []int `json:"preferred_batch_size"`
	// MaxQueueDelayMicroseconds is how long the first request of a batch may wait.
	MaxQueueDelayMicroseconds int `json:"max_queue_delay_microseconds"`
}

// Loader turns a model file into a graph; the returned closer (may be nil) is called
// when the model is unloaded.
type Loader func(path string) (*graph.Graph, io.Closer, error)

// Repository is a folder of models: DIR/NAME/config.json and DIR/NAME/VERSION/model.EXT.
type Repository struct {
	dir     string
	loaders map[string]Loader // by file name: "model.onnx", "model.lightos", "model.pt"
}

// NewRepository describes the repository at dir with loaders by model file name.
func NewRepository(dir string, loaders map[string]Loader) *Repository {
	return &Repository{dir: dir, loaders: loaders}
}

// ModelNames lists the model folders.
func (r *Repository) ModelNames() ([]string, error) {
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, fmt.Errorf("server: model repository: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// found is a model's newest version on disk.
type found struct {
	name, version, path, platform string
	config                        Config
	loader                        Loader
}

// find locates the newest version of model name and reads its config.
func (r *Repository) find(name string) (*found, error) {
	if name == "" || name != filepath.Base(name) || name == "." || name == ".." {
		return nil, errorf(codes.InvalidArgument, "invalid model name %q", name)
	}
	dir := filepath.Join(r.dir, name)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, errorf(codes.NotFound, "model %q is not in the repository", name)
	}
	f := &found{name: name}
	if b, err := os.ReadFile(filepath.Join(dir, "config.json")); err == nil {
		if err := json.Unmarshal(b, &f.config); err != nil {
			return nil, errorf(codes.InvalidArgument, "model %q: config.json: %v", name, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, errorf(codes.Internal, "model %q: %v", name, err)
	}
	best := -1
	for _, e := range entries {
		v, err := strconv.Atoi(e.Name())
		if err != nil || !e.IsDir() || v <= best {
			continue
		}
		for file, loader := range r.loaders {
			p := filepath.Join(dir, e.Name(), file)
			if _, err := os.Stat(p); err == nil {
				best, f.version, f.path, f.loader = v, e.Name(), p, loader
				f.platform = platformOf(file)
				break
			}
		}
	}
	if best < 0 {
		return nil, errorf(codes.NotFound, "model %q has no version folder with a model file (%v)", name, r.fileNames())
	}
	return f, nil
}

func (r *Repository) fileNames() []string {
	var out []string
	for n := range r.loaders {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func platformOf(file string) string {
	switch filepath.Ext(file) {
	case ".onnx":
		return "onnxruntime_onnx"
	case ".pt":
		return "pytorch_libtorch"
	}
	return "lightos_native"
}

// registry holds the loaded models.
type registry struct {
	mu     sync.RWMutex
	models map[string]*Model
}

func (g *registry) get(name, version string) (*Model, error) {
	g.mu.RLock()
	m := g.models[name]
	g.mu.RUnlock()
	if m == nil {
		return nil, errorf(codes.NotFound, "model %q is not loaded", name)
	}
	if version != "" && version != m.Version {
		return nil, errorf(codes.NotFound, "model %q has no loaded version %q (loaded: %s)", name, version, m.Version)
	}
	return m, nil
}
