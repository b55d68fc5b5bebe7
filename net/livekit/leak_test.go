package livekit

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/onair-gateway/onair/net/livekit/livekittest"
	"github.com/onair-gateway/onair/net/room"
)

// TestCloseLeavesNoGoroutines joins a publisher and a subscriber, sends
// audio, closes both, and checks that no goroutine of theirs is left.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	srv := livekittest.Start(t)
	// Goroutines of the test binary and of the server harness stay.
	opt := goleak.IgnoreCurrent()
	dev := newRoom(t, srv, "leak", "device", Options{Subscribe: true})
	lis := newRoom(t, srv, "leak", "listener", Options{ListenOnly: true, Subscribe: true})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ds, err := dev.Join(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := lis.Join(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	go sendTone(sctx, t, ds, newTone(t, 1000, 0.1))
	ev := waitEvent(t, ls, room.EventTrackAdded, 10*time.Second)
	buf := make([]byte, 1500)
	for i := 0; i < 10; i++ {
		if _, err := ev.Track.ReadPacket(buf); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	if err := ls.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.Track.ReadPacket(buf); err == nil {
		t.Error("ReadPacket after Close returned a packet")
	}
	goleak.VerifyNone(t, opt)
}
