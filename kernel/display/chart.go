package display

import (
	"fmt"
	"image/color"
	"sync"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Chart is a live line chart: add points, then Show, which draws it the first
// time and updates it in place afterwards.
type Chart struct {
	d                     *Displayer
	Title, XLabel, YLabel string
	// MaxPoints keeps only the last points of each series (0: keep all).
	MaxPoints     int
	Width, Height vg.Length

	mu     sync.Mutex
	order  []string
	series map[string]plotter.XYs
	handle *Handle
}

// NewChart returns an empty live chart.
func (d *Displayer) NewChart(title, xlabel, ylabel string) *Chart {
	return &Chart{d: d, Title: title, XLabel: xlabel, YLabel: ylabel,
		Width: PlotWidth, Height: PlotHeight, series: map[string]plotter.XYs{}}
}

// Add appends the point (x, y) to the named series.
func (c *Chart) Add(series string, x, y float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.series[series]; !ok {
		c.order = append(c.order, series)
	}
	xy := append(c.series[series], plotter.XY{X: x, Y: y})
	if c.MaxPoints > 0 && len(xy) > c.MaxPoints {
		xy = xy[len(xy)-c.MaxPoints:]
	}
	c.series[series] = xy
}

// palette colours series in the order they were added.
var palette = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
	{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255},
}

// Plot builds the gonum plot of the chart's current points.
func (c *Chart) Plot() (*plot.Plot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = c.Title, c.XLabel, c.YLabel
	p.Add(plotter.NewGrid())
	for i, name := range c.order {
		xy := c.series[name]
		if len(xy) == 0 {
			continue
		}
		l, err := plotter.NewLine(append(plotter.XYs(nil), xy...))
		if err != nil {
			return nil, fmt.Errorf("display: chart series %q: %w", name, err)
		}
		l.Color = palette[i%len(palette)]
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(name, l)
	}
	p.Legend.Top = true
	return p, nil
}

// PNG renders the chart.
func (c *Chart) PNG() ([]byte, error) {
	p, err := c.Plot()
	if err != nil {
		return nil, err
	}
	return PlotPNG(p, c.Width, c.Height)
}

// Show displays the chart, or redraws it in place if it is already shown.
func (c *Chart) Show() error {
	c.mu.Lock()
	h := c.handle
	c.mu.Unlock()
	if h != nil {
		return c.d.UpdateDisplay(h, c)
	}
	h, err := c.d.Display(c)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.handle = h
	c.mu.Unlock()
	return nil
}

// String describes the chart in text/plain.
func (c *Chart) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("Chart %q (%d series)", c.Title, len(c.order))
}
