package whip

import (
	"math"
	"testing"
	"time"

	"gopkg.in/hraban/opus.v2"
)

// toneFrames encodes n frames of a sine tone at freq Hz (48 kHz, the given
// channel count, frame duration frame) with libopus.
func toneFrames(t testing.TB, freq float64, channels, n int, frame time.Duration) [][]byte {
	t.Helper()
	enc, err := opus.NewEncoder(48000, channels, opus.AppAudio)
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.SetInBandFEC(true); err != nil {
		t.Fatal(err)
	}
	per := int(frame * 48000 / time.Second)
	pcm := make([]float32, per*channels)
	buf := make([]byte, maxOpusPacket)
	out := make([][]byte, 0, n)
	for f := range n {
		for i := range per {
			v := float32(0.5 * math.Sin(2*math.Pi*freq*float64(f*per+i)/48000))
			for c := range channels {
				pcm[i*channels+c] = v
			}
		}
		m, err := enc.EncodeFloat32(pcm, buf)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, append([]byte(nil), buf[:m]...))
	}
	return out
}

// decodeOpus decodes packets (in order) to interleaved float32 PCM.
func decodeOpus(t testing.TB, channels int, packets [][]byte) []float32 {
	t.Helper()
	dec, err := opus.NewDecoder(48000, channels)
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]float32, 5760*channels) // 120 ms, the longest Opus packet
	var out []float32
	for _, p := range packets {
		n, err := dec.DecodeFloat32(p, pcm)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		out = append(out, pcm[:n*channels]...)
	}
	return out
}

// toneFrequency estimates the frequency of a pure tone in the first
// channel of interleaved PCM from its rising zero crossings, interpolated
// between samples, and returns it with the share of the signal's power
// that sits at that frequency (a Goertzel bin over the same span), which
// tells a tone from noise.
func toneFrequency(pcm []float32, channels int) (freq, purity float64) {
	x := make([]float64, 0, len(pcm)/channels)
	for i := 0; i < len(pcm); i += channels {
		x = append(x, float64(pcm[i]))
	}
	first, last, crossings := -1.0, -1.0, 0
	for i := 1; i < len(x); i++ {
		if x[i-1] < 0 && x[i] >= 0 {
			at := float64(i-1) + x[i-1]/(x[i-1]-x[i])
			if first < 0 {
				first = at
			} else {
				crossings++
			}
			last = at
		}
	}
	if crossings == 0 {
		return 0, 0
	}
	freq = float64(crossings) * 48000 / (last - first)
	// Goertzel at freq over the whole span: |X(f)|² / (N/2 · Σx²) is 1
	// for a pure tone at f.
	w := 2 * math.Pi * freq / 48000
	c := 2 * math.Cos(w)
	var s1, s2, energy float64
	for _, v := range x {
		s1, s2 = v+c*s1-s2, s1
		energy += v * v
	}
	power := s1*s1 + s2*s2 - c*s1*s2
	if energy == 0 {
		return freq, 0
	}
	return freq, power / (float64(len(x)) / 2 * energy)
}

func TestToneFrequencyMeasuresTone(t *testing.T) {
	for _, f := range []float64{440, 697, 1234.5} {
		pcm := make([]float32, 48000)
		for i := range pcm {
			pcm[i] = float32(math.Sin(2 * math.Pi * f * float64(i) / 48000))
		}
		got, purity := toneFrequency(pcm, 1)
		if math.Abs(got-f) > 0.5 || purity < 0.95 {
			t.Errorf("tone %v Hz: measured %.2f Hz, purity %.3f", f, got, purity)
		}
	}
	// White-ish noise is not a tone.
	noise := make([]float32, 48000)
	var x uint32 = 1
	for i := range noise {
		x = x*1664525 + 1013904223
		noise[i] = float32(int32(x)) / (1 << 31)
	}
	if _, purity := toneFrequency(noise, 1); purity > 0.1 {
		t.Errorf("noise purity %.3f, want < 0.1", purity)
	}
}
