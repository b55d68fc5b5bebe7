package relay

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)

// run feeds n packets of size bytes spaced by gap through a fresh shaper
// and returns each verdict and release delay.
func run(f Faults, seed uint64, n, size int, gap time.Duration) ([]verdict, []time.Duration) {
	f.SetDefaults()
	s := newShaper(seed, 0)
	vs := make([]verdict, n)
	ds := make([]time.Duration, n)
	for i := range n {
		now := t0.Add(time.Duration(i) * gap)
		at, v, _ := s.admit(&f, now, size)
		vs[i] = v
		if v == deliver {
			ds[i] = at.Sub(now)
		}
	}
	return vs, ds
}

func count(vs []verdict, want verdict) int {
	n := 0
	for _, v := range vs {
		if v == want {
			n++
		}
	}
	return n
}

func TestShaperLoss(t *testing.T) {
	for _, loss := range []float64{0, 0.05, 0.1, 0.2, 1} {
		vs, _ := run(Faults{Loss: loss}, 1, 100_000, 100, 20*time.Millisecond)
		got := float64(count(vs, lost)) / float64(len(vs))
		if math.Abs(got-loss) > 0.01 {
			t.Errorf("loss %v: measured %.4f", loss, got)
		}
		if n := count(vs, burst) + count(vs, overflow); n != 0 {
			t.Errorf("loss %v: %d drops of another kind", loss, n)
		}
	}
}

// TestShaperBurst: the Gilbert-Elliott channel loses BurstLoss of the
// packets in runs whose mean length is BurstLen.
func TestShaperBurst(t *testing.T) {
	for _, tc := range []struct{ loss, mean float64 }{{0.1, 3}, {0.05, 2}, {0.2, 5}} {
		vs, _ := run(Faults{BurstLoss: tc.loss, BurstLen: tc.mean}, 7, 200_000, 100, 20*time.Millisecond)
		got := float64(count(vs, burst)) / float64(len(vs))
		if math.Abs(got-tc.loss) > 0.01 {
			t.Errorf("burst loss %v: measured %.4f", tc.loss, got)
		}
		runs, in := 0, false
		for _, v := range vs {
			if v == burst && !in {
				runs++
			}
			in = v == burst
		}
		mean := float64(count(vs, burst)) / float64(runs)
		if math.Abs(mean-tc.mean) > 0.1*tc.mean {
			t.Errorf("burst loss %v: mean burst %.2f packets, want %v", tc.loss, mean, tc.mean)
		}
	}
}

// TestShaperDelay: every delay is in [Delay, Delay+Jitter), uniform.
func TestShaperDelay(t *testing.T) {
	const d, j = 30 * time.Millisecond, 40 * time.Millisecond
	_, ds := run(Faults{Delay: d, Jitter: j}, 3, 100_000, 100, 20*time.Millisecond)
	var sum time.Duration
	var buckets [4]int
	for _, x := range ds {
		if x < d || x >= d+j {
			t.Fatalf("delay %v outside [%v, %v)", x, d, d+j)
		}
		sum += x
		buckets[int((x-d)*4/j)]++
	}
	mean := sum / time.Duration(len(ds))
	if want := d + j/2; (mean - want).Abs() > j/50 {
		t.Errorf("mean delay %v, want %v", mean, want)
	}
	for i, n := range buckets {
		if f := float64(n) / float64(len(ds)); math.Abs(f-0.25) > 0.01 {
			t.Errorf("quarter %d of the jitter range holds %.3f of the packets, want 0.25", i, f)
		}
	}
	_, ds = run(Faults{Delay: d}, 3, 100, 100, 20*time.Millisecond)
	for _, x := range ds {
		if x != d {
			t.Fatalf("delay %v without jitter, want exactly %v", x, d)
		}
	}
}

// TestShaperRate: packets arriving together leave one serialisation time
// apart; those that would wait longer than QueueLimit are dropped.
func TestShaperRate(t *testing.T) {
	f := Faults{RateBps: 80_000, QueueLimit: 100 * time.Millisecond} // 100 bytes = 10 ms
	vs, ds := run(f, 1, 20, 100, 0)
	for i := range 11 { // waits of 0..100 ms fit the queue
		if vs[i] != deliver || ds[i] != time.Duration(i+1)*10*time.Millisecond {
			t.Errorf("packet %d: %v after %v, want delivered after %v", i, vs[i], ds[i], time.Duration(i+1)*10*time.Millisecond)
		}
	}
	if n := count(vs[11:], overflow); n != 9 {
		t.Errorf("%d of the last 9 packets overflowed, want all", n)
	}
	// Spaced at the link rate, nothing queues.
	vs, ds = run(f, 1, 50, 100, 10*time.Millisecond)
	if count(vs, deliver) != 50 || slices.Max(ds) != 10*time.Millisecond {
		t.Errorf("packets at the link rate: %d delivered, max delay %v", count(vs, deliver), slices.Max(ds))
	}
}

// TestShaperSeed: a seed repeats exactly; another seed does not.
func TestShaperSeed(t *testing.T) {
	f := Faults{Loss: 0.1, BurstLoss: 0.05, Delay: 10 * time.Millisecond, Jitter: 20 * time.Millisecond, Reorder: 0.05}
	v1, d1 := run(f, 42, 5000, 100, 20*time.Millisecond)
	v2, d2 := run(f, 42, 5000, 100, 20*time.Millisecond)
	if !slices.Equal(v1, v2) || !slices.Equal(d1, d2) {
		t.Error("two runs with seed 42 differ")
	}
	v3, _ := run(f, 43, 5000, 100, 20*time.Millisecond)
	if slices.Equal(v1, v3) {
		t.Error("seeds 42 and 43 drop the same packets")
	}
}

func TestFaultsValidate(t *testing.T) {
	for _, tc := range []struct {
		f    Faults
		want []string // each a field path the error must name
	}{
		{Faults{}, nil},
		{Faults{Loss: 0.1, BurstLoss: 0.1, BurstLen: 3, Delay: time.Millisecond, Jitter: time.Millisecond, Reorder: 0.1, RateBps: 64000, QueueLimit: time.Second}, nil},
		{Faults{Loss: 1.5}, []string{"loss"}},
		{Faults{Loss: math.NaN(), Reorder: -1}, []string{"loss", "reorder"}},
		{Faults{BurstLoss: 0.95, BurstLen: 30}, []string{"burst_loss"}},
		{Faults{BurstLoss: 0.5, BurstLen: 0.5}, []string{"burst_len"}},
		{Faults{BurstLoss: 0.8, BurstLen: 2}, []string{"burst_len"}}, // p would exceed 1
		{Faults{Delay: -time.Millisecond, Jitter: 11 * time.Second}, []string{"delay", "jitter"}},
		{Faults{RateBps: 100}, []string{"rate_bps"}},
		{Faults{RateBps: 64000, QueueLimit: 20 * time.Second}, []string{"queue_limit"}},
	} {
		err := tc.f.Validate()
		if tc.want == nil {
			if err != nil {
				t.Errorf("%+v: %v", tc.f, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%+v: no error, want one naming %v", tc.f, tc.want)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w+":") {
				t.Errorf("%+v: %q does not name %s", tc.f, err, w)
			}
		}
	}
}
