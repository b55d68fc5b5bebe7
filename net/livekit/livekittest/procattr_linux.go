package livekittest

import "syscall"

// procAttr kills the server with the test process (Linux only).
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
