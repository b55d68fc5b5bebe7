package alsa

import (
	"errors"
	"sync"
	"time"
)

var (
	errHandleClosed = errors.New("handle closed")
	errHandleBusy   = errors.New("handle in use by another goroutine")
)

// owner hands a C handle between its single user (the capture goroutine, or
// one WriteFrame call at a time) and Close, so that the handle is freed
// exactly once and never while a transfer is inside libasound.
type owner struct {
	mu     sync.Mutex
	closed bool
	busy   bool
	orphan bool          // Close stopped waiting: the user frees on exit
	idle   chan struct{} // signalled (capacity 1) when a user leaves
	free   func()
}

func newOwner(free func()) *owner {
	return &owner{idle: make(chan struct{}, 1), free: free}
}

// enter starts a use. It fails with errHandleClosed after close, and with
// errHandleBusy while another use is in progress.
func (o *owner) enter() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case o.closed:
		return errHandleClosed
	case o.busy:
		return errHandleBusy
	}
	o.busy = true
	return nil
}

// exit ends a use. If close gave up waiting for it, exit frees the handle.
func (o *owner) exit() {
	o.mu.Lock()
	o.busy = false
	if o.orphan {
		o.orphan = false
		o.free()
	}
	o.mu.Unlock()
	select {
	case o.idle <- struct{}{}:
	default:
	}
}

// close marks the handle closed. With no use in progress it frees the handle
// at once. Otherwise it calls wake (the handle is still valid then), waits up
// to wait for the use to end, and frees the handle; if the use does not end
// in time, close returns deferred and the use frees the handle when it
// exits. first is false when the handle was already closed.
func (o *owner) close(wake func(), wait time.Duration) (first, deferred bool) {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return false, false
	}
	o.closed = true
	if !o.busy {
		o.free()
		o.mu.Unlock()
		return true, false
	}
	wake()
	o.mu.Unlock()

	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		timeout := false
		select {
		case <-o.idle:
		case <-timer.C:
			timeout = true
		}
		o.mu.Lock()
		if !o.busy {
			o.free()
			o.mu.Unlock()
			return true, false
		}
		if timeout {
			o.orphan = true
			o.mu.Unlock()
			return true, true
		}
		o.mu.Unlock()
	}
}
