package main

import (
	"errors"
	"io"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/marks"
	"github.com/onair-gateway/onair/audio/opus"
	"github.com/onair-gateway/onair/net/room"
)

// maxConceal is the longest run of lost packets concealed with PLC (50
// packets of 20 ms: one second). A longer gap is a pause of the sender or a
// reconnect: the decoder restarts there, and the timeline gets silence.
const maxConceal = 50

// maxGap caps the silence written for a jump in RTP time (DTX, a pause of
// the sender): 10 s.
const maxGap = 10 * 48000

// decoderWarmup is how much of a new decoder's output the meters skip.
const decoderWarmup = 200 * time.Millisecond

// latencyKeep is how many latency measurements a participant keeps for
// its median: at one mark a second, more than an hour.
const latencyKeep = 4096

// meter accumulates level and zero crossings of mono samples.
type meter struct {
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

// envRelease makes the envelope fall to 1/e in about 50 ms at 48 kHz.
const envRelease = 0.99958

// hysteresis is the fraction of the envelope the signal must fall below
// zero before the next rising crossing counts, so that noise riding on a
// crossing (coding noise, hiss) does not count as extra periods.
const hysteresis = 0.3

// add takes samples starting at stream position pos.
func (m *meter) add(x []float32, pos int64) {
	for i, v := range x {
		f := float64(v)
		if a := math.Abs(f); a > m.peak {
			m.peak = a
		}
		m.sumSq += f * f
		if a := float32(math.Abs(f)); a > m.env {
			m.env = a
		} else {
			m.env *= envRelease
		}
		if v < -hysteresis*m.env {
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

// dbfs returns RMS and peak level in dBFS (floor -120).
func (m *meter) dbfs() (rms, peak float64) {
	if m.n == 0 {
		return -120, -120
	}
	return toDB(math.Sqrt(m.sumSq / float64(m.n))), toDB(m.peak)
}

// freq returns the dominant frequency estimated from rising zero crossings
// (periods between the first and the last, each crossing counted only after
// the signal fell clearly below zero), 0 when there are too few.
func (m *meter) freq(rate audio.SampleRate) float64 {
	if m.zcN < 3 || m.zcLast <= m.zcFirst {
		return 0
	}
	return float64(m.zcN-1) * float64(rate) / (m.zcLast - m.zcFirst)
}

// restart forgets what was measured but keeps the crossing state, so a
// window starts where the last one ended.
func (m *meter) restart() {
	*m = meter{prev: m.prev, env: m.env, armed: m.armed, started: m.started}
}

func toDB(a float64) float64 {
	if a <= 1e-6 {
		return -120
	}
	return 20 * math.Log10(a)
}

// participant is what the listener knows about one remote identity, across
// its tracks and reconnects. Its fields are guarded by mu.
type participant struct {
	mu        sync.Mutex
	identity  string
	tracks    int // tracks seen
	active    int // tracks being read
	packets   int64
	lost      int64
	late      int64 // reordered or duplicated: not decoded
	concealed int64 // packets replaced by PLC or FEC
	corrupt   int64 // packets the decoder refused
	jitter    float64
	window    meter // since the last display refresh
	total     meter // since the start
	latency   []time.Duration
	lastLat   time.Duration
	crypto    []room.CryptoTrack // tracks that know about encryption
	noKey     bool               // an encrypted track arrived and we hold no key
	goneAt    time.Time          // when its last track ended (zero while one is active)
	warnedKey bool               // the wrong-key warning was given
}

// e2eeState says how a participant's audio is protected, as shown: "off",
// "on" (encrypted, and decrypted here) or "no-key". p.mu is held.
func (p *participant) e2eeState() (state string, undecryptable uint64) {
	state = "off"
	for _, c := range p.crypto {
		if c.Encrypted() {
			state = "on"
		}
		undecryptable += c.Undecryptable()
	}
	if p.noKey {
		state = "no-key"
	}
	return state, undecryptable
}

func (p *participant) addLatency(d time.Duration) {
	if len(p.latency) == latencyKeep {
		copy(p.latency, p.latency[1:])
		p.latency = p.latency[:latencyKeep-1]
	}
	p.latency = append(p.latency, d)
	p.lastLat = d
}

// snapshot is a copy of a participant's figures for display.
type snapshot struct {
	Identity              string
	Active                bool
	Packets, Lost, Late   int64
	Concealed, Corrupt    int64
	LossPct               float64
	LevelDB, PeakDB, Freq float64
	Jitter                time.Duration
	Latency, LatMedian    time.Duration
	Marks                 int
	E2EE                  string // off, on or no-key
	Undecryptable         uint64
}

// snap copies the figures; window selects the meter since the last call
// (the live view) or over the whole run (the summary).
func (p *participant) snap(window bool, rate audio.SampleRate) snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := &p.total
	if window {
		m = &p.window
	}
	s := snapshot{
		Identity: p.identity, Active: p.active > 0,
		Packets: p.packets, Lost: p.lost, Late: p.late, Concealed: p.concealed, Corrupt: p.corrupt,
		Jitter: time.Duration(p.jitter * float64(time.Second)), Latency: p.lastLat, Marks: len(p.latency),
	}
	s.E2EE, s.Undecryptable = p.e2eeState()
	if exp := p.packets + p.lost; exp > 0 {
		s.LossPct = 100 * float64(p.lost) / float64(exp)
	}
	s.LevelDB, s.PeakDB = m.dbfs()
	s.Freq = m.freq(rate)
	if len(p.latency) > 0 {
		l := append([]time.Duration(nil), p.latency...)
		sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
		s.LatMedian = l[len(l)/2]
	}
	if window {
		p.window.restart()
	}
	return s
}

// arrival maps a run of decoded samples to when its packet arrived.
type arrival struct {
	pos int64
	n   int
	at  time.Time
}

// trackReader decodes one remote track and feeds its participant's figures,
// the mark detector and the WAV file. It runs on its own goroutine; all its
// buffers are allocated once.
type trackReader struct {
	p        *participant
	tr       room.RemoteTrack
	dec      *opus.Decoder
	channels int
	rate     audio.SampleRate
	wav      *wavWriter
	origin   int64 // the track's first sample in the WAV timeline
	clock    func() time.Time
	sealed   bool // encrypted and no key: counted, never decoded
	warm     int  // decoded samples the meters still skip (decoder warm-up)

	buf    []byte
	pcm    []float32
	mono   []float32
	zeros  []float32 // silence fed to the detector over gaps
	det    *marks.Detector
	onsets []int64
	ring   []arrival // recent packets, for the marks' arrival times
	ringAt int

	pos       int64 // samples per channel decoded so far
	started   bool
	lastSeq   uint16
	lastTS    uint32
	lastN     int
	transit   float64 // RFC 3550 A.8, in seconds
	haveTrans bool
}

func newTrackReader(p *participant, tr room.RemoteTrack, channels int, wav *wavWriter, clock func() time.Time) (*trackReader, error) {
	dec, err := opus.NewDecoder(audio.Rate48k, channels)
	if err != nil {
		return nil, err
	}
	return &trackReader{
		p: p, tr: tr, dec: dec, channels: channels, rate: audio.Rate48k, wav: wav, clock: clock,
		buf:    make([]byte, 1500),
		pcm:    make([]float32, dec.MaxFrameLen()*channels),
		mono:   make([]float32, dec.MaxFrameLen()),
		zeros:  make([]float32, 960),
		warm:   audio.Rate48k.Samples(decoderWarmup),
		det:    marks.NewDetector(audio.Rate48k),
		onsets: make([]int64, 0, 8),
		ring:   make([]arrival, 256), // 2.5 s of 10 ms packets
	}, nil
}

// run reads until the track ends.
func (r *trackReader) run() error {
	for {
		pkt, err := r.tr.ReadPacket(r.buf)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		r.packet(pkt, r.clock())
	}
}

// packet handles one received packet that arrived at now.
func (r *trackReader) packet(pkt room.Packet, now time.Time) {
	if r.sealed {
		// Ciphertext decoded as Opus is loud noise: count, never play.
		r.p.mu.Lock()
		r.p.packets++
		r.jitter(pkt, now)
		r.p.mu.Unlock()
		return
	}
	if !r.started {
		r.started = true
		if r.wav != nil {
			r.origin = r.wav.position(now)
		}
		r.decode(pkt, now)
		return
	}
	// RFC 3550 A.1: the sequence delta, modulo 2^16.
	d := int16(pkt.Seq - r.lastSeq)
	if d <= 0 {
		r.p.mu.Lock()
		r.p.late++
		r.p.mu.Unlock()
		return
	}
	missing := int(d) - 1
	concealed := 0
	if missing > 0 {
		r.p.mu.Lock()
		r.p.lost += int64(missing)
		r.p.mu.Unlock()
		if missing <= maxConceal {
			for i := 0; i < missing; i++ {
				frame := r.pcm[:r.lastN*r.channels]
				var err error
				if i == missing-1 {
					// The packet after a loss may carry the lost one
					// (RFC 6716 §2.1.7).
					err = r.dec.DecodeFEC(pkt.Payload, frame)
				} else {
					_, err = r.dec.DecodePLC(frame)
				}
				if err != nil {
					break
				}
				r.emit(frame, now)
				concealed += r.lastN
			}
			r.p.mu.Lock()
			r.p.concealed += int64(concealed / max(r.lastN, 1))
			r.p.mu.Unlock()
		}
	}
	// Whatever RTP time is still unaccounted for (DTX, a long loss) is
	// silence on the timeline.
	if gap := int64(int32(pkt.Timestamp-(r.lastTS+uint32(r.lastN)))) - int64(concealed); gap > 0 {
		r.silence(min(gap, maxGap))
	}
	r.decode(pkt, now)
}

func (r *trackReader) decode(pkt room.Packet, now time.Time) {
	n, err := r.dec.Decode(pkt.Payload, r.pcm)
	r.p.mu.Lock()
	r.p.packets++
	if err != nil {
		r.p.corrupt++
	}
	r.jitter(pkt, now)
	r.p.mu.Unlock()
	r.lastSeq, r.lastTS = pkt.Seq, pkt.Timestamp
	if err != nil {
		return
	}
	r.lastN = n
	r.emit(r.pcm[:n*r.channels], now)
}

// jitter updates the interarrival jitter estimate (RFC 3550 §6.4.1, A.8)
// in seconds. r.p.mu is held.
func (r *trackReader) jitter(pkt room.Packet, now time.Time) {
	transit := float64(now.UnixNano())/1e9 - float64(pkt.Timestamp)/float64(r.rate)
	if r.haveTrans {
		d := transit - r.transit
		// The timestamp wraps every 24.8 h at 48 kHz; ignore that step.
		if math.Abs(d) < 10 {
			r.p.jitter += (math.Abs(d) - r.p.jitter) / 16
		}
	}
	r.transit, r.haveTrans = transit, true
}

// emit hands decoded samples (interleaved) to the meters, the detector and
// the WAV file.
func (r *trackReader) emit(frame []float32, now time.Time) {
	n := len(frame) / r.channels
	mono := r.mono[:n]
	if r.channels == 1 {
		copy(mono, frame)
	} else {
		for i := range mono {
			mono[i] = (frame[2*i] + frame[2*i+1]) / 2
		}
	}
	r.ring[r.ringAt] = arrival{pos: r.pos, n: n, at: now}
	r.ringAt = (r.ringAt + 1) % len(r.ring)

	// A decoder that starts mid-stream has no history: its first output
	// rings (a 1 kHz tone came out with 26 crossings and a peak 4.5 dB
	// high in its first 20 ms, and settled over about 150 ms). The meters
	// measure what was sent, so they skip that warm-up; the WAV file and
	// the mark detector keep it.
	skip := min(r.warm, n)
	r.warm -= skip
	if skip < n {
		r.p.mu.Lock()
		r.p.window.add(mono[skip:], r.pos+int64(skip))
		r.p.total.add(mono[skip:], r.pos+int64(skip))
		r.p.mu.Unlock()
	}
	r.detect(mono)
	if r.wav != nil {
		r.wav.add(r.origin+r.pos, frame)
	}
	r.pos += int64(n)
}

// silence advances the timeline over n samples nobody sent (DTX, a long
// loss). The mark detector hears them as zeros, so the positions it reports
// stay those of the timeline; the meters do not count them.
func (r *trackReader) silence(n int64) {
	for n > 0 {
		k := min(n, int64(len(r.zeros)))
		r.detect(r.zeros[:k])
		r.pos += k
		n -= k
	}
}

// detect runs the mark detector over the next samples of the timeline and
// records the latency of every mark it finds.
func (r *trackReader) detect(mono []float32) {
	r.onsets = r.det.Process(mono, r.onsets[:0])
	if len(r.onsets) == 0 {
		return
	}
	r.p.mu.Lock()
	for _, on := range r.onsets {
		if heard, ok := r.heard(on); ok {
			r.p.addLatency(marks.Latency(heard))
		}
	}
	r.p.mu.Unlock()
}

// heard returns when sample pos reached the listener: the arrival of the
// packet that carried it plus its offset in that packet (playback starts
// when a packet arrives; there is no jitter buffer here).
func (r *trackReader) heard(pos int64) (time.Time, bool) {
	for _, a := range r.ring {
		if a.n > 0 && pos >= a.pos && pos < a.pos+int64(a.n) {
			return a.at.Add(r.rate.Duration(int(pos - a.pos))), true
		}
	}
	return time.Time{}, false
}
