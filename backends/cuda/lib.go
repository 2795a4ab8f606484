package cuda

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"github.com/ebitengine/purego"
)

// ErrDeviceNotFound is wrapped by every error that means "no usable NVIDIA GPU here":
// no driver library, no device, or a library the backend needs is missing.
var ErrDeviceNotFound = errors.New("cuda: device not found")

// Error is a failed CUDA, cuBLASLt or NVRTC call.
type Error struct {
	Call string // the library function, e.g. "cuLaunchKernel"
	Code int    // its status code
	Msg  string // the library's text for the code
	Node string // the graph node being run, when known
	Op   string // its operator
}

func (e *Error) Error() string {
	where := ""
	if e.Node != "" || e.Op != "" {
		where = fmt.Sprintf("node %q (%s): ", e.Node, e.Op)
	}
	return fmt.Sprintf("cuda: %s%s failed: %s (%d)", where, e.Call, e.Msg, e.Code)
}

// withNode returns err with the node and operator recorded when it is an *Error,
// else err wrapped with them.
func withNode(err error, node, op string) error {
	if err == nil {
		return nil
	}
	var ce *Error
	if errors.As(err, &ce) && ce.Node == "" {
		c := *ce
		c.Node, c.Op = node, op
		return &c
	}
	return fmt.Errorf("cuda: node %q (%s): %w", node, op, err)
}

// libDirs are searched when the plain soname does not load: the CUDA toolkit's
// folders and the NVIDIA wheels of Python environments. LIGHTOS_CUDA_LIBS (a
// colon-separated list of folders) comes first.
func libDirs() []string {
	var dirs []string
	if v := os.Getenv("LIGHTOS_CUDA_LIBS"); v != "" {
		dirs = append(dirs, filepath.SplitList(v)...)
	}
	dirs = append(dirs, "/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib",
		"/usr/lib/x86_64-linux-gnu", "/usr/local/nvidia/lib64", "/usr/local/nvidia/lib")
	for _, pat := range []string{
		"/usr/local/cuda-*/lib64",
		"/opt/*/.venv/lib/python3*/site-packages/nvidia/*/lib",
		"/usr/local/lib/python3*/dist-packages/nvidia/*/lib",
		"/usr/lib/python3*/site-packages/nvidia/*/lib",
		"/opt/*/.venv/lib/python3*/site-packages/nvidia/*/*/lib",
		"/usr/local/lib/python3*/dist-packages/nvidia/*/*/lib",
	} {
		m, _ := filepath.Glob(pat)
		dirs = append(dirs, m...)
	}
	return dirs
}

// openLib loads the first of names that loads, first by soname, then from libDirs.
// The error wraps ErrDeviceNotFound and lists what was tried.
func openLib(what string, names ...string) (uintptr, error) {
	var tried []string
	for _, n := range names {
		h, err := purego.Dlopen(n, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err == nil {
			return h, nil
		}
		tried = append(tried, err.Error())
	}
	for _, d := range libDirs() {
		for _, n := range names {
			p := filepath.Join(d, n)
			if _, err := os.Stat(p); err != nil {
				continue
			}
			h, err := purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_GLOBAL)
			if err == nil {
				return h, nil
			}
			tried = append(tried, err.Error())
		}
	}
	return 0, fmt.Errorf("%w: %s not loaded (tried %s; set LIGHTOS_CUDA_LIBS to its folder): %s",
		ErrDeviceNotFound, what, strings.Join(names, ", "), strings.Join(tried, "; "))
}

// symbols looks up each name into the matching pointer; a missing one is an error
// wrapping ErrDeviceNotFound (the library is too old).
func symbols(h uintptr, what string, names []string, ptrs []*uintptr) error {
	for i, n := range names {
		p, err := purego.Dlsym(h, n)
		if err != nil || p == 0 {
			return fmt.Errorf("%w: %s lacks %s: %v", ErrDeviceNotFound, what, n, err)
		}
		*ptrs[i] = p
	}
	return nil
}

// purecall and call pass their arguments to C. Both are go:uintptrescapes, like
// purego.SyscallN: a uintptr(unsafe.Pointer(&x)) written in the call's argument list
// moves x to the heap and keeps it alive for the call (a stack variable could move
// while C writes to it).
//
//go:uintptrescapes
func purecall(fn uintptr, args ...uintptr) (uintptr, uintptr, uintptr) {
	return purego.SyscallN(fn, args...)
}

//go:uintptrescapes
func call(fn uintptr, args ...uintptr) int {
	r, _, _ := purego.SyscallN(fn, args...)
	return int(int32(r))
}

// goString copies a NUL-terminated C string.
func goString(p uintptr) string {
	if p == 0 {
		return ""
	}
	var b []byte
	for i := uintptr(0); i < 4096; i++ {
		c := *(*byte)(unsafe.Add(unsafe.Pointer(nil), p+i)) //nolint:govet // C memory
		if c == 0 {
			break
		}
		b = append(b, c)
	}
	return string(b)
}

// cstr returns a NUL-terminated copy of s; keep the slice alive across the call.
func cstr(s string) []byte { return append([]byte(s), 0) }
