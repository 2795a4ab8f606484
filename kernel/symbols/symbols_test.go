package symbols

import (
	"strings"
	"testing"
)

func TestDocs(t *testing.T) {
	tests := []struct{ path, name, want string }{
		{"github.com/lightiam/lightos/engine/graph", "NewBuilder", "func NewBuilder"},
		{"github.com/lightiam/lightos/kernel/display", "NewChart", "empty live chart"},
		{"github.com/lightiam/lightos/kernel/cell", "Context", "cancelled"},
		{"github.com/lightiam/lightos/engine/graph", "", "graph"},
		{"github.com/lightiam/lightos/engine/graph", "NoSuchName", ""},
	}
	for _, tc := range tests {
		got := Doc(tc.path, tc.name)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("Doc(%q, %q) = %q, want it to contain %q", tc.path, tc.name, got, tc.want)
		}
	}
}

func TestExportsCoverEngine(t *testing.T) {
	for _, key := range []string{
		"github.com/lightiam/lightos/engine/graph/graph",
		"github.com/lightiam/lightos/engine/exec/exec",
		"github.com/lightiam/lightos/engine/formats/onnx/onnx",
		"github.com/lightiam/lightos/backends/cpu/cpu",
		"gonum.org/v1/plot/plot",
	} {
		if _, ok := Symbols[key]; !ok {
			t.Errorf("no symbols for %s", key)
		}
	}
}
