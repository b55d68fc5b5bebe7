//go:build !linux

package main

import (
	"fmt"
	"os"
	"runtime"
)

// termState is a terminal's mode; this build cannot change one.
type termState struct{}

// rawTerminal reports that the simulated board's keyboard needs a Linux
// terminal: onaird runs without it here.
func rawTerminal(*os.File) (*termState, error) {
	return nil, fmt.Errorf("the simulated board's keyboard needs a Linux terminal (this binary: GOOS=%s)", runtime.GOOS)
}

// restoreTerminal does nothing: rawTerminal changed nothing.
func restoreTerminal(*os.File, *termState) {}
