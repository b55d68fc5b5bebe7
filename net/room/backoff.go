package room

import (
	"math/rand/v2"
	"time"
)

// backoff computes reconnect delays: exponential from min to max with jitter,
// so a fleet of devices that lost the same server does not come back in
// lockstep. It is owned by the Supervisor's goroutine.
type backoff struct {
	min, max time.Duration
	// failures counts consecutive failed attempts since the last stable
	// session.
	failures int
	// rnd returns a number in [0, 1); nil means math/rand/v2.
	rnd func() float64
}

func (b *backoff) random() float64 {
	if b.rnd != nil {
		return b.rnd()
	}
	return rand.Float64()
}

// next returns the delay before the next attempt and counts the failure.
// Attempt n waits between half of and the whole of min·2ⁿ (capped at max),
// and never less than min.
func (b *backoff) next() time.Duration {
	base := b.min
	for i := 0; i < b.failures && base < b.max; i++ {
		base *= 2
	}
	base = min(base, b.max)
	b.failures++
	d := time.Duration(float64(base) * (0.5 + 0.5*b.random()))
	return max(d, b.min)
}

// capped returns the delay after a permanent failure: the cap, less up to 20%
// of jitter, or retryAfter when the server asked for longer (at most 10 min).
func (b *backoff) capped(retryAfter time.Duration) time.Duration {
	b.failures++
	d := time.Duration(float64(b.max) * (0.8 + 0.2*b.random()))
	if retryAfter > d {
		d = min(retryAfter, 10*time.Minute)
	}
	return max(d, b.min)
}

// reset forgets past failures: the next delay is about min again.
func (b *backoff) reset() { b.failures = 0 }
