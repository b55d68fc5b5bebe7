package mix

import (
	"math"
	"testing"
	"time"
)

func tone(n int, freq, amp float64, from int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(amp * math.Sin(2*math.Pi*freq*float64(from+i)/48000))
	}
	return x
}

// TestBusHeadroom: four loud talkers at once (their sum twice full scale)
// never clip, and never pass the ceiling; once three stop, the gain comes
// back and the one left plays exactly at the volume set.
func TestBusHeadroom(t *testing.T) {
	const n = 960
	b, err := NewBus(n, 20*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, n)
	var peak float32
	for k := 0; k < 50; k++ {
		for _, f := range []float64{200, 300, 450, 700} {
			b.Add(tone(n, f, 0.5, k*n))
		}
		b.Mix(out)
		for _, v := range out {
			peak = max(peak, v, -v)
		}
	}
	if peak > Ceiling+1e-6 {
		t.Errorf("four talkers: peak %.3f, above the ceiling %.3f", peak, Ceiling)
	}
	if peak < 0.8 {
		t.Errorf("four talkers: peak %.3f, limited far more than needed", peak)
	}
	// One talker: within 2 s the gain is back to 1 (20 dB/s).
	for k := 0; k < 100; k++ {
		b.Add(tone(n, 200, 0.3, k*n))
		b.Mix(out)
	}
	in := tone(n, 200, 0.3, 100*n)
	b.Add(in)
	b.Mix(out)
	for i := range out {
		if math.Abs(float64(out[i]-in[i])) > 1e-6 {
			t.Fatalf("one talker alone, sample %d: %v, want %v (gain %v)", i, out[i], in[i], b.Stats().Gain)
		}
	}
	if st := b.Stats(); st.Limited == 0 || st.Gain != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestBusVolume(t *testing.T) {
	b, err := NewBus(480, 10*time.Millisecond, -6)
	if err != nil {
		t.Fatal(err)
	}
	in, out := tone(480, 500, 0.2, 0), make([]float32, 480)
	b.Add(in)
	b.Mix(out)
	if r := out[100] / in[100]; math.Abs(float64(r)-0.501) > 0.001 {
		t.Errorf("-6 dB: ratio %v", r)
	}
	for _, v := range []float64{-61, 21, math.NaN()} {
		if _, err := NewBus(480, 10*time.Millisecond, v); err == nil {
			t.Errorf("volume %v accepted", v)
		}
	}
	if a := testing.AllocsPerRun(100, func() { b.Add(in); b.Mix(out) }); a != 0 {
		t.Errorf("%v allocs per frame", a)
	}
}
