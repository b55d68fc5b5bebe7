package rx

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/opus"
	"github.com/onair-gateway/onair/audio/wav"
)

// voiced is a continuous voice-like test signal (three partials, slowly
// modulated, about -23 dBFS): any gap in what a Jitter plays shows as a
// silent block.
func voiced(n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		t := float64(i) / 48000
		am := 0.75 + 0.25*math.Sin(2*math.Pi*3*t)
		x[i] = float32(am * (0.05*math.Sin(2*math.Pi*220*t) + 0.03*math.Sin(2*math.Pi*660*t) + 0.02*math.Sin(2*math.Pi*1320*t)))
	}
	return x
}

// speech returns testdata/speech48k.wav (7.1 s of espeak-ng speech).
func speech(t testing.TB) []float32 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "speech48k.wav"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := wav.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return a.Channels[0]
}

// encodeFEC encodes sig in 20 ms voip packets with in-band FEC sized for
// 10% loss, as the device's encoder does by default.
func encodeFEC(tb testing.TB, sig []float32) [][]byte {
	tb.Helper()
	cfg := opus.Config{}
	cfg.SetDefaults()
	enc, err := opus.NewEncoder(cfg, audio.Rate48k)
	if err != nil {
		tb.Fatal(err)
	}
	var pkts [][]byte
	out := make([]byte, 1500)
	for i := 0; i+960 <= len(sig); i += 960 {
		k, err := enc.Encode(sig[i:i+960], out)
		if err != nil {
			tb.Fatal(err)
		}
		pkts = append(pkts, append([]byte(nil), out[:k]...))
	}
	return pkts
}

// sent is when packet seq arrives (simulated).
type sent struct {
	seq int
	at  time.Time
}

// play feeds pkts arriving as arr (any order) to j and pulls 10 ms every
// 10 ms of the fake clock from t0 until until; it returns what was played
// from the first pull that played, and the target after every pull.
func play(j *Jitter, pkts [][]byte, arr []sent, t0, until time.Time) (out []float32, targets []time.Duration) {
	slices.SortStableFunc(arr, func(a, b sent) int { return a.at.Compare(b.at) })
	buf := make([]float32, 480)
	playing := false
	for now, i := t0, 0; now.Before(until); now = now.Add(10 * time.Millisecond) {
		for ; i < len(arr) && !arr[i].at.After(now); i++ {
			s := arr[i].seq
			j.Push(Packet{Seq: uint16(s), Timestamp: uint32(s * 960), Payload: pkts[s]}, arr[i].at)
		}
		if j.Pull(now, buf) {
			playing = true
		}
		if playing {
			out = append(out, buf...)
			targets = append(targets, j.Stats().Target)
		}
	}
	return out, targets
}

func newJitter(tb testing.TB) *Jitter {
	tb.Helper()
	j, err := NewJitter(JitterConfig{Channels: 1, Rate: audio.Rate48k})
	if err != nil {
		tb.Fatal(err)
	}
	return j
}

// TestJitterLossAndJitter: 10% random loss and 30 ms of jitter (each
// packet delayed by a half-normal of σ = 30 ms) on a fake clock. The
// playout never goes silent (every loss is concealed), the target settles
// within 20 ms of the 95th percentile of the delays injected, and the
// current delay follows the target. With 60 ms of jitter the target
// follows it up (a fixed delay would not).
func TestJitterLossAndJitter(t *testing.T) {
	for _, sigma := range []time.Duration{30 * time.Millisecond, 60 * time.Millisecond} {
		t.Run(sigma.String(), func(t *testing.T) { testLossAndJitter(t, sigma) })
	}
}

func testLossAndJitter(t *testing.T, sigma time.Duration) {
	const n = 750 // 15 s
	sig := voiced(n * 960)
	pkts := encodeFEC(t, sig)
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Unix(1000, 0)
	var arr []sent
	var delays []time.Duration
	for s := range pkts {
		if rng.Float64() < 0.10 {
			continue
		}
		d := time.Duration(math.Abs(rng.NormFloat64()) * float64(sigma))
		delays = append(delays, d)
		arr = append(arr, sent{s, t0.Add(time.Duration(s)*20*time.Millisecond + 5*time.Millisecond + d)})
	}
	slices.Sort(delays)
	p95 := delays[len(delays)*95/100] - delays[0]
	j := newJitter(t)
	out, targets := play(j, pkts, arr, t0, t0.Add(n*20*time.Millisecond))
	st := j.Stats()
	t.Logf("p95 of the delays injected %v; target %v, delay %v; %+v", p95, st.Target, st.Delay, st)

	// Settled: over the last 10 s the target stays within 20 ms of p95.
	for i, tg := range targets[len(targets)-1000:] {
		if d := tg - p95; d > 20*time.Millisecond || d < -20*time.Millisecond {
			t.Fatalf("target %v at %d, want within 20 ms of the jitter's p95 %v", tg, i, p95)
		}
	}
	if d := st.Delay - st.Target; d > 2*tolerance || d < -2*tolerance {
		t.Errorf("delay %v does not follow the target %v", st.Delay, st.Target)
	}
	// No gap: every 10 ms block played is audible (-23 dBFS source;
	// concealment fades, but not below -45 dBFS over a few losses).
	quiet := 0
	for b := 48000 / 2; b+480 <= len(out)-2*48000; b += 480 { // past the encoder's start
		if dbfs(out[b:b+480]) < -45 {
			quiet++
			t.Logf("quiet block at %.2f s: %.1f dBFS", float64(b)/48000, dbfs(out[b:b+480]))
		}
	}
	if quiet > 0 {
		t.Errorf("%d silent 10 ms blocks in %d: a gap concealment did not hide", quiet, len(out)/480)
	}
	if st.Lost < n/20 || st.Concealed+st.Recovered < st.Lost {
		t.Errorf("lost %d, concealed %d, recovered %d: every loss must be concealed", st.Lost, st.Concealed, st.Recovered)
	}
	if st.Recovered == 0 {
		t.Errorf("no loss recovered by FEC")
	}
}

func dbfs(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return 10 * math.Log10(s/float64(len(x))+1e-20)
}

// TestJitterFEC drops single packets of speech with no jitter: each is
// recovered from the FEC of the packet after it, close to the lossless
// playout of the same packet; when the packet after it is lost too, the
// first loss is concealed by PLC instead.
func TestJitterFEC(t *testing.T) {
	sig := speech(t)
	pkts := encodeFEC(t, sig)
	t0 := time.Unix(1000, 0)
	end := t0.Add(time.Duration(len(pkts)+10) * 20 * time.Millisecond)
	arrive := func(drop map[int]bool) []sent {
		var arr []sent
		for s := range pkts {
			if !drop[s] {
				arr = append(arr, sent{s, t0.Add(time.Duration(s)*20*time.Millisecond + 5*time.Millisecond)})
			}
		}
		return arr
	}
	ref, _ := play(newJitter(t), pkts, arrive(nil), t0, end)
	single := map[int]bool{}
	var losses []int
	for k := 20; k+1 < len(pkts); k += 9 {
		frame := ref[k*960 : (k+1)*960]
		if dbfs(frame) > -40 { // voiced: something to recover
			single[k] = true
			losses = append(losses, k)
		}
	}
	j := newJitter(t)
	got, _ := play(j, pkts, arrive(single), t0, end)
	if st := j.Stats(); st.Recovered != int64(len(losses)) || st.Lost != int64(len(losses)) {
		t.Errorf("%d single losses: lost %d, recovered by FEC %d", len(losses), st.Lost, st.Recovered)
	}
	var sum float64
	for _, k := range losses {
		sum += corr(ref[k*960:(k+1)*960], got[k*960:(k+1)*960])
	}
	mean := sum / float64(len(losses))

	// The same losses each followed by a second: no FEC for the first.
	pairs := map[int]bool{}
	for _, k := range losses {
		pairs[k], pairs[k+1] = true, true
	}
	j2 := newJitter(t)
	plc, _ := play(j2, pkts, arrive(pairs), t0, end)
	var sumPLC float64
	for _, k := range losses {
		sumPLC += corr(ref[k*960:(k+1)*960], plc[k*960:(k+1)*960])
	}
	meanPLC := sumPLC / float64(len(losses))
	t.Logf("%d losses: correlation with the lossless playout %.3f by FEC, %.3f by PLC; %+v", len(losses), mean, meanPLC, j2.Stats())
	if len(losses) < 10 || mean < 0.7 || mean < meanPLC+0.2 {
		t.Errorf("FEC recovery correlates %.3f (PLC %.3f) over %d losses: want >= 0.7 and 0.2 above PLC", mean, meanPLC, len(losses))
	}
	if st := j2.Stats(); st.Recovered != int64(len(losses)) || st.Concealed < int64(len(losses)) {
		t.Errorf("pairs: the second of each pair is recovered (%d), the first concealed (%d)", st.Recovered, st.Concealed)
	}
}

func corr(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb+1e-20)
}

// TestJitterPauseAndLate: a pause of the sender (DTX: the timestamp jumps,
// the sequence does not) plays silence for the pause, not a skip; a packet
// that arrives after its time was concealed is counted late and not
// played.
func TestJitterPauseAndLate(t *testing.T) {
	pkts := encodeFEC(t, voiced(100*960))
	t0 := time.Unix(1000, 0)
	j := newJitter(t)
	buf := make([]float32, 960)
	var out []float32
	// After the pause the sequence goes on from 20 while the timestamp
	// jumped by 50 packets.
	push := func(ts int, at time.Time) {
		seq := ts
		if ts >= 70 {
			seq = ts - 50
		}
		j.Push(Packet{Seq: uint16(seq), Timestamp: uint32(ts * 960), Payload: pkts[seq%len(pkts)]}, at)
	}
	// 20 packets, a 1 s pause (50 packet times), 20 more; pulls of 20 ms.
	for k := 0; k < 120; k++ {
		now := t0.Add(time.Duration(k) * 20 * time.Millisecond)
		if k < 20 || k >= 70 {
			push(k, now)
		}
		if j.Pull(now, buf) {
			out = append(out, buf...)
		}
	}
	// The 50 packet times of the pause: the first few concealed, then
	// silence; about a second in all before the stream comes back.
	var silent int
	for b := 0; b+960 <= len(out); b += 960 {
		if dbfs(out[b:b+960]) < -90 {
			silent++
		}
	}
	if silent < 40 || silent > 50 {
		t.Errorf("%d silent 20 ms blocks for a 1 s pause, want 45 (50 less up to %d concealed)", silent, starveConceal)
	}
	if st := j.Stats(); st.Underruns != 1 || st.Lost != 0 || st.Late != 0 {
		t.Errorf("pause: %+v, want 1 underrun, nothing lost or late", st)
	}
	// The stream goes on, but packet 125 comes 100 ms late: its time is
	// concealed (FEC from 126), and it is counted late when it comes.
	for k := 120; k < 135; k++ {
		now := t0.Add(time.Duration(k) * 20 * time.Millisecond)
		if k == 130 {
			push(125, now)
		}
		if k != 125 {
			push(k, now)
		}
		j.Pull(now, buf)
	}
	if st := j.Stats(); st.Late != 1 || st.Lost != 1 || st.Recovered != 1 {
		t.Errorf("late packet: %+v, want 1 lost, recovered by FEC, and late", st)
	}
}

// TestJitterNobodyPulls: packets that pile up while nobody pulls (the
// output is away) do not wedge the buffer: once pulled again it plays the
// latest within the target.
func TestJitterNobodyPulls(t *testing.T) {
	pkts := encodeFEC(t, voiced(300*960))
	j := newJitter(t)
	t0 := time.Unix(1000, 0)
	for k := range 300 {
		j.Push(Packet{Seq: uint16(k), Timestamp: uint32(k * 960), Payload: pkts[k]}, t0.Add(time.Duration(k)*20*time.Millisecond))
	}
	buf := make([]float32, 960)
	played := 0
	for k := 300; k < 320; k++ {
		now := t0.Add(time.Duration(k) * 20 * time.Millisecond)
		j.Push(Packet{Seq: uint16(k), Timestamp: uint32(k * 960), Payload: pkts[k%300]}, now)
		if j.Pull(now, buf) && dbfs(buf) > -40 {
			played++
		}
	}
	if played < 15 {
		t.Errorf("%d of 20 frames played after a pause in pulling; %+v", played, j.Stats())
	}
}

func TestJitterConfig(t *testing.T) {
	for _, c := range []JitterConfig{
		{Channels: 3, Rate: audio.Rate48k},
		{Channels: 1, Rate: 44100},
		{Channels: 1, Rate: audio.Rate48k, Min: 300 * time.Millisecond, Max: 100 * time.Millisecond},
		{Channels: 1, Rate: audio.Rate48k, Window: 3},
	} {
		if _, err := NewJitter(c); err == nil {
			t.Errorf("NewJitter(%+v) = nil error", c)
		}
	}
}

// TestJitterAllocs: Push and Pull allocate nothing in steady state.
func TestJitterAllocs(t *testing.T) {
	pkts := encodeFEC(t, voiced(50*960))
	j := newJitter(t)
	buf := make([]float32, 960)
	t0 := time.Unix(1000, 0)
	k := 0
	step := func() {
		now := t0.Add(time.Duration(k) * 20 * time.Millisecond)
		if k%10 != 3 { // some loss, so concealment runs too
			j.Push(Packet{Seq: uint16(k), Timestamp: uint32(k * 960), Payload: pkts[k%len(pkts)]}, now)
		}
		j.Pull(now, buf)
		k++
	}
	for range 100 {
		step()
	}
	if a := testing.AllocsPerRun(200, step); a != 0 {
		t.Errorf("%v allocs per packet, want 0", a)
	}
}

// FuzzJitter feeds a Jitter arbitrary packets (sequence and timestamp
// steps, arrival gaps, payloads) and pulls between them: it never panics,
// each Pull fills its buffer with finite samples (garbage decodes may pass full scale: the Bus limits them), and the counters stay
// consistent.
func FuzzJitter(f *testing.F) {
	pkts := encodeTone(f, 3)
	rec := func(dseq int8, dts int16, dat, pulls uint8, payload []byte) []byte {
		b := []byte{byte(dseq), byte(dts), byte(dts >> 8), dat, pulls, byte(len(payload))}
		return append(b, payload...)
	}
	var seed []byte
	for i, p := range pkts {
		seed = append(seed, rec(1, 960/16, 20, 2, p)...)
		seed = append(seed, rec(int8(-i), -3, 1, 0, p[:len(p)/2])...)
	}
	f.Add(seed)
	f.Add(rec(100, 32767, 255, 9, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		j := newJitter(t)
		buf := make([]float32, 480)
		var seqNo uint16
		var ts uint32
		at := time.Unix(1_800_000_000, 0)
		for len(data) >= 6 {
			seqNo += uint16(int8(data[0]))
			ts += uint32(int16(uint16(data[1])|uint16(data[2])<<8)) * 16
			at = at.Add(time.Duration(data[3]) * time.Millisecond)
			pulls := int(data[4] % 16)
			n := min(int(data[5]), len(data)-6)
			payload := data[6 : 6+n]
			data = data[6+n:]
			j.Push(Packet{Seq: seqNo, Timestamp: ts, Payload: payload}, at)
			for k := range pulls {
				clear(buf)
				j.Pull(at.Add(time.Duration(k)*10*time.Millisecond), buf)
				for _, v := range buf {
					if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						t.Fatalf("sample %v", v)
					}
				}
			}
		}
		if s := j.Stats(); s.Packets < 0 || s.Lost < 0 || s.Target < 0 || j.Queued() > jitterSlots {
			t.Fatalf("stats %+v, %d queued", s, j.Queued())
		}
	})
}
