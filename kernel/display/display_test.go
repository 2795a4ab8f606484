package display

import (
	"bytes"
	"encoding/base64"
	"errors"
	"image"
	"image/color"
	"image/png"
	"strings"
	"sync"
	"testing"
)

type htmlThing struct{}

func (htmlThing) HTML() string   { return "<i>x</i>" }
func (htmlThing) String() string { return "thing" }

type mdThing struct{}

func (mdThing) Markdown() string { return "# md" }

type pngThing struct{ err error }

func (p pngThing) PNG() ([]byte, error) { return []byte{1, 2, 3}, p.err }

type panicky struct{}

func (panicky) HTML() string { panic("boom") }

func TestMIMEBundle(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	img.Set(1, 1, color.RGBA{255, 0, 0, 255})
	tests := []struct {
		name   string
		v      any
		mime   string
		plain  string
		hasErr bool
	}{
		{"nil", nil, "text/plain", "<nil>", false},
		{"int", 42, "text/plain", "42", false},
		{"string", "s", "text/plain", "s", false},
		{"error", errors.New("bad"), "text/plain", "bad", false},
		{"html method and String", htmlThing{}, "text/html", "thing", false},
		{"markdown", mdThing{}, "text/markdown", "{}", false},
		{"png method", pngThing{}, "image/png", "{<nil>}", false},
		{"png method error", pngThing{err: errors.New("no")}, "", "", true},
		{"image", img, "image/png", "", false},
		{"bundle", Bundle{"text/html": "<b>b</b>"}, "text/html", "", false},
		{"panicking method", panicky{}, "text/plain", "", false},
	}
	for _, tc := range tests {
		b, err := MIMEBundle(tc.v)
		if (err != nil) != tc.hasErr {
			t.Errorf("%s: error %v, want error %v", tc.name, err, tc.hasErr)
			continue
		}
		if err != nil {
			continue
		}
		if _, ok := b[tc.mime]; !ok {
			t.Errorf("%s: bundle %v has no %s", tc.name, b, tc.mime)
		}
		if _, ok := b["text/plain"]; !ok {
			t.Errorf("%s: bundle has no text/plain", tc.name)
		}
		if tc.plain != "" && b["text/plain"] != tc.plain {
			t.Errorf("%s: text/plain %q, want %q", tc.name, b["text/plain"], tc.plain)
		}
	}
	// The image round-trips through base64 PNG.
	b, _ := MIMEBundle(img)
	raw, err := base64.StdEncoding.DecodeString(b["image/png"].(string))
	if err != nil {
		t.Fatal(err)
	}
	back, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if r, _, _, _ := back.At(1, 1).RGBA(); r>>8 != 255 || back.Bounds() != img.Bounds() {
		t.Errorf("decoded image differs: %v %v", back.Bounds(), back.At(1, 1))
	}
}

type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) DisplayData(data Bundle, md map[string]any, id string, update bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	kind := "display"
	if update {
		kind = "update"
	}
	var mimes []string
	for k := range data {
		mimes = append(mimes, k)
	}
	r.events = append(r.events, kind+":"+id+":"+strings.Join(sorted(mimes), ","))
	return nil
}

func (r *recorder) ClearOutput(wait bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, "clear")
	return nil
}

func sorted(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

func TestDisplayerAndChart(t *testing.T) {
	r := &recorder{}
	d := New(r, func(v any) (Bundle, bool) {
		if s, ok := v.(string); ok && s == "special" {
			return Bundle{"text/html": "<s>special</s>"}, true
		}
		return nil, false
	})
	h, err := d.Display("special")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Update(7); err != nil {
		t.Fatal(err)
	}
	if _, err := d.JSON(map[string]int{"a": 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.JSON(func() {}); err == nil {
		t.Errorf("JSON of a func: no error")
	}
	d.ClearOutput(true)
	c := d.NewChart("t", "x", "y")
	c.MaxPoints = 3
	for i := 0; i < 5; i++ {
		c.Add("a", float64(i), float64(i*i))
	}
	if err := c.Show(); err != nil {
		t.Fatal(err)
	}
	if err := c.Show(); err != nil {
		t.Fatal(err)
	}
	if n := len(c.series["a"]); n != 3 {
		t.Errorf("MaxPoints kept %d points, want 3", n)
	}
	want := []string{
		"display:" + h.ID + ":text/html,text/plain",
		"update:" + h.ID + ":text/plain",
	}
	for i, w := range want {
		if r.events[i] != w {
			t.Errorf("event %d = %q, want %q", i, r.events[i], w)
		}
	}
	last := r.events[len(r.events)-2:]
	if !strings.HasPrefix(last[0], "display:") || !strings.HasPrefix(last[1], "update:") ||
		!strings.Contains(last[1], "image/png") {
		t.Errorf("chart events %v: want a display then an in-place update with a PNG", last)
	}
	if err := d.UpdateDisplay(nil, 1); err == nil {
		t.Errorf("UpdateDisplay(nil): no error")
	}
}
