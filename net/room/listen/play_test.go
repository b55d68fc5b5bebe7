package listen

import (
	"io"
	"log/slog"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/mix"
	"github.com/onair-gateway/onair/audio/opus"
	"github.com/onair-gateway/onair/net/room"
)

// gated hands out one packet per token and acknowledges, on its next
// read, that the previous one was taken in: the test steps the packets
// and the clock together.
type gated struct {
	id   string
	pkts []room.Packet
	tok  chan struct{}
	ack  chan struct{}
	n    int
}

func (g *gated) Participant() string { return g.id }
func (g *gated) ID() string          { return "TR_" + g.id }
func (g *gated) ReadPacket(buf []byte) (room.Packet, error) {
	if g.n > 0 {
		g.ack <- struct{}{}
	}
	if _, ok := <-g.tok; !ok || g.n == len(g.pkts) {
		return room.Packet{}, io.EOF
	}
	p := g.pkts[g.n]
	g.n++
	p.Payload = buf[:copy(buf, p.Payload)]
	return p, nil
}

// toneAt returns n 20 ms packets of a tone of freq at amplitude amp.
func toneAt(t *testing.T, n int, freq, amp float64) []room.Packet {
	t.Helper()
	cfg := opus.Config{Application: opus.AppAudio}
	cfg.SetDefaults()
	enc, err := opus.NewEncoder(cfg, audio.Rate48k)
	if err != nil {
		t.Fatal(err)
	}
	frame, out := make([]float32, 960), make([]byte, 1500)
	pkts := make([]room.Packet, n)
	for k := range pkts {
		for i := range frame {
			frame[i] = float32(amp * math.Sin(2*math.Pi*freq*float64(k*960+i)/48000))
		}
		m, err := enc.Encode(frame, out)
		if err != nil {
			t.Fatal(err)
		}
		pkts[k] = room.Packet{Seq: uint16(k), Timestamp: uint32(k * 960), Payload: append([]byte(nil), out[:m]...)}
	}
	return pkts
}

// memSink records frames; it never blocks.
type memSink struct {
	f   audio.Format
	out []float32
}

func (s *memSink) Format() audio.Format { return s.f }
func (s *memSink) WriteFrame(f *audio.Frame) error {
	s.out = append(s.out, f.Samples...)
	return nil
}
func (s *memSink) Close() error { return nil }

// goertzel returns the power of x at freq (48 kHz).
func goertzel(x []float32, freq float64) float64 {
	w := 2 * math.Cos(2*math.Pi*freq/48000)
	var s1, s2 float64
	for _, v := range x {
		s1, s2 = float64(v)+w*s1-s2, s1
	}
	return (s1*s1 + s2*s2 - w*s1*s2) / float64(len(x)*len(x))
}

// TestPlayer: two remote talkers, loud enough together to clip, and a
// track of the device's own identity. The Player plays both talkers on
// both channels of a stereo sink, never above the Bus's ceiling, and
// never the device's own track (mix-minus).
func TestPlayer(t *testing.T) {
	var clock atomic.Int64
	t0 := time.Unix(1000, 0)
	now := func() time.Time { return t0.Add(time.Duration(clock.Load())) }
	l := New(Config{Channels: 1, Playout: true, NoMeters: true, Skip: "me", Now: now}, slog.New(slog.DiscardHandler))
	const n = 150
	tracks := []*gated{
		{id: "a", pkts: toneAt(t, n, 1000, 0.6)},
		{id: "b", pkts: toneAt(t, n, 440, 0.6)},
		{id: "me", pkts: toneAt(t, n, 300, 0.6)},
	}
	for _, g := range tracks {
		g.tok, g.ack = make(chan struct{}, n+1), make(chan struct{}, n+1)
		l.OnEvent(room.Event{Kind: room.EventTrackAdded, Participant: g.id, Track: g})
	}
	sink := &memSink{f: audio.Format{Channels: 2, Rate: audio.Rate48k, Period: 20 * time.Millisecond}}
	p, err := NewPlayer(sink.f, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	for k := 0; k < n; k++ {
		clock.Store(int64(k) * int64(20*time.Millisecond))
		for _, g := range tracks {
			g.tok <- struct{}{}
		}
		for _, g := range tracks[:2] {
			<-g.ack
		}
		if err := sink.WriteFrame(p.Step(l, now())); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range tracks {
		close(g.tok)
	}
	l.Wait()

	out := sink.out[len(sink.out)/2:] // past the start and the decoders' warm-up
	left := make([]float32, len(out)/2)
	var peak float32
	for i := range left {
		if out[2*i] != out[2*i+1] {
			t.Fatalf("sample %d: channels differ (%v, %v)", i, out[2*i], out[2*i+1])
		}
		left[i] = out[2*i]
		peak = max(peak, left[i], -left[i])
	}
	a, b, me := goertzel(left, 1000), goertzel(left, 440), goertzel(left, 300)
	t.Logf("peak %.3f; power at 1000 Hz %.2g, 440 Hz %.2g, 300 Hz (own) %.2g", peak, a, b, me)
	if peak > mix.Ceiling+1e-6 {
		t.Errorf("peak %.3f above the ceiling", peak)
	}
	if a < 0.01 || b < 0.01 {
		t.Errorf("a talker is missing from the mix: %.2g, %.2g", a, b)
	}
	if me > a/1e4 {
		t.Errorf("the device's own identity is in the mix (%.2g)", me)
	}
	ps := l.Participants(false, now())
	if len(ps) != 2 || ps[0].Playout == nil || ps[0].Playout.Underruns > 1 || ps[0].Playout.TargetMs != 40 {
		t.Errorf("participants %+v", ps)
	}
	if a := testing.AllocsPerRun(50, func() { p.Step(l, now()) }); a != 0 {
		t.Errorf("Step: %v allocs per frame", a)
	}
}
