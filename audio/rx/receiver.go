package rx

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/opus"
)

// MaxConceal is the longest run of lost packets concealed with PLC and FEC
// (50 packets of 20 ms: one second). A longer gap is a pause of the sender
// or a reconnect: the timeline gets silence there.
const MaxConceal = 50

// MaxGap caps the silence placed for one jump in RTP time (DTX, a pause of
// the sender): 10 s at 48 kHz.
const MaxGap = 10 * 48000

// MaxPayload is the largest payload kept: an Ethernet MTU, more than any
// Opus packet over RTP. A longer one is counted corrupt.
const MaxPayload = 1500

// Queue is how many pushed packets wait for Pull; when a caller pushes more
// without pulling, the oldest is dropped (counted in Stats.Overrun) and
// concealed as lost.
const Queue = 16

// ErrConfig is wrapped by New's errors.
var ErrConfig = errors.New("rx: bad config")

// Packet is one received RTP packet of a track.
type Packet struct {
	// Seq and Timestamp are the RTP sequence number and timestamp (RFC
	// 3550), the timestamp on the 48 kHz Opus clock (RFC 7587).
	Seq       uint16
	Timestamp uint32
	// Payload is the Opus packet; Push copies it.
	Payload []byte
}

// Kind says what made a chunk.
type Kind uint8

// The kinds of chunk.
const (
	// Decoded audio of a received packet.
	Decoded Kind = iota
	// Concealed audio in place of a lost packet (PLC, or FEC from the
	// packet after it).
	Concealed
	// Silence is time nobody sent: Samples is nil.
	Silence
)

// Chunk is a run of a track's audio, as Pull returns it.
type Chunk struct {
	// Pos is the timeline position of the first sample, in samples per
	// channel since the track's first packet.
	Pos int64
	// N is the number of samples per channel.
	N int
	// Samples holds N interleaved frames (nil for Silence). It belongs to
	// the Receiver until the next Pull.
	Samples []float32
	// Kind says what made the chunk.
	Kind Kind
	// Arrival is when the packet that brought the chunk arrived (for a
	// concealed chunk or silence: the packet after the gap).
	Arrival time.Time
}

// Stats are a Receiver's counters since it started.
type Stats struct {
	// Packets counts packets in sequence (not Late), decoded or not.
	Packets int64
	// Lost counts packets missing from the sequence.
	Lost int64
	// Late counts packets that came after a later one, or twice: not
	// decoded.
	Late int64
	// Concealed counts packets replaced by PLC or FEC.
	Concealed int64
	// Corrupt counts packets the decoder refused.
	Corrupt int64
	// Overrun counts packets dropped because Pull fell behind Queue.
	Overrun int64
	// Jitter is the RFC 3550 interarrival jitter estimate.
	Jitter time.Duration
}

// Config is a Receiver's decoding geometry.
type Config struct {
	// Channels is the number of channels to decode, 1 or 2.
	Channels int
	// Rate is the output rate; Opus decodes at 8, 12, 16, 24 or 48 kHz.
	// RTP timestamps are on the 48 kHz clock whatever it is (RFC 7587).
	Rate audio.SampleRate
	// CountOnly counts and times packets and never decodes them (an
	// encrypted track this listener holds no key for: ciphertext decoded
	// as Opus is loud noise). Pull then returns nothing.
	CountOnly bool
}

// entry is a pushed packet waiting for Pull.
type entry struct {
	seq     uint16
	ts      uint32
	at      time.Time
	missing int // packets lost just before this one
	n       int
	payload [MaxPayload]byte
}

// Receiver is the receive side of one track.
type Receiver struct {
	cfg   Config
	dec   *opus.Decoder
	pcm   []float32
	stats Stats

	q          [Queue]entry
	head, size int

	// Push side.
	pushed    bool
	pushSeq   uint16
	transit   float64 // RFC 3550 A.8, in seconds
	haveTrans bool
	jitter    float64

	// Pull side: the head entry's progress.
	started  bool
	lastTS   uint32 // of the last packet decoded
	anchored bool   // lastTS is set
	lastN    int    // samples per channel of the last decoded packet
	pos      int64
	phase    int // 0: concealing, 1: silence, 2: decoding
	done     int // packets of the head's gap concealed so far
	placed   int // samples placed in the head's gap (concealed or silent)
}

// New returns a Receiver for cfg.
func New(cfg Config) (*Receiver, error) {
	if cfg.Channels != 1 && cfg.Channels != 2 {
		return nil, fmt.Errorf("%w: %d channels, want 1 or 2", ErrConfig, cfg.Channels)
	}
	r := &Receiver{cfg: cfg}
	if cfg.CountOnly {
		return r, nil
	}
	dec, err := opus.NewDecoder(cfg.Rate, cfg.Channels)
	if err != nil {
		return nil, err
	}
	r.dec = dec
	r.pcm = make([]float32, dec.MaxFrameLen()*cfg.Channels)
	return r, nil
}

// Stats returns the counters.
func (r *Receiver) Stats() Stats {
	s := r.stats
	s.Jitter = time.Duration(r.jitter * float64(time.Second))
	return s
}

// Push takes a packet that arrived at at: it counts it in sequence, late or
// after a loss, updates the jitter and queues it for Pull. It does not
// allocate.
func (r *Receiver) Push(p Packet, at time.Time) {
	missing := 0
	if r.pushed {
		// RFC 3550 A.1: the sequence delta, modulo 2^16.
		d := int16(p.Seq - r.pushSeq)
		if d <= 0 {
			r.stats.Late++
			return
		}
		missing = int(d) - 1
		r.stats.Lost += int64(missing)
	}
	r.pushed, r.pushSeq = true, p.Seq
	r.stats.Packets++
	r.updateJitter(p.Timestamp, at)
	if r.cfg.CountOnly {
		return
	}
	if r.size == Queue {
		// Pull fell behind: the oldest waiting packet becomes a loss.
		// The head may be part way through its gap; the next entry
		// takes over its remaining work as lost packets.
		old := &r.q[r.head]
		r.head = (r.head + 1) % Queue
		r.size--
		r.stats.Overrun++
		// What of the old gap was placed stays placed (r.placed
		// carries over); the rest and the packet itself are the new
		// head's loss.
		nxt := &r.q[r.head]
		nxt.missing += old.missing - r.done + 1
		r.phase, r.done = 0, 0
		if !r.anchored {
			r.started, r.lastTS, r.anchored = true, old.ts, true
		}
	}
	e := &r.q[(r.head+r.size)%Queue]
	r.size++
	e.seq, e.ts, e.at, e.missing = p.Seq, p.Timestamp, at, missing
	e.n = copy(e.payload[:], p.Payload)
	if len(p.Payload) > MaxPayload {
		e.n = -1
	}
}

// updateJitter updates the interarrival jitter estimate (RFC 3550 §6.4.1,
// A.8) in seconds.
func (r *Receiver) updateJitter(ts uint32, at time.Time) {
	transit := float64(at.UnixNano())/1e9 - float64(ts)/48000
	if r.haveTrans {
		d := transit - r.transit
		// The timestamp wraps every 24.8 h at 48 kHz; ignore that step.
		if math.Abs(d) < 10 {
			r.jitter += (math.Abs(d) - r.jitter) / 16
		}
	}
	r.transit, r.haveTrans = transit, true
}

// Pull gives the next chunk of audio in c and reports whether there was
// one: the concealment of packets lost before the next queued packet, the
// silence of RTP time nobody sent, then the packet's own decoded audio. It
// does not allocate.
func (r *Receiver) Pull(c *Chunk) bool {
	for r.size > 0 {
		e := &r.q[r.head]
		if !r.started {
			r.started = true
			r.phase = 2
		}
		switch r.phase {
		case 0:
			if e.missing > 0 && e.missing <= MaxConceal && r.done < e.missing && r.lastN > 0 {
				frame := r.pcm[:r.lastN*r.cfg.Channels]
				var err error
				if r.done == e.missing-1 && e.n > 0 {
					// The packet after a loss may carry the lost one
					// (RFC 6716 §2.1.7).
					err = r.dec.DecodeFEC(e.payload[:e.n], frame)
				} else {
					_, err = r.dec.DecodePLC(frame)
				}
				if err == nil {
					r.done++
					r.placed += r.lastN
					r.stats.Concealed++
					r.emit(c, frame, r.lastN, Concealed, e.at)
					return true
				}
			}
			r.phase = 1
		case 1:
			r.phase = 2
			// Whatever RTP time is still unaccounted for (DTX, a long
			// loss) is silence on the timeline.
			gap := int64(int32(e.ts-(r.lastTS+uint32(r.lastN48()))))*int64(r.cfg.Rate)/48000 - int64(r.placed)
			if gap > 0 {
				n := int(min(gap, int64(MaxGap)*int64(r.cfg.Rate)/48000))
				r.placed += n
				r.emit(c, nil, n, Silence, e.at)
				return true
			}
		default:
			r.next()
			var n int
			err := errCorrupt
			if e.n >= 0 {
				n, err = r.dec.Decode(e.payload[:e.n], r.pcm)
			}
			if err != nil {
				// Its time stays unaccounted for, so it becomes the
				// next packet's gap (silence); the first packet
				// anchors the timeline even so.
				r.stats.Corrupt++
				if !r.anchored {
					r.lastTS, r.anchored = e.ts, true
				}
				continue
			}
			r.lastTS, r.anchored, r.lastN = e.ts, true, n
			r.emit(c, r.pcm[:n*r.cfg.Channels], n, Decoded, e.at)
			return true
		}
	}
	return false
}

var errCorrupt = errors.New("rx: payload larger than MaxPayload")

// lastN48 is lastN on the 48 kHz RTP clock.
func (r *Receiver) lastN48() int { return r.lastN * 48000 / int(r.cfg.Rate) }

// next takes the head off the queue.
func (r *Receiver) next() {
	r.head = (r.head + 1) % Queue
	r.size--
	r.phase, r.done, r.placed = 0, 0, 0
}

func (r *Receiver) emit(c *Chunk, samples []float32, n int, k Kind, at time.Time) {
	*c = Chunk{Pos: r.pos, N: n, Samples: samples, Kind: k, Arrival: at}
	r.pos += int64(n)
}
