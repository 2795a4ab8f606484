package main

import "errors"

// kernelCommand is not built yet.
func kernelCommand(args []string) error {
	return errors.New("kernel: not implemented yet")
}
