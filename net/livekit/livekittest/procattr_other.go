//go:build !linux

package livekittest

import "syscall"

// procAttr is empty where there is no parent-death signal: Close stops the
// server.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
