package audio_test

// The listen path's cost per 20 ms output frame: for each remote talker a
// packet pushed into its jitter buffer and 20 ms pulled out of it (Opus
// decode, placement, the delay estimate), then the mix with headroom. One
// op is one 20 ms frame of the device's output. 0 allocs/op in steady
// state.

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/mix"
	"github.com/onair-gateway/onair/audio/opus"
	"github.com/onair-gateway/onair/audio/rx"
	"github.com/onair-gateway/onair/audio/wav"
)

// speechPackets encodes the speech sample as the device's voip encoder
// would (20 ms, FEC).
func speechPackets(tb testing.TB) [][]byte {
	tb.Helper()
	data, err := os.ReadFile(speechWAV)
	if err != nil {
		tb.Fatal(err)
	}
	a, err := wav.Parse(data)
	if err != nil {
		tb.Fatal(err)
	}
	enc, err := opus.NewEncoder(voipConfig(), audio.Rate48k)
	if err != nil {
		tb.Fatal(err)
	}
	sig := a.Channels[0]
	var pkts [][]byte
	out := make([]byte, 1500)
	for i := 0; i+960 <= len(sig); i += 960 {
		n, err := enc.Encode(sig[i:i+960], out)
		if err != nil {
			tb.Fatal(err)
		}
		pkts = append(pkts, append([]byte(nil), out[:n]...))
	}
	return pkts
}

// listenPath is talkers' jitter buffers and the bus, stepped one 20 ms
// frame at a time on a simulated clock.
type listenPath struct {
	pkts [][]byte
	js   []*rx.Jitter
	bus  *mix.Bus
	buf  []float32
	out  []float32
	t0   time.Time
	k    int
}

func newListenPath(tb testing.TB, talkers int) *listenPath {
	p := &listenPath{pkts: speechPackets(tb), buf: make([]float32, 960), out: make([]float32, 960), t0: time.Unix(1000, 0)}
	var err error
	if p.bus, err = mix.NewBus(960, 20*time.Millisecond, 0); err != nil {
		tb.Fatal(err)
	}
	for range talkers {
		j, err := rx.NewJitter(rx.JitterConfig{Channels: 1, Rate: audio.Rate48k})
		if err != nil {
			tb.Fatal(err)
		}
		p.js = append(p.js, j)
	}
	return p
}

func (p *listenPath) step() {
	now := p.t0.Add(time.Duration(p.k) * 20 * time.Millisecond)
	for i, j := range p.js {
		// Each talker a little later than the last, as over a network.
		k := p.k
		j.Push(rx.Packet{Seq: uint16(k), Timestamp: uint32(k * 960), Payload: p.pkts[(k+7*i)%len(p.pkts)]}, now.Add(time.Duration(i)*time.Millisecond))
		j.Pull(now, p.buf)
		p.bus.Add(p.buf)
	}
	p.bus.Mix(p.out)
	p.k++
}

func BenchmarkListenPath(b *testing.B) {
	for _, talkers := range []int{1, 4} {
		b.Run(fmt.Sprintf("talkers=%d", talkers), func(b *testing.B) {
			p := newListenPath(b, talkers)
			for range 100 {
				p.step()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				p.step()
			}
		})
	}
}

func TestListenPathAllocs(t *testing.T) {
	p := newListenPath(t, 4)
	for range 100 {
		p.step()
	}
	if a := testing.AllocsPerRun(200, p.step); a != 0 {
		t.Errorf("listen path: %v allocs per frame, want 0", a)
	}
}
