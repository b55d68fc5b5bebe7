package whip

import (
	"errors"
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
// server discards media instead of reading it.)
func TestWriteOpusAllocs(t *testing.T) {
	srv := newWHIPServer(t, "", serverOptions{discard: true})
	_, s := joinTest(t, srv.url(), "", Options{})
	defer s.Close()
	pkt := toneFrames(t, 440, 1, 1, 20*time.Millisecond)[0]
	for range 100 { // warm up pools and the interceptor's state
		if err := s.WriteOpus(pkt, 20*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(500, func() {
		if err := s.WriteOpus(pkt, 20*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
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
