package dsp

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/onair-gateway/onair/audio"
)

// Meter ballistics: the peak reading falls 20 dB in 1.7 s after a peak
// (IEC 60268-10 type I peak programme meter), the RMS reading integrates
// over 300 ms (a VU meter's time).
const (
	meterFallDB   = 20.0
	meterFallTime = 1700 * time.Millisecond
	meterRMSTau   = 300 * time.Millisecond
)

// Level is a meter reading of one channel.
type Level struct {
	// PeakDBFS is the peak level with a falling hold, in dBFS (-120 for
	// silence).
	PeakDBFS float64 `json:"peak_dbfs"`
	// RMSDBFS is the RMS level over about 300 ms, in dBFS (-120 for
	// silence).
	RMSDBFS float64 `json:"rms_dbfs"`
}

// Meters is a snapshot of a Chain's meters.
type Meters struct {
	// In has one reading per capture channel, of the samples as captured
	// (before high-pass and gains), so it shows clipping at the converter.
	In []Level
	// Out has one reading per output channel, after the limiter and
	// before the on-air gate: what goes on air when on air.
	Out []Level
	// Voice says whether the last frame held voice (with a 150 ms
	// hangover).
	Voice bool
	// Invalid counts capture frames that held NaN or infinite samples and
	// were replaced by silence; Rejected counts frames of the wrong shape
	// or rate for the chain, for which it output silence.
	Invalid, Rejected uint64
}

// Meter measures the peak and RMS level of each channel of the frames it
// passes through. Readings are published through atomics after every frame,
// so Level may be called from any goroutine without locks; the ballistics
// mean a reader polling a few times a second misses no peak.
type Meter struct {
	ch     int
	rate   audio.SampleRate
	maxLen int
	fall   float64 // peak factor per sample, as a log: ln(fall)
	fallL  float64 // peak factor per maxLen samples
	aRMS   float64 // RMS smoothing per maxLen samples
	pk, ms []float64
	// frameMS and frameMean hold the mean square and the mean of each
	// channel in the last frame, for the goroutine that calls Process.
	frameMS, frameMean []float64
	peak               []atomic.Uint64 // math.Float64bits of the linear peak
	rms                []atomic.Uint64 // math.Float64bits of the linear RMS
}

var _ audio.Stage = (*Meter)(nil)

// NewMeter builds a meter for frames of format f.
func NewMeter(f audio.Format) (*Meter, error) {
	if err := checkFormat(f); err != nil {
		return nil, err
	}
	fall := -meterFallDB / 20 * math.Ln10 / (meterFallTime.Seconds() * float64(f.Rate))
	return &Meter{
		ch:     f.Channels,
		rate:   f.Rate,
		maxLen: f.FrameLen(),
		fall:   fall,
		fallL:  math.Exp(fall * float64(f.FrameLen())),
		aRMS:   smoothCoef(meterRMSTau, f.FrameLen(), f.Rate),
		pk:     make([]float64, f.Channels),
		ms:     make([]float64, f.Channels),

		frameMS:   make([]float64, f.Channels),
		frameMean: make([]float64, f.Channels),
		peak:      make([]atomic.Uint64, f.Channels),
		rms:       make([]atomic.Uint64, f.Channels),
	}, nil
}

// Channels returns the number of channels the meter reads.
func (m *Meter) Channels() int { return m.ch }

// Level returns the reading of channel c. It is safe to call from any
// goroutine.
func (m *Meter) Level(c int) Level {
	if c < 0 || c >= m.ch {
		return Level{PeakDBFS: -120, RMSDBFS: -120}
	}
	return Level{
		PeakDBFS: DBFS(math.Float64frombits(m.peak[c].Load())),
		RMSDBFS:  DBFS(math.Float64frombits(m.rms[c].Load())),
	}
}

// Process implements audio.Stage: it copies src to dst (they may be the
// same frame) and measures it.
func (m *Meter) Process(dst, src *audio.Frame) {
	if !shapeOK(dst, src, m.ch, m.ch) {
		return
	}
	m.measure(src.Samples)
	if dst != src {
		copy(dst.Samples, src.Samples)
	}
}

// measure updates the readings with interleaved samples of m.ch channels
// and reports whether they were all finite.
func (m *Meter) measure(s []float32) bool {
	l := len(s) / m.ch
	if l == 0 {
		return true
	}
	fallL, a := m.fallL, m.aRMS
	if l != m.maxLen {
		fallL = math.Exp(m.fall * float64(l))
		a = smoothCoef(meterRMSTau, l, m.rate)
	}
	ok := true
	for c := 0; c < m.ch; c++ {
		p, sq, sum := channelStats(s, c, m.ch)
		if math.IsNaN(sq) || math.IsInf(sq, 0) {
			ok = false
			m.frameMS[c], m.frameMean[c] = 0, 0
			continue
		}
		ms := sq / float64(l)
		m.frameMS[c], m.frameMean[c] = ms, sum/float64(l)
		m.pk[c] = math.Max(float64(p), m.pk[c]*fallL)
		m.ms[c] += a * (ms - m.ms[c])
		m.peak[c].Store(math.Float64bits(m.pk[c]))
		m.rms[c].Store(math.Float64bits(math.Sqrt(m.ms[c])))
	}
	return ok
}

// acPower returns the mean over the first len(gain2) channels of the power
// of the last frame without its DC (mean square minus squared mean), each
// scaled by its entry in gain2 (a power gain). It is what the chain's voice
// detector listens to, independent of where a beam points.
func (m *Meter) acPower(gain2 []float64) float64 {
	var p float64
	for c, g := range gain2 {
		p += g * max(0, m.frameMS[c]-m.frameMean[c]*m.frameMean[c])
	}
	return p / float64(len(gain2))
}

// channelStats returns the peak |v|, the sum of squares and the sum of
// channel c of interleaved samples with ch channels. The peak compares the
// bit patterns of |v| (see peakAbs); two sets of accumulators halve the
// dependency chains.
func channelStats(s []float32, c, ch int) (float32, float64, float64) {
	const abs = 1<<31 - 1
	var p0, p1 uint32
	var q0, q1, s0, s1 float32
	i := c
	for ; i+ch < len(s); i += 2 * ch {
		a, b := s[i], s[i+ch]
		q0 += a * a
		q1 += b * b
		s0 += a
		s1 += b
		p0 = max(p0, math.Float32bits(a)&abs)
		p1 = max(p1, math.Float32bits(b)&abs)
	}
	if i < len(s) {
		a := s[i]
		q0 += a * a
		s0 += a
		p0 = max(p0, math.Float32bits(a)&abs)
	}
	return math.Float32frombits(max(p0, p1)), float64(q0 + q1), float64(s0 + s1)
}

// LevelMeter accumulates the RMS and peak level of mono samples and
// estimates their dominant frequency from rising zero crossings, over
// everything given since it started (Restart begins a new window). It is
// what a listener reads off a received stream; Meter is the capture
// chain's ballistic meter. The zero value is ready; it does not allocate
// and is not safe for concurrent use.
type LevelMeter struct {
	peak    float64
	sumSq   float64
	n       int64
	zcN     int64   // rising zero crossings
	zcFirst float64 // stream position of the first one
	zcLast  float64 // and of the last one
	prev    float32
	env     float32 // magnitude envelope, for the crossing hysteresis
	armed   bool    // the signal went clearly negative since the last crossing
	started bool
}

// levelEnvRelease makes the envelope fall to 1/e in about 50 ms at 48 kHz.
const levelEnvRelease = 0.99958

// levelHysteresis is the fraction of the envelope the signal must fall
// below zero before the next rising crossing counts, so that noise riding
// on a crossing (coding noise, hiss) does not count as extra periods.
const levelHysteresis = 0.3

// Add takes samples x starting at stream position pos.
func (m *LevelMeter) Add(x []float32, pos int64) {
	for i, v := range x {
		f := float64(v)
		if a := math.Abs(f); a > m.peak {
			m.peak = a
		}
		m.sumSq += f * f
		if a := float32(math.Abs(f)); a > m.env {
			m.env = a
		} else {
			m.env *= levelEnvRelease
		}
		if v < -levelHysteresis*m.env {
			m.armed = true
		}
		if m.started && m.armed && m.prev < 0 && v >= 0 {
			m.armed = false
			// Interpolate where the signal crossed zero.
			at := float64(pos+int64(i)-1) + float64(-m.prev)/float64(v-m.prev)
			if m.zcN == 0 {
				m.zcFirst = at
			}
			m.zcN++
			m.zcLast = at
		}
		m.prev, m.started = v, true
	}
	m.n += int64(len(x))
}

// DBFS returns the RMS and peak level in dBFS (-120 for silence or
// nothing measured).
func (m *LevelMeter) DBFS() (rms, peak float64) {
	if m.n == 0 {
		return -120, -120
	}
	return DBFS(math.Sqrt(m.sumSq / float64(m.n))), DBFS(m.peak)
}

// Freq returns the dominant frequency at rate estimated from rising zero
// crossings (periods between the first and the last, each crossing counted
// only after the signal fell clearly below zero), 0 when there are too
// few.
func (m *LevelMeter) Freq(rate audio.SampleRate) float64 {
	if m.zcN < 3 || m.zcLast <= m.zcFirst {
		return 0
	}
	return float64(m.zcN-1) * float64(rate) / (m.zcLast - m.zcFirst)
}

// Restart forgets what was measured but keeps the crossing state, so a
// window starts where the last one ended.
func (m *LevelMeter) Restart() {
	*m = LevelMeter{prev: m.prev, env: m.env, armed: m.armed, started: m.started}
}
