package main

import "errors"

// benchCommand is not built yet.
func benchCommand(args []string) error {
	return errors.New("bench: not implemented yet")
}
