package gpio

import (
	"errors"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
)

// animator owns the one goroutine that drives a group of outputs (the LEDs,
// or the ring). Every change to the outputs runs in that goroutine: callers
// hand it a function with do and wait for it, and a timer on the injected
// clock wakes it for the next pattern transition. What is shown at a time
// is a pure function of that time (patterns are anchored to when they were
// set), so a late wake-up shows the right thing rather than replaying missed
// steps.
type animator struct {
	clock clockwork.Clock
	// render makes the outputs show what they should at now and returns the
	// next time that changes (zero when nothing is animating). It runs only
	// in the animator goroutine.
	render func(now time.Time) (next time.Time, err error)
	reqs   chan animReq
	quit   chan struct{}
	done   chan struct{}
	once   sync.Once
}

type animReq struct {
	f     func(now time.Time) error
	reply chan error
}

func newAnimator(clock clockwork.Clock, render func(time.Time) (time.Time, error)) *animator {
	a := &animator{
		clock:  clock,
		render: render,
		reqs:   make(chan animReq),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go a.loop()
	return a
}

// do runs f in the animator goroutine with the current time, renders, and
// returns f's and render's errors. After Close it returns ErrClosed.
func (a *animator) do(f func(now time.Time) error) error {
	r := animReq{f: f, reply: make(chan error, 1)}
	select {
	case a.reqs <- r:
	case <-a.quit:
		return ErrClosed
	}
	return <-r.reply // the loop answers every request it takes
}

// stop ends the goroutine and waits for it. It is idempotent.
func (a *animator) stop() {
	a.once.Do(func() { close(a.quit) })
	<-a.done
}

func (a *animator) loop() {
	defer close(a.done)
	t := a.clock.NewTimer(time.Hour)
	t.Stop()
	for {
		select {
		case <-a.quit:
			t.Stop()
			return
		case <-t.Chan():
			now := a.clock.Now()
			next, _ := a.render(now) // render logs its own failures
			arm(t, now, next)
		case r := <-a.reqs:
			now := a.clock.Now()
			err := r.f(now)
			next, rerr := a.render(now)
			arm(t, now, next)
			r.reply <- errors.Join(err, rerr)
		}
	}
}

// arm points t at next (or stops it when next is zero), discarding a
// firing that was not consumed so no stale wake-up follows.
func arm(t clockwork.Timer, now, next time.Time) {
	if !t.Stop() {
		select {
		case <-t.Chan():
		default:
		}
	}
	if !next.IsZero() {
		t.Reset(max(next.Sub(now), time.Nanosecond))
	}
}
