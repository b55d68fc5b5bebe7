package room

import (
	"math"
	"time"
)

// Encoder is the part of the Opus encoder that rate adaptation drives
// (opus.Encoder). The Supervisor calls it from its own goroutine while the
// capture goroutine encodes, so an implementation must be safe for that
// (for example by storing the request and applying it before the next
// frame).
type Encoder interface {
	// SetPacketLoss sets the expected packet loss in percent (0..100),
	// which sizes Opus in-band FEC (RFC 6716 §2.1.7, LBRR).
	SetPacketLoss(pct int) error
	// LimitBitrate caps the bitrate at bps bit/s; the encoder runs at the
	// lower of the cap and its configured bitrate.
	LimitBitrate(bps int) error
}

// ConfiguredEncoder is implemented by an Encoder that knows its configured
// bitrate (the ceiling of the bitrate adaptation when AdaptConfig.MaxBitrate
// is 0) and whether its in-band FEC is enabled.
type ConfiguredEncoder interface {
	Configured() (bitrate int, fec bool)
}

// TargetEncoder is implemented by an Encoder that reports the bitrate it
// runs at and whether it codes in-band FEC (SupervisorStats.Adapt).
type TargetEncoder interface {
	Target() (bitrate int, fec bool)
}

// AdaptStats are the encoder settings rate adaptation has reached, as
// status and metrics show them.
type AdaptStats struct {
	// TargetBitrate is the bitrate the encoder runs at, bit/s (0 when the
	// encoder does not say).
	TargetBitrate int `json:"target_bitrate"`
	// FEC is true while the encoder codes in-band FEC: enabled, and an
	// expected loss above 0%.
	FEC bool `json:"fec"`
	// PacketLossPct is the expected loss last given to the encoder, -1
	// before the first receiver report.
	PacketLossPct int `json:"packet_loss_pct"`
	// Changes counts the settings applied to the encoder.
	Changes uint64 `json:"changes"`
}

// AdaptConfig configures rate adaptation from receiver reports.
type AdaptConfig struct {
	// Interval is how often the latest receiver report is applied.
	// Default: 2s (LiveKit sends a receiver report about every second).
	Interval time.Duration
	// MinLossPct and MaxLossPct bound the packet-loss percentage given to
	// the encoder. Defaults: 0 and 30 (libopus spends little more on FEC
	// above about 25%).
	MinLossPct, MaxLossPct int
	// MinBitrate and MaxBitrate bound the bitrate in bit/s. MaxBitrate 0
	// (the default) takes the encoder's configured bitrate (opus.bitrate)
	// as the ceiling when the encoder says it (ConfiguredEncoder), and
	// otherwise leaves the bitrate alone and adapts only FEC. MinBitrate
	// defaults to 12000, the lowest rate at which libopus still codes
	// wideband speech with FEC.
	MinBitrate, MaxBitrate int
	// QueueDelay is how far the round-trip time must rise above its
	// lowest in the session before loss counts as congestion and lowers
	// the bitrate. Default: 100ms.
	QueueDelay time.Duration
}

// Report is what one step of rate adaptation knows about the uplink.
type Report struct {
	// FractionLost is the loss on the way to the room, 0..1.
	FractionLost float64
	// RTT is the round-trip time from RTCP; 0 when unknown.
	RTT time.Duration
}

func (c *AdaptConfig) setDefaults() {
	if c.Interval <= 0 {
		c.Interval = 2 * time.Second
	}
	if c.MaxLossPct <= 0 {
		c.MaxLossPct = 30
	}
	c.MaxLossPct = min(c.MaxLossPct, 100)
	c.MinLossPct = max(0, min(c.MinLossPct, c.MaxLossPct))
	if c.MinBitrate <= 0 {
		c.MinBitrate = 12000
	}
	if c.QueueDelay <= 0 {
		c.QueueDelay = 100 * time.Millisecond
	}
	if c.MaxBitrate > 0 {
		c.MinBitrate = min(c.MinBitrate, c.MaxBitrate)
	}
}

// LossPolicy maps receiver-reported loss to encoder settings. It is a pure
// state machine (no clock, no I/O): feed it each Report and apply what it
// returns.
//
//   - Loss estimate: it follows a rise at once and decays by 30% a step
//     towards a lower report, so one clean report after a burst does not
//     turn FEC off.
//   - Packet loss for FEC: the estimate in percent, rounded up, clamped to
//     [MinLossPct, MaxLossPct]. A change smaller than 2 points is ignored
//     (hysteresis), except to reach the bounds.
//   - Bitrate (only when MaxBitrate > 0): the loss-based controller of
//     draft-ietf-rmcat-gcc-02 §6: above 10% loss the rate falls to
//     rate·(1-0.5·loss); below 2% it grows by 5%; in between it holds.
//     Loss lowers the rate only while a queue shows (the RTT QueueDelay
//     above the lowest seen, or no RTT known): loss on a link with no
//     queue is a lossy link, not a full one, and FEC answers it, while a
//     lower rate only costs quality (at 10% random loss, 0.016 and 0.024
//     of log-mel correlation at the listener in two test/hardnet runs,
//     with FEC and without). Heavy loss (heavyLoss, 20% and more) cuts
//     the rate even with no queue in sight, but not below half the
//     ceiling: a link saturated from the start never shows the RTT of its
//     empty queue (the first RTT already has the full queue in it, so it
//     becomes the session's low), and its tail drops are all the device
//     sees (test/hardnet TestBitrateFollowsBandwidth: 32 kbit/s Opus into
//     a 30 kbit/s cap). This is the
//     room's estimate of the available bandwidth: LiveKit
//     (v1.13.5) negotiates neither REMB nor transport-wide congestion
//     control for an audio publisher (its publisher config offers audio
//     NACK only), so its receiver reports are all it tells a device.
//
// The zero value is not usable; use NewLossPolicy.
type LossPolicy struct {
	cfg      AdaptConfig
	estimate float64
	lossPct  int
	bitrate  int
	started  bool
	moved    bool          // SetMaxBitrate moved bitrate: the next Update reports it
	minRTT   time.Duration // lowest RTT since NewSession; 0: none yet
}

// NewSession forgets the lowest RTT: a new session may take another path.
func (p *LossPolicy) NewSession() { p.minRTT = 0 }

// NewLossPolicy returns a policy that starts from no loss and, when bitrate
// adaptation is on, from MaxBitrate.
func NewLossPolicy(cfg AdaptConfig) *LossPolicy {
	cfg.setDefaults()
	return &LossPolicy{cfg: cfg, lossPct: cfg.MinLossPct, bitrate: cfg.MaxBitrate}
}

// SetMaxBitrate moves the bitrate ceiling (a new configured bitrate); 0
// turns bitrate adaptation off. The next Update applies it.
func (p *LossPolicy) SetMaxBitrate(bps int) {
	if bps == p.cfg.MaxBitrate {
		return
	}
	if p.cfg.MaxBitrate == 0 || p.bitrate > bps || bps == 0 {
		p.bitrate = bps // start at the ceiling, or come down to it
		p.moved = true
	}
	p.cfg.MaxBitrate = bps
}

// Update takes one report and returns the packet-loss percentage and
// bitrate to apply (bitrate 0 when bitrate adaptation is off), and whether
// either differs from what was last returned. The first call always
// reports a change.
func (p *LossPolicy) Update(r Report) (lossPct, bitrate int, changed bool) {
	fractionLost := r.FractionLost
	if r.RTT > 0 && (p.minRTT == 0 || r.RTT < p.minRTT) {
		p.minRTT = r.RTT
	}
	queued := r.RTT <= 0 || r.RTT-p.minRTT >= p.cfg.QueueDelay
	if math.IsNaN(fractionLost) || fractionLost < 0 {
		fractionLost = 0
	}
	fractionLost = min(fractionLost, 1)
	if fractionLost >= p.estimate {
		p.estimate = fractionLost
	} else {
		p.estimate = 0.7*p.estimate + 0.3*fractionLost
		if p.estimate < 0.001 {
			p.estimate = 0
		}
	}

	want := int(math.Ceil(p.estimate*100 - 1e-9))
	want = max(p.cfg.MinLossPct, min(want, p.cfg.MaxLossPct))
	if !p.started || abs(want-p.lossPct) >= 2 || (want != p.lossPct && (want == p.cfg.MinLossPct || want == p.cfg.MaxLossPct)) {
		if want != p.lossPct {
			changed = true
		}
		p.lossPct = want
	}

	if p.cfg.MaxBitrate > 0 {
		b := p.bitrate
		minB := min(p.cfg.MinBitrate, p.cfg.MaxBitrate)
		switch {
		case fractionLost > 0.10:
			cut := int(float64(b) * (1 - 0.5*fractionLost))
			switch half := p.cfg.MaxBitrate / 2; {
			case queued:
				b = cut
			case fractionLost >= heavyLoss && b > half:
				b = max(cut, half)
			}
		case fractionLost < 0.02:
			b = int(math.Ceil(float64(b) * 1.05))
		}
		b = max(minB, min(b, p.cfg.MaxBitrate))
		if b != p.bitrate {
			changed = true
			p.bitrate = b
		}
	}
	if !p.started || p.moved {
		p.started, p.moved = true, false
		changed = true
	}
	return p.lossPct, p.bitrate, changed
}

// heavyLoss is the loss at which the rate comes down without a visible
// queue, to no less than half the ceiling (see LossPolicy).
const heavyLoss = 0.20

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}
