package relay

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/onair-gateway/onair/conf"
)

// Faults says what happens to relayed packets. The zero value relays every
// packet at once and in order. It applies to each direction of each
// allocation on its own.
type Faults struct {
	// Loss is the probability, 0..1, that a packet is dropped, each packet
	// independently. Default: 0.
	Loss float64 `json:"loss"`
	// BurstLoss is the long-run fraction, 0..0.9, of packets dropped in
	// bursts by a Gilbert-Elliott channel. Default: 0 (no bursts).
	BurstLoss float64 `json:"burst_loss"`
	// BurstLen is the mean length of a burst in packets, 1..1000. Default:
	// 3 when BurstLoss is set.
	BurstLen float64 `json:"burst_len"`
	// Delay is the fixed one-way delay added to every packet, 0..10s.
	// Default: 0.
	Delay time.Duration `json:"delay"`
	// Jitter is the width of a uniform random extra delay: each packet
	// waits Delay + U[0, Jitter). 0..10s. Default: 0.
	Jitter time.Duration `json:"jitter"`
	// Reorder is the probability, 0..1, that a packet is held back until
	// the next one has been sent. Default: 0.
	Reorder float64 `json:"reorder"`
	// RateBps caps the bandwidth of each link in bits per second (IP
	// payload: the UDP datagram the relay sends). 0 means no cap; otherwise
	// at least 8000. Default: 0.
	RateBps int64 `json:"rate_bps"`
	// QueueLimit bounds the queue in front of the bandwidth cap, as the
	// time a packet would wait; a packet that would wait longer is dropped.
	// 1ms..10s. Default: 200ms when RateBps is set.
	QueueLimit time.Duration `json:"queue_limit"`
}

// reorderWait is how long a held-back packet waits for a next one before it
// goes anyway: longer than a 20 ms frame, short enough that a held packet at
// the end of a talk spurt is not lost to a jitter buffer.
const reorderWait = 100 * time.Millisecond

// SetDefaults fills the zero fields that depend on others.
func (f *Faults) SetDefaults() {
	if f.BurstLoss > 0 && f.BurstLen == 0 {
		f.BurstLen = 3
	}
	if f.RateBps > 0 && f.QueueLimit == 0 {
		f.QueueLimit = 200 * time.Millisecond
	}
}

// Validate reports every field out of range, naming it.
func (f Faults) Validate() error {
	var errs []error
	prob := func(path string, v, max float64) {
		if math.IsNaN(v) || v < 0 || v > max {
			errs = append(errs, conf.Errorf(path, "%v is out of range [0, %v]", v, max))
		}
	}
	prob("loss", f.Loss, 1)
	prob("burst_loss", f.BurstLoss, 0.9)
	prob("reorder", f.Reorder, 1)
	if f.BurstLoss > 0 && (math.IsNaN(f.BurstLen) || f.BurstLen < 1 || f.BurstLen > 1000) {
		errs = append(errs, conf.Errorf("burst_len", "%v is out of range [1, 1000]", f.BurstLen))
	} else if f.BurstLoss > 0 && f.BurstLoss/(1-f.BurstLoss) > f.BurstLen {
		// p(good→bad) = BurstLoss / (BurstLen·(1−BurstLoss)) must be ≤ 1.
		errs = append(errs, conf.Errorf("burst_len", "%v is too short for burst_loss %v (need ≥ %.3g)", f.BurstLen, f.BurstLoss, f.BurstLoss/(1-f.BurstLoss)))
	}
	for _, d := range []struct {
		path string
		v    time.Duration
	}{{"delay", f.Delay}, {"jitter", f.Jitter}} {
		if d.v < 0 || d.v > 10*time.Second {
			errs = append(errs, conf.Errorf(d.path, "%v is out of range [0, 10s]", d.v))
		}
	}
	if f.RateBps != 0 && (f.RateBps < 8000 || f.RateBps > 10_000_000_000) {
		errs = append(errs, conf.Errorf("rate_bps", "%d is out of range: 0 (no cap) or 8000..10e9", f.RateBps))
	}
	if f.RateBps != 0 && (f.QueueLimit < time.Millisecond || f.QueueLimit > 10*time.Second) {
		errs = append(errs, conf.Errorf("queue_limit", "%v is out of range [1ms, 10s]", f.QueueLimit))
	}
	return errors.Join(errs...)
}

// String lists the faults that are on, e.g. "loss 10% jitter 30ms".
func (f Faults) String() string {
	var b strings.Builder
	add := func(format string, args ...any) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, format, args...)
	}
	if f.Loss > 0 {
		add("loss %g%%", 100*f.Loss)
	}
	if f.BurstLoss > 0 {
		add("burst-loss %g%% burst-len %g", 100*f.BurstLoss, f.BurstLen)
	}
	if f.Delay > 0 {
		add("delay %v", f.Delay)
	}
	if f.Jitter > 0 {
		add("jitter %v", f.Jitter)
	}
	if f.Reorder > 0 {
		add("reorder %g%%", 100*f.Reorder)
	}
	if f.RateBps > 0 {
		add("rate %d bit/s queue %v", f.RateBps, f.QueueLimit)
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// verdict is what the shaper decided for one packet.
type verdict uint8

const (
	deliver  verdict = iota
	lost             // random loss
	burst            // Gilbert-Elliott bad state
	overflow         // rate-cap queue full
)

// shaper makes every random decision for one link. It is pure apart from
// its state: the caller passes the time, so tests run it on synthetic
// clocks.
type shaper struct {
	rng       *rand.Rand
	bad       bool      // Gilbert-Elliott state
	busyUntil time.Time // when the rate-capped link has sent all it has queued
}

func newShaper(seed uint64, link uint64) *shaper {
	return &shaper{rng: rand.New(rand.NewPCG(seed, link))}
}

// admit decides the fate of a packet of size bytes arriving at now: its
// verdict, its release time when delivered, and whether it is to be held
// back behind the next packet. Every call draws the same number of random
// numbers, whatever the verdict, so one decision never shifts the next.
func (s *shaper) admit(f *Faults, now time.Time, size int) (at time.Time, v verdict, hold bool) {
	uLoss, uBurst, uJitter, uReorder := s.rng.Float64(), s.rng.Float64(), s.rng.Float64(), s.rng.Float64()

	// Gilbert-Elliott (Gilbert's simplification: the bad state drops all,
	// the good state none): r = 1/BurstLen leaves the bad state, p is set so
	// that the stationary bad-state probability p/(p+r) is BurstLoss.
	if f.BurstLoss > 0 {
		r := 1 / f.BurstLen
		p := f.BurstLoss * r / (1 - f.BurstLoss)
		if s.bad {
			s.bad = uBurst >= r
		} else {
			s.bad = uBurst < p
		}
	} else {
		s.bad = false
	}
	switch {
	case uLoss < f.Loss:
		return time.Time{}, lost, false
	case s.bad:
		return time.Time{}, burst, false
	}
	at = now
	if f.RateBps > 0 {
		start := now
		if s.busyUntil.After(start) {
			start = s.busyUntil
		}
		if start.Sub(now) > f.QueueLimit {
			return time.Time{}, overflow, false
		}
		s.busyUntil = start.Add(time.Duration(int64(size) * 8 * int64(time.Second) / f.RateBps))
		at = s.busyUntil
	}
	at = at.Add(f.Delay + time.Duration(uJitter*float64(f.Jitter)))
	return at, deliver, uReorder < f.Reorder
}
