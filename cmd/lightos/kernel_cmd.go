package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/lightiam/lightos/kernel"
	"github.com/lightiam/lightos/kernel/kernelspec"
	"github.com/lightiam/lightos/kernel/symbols"
)

// kernelCommand is `lightos kernel install [--user | --sys-prefix | --prefix P]`
// and `lightos kernel run -f CONNECTION_FILE`.
func kernelCommand(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: lightos kernel install [--user | --sys-prefix | --prefix P] | run -f CONNECTION_FILE")
	}
	switch args[0] {
	case "install":
		return kernelInstall(args[1:])
	case "run":
		return kernelRun(args[1:])
	}
	return fmt.Errorf("unknown kernel subcommand %q (want install or run)", args[0])
}

func kernelInstall(args []string) error {
	fs := flag.NewFlagSet("kernel install", flag.ContinueOnError)
	user := fs.Bool("user", false, "install for the current user (Jupyter's user data directory)")
	sysPrefix := fs.Bool("sys-prefix", false, "install into the active Python environment (sys.prefix: $VIRTUAL_ENV, $CONDA_PREFIX or python3's)")
	prefix := fs.String("prefix", "", "install under PREFIX/share/jupyter")
	if err := fs.Parse(args); err != nil {
		return err
	}
	n := 0
	for _, b := range []bool{*user, *sysPrefix, *prefix != ""} {
		if b {
			n++
		}
	}
	if n > 1 {
		return errors.New("choose one of --user, --sys-prefix and --prefix")
	}
	w := kernelspec.Where{User: *user, Prefix: *prefix}
	if *sysPrefix {
		p, err := pythonSysPrefix()
		if err != nil {
			return err
		}
		w.SysPrefix = p
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("locating the lightos binary: %w", err)
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	dir, err := kernelspec.Install(exe, w)
	if err != nil {
		return err
	}
	fmt.Printf("Installed kernelspec %s (%s) in %s\n", kernelspec.Name, kernelspec.DisplayName, dir)
	return nil
}

// pythonSysPrefix finds the active Python environment's sys.prefix: an
// activated virtualenv or conda environment, else what the python3 on PATH
// (or $PYTHON) reports.
func pythonSysPrefix() (string, error) {
	for _, env := range []string{"VIRTUAL_ENV", "CONDA_PREFIX"} {
		if p := os.Getenv(env); p != "" {
			return p, nil
		}
	}
	py := os.Getenv("PYTHON")
	if py == "" {
		py = "python3"
	}
	out, err := exec.Command(py, "-c", "import sys; print(sys.prefix)").Output()
	if err != nil {
		return "", fmt.Errorf("--sys-prefix: asking %s for sys.prefix: %w (set VIRTUAL_ENV or use --prefix)", py, err)
	}
	return strings.TrimSpace(string(out)), nil
}

func kernelRun(args []string) error {
	fs := flag.NewFlagSet("kernel run", flag.ContinueOnError)
	file := fs.String("f", "", "the connection file Jupyter wrote")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *file == "" {
		return errors.New("kernel run: -f CONNECTION_FILE is required")
	}
	conn, err := kernel.ReadConnectionFile(*file)
	if err != nil {
		return err
	}
	k, err := kernel.New(conn, kernel.Options{
		CaptureFDs:   true,
		HandleSIGINT: true,
		Symbols:      symbols.Exports(),
		Prelude:      symbols.Prelude,
		Docs:         symbols.Doc,
		Renderers:    symbols.Renderers(),
	})
	if err != nil {
		return err
	}
	return k.Run(context.Background())
}
