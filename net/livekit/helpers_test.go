package livekit

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/opus"
	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/net/livekit/livekittest"
	"github.com/onair-gateway/onair/net/room"
)

func TestMain(m *testing.M) {
	lvl := slog.LevelWarn
	if os.Getenv("ONAIR_TEST_DEBUG") != "" {
		lvl = slog.LevelDebug
	}
	SetSDKLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})))
	os.Exit(m.Run())
}

// testLog logs through t, at debug when ONAIR_TEST_DEBUG is set.
func testLog(t testing.TB) *slog.Logger {
	lvl := slog.LevelInfo
	if os.Getenv("ONAIR_TEST_DEBUG") != "" {
		lvl = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: lvl}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// newRoom returns a Room on srv for identity, minting tokens with the API key.
func newRoom(t testing.TB, srv *livekittest.Server, name, identity string, opts Options) *Room {
	t.Helper()
	cfg := room.Config{URL: srv.URL, Room: name, APIKey: srv.APIKey, APISecret: conf.Secret(srv.APISecret)}
	cfg.SetDefaults(identity)
	r, err := New(cfg, opts, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func join(t testing.TB, r *Room) room.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := r.Join(ctx)
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// tone encodes a sine of freq Hz at amplitude amp into 20 ms Opus packets,
// one call of next at a time, with the sample clock continuing across calls.
type tone struct {
	enc  *opus.Encoder
	freq float64
	amp  float64
	pos  int
	pcm  []float32
	out  []byte
}

func newTone(t testing.TB, freq, amp float64) *tone {
	t.Helper()
	cfg := opus.Config{Application: opus.AppAudio, Bitrate: 48000}
	cfg.SetDefaults()
	enc, err := opus.NewEncoder(cfg, audio.Rate48k)
	if err != nil {
		t.Fatal(err)
	}
	return &tone{enc: enc, freq: freq, amp: amp, pcm: make([]float32, 960), out: make([]byte, 1500)}
}

func (g *tone) next(t testing.TB) []byte {
	for i := range g.pcm {
		g.pcm[i] = float32(g.amp * math.Sin(2*math.Pi*g.freq*float64(g.pos+i)/48000))
	}
	g.pos += len(g.pcm)
	n, err := g.enc.Encode(g.pcm, g.out)
	if err != nil {
		t.Fatal(err)
	}
	return g.out[:n]
}

// sendTone writes 20 ms tone packets in real time until ctx ends.
func sendTone(ctx context.Context, t testing.TB, w interface {
	WriteOpus([]byte, time.Duration) error
}, g *tone) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			_ = w.WriteOpus(g.next(t), 20*time.Millisecond)
		}
	}
}

// received collects the decoded audio of one remote track.
type received struct {
	mu      sync.Mutex
	first   time.Time // when the first packet arrived
	packets int
	pcm     []float32
	err     error
}

// decodeTrack reads tr until EOF or until it holds want samples.
func decodeTrack(t testing.TB, tr room.RemoteTrack, want int, rec *received, done chan<- struct{}) {
	defer close(done)
	dec, err := opus.NewDecoder(audio.Rate48k, 1)
	if err != nil {
		rec.err = err
		return
	}
	buf := make([]byte, 1500)
	pcm := make([]float32, 5760)
	for {
		p, err := tr.ReadPacket(buf)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				rec.err = err
			}
			return
		}
		n, err := dec.Decode(p.Payload, pcm)
		if err != nil {
			rec.err = err
			return
		}
		rec.mu.Lock()
		if rec.packets == 0 {
			rec.first = time.Now()
		}
		rec.packets++
		rec.pcm = append(rec.pcm, pcm[:n]...)
		full := len(rec.pcm) >= want
		rec.mu.Unlock()
		if full {
			return
		}
	}
}

// zeroCrossFreq estimates the frequency of a tone from its rising zero
// crossings, interpolated between samples.
func zeroCrossFreq(x []float32) float64 {
	first, last, n := -1.0, -1.0, 0
	for i := 1; i < len(x); i++ {
		if x[i-1] < 0 && x[i] >= 0 {
			at := float64(i-1) + float64(-x[i-1])/float64(x[i]-x[i-1])
			if first < 0 {
				first = at
			} else {
				n++
			}
			last = at
		}
	}
	if n == 0 {
		return 0
	}
	return float64(n) * 48000 / (last - first)
}

func rmsDBFS(x []float32) float64 {
	var sum float64
	for _, v := range x {
		sum += float64(v) * float64(v)
	}
	return 10 * math.Log10(sum/float64(len(x)))
}
