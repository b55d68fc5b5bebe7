package pipeline

import (
	"strings"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/dsp"
	"github.com/onair-gateway/onair/audio/opus"
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
