package provisioning

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/hw/alsa/alsaconf"
)

// TestPlaybackDefaults: boards with an output play the room by default,
// from their output device; the others (and the sim board with no
// speaker to go to) do not.
func TestPlaybackDefaults(t *testing.T) {
	for _, c := range []struct {
		profile string
		on      bool
		device  string
		format  alsaconf.SampleFormat
	}{
		{"sim", false, "sim", alsaconf.S16LE},
		{"respeaker-2mic", true, "plughw:CARD=seeed2micvoicec,DEV=0", alsaconf.S16LE},
		{"respeaker-4mic", false, "default", alsaconf.S16LE},
		{"respeaker-6mic", true, "plughw:CARD=seeed8micvoicec,DEV=0", alsaconf.S16LE},
		{"i2s-stereo-mems", false, "default", alsaconf.S16LE},
		{"hifiberry-dacplusadc", true, "hw:CARD=sndrpihifiberry,DEV=0", alsaconf.S32LE},
	} {
		r, err := Decode([]byte("board: {profile: "+c.profile+"}\n"+minimal), YAML)
		if err != nil {
			t.Fatalf("%s: %v", c.profile, err)
		}
		p := r.Audio.Playback
		if p.On() != c.on || p.Device != c.device || p.Format != c.format || p.Rate != 48000 || p.Period.D() != 10*time.Millisecond ||
			p.JitterMin.D() != 40*time.Millisecond || p.JitterMax.D() != 200*time.Millisecond || p.Volume != 0 {
			t.Errorf("%s: playback %+v (on %v), want on %v from %s", c.profile, p, p.On(), c.on, c.device)
		}
	}
	r, err := Decode([]byte("board: {profile: respeaker-2mic}\naudio: {playback: {enabled: false, volume: -6}}\n"+minimal), YAML)
	if err != nil || r.Audio.Playback.On() || r.Audio.Playback.Volume != -6 {
		t.Errorf("explicit off: %+v, %v", r.Audio.Playback, err)
	}
}

// TestPlaybackInvalid: each bad field is named with its path and value.
func TestPlaybackInvalid(t *testing.T) {
	_, err := Decode([]byte("audio: {playback: {enabled: true, rate: 44100, channels: 9, volume: 30, period: 50ms, jitter_min: 300ms, jitter_max: 100ms}}\n"+minimal), YAML)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v", err)
	}
	var paths []string
	for _, e := range conf.Flatten(err) {
		var fe *conf.FieldError
		if errors.As(e, &fe) {
			paths = append(paths, fe.Path)
		}
	}
	got := strings.Join(paths, " ")
	for _, want := range []string{"audio.playback.rate", "audio.playback.channels", "audio.playback.volume", "audio.playback.period", "audio.playback.jitter_max"} {
		if !strings.Contains(got, want) {
			t.Errorf("no problem at %s in %q (%v)", want, got, err)
		}
	}
}
