//go:build !linux

package livekittest

import "syscall"

// sysProcAttr: outside Linux there is no parent-death signal; a server
// left by a killed test process must be stopped by hand.
func sysProcAttr() *syscall.SysProcAttr { return nil }
