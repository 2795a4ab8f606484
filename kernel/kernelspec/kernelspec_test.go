package kernelspec

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func TestInstallPrefix(t *testing.T) {
	prefix := t.TempDir()
	dir, err := Install("/opt/bin/lightos", Where{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(prefix, "share", "jupyter", "kernels", "lightos"); dir != want {
		t.Errorf("dir %s, want %s", dir, want)
	}
	b, err := os.ReadFile(filepath.Join(dir, "kernel.json"))
	if err != nil {
		t.Fatal(err)
	}
	var spec Spec
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	if spec.Argv[0] != "/opt/bin/lightos" || spec.Argv[len(spec.Argv)-1] != "{connection_file}" {
		t.Errorf("argv %v", spec.Argv)
	}
	if spec.DisplayName != "LightOS (Go)" || spec.Language != "go" || spec.InterruptMode != "message" {
		t.Errorf("spec %+v", spec)
	}
	for _, size := range []int{32, 64} {
		f, err := os.ReadFile(filepath.Join(dir, "logo-"+itoa(size)+"x"+itoa(size)+".png"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(f))
		if err != nil {
			t.Fatal(err)
		}
		if img.Bounds().Dx() != size || img.Bounds().Dy() != size {
			t.Errorf("logo %d is %v", size, img.Bounds())
		}
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestLogoSizes(t *testing.T) {
	for _, size := range []int{0, 7, 2000} {
		if _, err := Logo(size); err == nil {
			t.Errorf("Logo(%d): no error", size)
		}
	}
}

func TestDirUser(t *testing.T) {
	t.Setenv("JUPYTER_DATA_DIR", "/tmp/jd")
	d, err := Dir(Where{User: true})
	if err != nil || d != "/tmp/jd/kernels/lightos" {
		t.Errorf("Dir(user) = %q, %v", d, err)
	}
}
