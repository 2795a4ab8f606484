package main

import "errors"

// runCommand is not built yet.
func runCommand(args []string) error {
	return errors.New("run: not implemented yet")
}
