package dsp

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
)

// TestFaderSlope checks the on-air gate with a constant input of 1 (so the
// output is the gain): the gain never changes by more than 1/(fade samples)
// per sample, also when the state flips back in the middle of a fade, it
// reaches exactly 1 on air, and off air the output is exact zeros once the
// fade has had time to finish.
func TestFaderSlope(t *testing.T) {
	for _, tc := range []struct {
		rate   audio.SampleRate
		ch     int
		period time.Duration
		fade   time.Duration
	}{
		{audio.Rate48k, 1, 10 * time.Millisecond, 10 * time.Millisecond},
		{audio.Rate48k, 2, 10 * time.Millisecond, 25 * time.Millisecond},
		{audio.Rate48k, 1, 20 * time.Millisecond, time.Millisecond},
		{audio.Rate16k, 1, 10 * time.Millisecond, 100 * time.Millisecond},
		{audio.Rate48k, 1, 20 * time.Millisecond, 37 * time.Millisecond},
	} {
		t.Run(fmt.Sprintf("%d Hz/%d ch/%v frames/%v fade", tc.rate, tc.ch, tc.period, tc.fade), func(t *testing.T) {
			f := audio.Format{Channels: tc.ch, Rate: tc.rate, Period: tc.period}
			fd, err := NewFader(f, tc.fade)
			if err != nil {
				t.Fatal(err)
			}
			fadeN := tc.rate.Samples(tc.fade)
			frameN := f.FrameLen()
			settle := (fadeN + frameN - 1) / frameN // frames a full fade takes
			// On and off air for various numbers of frames: some flips
			// land in the middle of a fade.
			script := []struct {
				on     bool
				frames int
			}{
				{false, 2}, {true, 1}, {false, 1}, {true, settle + 1}, {false, 1}, {true, 1},
				{false, settle + 2}, {true, settle / 2}, {false, settle + 3},
			}
			src := audio.NewFrame(tc.ch, tc.rate, tc.period)
			for i := range src.Samples {
				src.Samples[i] = 1
			}
			dst := audio.NewFrame(tc.ch, tc.rate, tc.period)
			maxStep := 1/float64(fadeN) + 1e-6
			prev := float32(0)
			for _, s := range script {
				fd.SetOnAir(s.on)
				for k := 0; k < s.frames; k++ {
					fd.Process(dst, src)
					for i := 0; i < len(dst.Samples); i += tc.ch {
						g := dst.Samples[i]
						for c := 1; c < tc.ch; c++ {
							if dst.Samples[i+c] != g {
								t.Fatalf("channels got different gains %v, %v", g, dst.Samples[i+c])
							}
						}
						if d := math.Abs(float64(g - prev)); d > maxStep {
							t.Fatalf("gain stepped by %.6f (from %v to %v), more than 1/(fade samples) = 1/%d", d, prev, g, fadeN)
						}
						prev = g
					}
					done := (k+1)*frameN >= fadeN+frameN // a whole fade since the flip
					if done && !s.on {
						for i, v := range dst.Samples {
							if v != 0 {
								t.Fatalf("off air for %d frames, sample %d = %v", k+1, i, v)
							}
						}
						if fd.Gain() != 0 {
							t.Fatalf("Gain() = %v off air", fd.Gain())
						}
					}
					if done && s.on && (prev != 1 || fd.Gain() != 1) {
						t.Fatalf("on air for %d frames, gain %v (Gain() = %v)", k+1, prev, fd.Gain())
					}
				}
				if fd.OnAir() != s.on {
					t.Fatalf("OnAir() = %v, want %v", fd.OnAir(), s.on)
				}
			}
		})
	}
}

// TestChainOffAir checks the whole chain: off air its output is exact
// zeros after the fade, on air it is not, and the gate is controlled from
// another goroutine while frames flow (run with -race).
func TestChainOffAir(t *testing.T) {
	speech := speechAt(t, -20, 3*time.Second)
	f := fmt48(1, 10*time.Millisecond)
	c, err := NewChain(defaultConfig(1, false), audio.Geometry{Shape: audio.ShapeLinear, Mics: 1}, f)
	if err != nil {
		t.Fatal(err)
	}
	if c.OnAir() || c.GateOpen() != 0 {
		t.Fatalf("a new chain is on air: OnAir %v, GateOpen %v", c.OnAir(), c.GateOpen())
	}
	src := audio.NewFrame(1, audio.Rate48k, 10*time.Millisecond)
	dst := audio.NewFrame(1, audio.Rate48k, 10*time.Millisecond)
	frame := func(i int) {
		copy(src.Samples, speech[(i*480)%(len(speech)-480):])
		c.Process(dst, src)
	}
	flip := make(chan bool)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for on := range flip {
			c.SetOnAir(on)
			_ = c.Meters()
			_, _ = c.DOA()
		}
	}()
	i := 0
	for _, on := range []bool{true, false, true, false} {
		flip <- on
		flip <- on // the second send returns once the first SetOnAir ran
		var energy float64
		for k := 0; k < 50; k++ { // 500 ms
			frame(i)
			i++
			if k >= 2 {
				energy += power(dst.Samples)
			}
			if !on && k >= 2 {
				for j, v := range dst.Samples {
					if v != 0 {
						t.Fatalf("off air for %d ms, sample %d = %v", (k+1)*10, j, v)
					}
				}
			}
		}
		if on && (energy == 0 || c.GateOpen() != 1) {
			t.Fatalf("on air: output energy %v, GateOpen %v", energy, c.GateOpen())
		}
		if !on && c.GateOpen() != 0 {
			t.Fatalf("off air: GateOpen %v", c.GateOpen())
		}
	}
	close(flip)
	<-done
}
