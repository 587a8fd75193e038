//go:build !linux

package main

import "errors"

// promptSecret is only implemented on Linux.
func promptSecret(string) (string, error) {
	return "", errors.New("asking on the terminal is not supported on this system")
}
