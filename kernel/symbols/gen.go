package symbols

// The engine's packages and gonum plot, exported to cells. Generic functions
// and types are skipped by yaegi extract (yaegi v0.16.1 cannot export them).
// Re-run `go generate ./kernel/symbols` when an engine package's API changes.

//go:generate go run github.com/traefik/yaegi/cmd/yaegi extract -name symbols github.com/lightiam/lightos/engine/tensor github.com/lightiam/lightos/engine/graph github.com/lightiam/lightos/engine/ops github.com/lightiam/lightos/engine/passes github.com/lightiam/lightos/engine/passes/cpufold github.com/lightiam/lightos/engine/exec github.com/lightiam/lightos/engine/formats/onnx github.com/lightiam/lightos/engine/formats/native github.com/lightiam/lightos/engine/formats/torchscript github.com/lightiam/lightos/engine/governor github.com/lightiam/lightos/backends github.com/lightiam/lightos/backends/cpu github.com/lightiam/lightos/backends/sim
//go:generate go run github.com/traefik/yaegi/cmd/yaegi extract -name symbols gonum.org/v1/plot gonum.org/v1/plot/plotter gonum.org/v1/plot/vg
//go:generate go run ./internal/gendocs -o docs_gen.go github.com/lightiam/lightos/engine/tensor github.com/lightiam/lightos/engine/graph github.com/lightiam/lightos/engine/ops github.com/lightiam/lightos/engine/passes github.com/lightiam/lightos/engine/passes/cpufold github.com/lightiam/lightos/engine/exec github.com/lightiam/lightos/engine/formats/onnx github.com/lightiam/lightos/engine/formats/native github.com/lightiam/lightos/engine/formats/torchscript github.com/lightiam/lightos/engine/governor github.com/lightiam/lightos/backends github.com/lightiam/lightos/backends/cpu github.com/lightiam/lightos/backends/sim github.com/lightiam/lightos/kernel/display github.com/lightiam/lightos/kernel/cell
