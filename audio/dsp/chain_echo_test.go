package dsp

import (
	"math"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
)

// TestChainEchoOnly checks SetEchoOnly: frames that hold only residual
// echo neither raise the AGC nor steer the beam at the loudspeaker, while
// the same sound as near-end voice does both.
func TestChainEchoOnly(t *testing.T) {
	geom := audio.Geometry{Shape: audio.ShapeCircular, Mics: 4, Radius: 0.0325}
	f := audio.Format{Channels: 4, Rate: audio.Rate48k, Period: 10 * time.Millisecond}
	s := loadSpeech(t)
	for i := range s {
		s[i] *= 0.02 // about -45 dBFS: the AGC wants to raise it
	}
	mics := interleave(renderArray(s, geom, 48000, 270))
	run := func(echo bool) (outDB, steered float64) {
		var cfg Config
		cfg.SetDefaults(4, true)
		c, err := NewChain(cfg, geom, f)
		if err != nil {
			t.Fatal(err)
		}
		c.SetOnAir(true)
		in, out := audio.NewFrame(4, f.Rate, f.Period), audio.NewFrame(1, f.Rate, f.Period)
		var p float64
		frames := len(mics) / len(in.Samples)
		for k := range frames {
			copy(in.Samples, mics[k*len(in.Samples):])
			c.SetEchoOnly(echo)
			c.Process(out, in)
			if k >= frames/2 {
				for _, v := range out.Samples {
					p += float64(v) * float64(v)
				}
			}
		}
		return 10 * math.Log10(p/float64(frames/2*480)), c.Steered()
	}
	voiceDB, voiceAz := run(false)
	echoDB, echoAz := run(true)
	t.Logf("as voice: %.1f dBFS, beam at %.0f°; as echo: %.1f dBFS, beam at %.0f°", voiceDB, voiceAz, echoDB, echoAz)
	if voiceDB-echoDB < 10 {
		t.Errorf("the AGC raised echo-only frames: %.1f dBFS against %.1f as voice", echoDB, voiceDB)
	}
	if math.Abs(voiceAz-270) > 20 {
		t.Errorf("voice from 270° steered the beam to %.0f°", voiceAz)
	}
	if echoAz != 90 {
		t.Errorf("echo-only frames steered the beam to %.0f°, want it left at 90°", echoAz)
	}
}
