// Package display is the rich-output API of notebook cells: Display, HTML,
// Markdown, PNG, SVG, JSON, Text, Plot, UpdateDisplay, ClearOutput, and live
// charts drawn with gonum.org/v1/plot that update in place.
//
// Cells import it as "github.com/lightiam/lightos/kernel/display" (the kernel
// also imports it for them). The kernel creates one Displayer per session,
// bound to its iopub channel, and exports the Displayer's methods to the
// interpreter as package-level functions (Exports); the package itself keeps
// no global state.
//
// MIMEBundle decides how any value is shown, in this order: a Bundle; a
// MIMEBundle() method; HTML(), Markdown(), SVG() or PNG() methods (engine
// objects such as graphs, optimizer reports, profiles and device telemetry
// provide them); images; gonum plots; then text/plain from String(), Error()
// or %v, which every bundle carries.
package display
