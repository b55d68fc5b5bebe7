package pipeline

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/dsp"
	"github.com/onair-gateway/onair/audio/opus"
	"github.com/onair-gateway/onair/conf"
)

var mono48k10 = audio.Format{Channels: 1, Rate: audio.Rate48k, Period: 10 * time.Millisecond}

// stepSource hands out one frame per tick, so a test decides exactly how
// much audio the pipeline has seen. It is a Source of ours, not a fake of
// anything outside.
type stepSource struct {
	format audio.Format
	tick   chan func(f *audio.Frame) // fills the frame
	pos    int64
	done   chan struct{}
	once   sync.Once
	fail   error
}

func newStepSource(f audio.Format) *stepSource {
	return &stepSource{format: f, tick: make(chan func(*audio.Frame)), done: make(chan struct{})}
}

func (s *stepSource) Format() audio.Format { return s.format }
func (s *stepSource) ReadFrame(dst *audio.Frame) error {
	select {
	case fill, ok := <-s.tick:
		if !ok {
			if s.fail != nil {
				return s.fail
			}
			return audio.ErrEndOfStream
		}
		clear(dst.Samples)
		if fill != nil {
			fill(dst)
		}
		dst.Pos = s.pos
		s.pos += int64(s.format.FrameLen())
		return nil
	case <-s.done:
		return audio.ErrClosed
	}
}
func (s *stepSource) Close() error { s.once.Do(func() { close(s.done) }); return nil }

// passChain copies channel 0 and reports each frame it processed.
type passChain struct{ seen chan int64 }

func (c *passChain) OutChannels() int { return 1 }
func (c *passChain) Process(dst, src *audio.Frame) {
	for i := 0; i < dst.Len(); i++ {
		dst.Samples[i] = src.Samples[i*src.Channels]
	}
	dst.Pos = src.Pos
	if c.seen != nil {
		c.seen <- src.Pos
	}
}

func newEncoder(t testing.TB, frame time.Duration) *opus.Encoder {
	t.Helper()
	cfg := opus.Config{Frame: conf.Duration(frame), Bitrate: 64000}
	cfg.SetDefaults()
	enc, err := opus.NewEncoder(cfg, audio.Rate48k)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { enc.Close() })
	return enc
}

type recorder struct {
	mu   sync.Mutex
	pkts []Packet
	ch   chan Packet
}

func (r *recorder) WritePacket(p Packet) error {
	cp := p
	cp.Data = append([]byte(nil), p.Data...)
	r.mu.Lock()
	r.pkts = append(r.pkts, cp)
	r.mu.Unlock()
	if r.ch != nil {
		r.ch <- cp
	}
	return nil
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s within 5 s", what)
	}
	var zero T
	return zero
}

// TestNoBufferingBeyondOnePeriodAndOneFrame feeds the pipeline one 10 ms
// capture period at a time and checks, on sample counters, that each 20 ms
// Opus packet leaves as soon as its last period has been read: the
// pipeline holds at most one capture period and one Opus frame. Decoding
// then shows the only other delay is the encoder's lookahead.
func TestNoBufferingBeyondOnePeriodAndOneFrame(t *testing.T) {
	src := newStepSource(mono48k10)
	chain := &passChain{seen: make(chan int64, 1)}
	enc := newEncoder(t, 20*time.Millisecond)
	p, err := New(Config{}, src, chain, enc, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{ch: make(chan Packet, 16)}
	p.SetSink(rec)
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(ctx) }()

	const impulseAt = 3*480 + 100 // in the 4th period, i.e. the 2nd packet
	fill := func(k int) func(*audio.Frame) {
		return func(f *audio.Frame) {
			for i := range f.Samples {
				n := k*480 + i
				f.Samples[i] = float32(0.3 * math.Sin(2*math.Pi*440*float64(n)/48000))
				if n == impulseAt {
					f.Samples[i] = 0.9
				}
			}
		}
	}
	var pkts []Packet
	for k := 0; k < 20; k++ {
		src.tick <- fill(k)
		pos := recv(t, chain.seen, "processed frame")
		if pos != int64(k*480) {
			t.Fatalf("frame %d processed at pos %d", k, pos)
		}
		if k%2 == 1 {
			// The period that completes an Opus frame must produce its
			// packet now, not one period later.
			pk := recv(t, rec.ch, "packet")
			wantPos := int64((k - 1) * 480)
			if pk.Pos != wantPos || pk.Timestamp != uint32(wantPos) || pk.Duration != 20*time.Millisecond {
				t.Fatalf("packet after period %d: pos %d ts %d dur %v, want pos %d", k, pk.Pos, pk.Timestamp, pk.Duration, wantPos)
			}
			if lag := p.Stats().Pos - (pk.Pos + 960); lag != 0 {
				t.Fatalf("packet left %d samples after its end was captured, want 0", lag)
			}
			pkts = append(pkts, pk)
		} else {
			select {
			case pk := <-rec.ch:
				t.Fatalf("packet at pos %d before its Opus frame was complete", pk.Pos)
			default:
			}
		}
	}
	cancel()
	if err := <-runErr; err != nil {
		t.Fatal(err)
	}
	// Decode: the impulse must appear at impulseAt + lookahead (the codec's
	// own delay) and nowhere later.
	dec, err := opus.NewDecoder(audio.Rate48k, 1)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, 0, len(pkts)*960)
	pcm := make([]float32, 960)
	for _, pk := range pkts {
		n, err := dec.Decode(pk.Data, pcm)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pcm[:n]...)
	}
	// Find the impulse as the largest deviation from the reference sine.
	best, bestI := 0.0, 0
	for i, v := range out {
		ref := 0.3 * math.Sin(2*math.Pi*440*float64(i-enc.Lookahead())/48000)
		if d := math.Abs(float64(v) - ref); d > best {
			best, bestI = d, i
		}
	}
	if delay := bestI - impulseAt; delay < enc.Lookahead()-24 || delay > enc.Lookahead()+24 {
		t.Errorf("impulse decoded %d samples late; the encoder's lookahead is %d: extra buffering", delay, enc.Lookahead())
	}
}

// TestCaptureNeverBlocksOnConsumer stalls the sink and checks that capture
// keeps reading, overwrites the oldest frames and counts the drops, and that
// the packets after the stall carry true timestamps.
func TestCaptureNeverBlocksOnConsumer(t *testing.T) {
	rendered := make([]float32, 48000) // 1 s mono
	src, err := audio.NewBufferSource(mono48k10, rendered, false)
	if err != nil {
		t.Fatal(err)
	}
	enc := newEncoder(t, 20*time.Millisecond)
	p, err := New(Config{Ring: 4}, src, &passChain{}, enc, nil)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var mu sync.Mutex
	var got []Packet
	first := true
	p.SetSink(SinkFunc(func(pk Packet) error {
		if first {
			first = false
			<-release // stall until capture has run far ahead
		}
		mu.Lock()
		got = append(got, Packet{Pos: pk.Pos, Timestamp: pk.Timestamp})
		mu.Unlock()
		return nil
	}))
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	// The source is unpaced: capture reads all 100 frames while the sink
	// is stalled.
	deadline := time.Now().Add(5 * time.Second)
	for p.Stats().Frames < 100 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	if st.Frames != 100 {
		t.Fatalf("capture read %d frames, want 100 (it blocked on the consumer)", st.Frames)
	}
	if st.Drops == 0 {
		t.Fatal("no drops counted while the consumer stalled")
	}
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < len(got); i++ {
		if got[i].Pos <= got[i-1].Pos || got[i].Timestamp != uint32(got[i].Pos) {
			t.Fatalf("packet %d: pos %d after %d, ts %d", i, got[i].Pos, got[i-1].Pos, got[i].Timestamp)
		}
	}
	if last := got[len(got)-1].Pos; last != 48000-960 {
		t.Errorf("last packet at %d, want %d (the newest audio survives a stall)", last, 48000-960)
	}
}

func TestSourceFailureEndsRun(t *testing.T) {
	src := newStepSource(mono48k10)
	enc := newEncoder(t, 20*time.Millisecond)
	p, err := New(Config{}, src, &passChain{}, enc, nil)
	if err != nil {
		t.Fatal(err)
	}
	gone := errors.New("device gone")
	src.fail = gone
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	src.tick <- nil
	close(src.tick)
	if err := recv(t, done, "Run result"); !errors.Is(err, gone) {
		t.Fatalf("Run = %v, want the source's error", err)
	}
}

func TestNewRejectsMismatch(t *testing.T) {
	enc := newEncoder(t, 20*time.Millisecond)
	f := audio.Format{Channels: 1, Rate: audio.Rate48k, Period: 15 * time.Millisecond}
	src, _ := audio.NewBufferSource(f, make([]float32, 720), false)
	if _, err := New(Config{}, src, &passChain{}, enc, nil); err == nil {
		t.Error("accepted a 15 ms period for a 20 ms Opus frame")
	}
	src2, _ := audio.NewBufferSource(mono48k10, make([]float32, 480), false)
	if _, err := New(Config{Ring: 1}, src2, &passChain{}, enc, nil); err == nil {
		t.Error("accepted a ring of 1")
	}
}

// TestProcessAllocatesNothing runs the real chain and encoder.
func TestProcessAllocatesNothing(t *testing.T) {
	f := audio.Format{Channels: 4, Rate: audio.Rate48k, Period: 10 * time.Millisecond}
	geom := audio.Geometry{Shape: audio.ShapeCircular, Mics: 4, Radius: 0.0325}
	var cfg dsp.Config
	cfg.SetDefaults(4, true)
	chain, err := dsp.NewChain(cfg, geom, f)
	if err != nil {
		t.Fatal(err)
	}
	chain.SetOnAir(true)
	enc := newEncoder(t, 20*time.Millisecond)
	src, _ := audio.NewBufferSource(f, make([]float32, 4*480), true)
	p, err := New(Config{}, src, chain, enc, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.SetSink(SinkFunc(func(Packet) error { return nil }))
	frame := audio.NewFrame(4, audio.Rate48k, 10*time.Millisecond)
	for i := range frame.Samples {
		frame.Samples[i] = float32(math.Sin(float64(i) * 0.01))
	}
	allocs := testing.AllocsPerRun(200, func() {
		p.Process(frame)
		frame.Pos += 480
	})
	if allocs != 0 {
		t.Errorf("Process allocates %.1f times per frame", allocs)
	}
	if p.Stats().Packets == 0 {
		t.Error("no packets encoded")
	}
}
