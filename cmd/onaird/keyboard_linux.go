package main

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// termState is a terminal's mode, saved to restore it.
type termState = unix.Termios

// rawTerminal turns off line buffering and echo on f and returns the mode
// to restore. It keeps ISIG (Ctrl-C still stops onaird) and output
// processing, which golang.org/x/term's MakeRaw would turn off.
func rawTerminal(f *os.File) (*termState, error) {
	old, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		return nil, errors.New("stdin is not a terminal")
	}
	raw := *old
	raw.Lflag &^= unix.ICANON | unix.ECHO
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, &raw); err != nil {
		return nil, err
	}
	return old, nil
}

// restoreTerminal puts back the mode rawTerminal saved.
func restoreTerminal(f *os.File, old *termState) {
	_ = unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, old)
}
