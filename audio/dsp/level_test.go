package dsp

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onair-gateway/onair/audio"
)

func sineAt(n int, freq, amp float64, from int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(amp * math.Sin(2*math.Pi*freq*float64(from+i)/48000))
	}
	return x
}

func TestLevelMeter(t *testing.T) {
	cases := []struct {
		freq, amp         float64
		wantRMS, wantPeak float64
	}{
		{1000, 0.1, -23.01, -20},
		{440, 1, -3.01, 0},
		{97.5, 0.01, -43.01, -40},
	}
	for _, c := range cases {
		var m LevelMeter
		// In blocks, as packets come.
		for pos := 0; pos < 48000; pos += 960 {
			m.Add(sineAt(960, c.freq, c.amp, pos), int64(pos))
		}
		rms, peak := m.DBFS()
		if math.Abs(rms-c.wantRMS) > 0.05 || math.Abs(peak-c.wantPeak) > 0.05 {
			t.Errorf("%v Hz at %v: rms %.2f peak %.2f, want %.2f %.2f", c.freq, c.amp, rms, peak, c.wantRMS, c.wantPeak)
		}
		if f := m.Freq(audio.Rate48k); math.Abs(f-c.freq) > 0.05 {
			t.Errorf("freq %.3f, want %v", f, c.freq)
		}
		m.Restart()
		if rms, _ := m.DBFS(); rms != -120 {
			t.Errorf("after Restart: %v dBFS", rms)
		}
	}
	// Noise near the zero crossings (coding noise, hiss) must not count
	// as extra periods: 1 kHz at -23 dBFS with hiss 26 dB below it.
	var noisy LevelMeter
	rng := rand.New(rand.NewPCG(1, 2))
	for pos := 0; pos < 4*48000; pos += 960 {
		x := sineAt(960, 1000, 0.1, pos)
		for i := range x {
			x[i] += float32(0.005 * rng.NormFloat64())
		}
		noisy.Add(x, int64(pos))
	}
	if f := noisy.Freq(audio.Rate48k); math.Abs(f-1000) > 0.5 {
		t.Errorf("tone in noise: freq %.3f, want 1000", f)
	}
	var silent LevelMeter
	silent.Add(make([]float32, 480), 0)
	if rms, _ := silent.DBFS(); rms != -120 || silent.Freq(audio.Rate48k) != 0 {
		t.Errorf("silence: %v dBFS, %v Hz", rms, silent.Freq(audio.Rate48k))
	}
	x := sineAt(960, 1000, 0.1, 0)
	if a := testing.AllocsPerRun(10, func() { silent.Add(x, 0) }); a != 0 {
		t.Errorf("Add allocates %v times", a)
	}
}
