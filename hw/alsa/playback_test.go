//go:build linux && cgo

package alsa

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/audiotest"
	"github.com/onair-gateway/onair/hw/alsa/alsaconf"
)

// vspk defines PCM "vspk": the file plugin recording playback into a raw
// file over a null slave. It returns the file's path.
func vspk(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.raw")
	useALSAConf(t, fmt.Sprintf(`pcm.vspk {
	type file
	slave.pcm { type null }
	file %q
	format "raw"
}
`, out))
	return out
}

// playSignal returns frames of a test signal: a per-channel ramp that
// crosses full scale, plus exact edge values, so clipping and rounding show.
func playSignal(channels, frameLen, frames int) []*audio.Frame {
	edges := []float32{0, 1, -1, 0.5, -0.5, 1.5, -1.5, float32(math.NaN()), 1.0 / (1 << 15), -1.0 / (1 << 23)}
	out := make([]*audio.Frame, frames)
	for k := range out {
		f := &audio.Frame{Channels: channels, Rate: audio.Rate48k, Samples: make([]float32, channels*frameLen)}
		for i := 0; i < frameLen; i++ {
			for c := 0; c < channels; c++ {
				n := k*frameLen + i
				v := float32(math.Sin(float64(n)*0.01*float64(c+1))) * 1.2
				if n%37 == 0 {
					v = edges[(n/37+c)%len(edges)]
				}
				f.Samples[i*channels+c] = v
			}
		}
		out[k] = f
	}
	return out
}

func TestPlaybackData(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  alsaconf.Config
	}{
		{"S16_LE 2ch", cfgOf(alsaconf.S16LE, 2, audio.Rate48k, 10*time.Millisecond)},
		{"S24_LE 2ch", cfgOf(alsaconf.S24LE, 2, audio.Rate48k, 10*time.Millisecond)},
		{"S32_LE 4ch", cfgOf(alsaconf.S32LE, 4, audio.Rate48k, 20*time.Millisecond)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := vspk(t)
			cfg := tc.cfg
			cfg.Device = "vspk"
			p, err := OpenPlayback(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if n := p.Negotiated(); n.Type != "FILE" || n.Channels != cfg.Channels || n.Format != cfg.Format {
				t.Errorf("Negotiated() = %+v", n)
			}
			f := p.Format()
			frames := playSignal(f.Channels, f.FrameLen(), 30)
			var want []byte
			buf := make([]byte, f.FrameLen()*f.Channels*sampleBytes(cfg.Format))
			for _, fr := range frames {
				if err := p.WriteFrame(fr); err != nil {
					t.Fatal(err)
				}
				encode(cfg.Format, buf, fr.Samples)
				want = append(want, buf...)
			}
			if st := p.Stats(); st.Periods != uint64(len(frames)) {
				t.Errorf("Stats() = %+v", st)
			}
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("recorded %d bytes, want %d; first difference at byte %d", len(got), len(want), firstDiff(got, want))
			}
			// Read back through the capture conversion: within one step of
			// the clipped input.
			dec := make([]float32, len(want)/sampleBytes(cfg.Format))
			decode(cfg.Format, dec, got)
			step := map[alsaconf.SampleFormat]float64{alsaconf.S16LE: 1.0 / scale16, alsaconf.S24LE: 1.0 / scale24, alsaconf.S32LE: 1.0 / scale32}[cfg.Format]
			for i, v := range dec {
				in := float64(frames[i/len(frames[0].Samples)].Samples[i%len(frames[0].Samples)])
				if in != in {
					in = 0
				}
				in = math.Max(-1, math.Min(1-step, in))
				if math.Abs(float64(v)-in) > step/2+1e-7 {
					t.Fatalf("sample %d: %v came back as %v", i, in, v)
				}
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestPlaybackLifecycle(t *testing.T) {
	before := audiotest.Goroutines()
	vspk(t)
	cfg := cfgOf(alsaconf.S16LE, 2, audio.Rate48k, 10*time.Millisecond)
	cfg.Device = "vspk"
	p, err := OpenPlayback(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	fr := audio.NewFrame(2, audio.Rate48k, 10*time.Millisecond)
	if err := p.WriteFrame(audio.NewFrame(1, audio.Rate48k, 10*time.Millisecond)); err == nil || errors.Is(err, audio.ErrClosed) {
		t.Errorf("wrong geometry: %v, want a geometry error", err)
	}
	if err := p.WriteFrame(fr); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(50, func() {
		if err := p.WriteFrame(fr); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("WriteFrame: %v allocs per frame, want 0", a)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := p.WriteFrame(fr); !errors.Is(err, audio.ErrClosed) {
		t.Fatalf("WriteFrame after Close: %v, want audio.ErrClosed", err)
	}
	if left := audiotest.LeftBehind(before, time.Second); len(left) > 0 {
		t.Fatalf("goroutines left behind: %v", left)
	}
}

// TestPlaybackFasterThanRealTime: a device that takes audio far faster
// than it could play it (the file plugin over the null plugin) is refused
// with a clear error naming it, within a second of audio, as capture does.
func TestPlaybackFasterThanRealTime(t *testing.T) {
	vspk(t)
	cfg := cfgOf(alsaconf.S16LE, 2, audio.Rate48k, 10*time.Millisecond)
	cfg.Device = "vspk"
	p, err := OpenPlayback(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	fr := audio.NewFrame(2, audio.Rate48k, 10*time.Millisecond)
	start := time.Now()
	var n int
	for {
		if err = p.WriteFrame(fr); err != nil {
			break
		}
		if n++; n > 500 {
			t.Fatalf("still writing after %d frames (%v of audio) in %v", n, time.Duration(n)*10*time.Millisecond, time.Since(start))
		}
	}
	var de *DeviceError
	if !errors.As(err, &de) || !errors.Is(err, ErrTooFast) || de.Device != "vspk" || de.Op != "write" {
		t.Fatalf("err = %v, want a write DeviceError of vspk for ErrTooFast", err)
	}
	t.Logf("refused after %d frames (%v of audio) in %v: %v", n, time.Duration(n)*10*time.Millisecond, time.Since(start).Round(time.Millisecond), err)
}
