package whip

import (
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/net/livekit/livekittest"
	"github.com/onair-gateway/onair/net/room"
)

// BenchmarkWriteOpus measures one 20 ms packet through a connected session:
// RTP header, interceptors (sender reports), SRTP, UDP on loopback.
func BenchmarkWriteOpus(b *testing.B) {
	srv := newWHIPServer(b, "", serverOptions{discard: true})
	_, s := joinTest(b, srv.url(), "", Options{})
	defer s.Close()
	pkt := toneFrames(b, 440, 1, 1, 20*time.Millisecond)[0]
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := s.WriteOpus(pkt, 20*time.Millisecond); err != nil {
			b.Fatal(err)
		}
	}
}

// TestWriteOpusAllocs checks WriteOpus allocates nothing in the steady
// state: the RTP header is the Session's, pion's SRTP path takes its
// buffers from pools. (AllocsPerRun counts the whole process, so the
// server discards media instead of reading it.) Under the race detector
// sync.Pool drops a random quarter of what is Put, and the misses cost
// about 0.75 allocations per packet (pion's SRTP and packet pools) plus
// what the background goroutines allocate, so the count straddles 1 from
// run to run: there the sending path is measured and logged, not asserted
// (BenchmarkWriteOpus and the normal build keep proving 0).
func TestWriteOpusAllocs(t *testing.T) {
	srv := newWHIPServer(t, "", serverOptions{discard: true})
	_, s := joinTest(t, srv.url(), "", Options{})
	defer s.Close()
	pkt := toneFrames(t, 440, 1, 1, 20*time.Millisecond)[0]
	// Warm up pools and the interceptor's state, and wait out the server's
	// reaction to the first packets (new stream, buffers growing): in
	// process, it lands in the count, and on a busy machine it can come
	// after any fixed number of packets. Settled is two rounds of 100
	// writes under 50 allocations each in the whole process; a WriteOpus
	// that allocates never settles, and AllocsPerRun below fails it.
	quiet := 0
	for round := 0; round < 50 && quiet < 2; round++ {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 100 {
			if err := s.WriteOpus(pkt, 20*time.Millisecond); err != nil {
				t.Fatal(err)
			}
		}
		runtime.ReadMemStats(&after)
		if after.Mallocs-before.Mallocs < 50 {
			quiet++
		} else {
			quiet = 0
		}
	}
	allocs := testing.AllocsPerRun(500, func() {
		if err := s.WriteOpus(pkt, 20*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	})
	switch {
	case raceEnabled:
		t.Logf("race detector: WriteOpus allocates %.0f times per packet (sync.Pool misses), not asserted", allocs)
	case allocs != 0:
		t.Errorf("WriteOpus allocates %.0f times per packet, want 0", allocs)
	}
	// Writes that are refused allocate nothing.
	if a := testing.AllocsPerRun(100, func() { _ = s.WriteOpus(nil, 20*time.Millisecond) }); a != 0 {
		t.Errorf("a refused WriteOpus allocates %.1f times", a)
	}
}

// BenchmarkJoin measures Join + Close against the pion WHIP server on
// loopback: offer, gathering, POST, answer, ICE, DTLS, DELETE.
func BenchmarkJoin(b *testing.B) {
	srv := newWHIPServer(b, "", serverOptions{})
	r, err := New(room.Config{URL: srv.url()}, Options{Loopback: true}, testLog(b))
	if err != nil {
		b.Fatal(err)
	}
	benchJoin(b, r)
}

// BenchmarkJoinLiveKit measures Join + Close against livekit-server's WHIP
// endpoint on loopback.
func BenchmarkJoinLiveKit(b *testing.B) {
	lk := livekittest.Start(b)
	r, err := New(room.Config{URL: lk.HTTPURL + "/whip/v1", Token: conf.Secret(lk.Token("bench", "bench", true))},
		Options{Loopback: true}, testLog(b))
	if err != nil {
		b.Fatal(err)
	}
	benchJoin(b, r)
}

func benchJoin(b *testing.B, r *Room) {
	b.ReportAllocs()
	for b.Loop() {
		s, err := r.Join(testContext(b))
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Close(); err != nil && !errors.Is(err, room.ErrClosed) {
			b.Fatal(err)
		}
	}
}
