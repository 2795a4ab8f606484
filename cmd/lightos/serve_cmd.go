package main

import "errors"

// serveCommand is not built yet.
func serveCommand(args []string) error {
	return errors.New("serve: not implemented yet")
}
