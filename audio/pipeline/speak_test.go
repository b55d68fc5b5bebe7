package pipeline

import (
	"strings"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/dsp"
	"github.com/onair-gateway/onair/audio/opus"
	"github.com/onair-gateway/onair/conf"
)

func TestNewSpeak(t *testing.T) {
	f := audio.Format{Channels: 4, Rate: audio.Rate48k, Period: 10 * time.Millisecond}
	geom := audio.Geometry{Shape: audio.ShapeCircular, Mics: 4, Radius: 0.0325}
	var proc dsp.Config
	proc.SetDefaults(4, true)
	var oc opus.Config
	oc.SetDefaults()

	s, err := NewSpeak(proc, geom, f, oc)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Encoder.Close()
	if s.Chain.OutChannels() != 1 {
		t.Errorf("chain makes %d channels, want 1", s.Chain.OutChannels())
	}
	// The pair runs as a pipeline and makes packets.
	src, _ := audio.NewBufferSource(f, make([]float32, 4*480), true)
	p, err := New(Config{}, src, s.Chain, s.Encoder, nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	p.SetSink(SinkFunc(func(Packet) error { n++; return nil }))
	frame := audio.NewFrame(4, audio.Rate48k, 10*time.Millisecond)
	for range 4 {
		p.Process(frame)
		frame.Pos += 480
	}
	if n != 2 {
		t.Errorf("%d packets from 40 ms, want 2", n)
	}

	// A stereo encoder behind a mono chain is refused, naming the field.
	oc.Channels = 2
	if _, err := NewSpeak(proc, geom, f, oc); err == nil || !strings.Contains(err.Error(), "opus.channels") {
		t.Errorf("mono chain, stereo opus: err = %v", err)
	}
	// A chain that cannot be built names audio.processing.
	bad := proc
	bad.Beam = "nosuch"
	if _, err := NewSpeak(bad, geom, f, opus.Config{}); err == nil || !strings.Contains(err.Error(), "audio.processing") {
		t.Errorf("bad beam: err = %v", err)
	}
}

// TestSpeakFrames: the Opus frame sets the packet duration and the RTP
// timestamp step for every capture period it fits, and a frame the
// capture period or Opus cannot make is refused, naming the field.
func TestSpeakFrames(t *testing.T) {
	geom := audio.Geometry{Shape: audio.ShapeLinear, Mics: 1}
	var proc dsp.Config
	proc.SetDefaults(1, false)
	cases := []struct {
		frame, period time.Duration
		err           string // substring of the error; "" for none
	}{
		{10 * time.Millisecond, 10 * time.Millisecond, ""},
		{10 * time.Millisecond, 5 * time.Millisecond, ""},
		{20 * time.Millisecond, 10 * time.Millisecond, ""},
		{20 * time.Millisecond, 20 * time.Millisecond, ""},
		{40 * time.Millisecond, 10 * time.Millisecond, ""},
		{10 * time.Millisecond, 20 * time.Millisecond, "opus.frame: 10ms is not a whole number of capture periods (audio.capture.period 20ms)"},
		{20 * time.Millisecond, 15 * time.Millisecond, "opus.frame: 20ms is not a whole number"},
		{5 * time.Millisecond, 5 * time.Millisecond, "frame: 5ms is not 10ms, 20ms or 40ms"},
		{30 * time.Millisecond, 10 * time.Millisecond, "frame: 30ms is not 10ms, 20ms or 40ms"},
	}
	for _, c := range cases {
		t.Run(c.frame.String()+"/"+c.period.String(), func(t *testing.T) {
			f := audio.Format{Channels: 1, Rate: audio.Rate48k, Period: c.period}
			oc := opus.Config{Frame: conf.Duration(c.frame)}
			oc.SetDefaults()
			s, err := NewSpeak(proc, geom, f, oc)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Encoder.Close()
			src, _ := audio.NewBufferSource(f, make([]float32, f.FrameLen()), true)
			p, err := New(Config{}, src, s.Chain, s.Encoder, nil)
			if err != nil {
				t.Fatal(err)
			}
			var pkts []Packet
			p.SetSink(SinkFunc(func(pk Packet) error {
				pkts = append(pkts, Packet{Timestamp: pk.Timestamp, Duration: pk.Duration})
				return nil
			}))
			frame := audio.NewFrame(1, audio.Rate48k, c.period)
			for range int(80 * time.Millisecond / c.period) {
				p.Process(frame)
				frame.Pos += int64(frame.Len())
			}
			if want := int(80 * time.Millisecond / c.frame); len(pkts) != want {
				t.Fatalf("%d packets from 80 ms, want %d", len(pkts), want)
			}
			step := uint32(48 * c.frame / time.Millisecond)
			for i, pk := range pkts {
				if pk.Duration != c.frame || pk.Timestamp != uint32(i)*step {
					t.Errorf("packet %d: duration %v, timestamp %d; want %v, %d", i, pk.Duration, pk.Timestamp, c.frame, uint32(i)*step)
				}
			}
		})
	}
}
