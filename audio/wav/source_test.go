package wav_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/audiotest"
	"github.com/onair-gateway/onair/audio/wav"
)

// writeRamp writes frames of a stereo 48 kHz ramp (left i/2^20, right
// -i/2^20) as float32 and returns its path.
func writeRamp(t *testing.T, frames int) string {
	t.Helper()
	pcm := make([]float32, 2*frames)
	for i := range frames {
		pcm[2*i], pcm[2*i+1] = float32(i)/(1<<20), -float32(i)/(1<<20)
	}
	b, err := wav.Encode(wav.Format{Encoding: wav.Float, Channels: 2, Rate: 48000, Bits: 32}, pcm)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "ramp.wav")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

var stereo10ms = audio.Format{Channels: 2, Rate: audio.Rate48k, Period: 10 * time.Millisecond}

func openSource(t *testing.T, path string) *wav.Source {
	t.Helper()
	f, err := wav.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	s, err := wav.NewSource(f.Reader, stereo10ms)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSourceContract(t *testing.T) {
	path := writeRamp(t, (audiotest.Frames+2)*480)
	audiotest.TestSource(t, func(t *testing.T) audio.Source { return openSource(t, path) })
}

// TestSourcePlaysFile: every sample in order, the last frame padded with
// silence, then the end of the stream.
func TestSourcePlaysFile(t *testing.T) {
	const frames = 3*480 + 100
	s := openSource(t, writeRamp(t, frames))
	dst := audio.NewFrame(2, audio.Rate48k, 10*time.Millisecond)
	for k := range 4 {
		if err := s.ReadFrame(dst); err != nil {
			t.Fatalf("frame %d: %v", k, err)
		}
		if dst.Pos != int64(k*480) {
			t.Fatalf("frame %d at Pos %d", k, dst.Pos)
		}
		for i := range 480 {
			at := k*480 + i
			want := float32(at) / (1 << 20)
			if at >= frames {
				want = 0
			}
			if dst.Samples[2*i] != want || dst.Samples[2*i+1] != -want {
				t.Fatalf("sample %d: %v/%v, want %v/%v", at, dst.Samples[2*i], dst.Samples[2*i+1], want, -want)
			}
		}
	}
	if err := s.ReadFrame(dst); !errors.Is(err, audio.ErrEndOfStream) {
		t.Fatalf("after the file: %v, want ErrEndOfStream", err)
	}
	f, err := wav.Open(writeRamp(t, 480))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := wav.NewSource(f.Reader, audio.Format{Channels: 1, Rate: audio.Rate48k, Period: 10 * time.Millisecond}); err == nil {
		t.Error("a stereo file was accepted as a mono source")
	}
}
