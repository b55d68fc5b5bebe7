// Package pipeline runs onair's speak path: a capture Source, the DSP chain,
// the Opus encoder and a Sink that takes packets (the room session).
// NewSpeak assembles the path's stages: with WithAEC, the echo canceller
// (audio/aec) runs in front of the chain, before the beamformer and AGC
// (Speak.Stage).
//
// Two goroutines, both owned by Run: the capture goroutine reads frames from
// the Source into a bounded ring and never blocks on the consumer (when the
// ring is full it overwrites the oldest frame and counts a drop); the
// processing goroutine takes frames from the ring, runs the chain, collects
// one Opus frame and encodes it into a buffer owned by the pipeline, and
// hands the packet to the Sink, which must not keep it. Nothing on either
// path allocates or logs per frame; counters are atomics that any goroutine
// may read through Stats.
//
// Timestamps come from the source's sample counter (audio.Frame.Pos), never
// from the wall clock: Packet.Timestamp is the RTP timestamp (RFC 3550) of
// the packet's first sample on the 48 kHz Opus clock (RFC 7587).
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/onair-gateway/onair/audio"
)

// Chain is the DSP chain between capture and encoder (dsp.Chain).
type Chain interface {
	audio.Stage
	OutChannels() int
}

// Encoder encodes one Opus frame of interleaved float32 samples into out,
// which the caller owns (opus.Encoder).
type Encoder interface {
	Encode(pcm []float32, out []byte) (int, error)
	FrameSamples() int
}

// Packet is one encoded Opus packet.
type Packet struct {
	// Data is the Opus packet; it is valid only during the Sink call.
	Data []byte
	// Timestamp is the RTP timestamp of the first sample, 48 kHz clock.
	Timestamp uint32
	// Pos is the first sample's position in the source's own sample count.
	Pos int64
	// Duration of the audio in the packet.
	Duration time.Duration
}

// Sink takes encoded packets. WritePacket must not block for long and must
// not keep p.Data after it returns. An error is counted, never fatal.
type Sink interface {
	WritePacket(p Packet) error
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(p Packet) error

// WritePacket implements Sink.
func (f SinkFunc) WritePacket(p Packet) error { return f(p) }

// Config sizes the pipeline.
type Config struct {
	// Ring is the number of capture frames the ring between capture and
	// processing holds, 2..64. In steady state it holds at most one; it
	// absorbs a consumer stall of (Ring-1) periods before dropping.
	// Default: 8.
	Ring int
}

// Stats are the pipeline's counters.
type Stats struct {
	// Frames read from the source.
	Frames uint64 `json:"frames"`
	// Packets encoded and handed to the sink.
	Packets uint64 `json:"packets"`
	// Drops: capture frames overwritten in the ring because processing
	// fell behind.
	Drops uint64 `json:"drops"`
	// Late: times processing found more than one frame waiting.
	Late uint64 `json:"late"`
	// SinkErrors: packets the sink refused (not connected, not allowed to
	// publish).
	SinkErrors uint64 `json:"sink_errors"`
	// EncodeErrors: frames the encoder failed on (they are skipped).
	EncodeErrors uint64 `json:"encode_errors"`
	// Xruns reported by the source, if it counts them.
	Xruns uint64 `json:"xruns"`
	// Pos is the sample position just after the last frame read.
	Pos int64 `json:"pos"`
}

// xrunCounter is implemented by sources that count overruns (hw/alsa).
type xrunCounter interface{ Xruns() uint64 }

// Pipeline is the speak path. Build it with New, run it with Run.
type Pipeline struct {
	src   audio.Source
	chain Chain
	enc   Encoder
	log   *slog.Logger
	sink  atomic.Pointer[sinkBox]

	format    audio.Format
	frameLen  int // samples per channel per capture period
	opusLen   int // samples per channel per Opus frame
	outCh     int
	rtpFactor int64 // 48000 / rate

	// ring between capture and processing
	mu     sync.Mutex
	ring   []*audio.Frame
	head   int // next slot to read
	count  int // frames waiting
	notify chan struct{}

	// processing buffers
	capture *audio.Frame // capture goroutine's scratch
	work    *audio.Frame // processing input
	out     *audio.Frame // chain output
	pcm     []float32    // one Opus frame, interleaved
	pcmFill int          // samples per channel in pcm
	pcmPos  int64        // position of pcm's first sample
	pkt     []byte

	frames, packets, drops, late, sinkErrs, encErrs atomic.Uint64
	pos                                             atomic.Int64
}

type sinkBox struct{ s Sink }

// MaxPacket is the largest Opus packet the pipeline accepts from the
// encoder: 1275 bytes per frame (RFC 6716 §3.2.1) times 3 for 60 ms, with
// headroom.
const MaxPacket = 4000

// New builds a pipeline. The chain's output channel count must match the
// encoder's; the Opus frame must be a whole number of capture periods.
func New(cfg Config, src audio.Source, chain Chain, enc Encoder, log *slog.Logger) (*Pipeline, error) {
	if cfg.Ring == 0 {
		cfg.Ring = 8
	}
	if cfg.Ring < 2 || cfg.Ring > 64 {
		return nil, fmt.Errorf("pipeline: ring %d is out of range 2..64", cfg.Ring)
	}
	f := src.Format()
	frameLen := f.FrameLen()
	opusLen := enc.FrameSamples()
	if frameLen <= 0 || opusLen <= 0 {
		return nil, fmt.Errorf("pipeline: empty frame (capture %d, opus %d samples)", frameLen, opusLen)
	}
	if opusLen%frameLen != 0 {
		return nil, fmt.Errorf("pipeline: opus frame of %d samples is not a whole number of %d-sample capture periods", opusLen, frameLen)
	}
	if 48000%int(f.Rate) != 0 {
		return nil, fmt.Errorf("pipeline: rate %d Hz does not divide the 48 kHz RTP clock", f.Rate)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	outCh := chain.OutChannels()
	p := &Pipeline{
		src: src, chain: chain, enc: enc,
		log:       log.With("component", "audio.pipeline"),
		format:    f,
		frameLen:  frameLen,
		opusLen:   opusLen,
		outCh:     outCh,
		rtpFactor: int64(48000 / int(f.Rate)),
		ring:      make([]*audio.Frame, cfg.Ring),
		notify:    make(chan struct{}, 1),
		capture:   audio.NewFrame(f.Channels, f.Rate, f.Period),
		work:      audio.NewFrame(f.Channels, f.Rate, f.Period),
		out:       audio.NewFrame(outCh, f.Rate, f.Period),
		pcm:       make([]float32, opusLen*outCh),
		pkt:       make([]byte, MaxPacket),
	}
	for i := range p.ring {
		p.ring[i] = audio.NewFrame(f.Channels, f.Rate, f.Period)
	}
	return p, nil
}

// SetSink installs the sink packets go to; nil discards them (counted as
// sink errors). Safe from any goroutine.
func (p *Pipeline) SetSink(s Sink) {
	if s == nil {
		p.sink.Store(nil)
		return
	}
	p.sink.Store(&sinkBox{s})
}

// Stats returns the counters. Safe from any goroutine, lock-free.
func (p *Pipeline) Stats() Stats {
	s := Stats{
		Frames:       p.frames.Load(),
		Packets:      p.packets.Load(),
		Drops:        p.drops.Load(),
		Late:         p.late.Load(),
		SinkErrors:   p.sinkErrs.Load(),
		EncodeErrors: p.encErrs.Load(),
		Pos:          p.pos.Load(),
	}
	if x, ok := p.src.(xrunCounter); ok {
		s.Xruns = x.Xruns()
	}
	return s
}

// Format is the capture format.
func (p *Pipeline) Format() audio.Format { return p.format }

// Run captures, processes and encodes until ctx is cancelled (it returns
// nil), a finite source ends (it encodes what is left, padding the last Opus
// frame with silence, and returns nil), or the source fails (it returns the
// source's error, e.g. a device that vanished). It closes the source and
// waits for its capture goroutine before it returns.
func (p *Pipeline) Run(ctx context.Context) error {
	capErr := make(chan error, 1)
	go func() { capErr <- p.captureLoop() }()
	for {
		select {
		case <-ctx.Done():
			p.src.Close() // unblocks a pending read
			<-capErr
			return nil
		case err := <-capErr:
			p.src.Close()
			p.drain()
			if errors.Is(err, audio.ErrEndOfStream) {
				p.Flush()
				return nil
			}
			if errors.Is(err, audio.ErrClosed) && ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("capture: %w", err)
		case <-p.notify:
			p.drain()
		}
	}
}

// Flush pads a partial Opus frame with silence and encodes it. Run calls it
// when a finite source ends; callers of Process call it after the last frame.
func (p *Pipeline) Flush() {
	if p.pcmFill == 0 {
		return
	}
	clear(p.pcm[p.pcmFill*p.outCh:])
	p.pcmFill = p.opusLen
	p.encode()
}

// captureLoop reads frames into the ring until the source fails or closes.
func (p *Pipeline) captureLoop() error {
	for {
		if err := p.src.ReadFrame(p.capture); err != nil {
			return err
		}
		p.frames.Add(1)
		p.pos.Store(p.capture.Pos + int64(p.frameLen))
		p.mu.Lock()
		slot := (p.head + p.count) % len(p.ring)
		if p.count == len(p.ring) {
			// Full: overwrite the oldest frame.
			slot = p.head
			p.head = (p.head + 1) % len(p.ring)
			p.drops.Add(1)
		} else {
			p.count++
		}
		p.ring[slot].CopyFrom(p.capture)
		p.mu.Unlock()
		select {
		case p.notify <- struct{}{}:
		default:
		}
	}
}

// drain processes every frame waiting in the ring.
func (p *Pipeline) drain() {
	first := true
	for {
		p.mu.Lock()
		if p.count == 0 {
			p.mu.Unlock()
			return
		}
		if first && p.count > 1 {
			p.late.Add(1)
		}
		first = false
		p.work.CopyFrom(p.ring[p.head])
		p.head = (p.head + 1) % len(p.ring)
		p.count--
		p.mu.Unlock()
		p.Process(p.work)
	}
}

// Process runs one capture frame through the chain and, when an Opus frame
// is complete, encodes it and hands it to the sink. Run calls it for each
// frame; callers that drive the pipeline themselves (offline encoding,
// benchmarks) may call it directly, but never while Run is running. It is
// the hot path: no allocation, no logging, no lock.
func (p *Pipeline) Process(in *audio.Frame) {
	// A gap in positions (drops, xruns) restarts the Opus frame so that
	// timestamps stay true to the sample counter.
	if p.pcmFill > 0 && in.Pos != p.pcmPos+int64(p.pcmFill) {
		p.pcmFill = 0
	}
	p.chain.Process(p.out, in)
	if p.pcmFill == 0 {
		p.pcmPos = in.Pos
	}
	copy(p.pcm[p.pcmFill*p.outCh:], p.out.Samples)
	p.pcmFill += p.frameLen
	if p.pcmFill < p.opusLen {
		return
	}
	p.encode()
}

// encode encodes the full Opus frame in pcm and hands it to the sink.
func (p *Pipeline) encode() {
	p.pcmFill = 0
	n, err := p.enc.Encode(p.pcm, p.pkt)
	if err != nil {
		p.encErrs.Add(1)
		return
	}
	p.packets.Add(1)
	box := p.sink.Load()
	if box == nil {
		p.sinkErrs.Add(1)
		return
	}
	pkt := Packet{
		Data:      p.pkt[:n],
		Timestamp: uint32(p.pcmPos * p.rtpFactor),
		Pos:       p.pcmPos,
		Duration:  p.format.Rate.Duration(p.opusLen),
	}
	if err := box.s.WritePacket(pkt); err != nil {
		p.sinkErrs.Add(1)
	}
}
