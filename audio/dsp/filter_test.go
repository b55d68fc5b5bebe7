package dsp

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
)

// TestHighPassRemovesDC checks that the high-pass removes a DC offset (a
// different one per channel), passes 1 kHz unchanged and attenuates rumble
// two octaves under its corner by more than 20 dB (12 dB per octave).
func TestHighPassRemovesDC(t *testing.T) {
	for _, tc := range []struct {
		rate     audio.SampleRate
		channels int
		corner   float64
	}{
		{audio.Rate48k, 1, 80},
		{audio.Rate48k, 2, 80},
		{audio.Rate16k, 3, 80},
		{audio.Rate48k, 1, 150},
	} {
		t.Run(fmt.Sprintf("%d Hz/%d ch/%v Hz", tc.rate, tc.channels, tc.corner), func(t *testing.T) {
			f := audio.Format{Channels: tc.channels, Rate: tc.rate, Period: 10 * time.Millisecond}
			n := int(tc.rate) * 2
			sig := func(freq float64, dc bool) [][]float32 {
				chans := make([][]float32, tc.channels)
				for c := range chans {
					chans[c] = make([]float32, n)
					for i := range chans[c] {
						v := 0.1 * math.Sin(2*math.Pi*freq*float64(i)/float64(tc.rate))
						if dc {
							v += 0.05 * float64(c+1)
						}
						chans[c][i] = float32(v)
					}
				}
				return chans
			}
			run := func(chans [][]float32) []float32 {
				hp, err := NewHighPass(f, tc.corner)
				if err != nil {
					t.Fatal(err)
				}
				return runStage(hp, f, tc.channels, interleave(chans))
			}
			settled := n / 2
			out := run(sig(1000, true))
			for c := 0; c < tc.channels; c++ {
				y := channel(out, c, tc.channels)[settled:]
				var mean float64
				for _, v := range y {
					mean += float64(v)
				}
				mean /= float64(len(y))
				if math.Abs(mean) > 1e-4 {
					t.Errorf("channel %d: DC %.5f left of %.2f", c, mean, 0.05*float64(c+1))
				}
				if g := 10 * math.Log10(power(y)/0.005); math.Abs(g) > 0.05 {
					t.Errorf("channel %d: 1 kHz changed by %.3f dB", c, g)
				}
			}
			rumble := channel(run(sig(tc.corner/4, false)), 0, tc.channels)[settled:]
			if g := 10 * math.Log10(power(rumble)/0.005); g > -20 {
				t.Errorf("%v Hz attenuated by only %.1f dB", tc.corner/4, -g)
			}
		})
	}
}

func TestHighPassBypass(t *testing.T) {
	f := fmt48(2, 10*time.Millisecond)
	hp, err := NewHighPass(f, 0)
	if err != nil {
		t.Fatal(err)
	}
	in := make([]float32, 9600)
	for i := range in {
		in[i] = 0.3 + float32(i%7)/10
	}
	for i, v := range runStage(hp, f, 2, in) {
		if v != in[i] {
			t.Fatalf("sample %d: %v became %v with the filter off", i, in[i], v)
		}
	}
}

// TestGainPerChannel checks that each channel gets its own gain.
func TestGainPerChannel(t *testing.T) {
	gains := []float64{-6, 0, 6.5, -20}
	f := fmt48(4, 10*time.Millisecond)
	g, err := NewGain(f, gains)
	if err != nil {
		t.Fatal(err)
	}
	in := make([]float32, 4*480*3)
	for i := range in {
		in[i] = 0.01 * float32(i%13+1)
	}
	out := runStage(g, f, 4, in)
	for i, v := range out {
		want := in[i] * float32(FromDB(gains[i%4]))
		if math.Abs(float64(v-want)) > 1e-7 {
			t.Fatalf("channel %d sample %d: %v, want %v (gain %v dB)", i%4, i/4, v, want, gains[i%4])
		}
	}
	if _, err := NewGain(f, []float64{1, 2}); err == nil {
		t.Error("2 gains for 4 channels accepted")
	}
}

// TestStagesRejectWrongShape checks that a frame of the wrong channel count
// silences dst rather than writing garbage.
func TestStagesRejectWrongShape(t *testing.T) {
	f := fmt48(2, 10*time.Millisecond)
	hp, _ := NewHighPass(f, 80)
	src := audio.NewFrame(3, audio.Rate48k, 10*time.Millisecond)
	dst := audio.NewFrame(2, audio.Rate48k, 10*time.Millisecond)
	for i := range dst.Samples {
		dst.Samples[i] = 1
	}
	hp.Process(dst, src)
	for i, v := range dst.Samples {
		if v != 0 {
			t.Fatalf("sample %d = %v after a 3-channel frame into a 2-channel stage", i, v)
		}
	}
}

// TestHighPassRecoversFromNaN checks that one non-finite sample does not
// leave the filter producing NaN for ever.
func TestHighPassRecoversFromNaN(t *testing.T) {
	f := fmt48(3, 10*time.Millisecond)
	hp, err := NewHighPass(f, 80)
	if err != nil {
		t.Fatal(err)
	}
	src := audio.NewFrame(3, audio.Rate48k, 10*time.Millisecond)
	dst := audio.NewFrame(3, audio.Rate48k, 10*time.Millisecond)
	src.Samples[4] = float32(math.NaN())
	src.Samples[8] = float32(math.Inf(-1))
	hp.Process(dst, src)
	clear(src.Samples)
	src.Samples[0], src.Samples[1], src.Samples[2] = 0.5, 0.5, 0.5
	hp.Process(dst, src)
	for i, v := range dst.Samples {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("frame after a NaN: sample %d = %v", i, v)
		}
	}
}
