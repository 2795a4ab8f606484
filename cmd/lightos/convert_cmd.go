package main

import "errors"

// convertCommand is not built yet.
func convertCommand(args []string) error {
	return errors.New("convert: not implemented yet")
}
