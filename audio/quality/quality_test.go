package quality

import (
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/wav"
)

// speech returns the bundled 7 s speech sample, 48 kHz mono.
func speech(t testing.TB) []float32 {
	t.Helper()
	f, err := os.Open("../../testdata/speech48k.wav")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := wav.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, r.Frames())
	n := 0
	for n < len(out) {
		m, err := r.Read(out[n:])
		n += m
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	return out[:n]
}

// lose zeroes a fraction of the 20 ms blocks of x, drawn with seed.
func lose(x []float32, fraction float64, seed uint64) []float32 {
	out := append([]float32(nil), x...)
	rnd := rand.New(rand.NewPCG(seed, 0))
	for at := 0; at+960 <= len(out); at += 960 {
		if rnd.Float64() < fraction {
			clear(out[at : at+960])
		}
	}
	return out
}

func TestScore(t *testing.T) {
	ref := speech(t)
	delayed := func(x []float32, lag int, gain float32) []float32 {
		out := make([]float32, lag+len(x))
		for i, v := range x {
			out[lag+i] = gain * v
		}
		return out
	}
	cases := []struct {
		name         string
		got          []float32
		lag          int
		envLo, envHi float64
		melLo, melHi float64
	}{
		{"identical", ref, 0, 0.9999, 1, 0.9999, 1},
		{"delayed 1234 samples, 6 dB down", delayed(ref, 1234, 0.5), 1234, 0.9999, 1, 0.99, 1},
		{"10% of 20 ms blocks lost, no concealment", delayed(lose(ref, 0.10, 1), 480, 1), 480, 0.5, 0.97, 0.5, 0.95},
		{"30% lost", delayed(lose(ref, 0.30, 1), 480, 1), 480, 0, 0.9, 0, 0.85},
	}
	var prev Scores
	for i, c := range cases {
		s, err := Score(ref, c.got, audio.Rate48k, 4800)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		t.Logf("%s: envelope %.4f, log-mel %.4f, lag %d", c.name, s.Envelope, s.LogMel, s.Lag)
		if s.Lag != c.lag {
			t.Errorf("%s: lag %d, want %d", c.name, s.Lag, c.lag)
		}
		if s.Envelope < c.envLo || s.Envelope > c.envHi || s.LogMel < c.melLo || s.LogMel > c.melHi {
			t.Errorf("%s: envelope %.4f (want %.2f..%.2f), log-mel %.4f (want %.2f..%.2f)",
				c.name, s.Envelope, c.envLo, c.envHi, s.LogMel, c.melLo, c.melHi)
		}
		if i == 3 && (s.Envelope >= prev.Envelope || s.LogMel >= prev.LogMel) {
			t.Errorf("30%% loss scores %+v, not below 10%% loss %+v", s, prev)
		}
		prev = s
	}
	if _, err := Score(ref[:1000], ref[:1000], audio.Rate48k, 100); !errors.Is(err, ErrTooShort) {
		t.Errorf("Score of 1000 samples: %v, want ErrTooShort", err)
	}
}

// TestScoreSlip: a receiver that slipped 5 ms half-way (a frame the
// sender skipped) still scores as the audio it is, while the same slip
// without per-second alignment would cost the second half.
func TestScoreSlip(t *testing.T) {
	ref := speech(t)
	half := len(ref) / 2
	got := make([]float32, 0, len(ref)+240+480)
	got = append(got, make([]float32, 480)...)
	got = append(got, ref[:half]...)
	got = append(got, make([]float32, 240)...) // 5 ms of nothing
	got = append(got, ref[half:]...)
	s, err := Score(ref, got, audio.Rate48k, 4800)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("5 ms slip: %+v", s)
	if s.Envelope < 0.99 || s.LogMel < 0.97 {
		t.Errorf("a 5 ms slip scores %+v", s)
	}
	if lm, _ := LogMel(ref, got[480:480+len(ref)], audio.Rate48k); lm > s.LogMel-0.01 {
		t.Errorf("without realignment log-mel %.3f, with %.3f: the slip costs nothing either way", lm, s.LogMel)
	}
}
