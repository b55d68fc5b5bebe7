package livekit

import (
	"testing"
	"time"

	"github.com/onair-gateway/onair/net/livekit/livekittest"
)

// BenchmarkWriteOpus measures one WriteOpus of a 20 ms, 120-byte packet on a
// joined session, all the way through pion's interceptors and SRTP to the
// socket of a real server on loopback.
func BenchmarkWriteOpus(b *testing.B) {
	srv := livekittest.Start(b)
	s := join(b, newRoom(b, srv, "bench", "device", Options{}))
	pkt := make([]byte, 120)
	pkt[0] = 0xf8
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := s.WriteOpus(pkt, 20*time.Millisecond); err != nil {
			b.Fatal(err)
		}
	}
}
