package cuda

import (
	"fmt"
	"strings"
	"sync"
	"unsafe"
)

type nvrtc struct {
	create, compile, logSize, log, cubinSize, cubin, destroy, errStr uintptr
}

var (
	nvrtcOnce sync.Once
	nvrtcLib  *nvrtc
	nvrtcErr  error
)

func loadNVRTC() (*nvrtc, error) {
	nvrtcOnce.Do(func() {
		h, err := openLib("NVRTC (libnvrtc)", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so")
		if err != nil {
			nvrtcErr = err
			return
		}
		n := &nvrtc{}
		nvrtcErr = symbols(h, "libnvrtc",
			[]string{"nvrtcCreateProgram", "nvrtcCompileProgram", "nvrtcGetProgramLogSize", "nvrtcGetProgramLog",
				"nvrtcGetCUBINSize", "nvrtcGetCUBIN", "nvrtcDestroyProgram", "nvrtcGetErrorString"},
			[]*uintptr{&n.create, &n.compile, &n.logSize, &n.log, &n.cubinSize, &n.cubin, &n.destroy, &n.errStr})
		if nvrtcErr == nil {
			nvrtcLib = n
		}
	})
	return nvrtcLib, nvrtcErr
}

func (n *nvrtc) check(fn string, r int) error {
	if r == 0 {
		return nil
	}
	s, _, _ := purecall(n.errStr, uintptr(r))
	return &Error{Call: fn, Code: r, Msg: goString(s)}
}

// compileCUBIN compiles CUDA C source for sm_<arch> and returns the cubin.
func (n *nvrtc) compileCUBIN(src, name string, arch int) ([]byte, error) {
	csrc, cname := cstr(src), cstr(name)
	var prog uintptr
	if err := n.check("nvrtcCreateProgram", call(n.create, uintptr(unsafe.Pointer(&prog)), uintptr(unsafe.Pointer(&csrc[0])), uintptr(unsafe.Pointer(&cname[0])), 0, 0, 0)); err != nil {
		return nil, err
	}
	defer call(n.destroy, uintptr(unsafe.Pointer(&prog)))
	opts := [][]byte{cstr(fmt.Sprintf("--gpu-architecture=sm_%d", arch)), cstr("--std=c++17")}
	optPtrs := make([]uintptr, len(opts))
	for i := range opts {
		optPtrs[i] = uintptr(unsafe.Pointer(&opts[i][0]))
	}
	if r := call(n.compile, prog, uintptr(len(opts)), uintptr(unsafe.Pointer(&optPtrs[0]))); r != 0 {
		var sz uintptr
		call(n.logSize, prog, uintptr(unsafe.Pointer(&sz)))
		log := make([]byte, sz+1)
		call(n.log, prog, uintptr(unsafe.Pointer(&log[0])))
		err := n.check("nvrtcCompileProgram", r)
		return nil, fmt.Errorf("%w: kernel %s: %s", err, name, strings.TrimRight(string(log), "\x00\n"))
	}
	var sz uintptr
	if err := n.check("nvrtcGetCUBINSize", call(n.cubinSize, prog, uintptr(unsafe.Pointer(&sz)))); err != nil {
		return nil, err
	}
	bin := make([]byte, sz)
	if err := n.check("nvrtcGetCUBIN", call(n.cubin, prog, uintptr(unsafe.Pointer(&bin[0])))); err != nil {
		return nil, err
	}
	return bin, nil
}

// module is a loaded CUDA module and its functions by name.
type module struct {
	h     uintptr
	funcs map[string]function
}

// moduleCache holds one module per source and device, compiled once.
type moduleCache struct {
	mu   sync.Mutex
	mods map[string]*module
}

// module compiles (first time only) and loads src on g, returning the named
// functions. Call inside g.do.
func (g *gpu) module(c *moduleCache, name, src string, fns ...string) (*module, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m, ok := c.mods[src]; ok {
		return m, nil
	}
	n, err := loadNVRTC()
	if err != nil {
		return nil, err
	}
	bin, err := n.compileCUBIN(src, name, g.ccMajor*10+g.ccMinor)
	if err != nil {
		return nil, err
	}
	m := &module{funcs: map[string]function{}}
	if err := g.d.check("cuModuleLoadData", call(g.d.cuModuleLoadData, uintptr(unsafe.Pointer(&m.h)), uintptr(unsafe.Pointer(&bin[0])))); err != nil {
		return nil, fmt.Errorf("kernel %s: %w", name, err)
	}
	for _, f := range fns {
		cf := cstr(f)
		var h uintptr
		if err := g.d.check("cuModuleGetFunction", call(g.d.cuModuleGetFunction, uintptr(unsafe.Pointer(&h)), m.h, uintptr(unsafe.Pointer(&cf[0])))); err != nil {
			return nil, fmt.Errorf("kernel %s: function %s: %w", name, f, err)
		}
		m.funcs[f] = function(h)
	}
	if c.mods == nil {
		c.mods = map[string]*module{}
	}
	c.mods[src] = m
	return m, nil
}
