package display

import (
	"encoding/base64"
	"fmt"

	"github.com/google/uuid"
	"gonum.org/v1/plot"
)

// Publisher sends display messages to the notebook; the kernel implements it
// on its iopub socket. An empty displayID means the output cannot be updated;
// update asks for update_display_data instead of display_data.
type Publisher interface {
	DisplayData(data Bundle, metadata map[string]any, displayID string, update bool) error
	ClearOutput(wait bool) error
}

// Renderer returns the bundle for values it knows (ok true), such as engine
// objects without an HTML method of their own.
type Renderer func(v any) (b Bundle, ok bool)

// Displayer is the display API of one session.
type Displayer struct {
	pub       Publisher
	renderers []Renderer
}

// New returns a Displayer publishing through p; renderers are tried, in
// order, before MIMEBundle's rules.
func New(p Publisher, renderers ...Renderer) *Displayer {
	return &Displayer{pub: p, renderers: renderers}
}

// Bundle returns the bundle showing v: the first renderer that knows v, else
// MIMEBundle(v). A renderer that panics is skipped.
func (d *Displayer) Bundle(v any) (Bundle, error) {
	for _, r := range d.renderers {
		if b, ok := safeRender(r, v); ok {
			if _, has := b["text/plain"]; !has {
				b["text/plain"] = Plain(v)
			}
			return b, nil
		}
	}
	return MIMEBundle(v)
}

func safeRender(r Renderer, v any) (b Bundle, ok bool) {
	defer func() {
		if recover() != nil {
			b, ok = nil, false
		}
	}()
	return r(v)
}

// Handle names an output already shown, so that it can be updated in place.
type Handle struct {
	d  *Displayer
	ID string
}

// Update replaces the output of h with v.
func (h *Handle) Update(v any) error { return h.d.UpdateDisplay(h, v) }

// String makes a Handle print as its id; a cell ending in a display call
// shows nothing more (the kernel skips *Handle results).
func (h *Handle) String() string { return "display " + h.ID }

func (d *Displayer) show(b Bundle) (*Handle, error) {
	h := &Handle{d: d, ID: uuid.NewString()}
	if err := d.pub.DisplayData(b, map[string]any{}, h.ID, false); err != nil {
		return nil, fmt.Errorf("display: %w", err)
	}
	return h, nil
}

// Display shows v with its richest representation (see MIMEBundle) and
// returns a handle for updates.
func (d *Displayer) Display(v any) (*Handle, error) {
	b, err := d.Bundle(v)
	if err != nil {
		return nil, err
	}
	return d.show(b)
}

// HTML shows an HTML fragment.
func (d *Displayer) HTML(html string) (*Handle, error) {
	return d.show(Bundle{"text/html": html, "text/plain": "<HTML>"})
}

// Markdown shows Markdown text.
func (d *Displayer) Markdown(md string) (*Handle, error) {
	return d.show(Bundle{"text/markdown": md, "text/plain": md})
}

// Text shows plain text as a display (not as a stream).
func (d *Displayer) Text(s string) (*Handle, error) {
	return d.show(Bundle{"text/plain": s})
}

// PNG shows PNG image bytes.
func (d *Displayer) PNG(png []byte) (*Handle, error) {
	return d.show(Bundle{"image/png": base64.StdEncoding.EncodeToString(png), "text/plain": "<PNG image>"})
}

// SVG shows an SVG document.
func (d *Displayer) SVG(svg string) (*Handle, error) {
	return d.show(Bundle{"image/svg+xml": svg, "text/plain": "<SVG image>"})
}

// JSON shows v as application/json (JupyterLab renders a tree).
func (d *Displayer) JSON(v any) (*Handle, error) {
	j, err := jsonValue(v)
	if err != nil {
		return nil, err
	}
	return d.show(Bundle{"application/json": j, "text/plain": fmt.Sprintf("%v", v)})
}

// Plot shows a gonum plot as a PNG.
func (d *Displayer) Plot(p *plot.Plot) (*Handle, error) { return d.Display(p) }

// UpdateDisplay replaces the output shown under h with v.
func (d *Displayer) UpdateDisplay(h *Handle, v any) error {
	if h == nil {
		return fmt.Errorf("display: UpdateDisplay of a nil handle")
	}
	b, err := d.Bundle(v)
	if err != nil {
		return err
	}
	if err := d.pub.DisplayData(b, map[string]any{}, h.ID, true); err != nil {
		return fmt.Errorf("display: update %s: %w", h.ID, err)
	}
	return nil
}

// ClearOutput clears the cell's output; with wait, only when new output
// arrives (no flicker in animations).
func (d *Displayer) ClearOutput(wait bool) { d.pub.ClearOutput(wait) }
