package room

import (
	"math"
	"testing"
	"time"
)

func TestLossPolicy(t *testing.T) {
	type want struct {
		loss, bitrate int
		changed       bool
	}
	cases := []struct {
		name  string
		cfg   AdaptConfig
		in    []float64
		wants []want
	}{
		{
			name: "fec only, with hysteresis and bounds",
			cfg:  AdaptConfig{},
			in:   []float64{0, 0.05, 0.06, 0, 0, 0.5, math.NaN(), -1},
			wants: []want{
				{0, 0, true},   // first report always applies
				{5, 0, true},   // rise followed at once
				{5, 0, false},  // 6% is within 2 points: ignored
				{5, 0, false},  // decays to 4.2%: still within 2 points
				{3, 0, true},   // 2.9% is 2 points below: applied
				{30, 0, true},  // 50% clamped to MaxLossPct
				{30, 0, false}, // NaN counts as no loss; 35% still clamped
				{25, 0, true},  // negative counts as no loss; 24.5% applied
			},
		},
		{
			name: "bitrate follows draft-ietf-rmcat-gcc loss controller",
			cfg:  AdaptConfig{MinBitrate: 16000, MaxBitrate: 64000},
			in:   []float64{0, 0.2, 0.05, 0, 1, 1, 1},
			wants: []want{
				{0, 64000, true},
				{20, 57600, true},  // 64000·(1-0.5·0.2)
				{16, 57600, true},  // 2..10% holds the rate
				{11, 60480, true},  // <2% grows by 5%
				{30, 30240, true},  // total loss halves it
				{30, 16000, true},  // floored at MinBitrate
				{30, 16000, false}, // nothing left to change
			},
		},
		{
			name:  "floor on FEC",
			cfg:   AdaptConfig{MinLossPct: 5, MaxLossPct: 10},
			in:    []float64{0, 0.07, 0.2, 0},
			wants: []want{{5, 0, true}, {7, 0, true}, {10, 0, true}, {10, 0, false}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := NewLossPolicy(c.cfg)
			for i, f := range c.in {
				l, b, ch := p.Update(Report{FractionLost: f})
				if got := (want{l, b, ch}); got != c.wants[i] {
					t.Errorf("step %d: Update(%v) = %+v, want %+v", i, f, got, c.wants[i])
				}
			}
		})
	}
}

func TestAdaptConfigDefaults(t *testing.T) {
	var c AdaptConfig
	c.setDefaults()
	if c.Interval != 2*time.Second || c.MaxLossPct != 30 || c.MinLossPct != 0 || c.MaxBitrate != 0 {
		t.Errorf("defaults %+v", c)
	}
	c = AdaptConfig{MaxBitrate: 8000, MinLossPct: 50, MaxLossPct: 20}
	c.setDefaults()
	if c.MinBitrate != 8000 || c.MinLossPct != 20 {
		t.Errorf("bounds not reconciled: %+v", c)
	}
}

func TestBackoff(t *testing.T) {
	cases := []struct {
		name string
		rnd  float64
		want []time.Duration
	}{
		{"lowest jitter", 0, []time.Duration{1, 1, 2, 4, 8, 15, 15, 15}},
		{"highest jitter", 0.999999, []time.Duration{1, 2, 4, 8, 16, 30, 30, 30}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := Backoff{Min: time.Second, Max: 30 * time.Second, Rand: func() float64 { return c.rnd }}
			for i, w := range c.want {
				got := b.Next().Round(time.Second)
				if got != w*time.Second {
					t.Errorf("attempt %d: %v, want %v", i, got, w*time.Second)
				}
			}
			b.Reset()
			if got := b.Next(); got != time.Second {
				t.Errorf("after reset: %v", got)
			}
		})
	}
	b := Backoff{Min: time.Second, Max: 30 * time.Second, Rand: func() float64 { return 0 }}
	if got := b.Capped(0); got != 24*time.Second {
		t.Errorf("capped = %v, want 24s", got)
	}
	if got := b.Capped(time.Hour); got != 10*time.Minute {
		t.Errorf("capped with a huge Retry-After = %v, want 10m", got)
	}
}

// TestLossPolicyCeiling: a new configured bitrate moves the ceiling: the
// policy starts at it, comes down to a lower one at once, climbs towards a
// higher one by the controller's 5% steps, and 0 turns bitrate off.
func TestLossPolicyCeiling(t *testing.T) {
	p := NewLossPolicy(AdaptConfig{MinBitrate: 16000})
	if _, b, _ := p.Update(Report{FractionLost: 0}); b != 0 {
		t.Fatalf("bitrate %d without a ceiling", b)
	}
	p.SetMaxBitrate(32000)
	if _, b, ch := p.Update(Report{FractionLost: 0}); b != 32000 || !ch {
		t.Errorf("first ceiling: %d, changed %v", b, ch)
	}
	p.SetMaxBitrate(24000)
	if _, b, _ := p.Update(Report{FractionLost: 0}); b != 24000 {
		t.Errorf("lower ceiling: %d", b)
	}
	p.SetMaxBitrate(64000)
	if _, b, ch := p.Update(Report{FractionLost: 0}); b != 25200 || !ch {
		t.Errorf("higher ceiling: %d (changed %v), want a 5%% step to 25200", b, ch)
	}
	p.SetMaxBitrate(0)
	if _, b, _ := p.Update(Report{FractionLost: 0.5}); b != 0 {
		t.Errorf("ceiling 0: bitrate %d", b)
	}
}

// TestLossPolicyQueue: loss lowers the bitrate only while the RTT shows a
// queue (or no RTT is known); a lossy link without one keeps the rate.
func TestLossPolicyQueue(t *testing.T) {
	p := NewLossPolicy(AdaptConfig{MinBitrate: 16000, MaxBitrate: 32000})
	ms := time.Millisecond
	steps := []struct {
		r    Report
		want int
	}{
		{Report{0, 5 * ms}, 32000},
		{Report{0.15, 30 * ms}, 32000}, // 15% loss, RTT 25 ms over its low: a lossy link
		{Report{0.2, 150 * ms}, 28800}, // a queue: congestion
		{Report{0.05, 150 * ms}, 28800},
		{Report{0.2, 0}, 25920}, // RTT unknown: loss alone decides
	}
	for i, s := range steps {
		if _, b, _ := p.Update(s.r); b != s.want {
			t.Errorf("step %d: Update(%+v) bitrate %d, want %d", i, s.r, b, s.want)
		}
	}
	p.NewSession()
	if _, b, _ := p.Update(Report{0.15, 150 * ms}); b != 25920 {
		t.Errorf("a new session's first RTT is its low: bitrate %d, want 25920 held", b)
	}

	// A link saturated from the start: its first RTT already holds the
	// full queue, so no rise ever shows. Heavy loss still brings the rate
	// down, to half the ceiling at most.
	p = NewLossPolicy(AdaptConfig{MinBitrate: 12000, MaxBitrate: 32000})
	want := []int{32000, 28800, 25920, 23328, 20995, 18895, 17005, 16000, 16000}
	for i, w := range want {
		loss := 0.2
		if i == 0 {
			loss = 0
		}
		if _, b, _ := p.Update(Report{loss, 225 * ms}); b != w {
			t.Errorf("saturated step %d: bitrate %d, want %d", i, b, w)
		}
	}
	// Moderate loss with a steady RTT stays a lossy link: no cut.
	if _, b, _ := p.Update(Report{0.15, 225 * ms}); b != 16000 {
		t.Errorf("15%% loss after the cuts: bitrate %d, want 16000 held", b)
	}
}
