package display

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"reflect"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
)

// Bundle is a MIME bundle: MIME type to data. Text types hold strings, binary
// image types base64 strings, application/json any JSON-marshalable value.
type Bundle map[string]any

// The optional methods a value may have to choose its rich representation.
type (
	// MIMEBundler returns a full bundle.
	MIMEBundler interface{ MIMEBundle() map[string]any }
	// HTMLer returns an HTML fragment.
	HTMLer interface{ HTML() string }
	// Markdowner returns Markdown text.
	Markdowner interface{ Markdown() string }
	// SVGer returns an SVG document.
	SVGer interface{ SVG() string }
	// PNGer returns PNG bytes.
	PNGer interface{ PNG() ([]byte, error) }
)

// PlotWidth and PlotHeight are the size plots are rendered at.
const (
	PlotWidth  = 6 * vg.Inch
	PlotHeight = 3.5 * vg.Inch
)

// MIMEBundle returns the bundle that shows v (see the package doc). It never
// panics: a method that panics is reported in the text/plain entry.
func MIMEBundle(v any) (b Bundle, err error) {
	defer func() {
		if r := recover(); r != nil {
			b, err = Bundle{"text/plain": fmt.Sprintf("<display of %T panicked: %v>", v, r)}, nil
		}
	}()
	b = Bundle{}
	switch x := v.(type) {
	case nil:
		return Bundle{"text/plain": "<nil>"}, nil
	case Bundle:
		for k, val := range x {
			b[k] = val
		}
	case MIMEBundler:
		for k, val := range x.MIMEBundle() {
			b[k] = val
		}
	case HTMLer:
		b["text/html"] = x.HTML()
	case Markdowner:
		b["text/markdown"] = x.Markdown()
	case SVGer:
		b["image/svg+xml"] = x.SVG()
	case PNGer:
		p, err := x.PNG()
		if err != nil {
			return nil, fmt.Errorf("display: %T.PNG: %w", v, err)
		}
		b["image/png"] = base64.StdEncoding.EncodeToString(p)
	case image.Image:
		var buf bytes.Buffer
		if err := png.Encode(&buf, x); err != nil {
			return nil, fmt.Errorf("display: encoding %T as PNG: %w", v, err)
		}
		b["image/png"] = base64.StdEncoding.EncodeToString(buf.Bytes())
	case *plot.Plot:
		p, err := PlotPNG(x, PlotWidth, PlotHeight)
		if err != nil {
			return nil, err
		}
		b["image/png"] = base64.StdEncoding.EncodeToString(p)
	}
	if _, ok := b["text/plain"]; !ok {
		b["text/plain"] = Plain(v)
	}
	return b, nil
}

// Plain renders v as text: String(), Error(), or %v.
func Plain(v any) string {
	switch x := v.(type) {
	case fmt.Stringer:
		return x.String()
	case error:
		return x.Error()
	case string:
		return x
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() && rv.Elem().Kind() == reflect.Struct {
		return fmt.Sprintf("&%+v", rv.Elem().Interface())
	}
	return fmt.Sprintf("%v", v)
}

// PlotPNG renders p as a PNG of the given size.
func PlotPNG(p *plot.Plot, w, h vg.Length) ([]byte, error) {
	wt, err := p.WriterTo(w, h, "png")
	if err != nil {
		return nil, fmt.Errorf("display: rendering plot: %w", err)
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("display: rendering plot: %w", err)
	}
	return buf.Bytes(), nil
}

// jsonValue checks that v marshals, so a bad value fails in the cell rather
// than in the kernel's encoder.
func jsonValue(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("display: JSON: %w", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("display: JSON: %w", err)
	}
	return out, nil
}
