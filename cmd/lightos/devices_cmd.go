package main

import "errors"

// devicesCommand is not built yet.
func devicesCommand(args []string) error {
	return errors.New("devices: not implemented yet")
}
