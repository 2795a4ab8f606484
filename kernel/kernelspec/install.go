package kernelspec

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// Name is the kernel's directory name under kernels/.
const Name = "lightos"

// DisplayName is the name Jupyter shows.
const DisplayName = "LightOS (Go)"

// Spec is kernel.json.
type Spec struct {
	Argv          []string          `json:"argv"`
	DisplayName   string            `json:"display_name"`
	Language      string            `json:"language"`
	InterruptMode string            `json:"interrupt_mode"`
	Env           map[string]string `json:"env,omitempty"`
	Metadata      map[string]any    `json:"metadata"`
}

// NewSpec returns the kernelspec that runs binary (an absolute path).
func NewSpec(binary string) Spec {
	return Spec{
		Argv:          []string{binary, "kernel", "run", "-f", "{connection_file}"},
		DisplayName:   DisplayName,
		Language:      "go",
		InterruptMode: "message",
		Metadata: map[string]any{
			"debugger": false,
			"language_info": map[string]any{
				"name": "go", "mimetype": "text/x-go", "file_extension": ".go",
				"codemirror_mode": "go", "pygments_lexer": "go",
			},
		},
	}
}

// Where says where to install: exactly one of User, SysPrefix or Prefix, or
// none for the system-wide directory.
type Where struct {
	User      bool
	SysPrefix string // the Python environment's sys.prefix
	Prefix    string
}

// Dir returns the kernels/lightos directory for w, following Jupyter's
// path rules (jupyter_core.paths).
func Dir(w Where) (string, error) {
	var base string
	switch {
	case w.Prefix != "":
		base = filepath.Join(w.Prefix, "share", "jupyter")
	case w.SysPrefix != "":
		base = filepath.Join(w.SysPrefix, "share", "jupyter")
	case w.User:
		if d := os.Getenv("JUPYTER_DATA_DIR"); d != "" {
			base = d
			break
		}
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("kernelspec: user data directory: %w", err)
		}
		switch runtime.GOOS {
		case "darwin":
			base = filepath.Join(home, "Library", "Jupyter")
		case "windows":
			base = filepath.Join(os.Getenv("APPDATA"), "jupyter")
		default:
			if x := os.Getenv("XDG_DATA_HOME"); x != "" {
				base = filepath.Join(x, "jupyter")
			} else {
				base = filepath.Join(home, ".local", "share", "jupyter")
			}
		}
	default:
		base = "/usr/local/share/jupyter"
		if runtime.GOOS == "windows" {
			base = filepath.Join(os.Getenv("PROGRAMDATA"), "jupyter")
		}
	}
	return filepath.Join(base, "kernels", Name), nil
}

// Install writes kernel.json and the logos for binary into the directory
// chosen by w and returns that directory.
func Install(binary string, w Where) (string, error) {
	abs, err := filepath.Abs(binary)
	if err != nil {
		return "", fmt.Errorf("kernelspec: binary path %q: %w", binary, err)
	}
	dir, err := Dir(w)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("kernelspec: %w", err)
	}
	js, err := json.MarshalIndent(NewSpec(abs), "", "  ")
	if err != nil {
		return "", fmt.Errorf("kernelspec: kernel.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kernel.json"), append(js, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("kernelspec: %w", err)
	}
	for _, size := range []int{32, 64} {
		b, err := Logo(size)
		if err != nil {
			return "", err
		}
		name := filepath.Join(dir, fmt.Sprintf("logo-%dx%d.png", size, size))
		if err := os.WriteFile(name, b, 0o644); err != nil {
			return "", fmt.Errorf("kernelspec: %w", err)
		}
	}
	return dir, nil
}
