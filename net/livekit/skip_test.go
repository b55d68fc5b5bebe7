package livekit

import (
	"context"
	"testing"
	"time"

	"github.com/onair-gateway/onair/net/livekit/livekittest"
	"github.com/onair-gateway/onair/net/room"
)

// TestSkipAdvancesRTPClock: after Skip(100ms) the subscriber sees the RTP
// timestamp step by the skipped samples plus one frame, with no missing
// sequence number.
func TestSkipAdvancesRTPClock(t *testing.T) {
	srv := livekittest.Start(t)
	listener := join(t, newRoom(t, srv, "skip", "listener", Options{ListenOnly: true, Subscribe: true}))
	dev := join(t, newRoom(t, srv, "skip", "device", Options{}))
	tracks := make(chan room.RemoteTrack, 1)
	go func() {
		for ev := range listener.Events() {
			if ev.Kind == room.EventTrackAdded && ev.Participant == "device" {
				tracks <- ev.Track
			}
		}
	}()
	g := newTone(t, 440, 0.3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < 150; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if i == 100 {
				dev.(room.Skipper).Skip(100 * time.Millisecond)
			}
			_ = dev.WriteOpus(g.next(t), 20*time.Millisecond)
		}
	}()
	var tr room.RemoteTrack
	select {
	case tr = <-tracks:
	case <-time.After(15 * time.Second):
		t.Fatal("no track")
	}
	buf := make([]byte, 1500)
	var prev room.Packet
	found := false
	deadline := time.Now().Add(10 * time.Second)
	for n := 0; time.Now().Before(deadline); n++ {
		p, err := tr.ReadPacket(buf)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 && p.Seq == prev.Seq+1 {
			switch step := p.Timestamp - prev.Timestamp; step {
			case 960:
			case 960 + 4800:
				found = true
			default:
				t.Fatalf("timestamp step %d between consecutive packets", step)
			}
		}
		prev = p
		if found {
			break
		}
	}
	if !found {
		t.Fatal("the subscriber never saw the skipped 100 ms in the RTP timestamps")
	}
	cancel()
	<-sent
}
