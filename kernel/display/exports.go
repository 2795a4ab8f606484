package display

import (
	"reflect"

	"gonum.org/v1/plot"
)

// ImportPath is the path cells import the package under.
const ImportPath = "github.com/lightiam/lightos/kernel/display"

// Exports returns the package as a yaegi Exports map whose functions are d's
// methods, so each session's cells display through their own kernel.
func Exports(d *Displayer) map[string]map[string]reflect.Value {
	return map[string]map[string]reflect.Value{ImportPath + "/display": {
		"Display":       reflect.ValueOf(d.Display),
		"HTML":          reflect.ValueOf(d.HTML),
		"Markdown":      reflect.ValueOf(d.Markdown),
		"Text":          reflect.ValueOf(d.Text),
		"PNG":           reflect.ValueOf(d.PNG),
		"SVG":           reflect.ValueOf(d.SVG),
		"JSON":          reflect.ValueOf(d.JSON),
		"Plot":          reflect.ValueOf(d.Plot),
		"UpdateDisplay": reflect.ValueOf(d.UpdateDisplay),
		"ClearOutput":   reflect.ValueOf(d.ClearOutput),
		"NewChart":      reflect.ValueOf(d.NewChart),
		"MIMEBundle":    reflect.ValueOf(MIMEBundle),
		"PlotPNG":       reflect.ValueOf(func(p *plot.Plot) ([]byte, error) { return PlotPNG(p, PlotWidth, PlotHeight) }),

		"Bundle":    reflect.ValueOf((*Bundle)(nil)),
		"Handle":    reflect.ValueOf((*Handle)(nil)),
		"Chart":     reflect.ValueOf((*Chart)(nil)),
		"Displayer": reflect.ValueOf((*Displayer)(nil)),
	}}
}
