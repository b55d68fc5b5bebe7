package rx

import (
	"math"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/dsp"
	"github.com/onair-gateway/onair/audio/marks"
	"github.com/onair-gateway/onair/audio/opus"
)

func sine(n int, freq, amp float64, from int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(amp * math.Sin(2*math.Pi*freq*float64(from+i)/48000))
	}
	return x
}

// encodeTone returns n 20 ms Opus packets of a 1 kHz tone.
func encodeTone(tb testing.TB, n int) [][]byte {
	tb.Helper()
	cfg := opus.Config{Application: opus.AppAudio}
	cfg.SetDefaults()
	enc, err := opus.NewEncoder(cfg, audio.Rate48k)
	if err != nil {
		tb.Fatal(err)
	}
	pkts := make([][]byte, n)
	out := make([]byte, 1500)
	for i := range pkts {
		k, err := enc.Encode(sine(960, 1000, 0.1, i*960), out)
		if err != nil {
			tb.Fatal(err)
		}
		pkts[i] = append([]byte(nil), out[:k]...)
	}
	return pkts
}

func newReceiver(tb testing.TB) *Receiver {
	tb.Helper()
	r, err := New(Config{Channels: 1, Rate: audio.Rate48k})
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// drain pulls every chunk and returns the timeline position reached and
// the samples of each kind.
func drain(r *Receiver) (pos int64, kinds [3]int64) {
	var c Chunk
	for r.Pull(&c) {
		kinds[c.Kind] += int64(c.N)
		pos = c.Pos + int64(c.N)
		if c.Kind != Silence && len(c.Samples) != c.N {
			panic("chunk samples do not match N")
		}
	}
	return pos, kinds
}

func seq(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

func TestReceiverSequencing(t *testing.T) {
	pkts := encodeTone(t, 60)
	cases := []struct {
		name                  string
		steps                 []int
		lost, late, concealed int64
		wantPos               int64
	}{
		{"in order", seq(0, 50), 0, 0, 0, 50 * 960},
		{"one lost", append(seq(0, 10), seq(11, 50)...), 1, 0, 1, 50 * 960},
		{"burst lost", append(seq(0, 10), seq(15, 50)...), 5, 0, 5, 50 * 960},
		{"reordered", []int{0, 1, 3, 2, 4, 5}, 1, 1, 1, 6 * 960},
		{"duplicate", []int{0, 1, 1, 2}, 0, 1, 0, 3 * 960},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newReceiver(t)
			now := time.Now()
			var pos int64
			for _, i := range c.steps {
				r.Push(Packet{Seq: uint16(65500 + i), Timestamp: uint32(i * 960), Payload: pkts[i]}, now.Add(time.Duration(i)*20*time.Millisecond))
				if p, _ := drain(r); p > 0 {
					pos = p
				}
			}
			s := r.Stats()
			if s.Lost != c.lost || s.Late != c.late || s.Concealed != c.concealed {
				t.Errorf("lost %d late %d concealed %d, want %d %d %d", s.Lost, s.Late, s.Concealed, c.lost, c.late, c.concealed)
			}
			if pos != c.wantPos {
				t.Errorf("timeline at %d samples, want %d", pos, c.wantPos)
			}
			if s.Packets != int64(len(c.steps))-c.late || s.Corrupt != 0 || s.Overrun != 0 {
				t.Errorf("stats %+v", s)
			}
			if s.Jitter > time.Microsecond {
				t.Errorf("jitter %v for perfectly paced packets", s.Jitter)
			}
		})
	}
	t.Run("dtx gap is silence on the timeline", func(t *testing.T) {
		r := newReceiver(t)
		now := time.Now()
		r.Push(Packet{Seq: 1, Timestamp: 0, Payload: pkts[0]}, now)
		r.Push(Packet{Seq: 2, Timestamp: 48000, Payload: pkts[1]}, now.Add(time.Second))
		pos, kinds := drain(r)
		if pos != 48000+960 || r.Stats().Lost != 0 || kinds[Silence] != 48000-960 {
			t.Errorf("pos %d, lost %d, silence %d", pos, r.Stats().Lost, kinds[Silence])
		}
	})
	t.Run("pull behind the queue", func(t *testing.T) {
		// Queue+4 packets pushed without a pull: the 4 oldest are
		// dropped and concealed; the timeline stays whole.
		r := newReceiver(t)
		now := time.Now()
		for i := range Queue + 4 {
			r.Push(Packet{Seq: uint16(i), Timestamp: uint32(i * 960), Payload: pkts[i]}, now)
		}
		pos, kinds := drain(r)
		s := r.Stats()
		if s.Overrun != 4 || pos != int64((Queue+4)*960) || kinds[Decoded] != int64(Queue*960) {
			t.Errorf("overrun %d, pos %d, kinds %v", s.Overrun, pos, kinds)
		}
	})
	t.Run("corrupt and oversized payloads", func(t *testing.T) {
		r := newReceiver(t)
		r.Push(Packet{Seq: 1, Timestamp: 0, Payload: pkts[0]}, time.Now())
		r.Push(Packet{Seq: 2, Timestamp: 960, Payload: make([]byte, MaxPayload+1)}, time.Now())
		r.Push(Packet{Seq: 3, Timestamp: 1920, Payload: pkts[2]}, time.Now())
		pos, _ := drain(r)
		if s := r.Stats(); s.Corrupt != 1 || s.Packets != 3 || pos != 3*960 {
			t.Errorf("stats %+v, pos %d: want 1 corrupt and its time as silence", s, pos)
		}
	})
}

// TestReceiverJitter: packets that arrive ±5 ms around their due time
// give an RFC 3550 jitter estimate of about the mean deviation of their
// transit differences.
func TestReceiverJitter(t *testing.T) {
	r, err := New(Config{Channels: 1, Rate: audio.Rate48k, CountOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i := range 500 {
		d := 5 * time.Millisecond
		if i%2 == 1 {
			d = -d
		}
		r.Push(Packet{Seq: uint16(i), Timestamp: uint32(i * 960)}, now.Add(time.Duration(i)*20*time.Millisecond+d))
	}
	var c Chunk
	if r.Pull(&c) {
		t.Error("a CountOnly receiver gave audio")
	}
	// Every transit difference is 10 ms.
	if j := r.Stats().Jitter; j < 9900*time.Microsecond || j > 10100*time.Microsecond {
		t.Errorf("jitter %v, want 10 ms", j)
	}
}

// TestMonitorMarksThroughDTX: a sender with DTX on sends marks and, between
// them, one silence packet every 400 ms. The timeline skips the
// untransmitted time; the mark detector must skip it too, or every later
// mark is measured against the wrong packet (latencies that grow by
// hundreds of milliseconds). Each packet arrives 30 ms after it was
// complete, so every mark must measure the 20 ms frame, the 30 ms and the
// codec's 6.5 ms look-ahead.
func TestMonitorMarksThroughDTX(t *testing.T) {
	cfg := opus.Config{DTX: true}
	cfg.SetDefaults()
	enc, err := opus.NewEncoder(cfg, audio.Rate48k)
	if err != nil {
		t.Fatal(err)
	}
	chirp := marks.Chirp(audio.Rate48k)
	zero := time.Unix(1_800_000_000, 0) // sample 0 on a whole second
	r := newReceiver(t)
	m := NewMonitor(1, audio.Rate48k)
	frame := make([]float32, 960)
	out := make([]byte, 1500)
	var seqNo uint16
	var lat []time.Duration
	var c Chunk
	sent, skipped, quiet := 0, 0, 0
	for k := 0; k < 5*50; k++ {
		pos := int64(k * 960)
		for i := range frame {
			frame[i] = 0
			if off := marks.Offset(pos+int64(i), audio.Rate48k); off < len(chirp) {
				frame[i] = 0.3 * chirp[off]
			}
		}
		n, err := enc.Encode(frame, out)
		if err != nil {
			t.Fatal(err)
		}
		if n <= 2 { // a DTX frame: a sender transmits one in 20
			quiet++
			if quiet%20 != 1 {
				skipped++
				continue
			}
		} else {
			quiet = 0
		}
		seqNo++
		at := zero.Add(time.Duration(k+1)*20*time.Millisecond + 30*time.Millisecond)
		r.Push(Packet{Seq: seqNo, Timestamp: uint32(pos), Payload: out[:n]}, at)
		for r.Pull(&c) {
			_, _, lat = m.Add(&c, lat)
		}
		sent++
	}
	if skipped < 100 {
		t.Fatalf("only %d of %d frames were DTX: the test needs long silences", skipped, sent+skipped)
	}
	if len(lat) < 4 {
		t.Fatalf("%d marks measured in 5 s", len(lat))
	}
	for i, l := range lat {
		if l < 55*time.Millisecond || l > 58*time.Millisecond {
			t.Errorf("mark %d measured %v, want 56.5 ms", i, l)
		}
	}
}

// TestMonitorJoinsMidStream: a listener that joins while a tone plays
// decodes from a cold decoder, whose first output rings. The monitor keeps
// that warm-up from the meters: the level, peak and frequency are the
// tone's.
func TestMonitorJoinsMidStream(t *testing.T) {
	pkts := encodeTone(t, 400)
	for start := 0; start < 280; start += 23 {
		r := newReceiver(t)
		m := NewMonitor(1, audio.Rate48k)
		var total dsp.LevelMeter
		var c Chunk
		for k := start; k < start+117; k++ {
			r.Push(Packet{Seq: uint16(k), Timestamp: uint32(k * 960), Payload: pkts[k]}, time.Now())
			for r.Pull(&c) {
				x, pos, _ := m.Add(&c, nil)
				total.Add(x, pos)
			}
		}
		rms, peak := total.DBFS()
		if f := total.Freq(audio.Rate48k); math.Abs(f-1000) > 0.5 || math.Abs(rms+23.01) > 0.5 || math.Abs(peak+20) > 1 {
			t.Errorf("joined at packet %d: %.2f Hz, %.2f dBFS, peak %.2f; want 1000 Hz, -23, -20", start, f, rms, peak)
		}
	}
}

// TestReceiverAllocs: in steady state, with losses and gaps, neither the
// receiver nor the monitor allocates.
func TestReceiverAllocs(t *testing.T) {
	pkts := encodeTone(t, 50)
	r := newReceiver(t)
	m := NewMonitor(1, audio.Rate48k)
	lat := make([]time.Duration, 0, 16)
	var c Chunk
	now := time.Now()
	k := 0
	step := func() {
		k++
		if k%10 == 3 {
			k++ // a loss
		}
		r.Push(Packet{Seq: uint16(k), Timestamp: uint32(k * 960), Payload: pkts[k%len(pkts)]}, now.Add(time.Duration(k)*20*time.Millisecond))
		for r.Pull(&c) {
			_, _, lat = m.Add(&c, lat[:0])
		}
	}
	for range 100 {
		step()
	}
	if a := testing.AllocsPerRun(200, step); a != 0 {
		t.Errorf("%v allocations per packet", a)
	}
}

func BenchmarkReceiver(b *testing.B) {
	pkts := encodeTone(b, 50)
	r := newReceiver(b)
	var c Chunk
	now := time.Now()
	b.ReportAllocs()
	k := 0
	for b.Loop() {
		k++
		r.Push(Packet{Seq: uint16(k), Timestamp: uint32(k * 960), Payload: pkts[k%len(pkts)]}, now)
		for r.Pull(&c) {
		}
	}
}

// FuzzReceiver feeds arbitrary packet sequences: each record of the input
// is a sequence step, a timestamp step, an arrival step and a payload. The
// receiver must never panic, its timeline must only move forward, and its
// counters must add up.
func FuzzReceiver(f *testing.F) {
	pkts := encodeTone(f, 3)
	rec := func(dseq int8, dts int16, dat uint8, payload []byte) []byte {
		b := []byte{byte(dseq), byte(dts), byte(dts >> 8), dat, byte(len(payload))}
		return append(b, payload...)
	}
	var seed []byte
	for i, p := range pkts {
		seed = append(seed, rec(1, 960/16, 20, p)...)
		seed = append(seed, rec(int8(-i), -3, 1, p[:len(p)/2])...)
	}
	f.Add(seed)
	f.Add(rec(100, 32767, 255, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newReceiver(t)
		var c Chunk
		var seqNo uint16
		var ts uint32
		at := time.Unix(1_800_000_000, 0)
		var pos int64
		pushed := 0
		for len(data) >= 5 {
			seqNo += uint16(int8(data[0]))
			ts += uint32(int16(uint16(data[1])|uint16(data[2])<<8)) * 16
			at = at.Add(time.Duration(data[3]) * time.Millisecond)
			n := min(int(data[4]), len(data)-5)
			payload := data[5 : 5+n]
			data = data[5+n:]
			r.Push(Packet{Seq: seqNo, Timestamp: ts, Payload: payload}, at)
			pushed++
			for pulls := 0; r.Pull(&c); pulls++ {
				if pulls > 100000 {
					t.Fatalf("Pull keeps returning chunks (%d so far, last %d samples at %d)", pulls, c.N, c.Pos)
				}
				if c.Pos != pos || c.N < 0 || c.N > MaxGap {
					t.Fatalf("chunk at %d of %d samples, timeline at %d", c.Pos, c.N, pos)
				}
				if c.Kind != Silence && len(c.Samples) != c.N {
					t.Fatalf("%d samples for %d frames", len(c.Samples), c.N)
				}
				pos += int64(c.N)
			}
		}
		s := r.Stats()
		if s.Packets+s.Late != int64(pushed) || s.Lost < 0 || s.Jitter < 0 {
			t.Fatalf("stats %+v after %d pushes", s, pushed)
		}
	})
}
