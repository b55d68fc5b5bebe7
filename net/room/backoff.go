package room

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Backoff computes retry delays: exponential from Min to Max with jitter, so
// a fleet of devices that lost the same server does not come back in
// lockstep. It is the one backoff of the project: the Supervisor's joins,
// WHIP's ICE restarts and the gateway's capture reopen all use it. It is
// not safe for concurrent use; each retry loop owns its own.
//
// The jitter comes from Rand, or math/rand/v2 (seeded by the runtime, not
// by reading the clock); tests pass a fixed Rand.
type Backoff struct {
	// Min is the first delay and the smallest ever returned; Max caps the
	// growth. Both must be positive, Max >= Min.
	Min, Max time.Duration
	// Rand returns a number in [0, 1); nil means math/rand/v2.
	Rand func() float64

	failures int // consecutive failures since the last Reset
}

func (b *Backoff) random() float64 {
	if b.Rand != nil {
		return b.Rand()
	}
	return rand.Float64()
}

// Next returns the delay before the next attempt and counts the failure.
// Attempt n waits between half of and the whole of Min·2ⁿ (capped at Max),
// and never less than Min.
func (b *Backoff) Next() time.Duration {
	base := b.Min
	for i := 0; i < b.failures && base < b.Max; i++ {
		base *= 2
	}
	base = min(base, b.Max)
	b.failures++
	d := time.Duration(float64(base) * (0.5 + 0.5*b.random()))
	return max(d, b.Min)
}

// Capped returns the delay after a permanent failure: Max, less up to 20%
// of jitter, or retryAfter when the server asked for longer (at most
// MaxRetryAfter).
func (b *Backoff) Capped(retryAfter time.Duration) time.Duration {
	b.failures++
	d := time.Duration(float64(b.Max) * (0.8 + 0.2*b.random()))
	if retryAfter > d {
		d = min(retryAfter, MaxRetryAfter)
	}
	return max(d, b.Min)
}

// Reset forgets past failures: the next delay is about Min again.
func (b *Backoff) Reset() { b.failures = 0 }

// MaxRetryAfter caps a server's Retry-After, so a misconfigured server
// cannot park a device for days.
const MaxRetryAfter = 10 * time.Minute

// RetryAfter parses an HTTP Retry-After value (RFC 9110 §10.2.3): either
// delay-seconds (a non-negative decimal integer) or an HTTP-date, which is
// read relative to now. It returns 0 when v is empty, malformed or a date
// in the past, and at most MaxRetryAfter.
func RetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		d = time.Duration(min(n, uint64(MaxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return max(0, min(d, MaxRetryAfter))
}
