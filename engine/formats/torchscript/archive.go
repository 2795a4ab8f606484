package torchscript

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
)

// ErrFormat is wrapped by every error about a malformed archive.
var ErrFormat = errors.New("torchscript: malformed archive")

// archive is an opened torch.jit.save zip: its files by name (without the top
// folder), and the memory the stored entries are sliced from.
type archive struct {
	mem    []byte // the whole file (mapped, or read into memory)
	mapped bool
	files  map[string]*zip.File
}

// openArchive maps the file at path and indexes its entries.
func openArchive(p string) (*archive, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("torchscript: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("torchscript: %w", err)
	}
	if st.Size() == 0 {
		return nil, fmt.Errorf("%w: %s is empty", ErrFormat, p)
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("torchscript: map %s: %w", p, err)
	}
	a, err := newArchive(mem)
	if err != nil {
		syscall.Munmap(mem)
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	a.mapped = true
	return a, nil
}

// newArchive indexes an archive held in memory.
func newArchive(mem []byte) (*archive, error) {
	zr, err := zip.NewReader(bytes.NewReader(mem), int64(len(mem)))
	if err != nil {
		return nil, fmt.Errorf("%w: not a zip archive: %v", ErrFormat, err)
	}
	a := &archive{mem: mem, files: map[string]*zip.File{}}
	for _, f := range zr.File {
		name := f.Name
		if i := strings.IndexByte(name, '/'); i >= 0 {
			name = name[i+1:] // drop the archive's top folder ("model/")
		}
		a.files[name] = f
	}
	if a.files["data.pkl"] == nil {
		return nil, fmt.Errorf("%w: no data.pkl (is this a torch.jit.save archive?)", ErrFormat)
	}
	if a.files["code/__torch__.py"] == nil && !a.hasCode() {
		return nil, fmt.Errorf("%w: no serialized code (a torch.save state dict is not a TorchScript module)", ErrFormat)
	}
	return a, nil
}

func (a *archive) hasCode() bool {
	for name := range a.files {
		if strings.HasPrefix(name, "code/") && strings.HasSuffix(name, ".py") {
			return true
		}
	}
	return false
}

// close unmaps the file.
func (a *archive) close() error {
	if a == nil || !a.mapped || a.mem == nil {
		return nil
	}
	err := syscall.Munmap(a.mem)
	a.mem = nil
	return err
}

// bytes returns an entry's contents: a slice of the file for stored (uncompressed)
// entries, which is how torch.jit.save writes them, or a decompressed copy.
func (a *archive) bytes(name string) ([]byte, error) {
	f := a.files[name]
	if f == nil {
		return nil, fmt.Errorf("%w: missing entry %q", ErrFormat, name)
	}
	if f.Method == zip.Store {
		off, err := f.DataOffset()
		if err != nil {
			return nil, fmt.Errorf("%w: entry %q: %v", ErrFormat, name, err)
		}
		size := int64(f.UncompressedSize64)
		if off < 0 || size < 0 || off > int64(len(a.mem)) || size > int64(len(a.mem))-off {
			return nil, fmt.Errorf("%w: entry %q lies outside the file (truncated?)", ErrFormat, name)
		}
		return a.mem[off : off+size], nil
	}
	if f.UncompressedSize64 > 1<<34 {
		return nil, fmt.Errorf("%w: entry %q claims %d bytes", ErrFormat, name, f.UncompressedSize64)
	}
	r, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: entry %q: %v", ErrFormat, name, err)
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, int64(f.UncompressedSize64)+1))
	if err != nil {
		return nil, fmt.Errorf("%w: entry %q: %v", ErrFormat, name, err)
	}
	return b, nil
}

// codeFiles lists the serialized code files with their module names
// ("code/__torch__/torch/nn/modules/linear.py" -> "__torch__.torch.nn.modules.linear").
func (a *archive) codeFiles() map[string]string {
	out := map[string]string{}
	for name := range a.files {
		if !strings.HasPrefix(name, "code/") || !strings.HasSuffix(name, ".py") {
			continue
		}
		mod := strings.TrimSuffix(strings.TrimPrefix(name, "code/"), ".py")
		out[strings.ReplaceAll(mod, "/", ".")] = name
	}
	return out
}
