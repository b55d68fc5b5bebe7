package livekit

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/onair-gateway/onair/net/livekit/livekittest"
	"github.com/onair-gateway/onair/net/room"
)

// TestServerMuteAndRevoke drives the device's publishing from the server
// API, as an operator would: mute and unmute its track, take canPublish
// away and give it back.
func TestServerMuteAndRevoke(t *testing.T) {
	srv := livekittest.Start(t)
	const name = "control"
	dev := join(t, newRoom(t, srv, name, "device", Options{}))
	listener := join(t, newRoom(t, srv, name, "listener", Options{ListenOnly: true, Subscribe: true}))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var lastErr atomic.Pointer[error]
	go func() {
		g := newTone(t, 440, 0.1)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for ctx.Err() == nil {
			<-tick.C
			err := dev.WriteOpus(g.next(t), 20*time.Millisecond)
			lastErr.Store(&err)
		}
	}()
	writeErr := func() error {
		time.Sleep(60 * time.Millisecond) // a few frames with the new state
		return *lastErr.Load()
	}
	waitEvent(t, listener, room.EventTrackAdded, 10*time.Second)

	sids, err := srv.WaitParticipant(ctx, name, "device")
	if err != nil {
		t.Fatal(err)
	}
	rs := srv.RoomService()
	mute := func(m bool) {
		t.Helper()
		if _, err := rs.MutePublishedTrack(ctx, &livekit.MuteRoomTrackRequest{Room: name, Identity: "device", TrackSid: sids[0], Muted: m}); err != nil {
			t.Fatalf("MutePublishedTrack(%v): %v", m, err)
		}
	}
	permit := func(can bool) {
		t.Helper()
		if _, err := rs.UpdateParticipant(ctx, &livekit.UpdateParticipantRequest{Room: name, Identity: "device",
			Permission: &livekit.ParticipantPermission{CanPublish: can, CanSubscribe: true, CanPublishData: true}}); err != nil {
			t.Fatalf("UpdateParticipant(canPublish=%v): %v", can, err)
		}
	}

	mute(true)
	if ev := waitEvent(t, dev, room.EventPublishDenied, 5*time.Second); ev.Reason != "muted by server" {
		t.Errorf("reason %q", ev.Reason)
	}
	if err := writeErr(); !errors.Is(err, room.ErrNotPublishing) {
		t.Errorf("WriteOpus while muted = %v", err)
	}
	mute(false)
	waitEvent(t, dev, room.EventPublishAllowed, 5*time.Second)
	if err := writeErr(); err != nil {
		t.Errorf("WriteOpus after unmute = %v", err)
	}

	permit(false)
	if ev := waitEvent(t, dev, room.EventPublishDenied, 5*time.Second); ev.Reason != "publish permission revoked by server" {
		t.Errorf("reason %q", ev.Reason)
	}
	if err := writeErr(); !errors.Is(err, room.ErrNotPublishing) {
		t.Errorf("WriteOpus while revoked = %v", err)
	}
	waitEvent(t, listener, room.EventTrackRemoved, 5*time.Second)

	permit(true)
	waitEvent(t, dev, room.EventPublishAllowed, 10*time.Second)
	// The track is published again and the listener hears it.
	ev := waitEvent(t, listener, room.EventTrackAdded, 10*time.Second)
	rec := &received{}
	done := make(chan struct{})
	go decodeTrack(t, ev.Track, 48000/2, rec, done)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("no audio after canPublish was granted again")
	}
	if rec.err != nil {
		t.Fatal(rec.err)
	}
	if f := zeroCrossFreq(rec.pcm[4800:]); f < 430 || f > 450 {
		t.Errorf("listener hears %.1f Hz after republish, want 440", f)
	}
}
