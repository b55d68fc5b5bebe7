package rx

import (
	"fmt"
	"slices"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/opus"
)

// Jitter buffer defaults (JitterConfig).
const (
	// DefaultMinDelay and DefaultMaxDelay bound the target delay: 40 ms
	// is two 20 ms packets, the least that rides out one late packet;
	// 200 ms is where a conversation starts to feel like a walkie-talkie.
	DefaultMinDelay = 40 * time.Millisecond
	DefaultMaxDelay = 200 * time.Millisecond
	// DefaultWindow is how many recent packets the arrival-delay
	// distribution is taken over: 5 s of 20 ms packets.
	DefaultWindow = 250
)

// jitterSlots is how many packets a Jitter holds by sequence number: 1.28 s
// of 20 ms packets, more than DefaultMaxDelay of 2.5 ms ones. A packet
// further ahead than that restarts the playout (the sender restarted).
const jitterSlots = 64

// starveConceal is how many packet lengths of PLC a starving Jitter plays
// (nothing newer has arrived) before it plays silence: 100 ms of 20 ms
// packets. Past that PLC only hums, and the sender is more likely
// pausing (DTX) than lost.
const starveConceal = 5

// stepDur is the time-scale step of delay adaptation: one shrink (a
// crossfade that skips this much audio) or one grow (a PLC insert of this
// length) per Pull, at most, while the delay is further than tolerance from
// the target. 2.5 ms is Opus's smallest PLC unit.
const (
	stepDur   = 2500 * time.Microsecond
	tolerance = 10 * time.Millisecond
)

// JitterConfig configures a Jitter.
type JitterConfig struct {
	// Channels is the number of channels to decode, 1 or 2.
	Channels int
	// Rate is the output rate: 8, 12, 16, 24 or 48 kHz.
	Rate audio.SampleRate
	// Min and Max bound the target delay. Default: DefaultMinDelay,
	// DefaultMaxDelay.
	Min, Max time.Duration
	// Window is how many recent packets the target is computed over.
	// Default: DefaultWindow.
	Window int
}

// SetDefaults fills zero fields with their defaults.
func (c *JitterConfig) SetDefaults() {
	if c.Min == 0 {
		c.Min = DefaultMinDelay
	}
	if c.Max == 0 {
		c.Max = DefaultMaxDelay
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
}

// JitterStats are a Jitter's counters and delays.
type JitterStats struct {
	// Packets counts packets received (not Late, not duplicates).
	Packets int64 `json:"packets"`
	// Lost counts packets never received by the time they were due.
	Lost int64 `json:"lost"`
	// Late counts packets that arrived after their time was played (or
	// twice).
	Late int64 `json:"late"`
	// Recovered counts lost packets decoded from the FEC of the packet
	// after them; Concealed counts packet lengths played by PLC (lost or
	// starving; not the 2.5 ms inserts that grow the delay).
	Recovered int64 `json:"recovered"`
	Concealed int64 `json:"concealed"`
	// Underruns counts the times the buffer ran dry mid-stream: nothing
	// was there to play and nothing newer had arrived.
	Underruns int64 `json:"underruns"`
	// Corrupt counts packets the decoder refused or too long to keep.
	Corrupt int64 `json:"corrupt"`
	// Resets counts playout restarts (a sequence jump, a long pause in
	// pulling).
	Resets int64 `json:"resets"`
	// Target is the delay aimed at: the 95th percentile of the recent
	// arrival delays (relative to the fastest), within Min..Max. Delay is
	// the current one: how long after the fastest possible arrival the
	// audio being played is played.
	Target time.Duration `json:"target_ns"`
	Delay  time.Duration `json:"delay_ns"`
}

type jslot struct {
	used    bool
	seq     uint16
	ts      int64 // extended RTP timestamp (48 kHz)
	n       int
	payload [MaxPayload]byte
}

// Jitter is an adaptive jitter buffer for one track, driven by a playback
// clock: Push files packets by sequence number as they arrive; Pull gives
// the next stretch of audio whenever the playback device needs it. The
// audio is placed by RTP timestamp, so a lost packet is concealed (Opus
// in-band FEC when the packet after it is there, PLC otherwise) and time
// nobody sent (DTX) is silence. The delay between the fastest possible
// arrival and playout follows a target, the 95th percentile of the recent
// arrival delays within Min..Max, by skipping 2.5 ms with a crossfade or
// inserting 2.5 ms of PLC per Pull.
//
// Jitter is not safe for concurrent use. Push copies the payload; Pull
// writes into the caller's buffer. Neither allocates after New.
type Jitter struct {
	cfg   JitterConfig
	k     int64 // 48 kHz RTP ticks per output sample
	dec   *opus.Decoder
	stats JitterStats

	slots [jitterSlots]jslot

	// Push side.
	any     bool  // a packet since the last reset
	maxTS   int64 // highest extended timestamp seen
	firstSq uint16
	transit []int64 // window ring: arrival minus send time, ns
	tn, ti  int
	minTr   int64
	sorted  []int64

	// Pull side.
	started  bool
	nextSeq  uint16
	endTS    int64 // timestamp just after the audio in fifo
	lastN    int   // samples per channel of the last packet
	starving int   // packet lengths played while starving
	lastPull time.Time
	shrink   bool
	grow     bool

	fifo   []float32
	lo, hi int // fifo[lo:hi] is queued audio, interleaved
	step   int // samples per channel of a time-scale step
}

// NewJitter returns a Jitter for cfg (defaults filled in).
func NewJitter(cfg JitterConfig) (*Jitter, error) {
	cfg.SetDefaults()
	if cfg.Channels != 1 && cfg.Channels != 2 {
		return nil, fmt.Errorf("%w: %d channels, want 1 or 2", ErrConfig, cfg.Channels)
	}
	switch cfg.Rate {
	case 8000, 12000, 16000, 24000, 48000:
	default:
		return nil, fmt.Errorf("%w: rate %d Hz, want 8, 12, 16, 24 or 48 kHz", ErrConfig, cfg.Rate)
	}
	if cfg.Min < 0 || cfg.Max < cfg.Min || cfg.Max > time.Second {
		return nil, fmt.Errorf("%w: delay bounds %v..%v, want 0 <= min <= max <= 1s", ErrConfig, cfg.Min, cfg.Max)
	}
	if cfg.Window < 10 || cfg.Window > 5000 {
		return nil, fmt.Errorf("%w: window of %d packets, want 10..5000", ErrConfig, cfg.Window)
	}
	dec, err := opus.NewDecoder(cfg.Rate, cfg.Channels)
	if err != nil {
		return nil, err
	}
	j := &Jitter{
		cfg:     cfg,
		k:       48000 / int64(cfg.Rate),
		dec:     dec,
		transit: make([]int64, cfg.Window),
		sorted:  make([]int64, cfg.Window),
		// Room for the longest packet, one more, and the longest Pull.
		fifo: make([]float32, 4*dec.MaxFrameLen()*cfg.Channels),
		step: cfg.Rate.Samples(stepDur),
	}
	j.stats.Target = cfg.Min
	return j, nil
}

// MaxPull is the most samples per channel one Pull may ask for.
func (j *Jitter) MaxPull() int { return j.dec.MaxFrameLen() }

// SetBounds changes the target delay's bounds (a config change).
func (j *Jitter) SetBounds(lo, hi time.Duration) {
	if lo >= 0 && hi >= lo {
		j.cfg.Min, j.cfg.Max = lo, hi
	}
}

// Queued returns how many packets wait to be played.
func (j *Jitter) Queued() int {
	n := 0
	for i := range j.slots {
		if j.slots[i].used {
			n++
		}
	}
	return n
}

// Stats returns the counters and delays.
func (j *Jitter) Stats() JitterStats { return j.stats }

// Push files a packet that arrived at at. It does not allocate.
func (j *Jitter) Push(p Packet, at time.Time) {
	if len(p.Payload) > MaxPayload || len(p.Payload) == 0 {
		j.stats.Corrupt++
		return
	}
	if !j.any {
		j.any, j.maxTS, j.firstSq = true, int64(p.Timestamp), p.Seq
	}
	ts := j.maxTS + int64(int32(p.Timestamp-uint32(j.maxTS)))
	j.maxTS = max(j.maxTS, ts)
	j.observe(at.UnixNano() - ts*int64(time.Second)/48000)
	if j.started {
		d := int16(p.Seq - j.nextSeq)
		if d < 0 {
			j.stats.Late++
			return
		}
		if int(d) >= jitterSlots {
			j.reset()
			j.Push(p, at)
			return
		}
	} else if d := int16(p.Seq - j.firstSq); d < 0 {
		if int(-d) >= jitterSlots {
			return // far behind what waits to start: stale
		}
		j.firstSq = p.Seq
	} else if int(d) >= jitterSlots {
		// Nobody pulled while a buffer's worth arrived (the output is
		// away): start afresh from here.
		j.reset()
		j.Push(p, at)
		return
	}
	s := &j.slots[p.Seq%jitterSlots]
	if s.used && s.seq == p.Seq {
		j.stats.Late++ // a duplicate
		return
	}
	s.used, s.seq, s.ts = true, p.Seq, ts
	s.n = copy(s.payload[:], p.Payload)
	j.stats.Packets++
}

// observe adds one packet's transit time to the window and updates the
// target: the 95th percentile of the transits less the fastest.
func (j *Jitter) observe(tr int64) {
	j.transit[j.ti] = tr
	j.ti = (j.ti + 1) % len(j.transit)
	j.tn = min(j.tn+1, len(j.transit))
	w := j.transit[:j.tn] // the ring fills from 0 up
	j.minTr = slices.Min(w)
	s := j.sorted[:len(w)]
	copy(s, w)
	slices.Sort(s)
	p95 := time.Duration(s[(len(s)*95+99)/100-1] - j.minTr)
	j.stats.Target = min(max(p95, j.cfg.Min), j.cfg.Max)
}

// reset drops everything queued and restarts the playout at the next
// packet pushed.
func (j *Jitter) reset() {
	for i := range j.slots {
		j.slots[i].used = false
	}
	j.any, j.started, j.tn, j.ti = false, false, 0, 0
	j.lo, j.hi, j.starving, j.shrink, j.grow = 0, 0, 0, false, false
	j.stats.Resets++
}

// delay is the current delay at now: how long after the fastest possible
// arrival the next sample to play is played.
func (j *Jitter) delay(now time.Time) time.Duration {
	play := j.endTS - int64((j.hi-j.lo)/j.cfg.Channels)*j.k
	return time.Duration(now.UnixNano() - j.minTr - play*int64(time.Second)/48000)
}

// Pull fills out (whole frames, at most MaxPull samples per channel) with
// the audio due at now, and reports whether the track is playing (false:
// out is silence, nothing has been due yet). It does not allocate.
func (j *Jitter) Pull(now time.Time, out []float32) bool {
	ch := j.cfg.Channels
	n := len(out) / ch
	if j.started && !j.lastPull.IsZero() && now.Sub(j.lastPull) > j.cfg.Max+time.Second {
		// Nobody pulled for a long while: what waits is stale.
		j.reset()
	}
	j.lastPull = now
	if !j.started && !j.start(now) {
		clear(out)
		return false
	}
	d := j.delay(now)
	j.stats.Delay = d
	switch t := j.stats.Target; {
	case d > t+tolerance:
		j.shrink, j.grow = true, false
	case d < t-tolerance:
		j.grow, j.shrink = true, false
	case j.shrink && d <= t, j.grow && d >= t:
		j.shrink, j.grow = false, false
	}
	if j.grow && j.hi-j.lo < (n+j.step)*ch {
		// Grow: PLC continues the signal for one step, before the next
		// packet's audio.
		j.room(j.step * ch)
		if _, err := j.dec.DecodePLC(j.fifo[j.hi : j.hi+j.step*ch]); err == nil {
			j.hi += j.step * ch
		}
	}
	want := n
	if j.shrink {
		want += 2 * j.step
	}
	for j.hi-j.lo < want*ch {
		j.produce()
	}
	if j.shrink {
		// Skip one step: crossfade from now into a step ahead.
		f, s, L := j.fifo[j.lo:j.hi], j.step*ch, j.step
		for i := 0; i < L; i++ {
			w := float32(i+1) / float32(L+1)
			for c := 0; c < ch; c++ {
				f[i*ch+c] = f[i*ch+c]*(1-w) + f[i*ch+s+c]*w
			}
		}
		copy(f[L*ch:], f[L*ch+s:])
		j.hi -= s
	}
	copy(out, j.fifo[j.lo:j.lo+n*ch])
	j.lo += n * ch
	return true
}

// start begins the playout once the first packet waiting has been delayed
// by the target.
func (j *Jitter) start(now time.Time) bool {
	if !j.any {
		return false
	}
	s := &j.slots[j.firstSq%jitterSlots]
	if !s.used || s.seq != j.firstSq {
		return false
	}
	j.started, j.nextSeq, j.endTS, j.lo, j.hi = true, j.firstSq, s.ts, 0, 0
	if j.delay(now) < j.stats.Target {
		j.started = false
		return false
	}
	return true
}

// room makes space for n more samples at hi.
func (j *Jitter) room(n int) {
	if j.hi+n > len(j.fifo) {
		copy(j.fifo, j.fifo[j.lo:j.hi])
		j.hi -= j.lo
		j.lo = 0
	}
}

// produce appends the next piece of the timeline to the fifo: the next
// packet decoded, its concealment, or silence.
func (j *Jitter) produce() {
	ch := j.cfg.Channels
	maxLen := j.dec.MaxFrameLen()
	j.room(maxLen * ch)
	buf := j.fifo[j.hi : j.hi+maxLen*ch]
	s := &j.slots[j.nextSeq%jitterSlots]
	if !s.used || s.seq != j.nextSeq {
		later := 0
		for i := 1; i < jitterSlots; i++ {
			if t := &j.slots[(j.nextSeq+uint16(i))%jitterSlots]; t.used && t.seq == j.nextSeq+uint16(i) {
				later = i
				break
			}
		}
		plen := j.lastN
		if plen == 0 {
			plen = j.cfg.Rate.Samples(20 * time.Millisecond)
		}
		if later > 0 {
			// Lost: the packet after it is here, so its time is due.
			j.stats.Lost++
			j.starving = 0
			nx := &j.slots[(j.nextSeq+1)%jitterSlots]
			if later == 1 && j.lastN > 0 && j.dec.DecodeFEC(nx.payload[:nx.n], buf[:plen*ch]) == nil {
				j.stats.Recovered++
			} else if j.lastN == 0 || j.conceal(buf[:plen*ch]) != nil {
				clear(buf[:plen*ch])
			}
			j.nextSeq++
			j.hi += plen * ch
			j.endTS += int64(plen) * j.k
			return
		}
		// Starving: nothing newer has arrived. Conceal a while, then
		// silence; the sequence waits for the packet.
		if j.starving == 0 {
			j.stats.Underruns++
		}
		j.starving++
		if j.starving > starveConceal || j.lastN == 0 || j.conceal(buf[:plen*ch]) != nil {
			clear(buf[:plen*ch])
		}
		j.hi += plen * ch
		j.endTS += int64(plen) * j.k
		return
	}
	gap := s.ts - j.endTS
	switch {
	case gap < 0 && -gap >= int64(max(j.lastN, 1))*j.k:
		// Its time was played (concealed) while starving: late.
		s.used = false
		j.nextSeq++
		j.stats.Late++
		j.stats.Packets--
		return
	case gap > int64(j.cfg.Rate.Samples(2*time.Second))*j.k:
		// The sender's clock jumped: continue from its timestamp.
		j.endTS = s.ts
		return
	case gap >= j.k:
		// Time nobody sent (DTX, a pause): silence, up to the packet.
		n := min(int(gap/j.k), maxLen)
		clear(buf[:n*ch])
		j.hi += n * ch
		j.endTS += int64(n) * j.k
		return
	}
	s.used = false
	j.nextSeq++
	j.starving = 0
	n, err := j.dec.Decode(s.payload[:s.n], buf)
	if err != nil {
		j.stats.Corrupt++
		return
	}
	j.lastN = n
	j.hi += n * ch
	j.endTS = s.ts + int64(n)*j.k
}

// conceal plays one packet length of PLC into buf.
func (j *Jitter) conceal(buf []float32) error {
	_, err := j.dec.DecodePLC(buf)
	if err == nil {
		j.stats.Concealed++
	}
	return err
}
