package livekit

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/onair-gateway/onair/net/livekit/livekittest"
	"github.com/onair-gateway/onair/net/room"
)

// waitEvent reads s's events until one of kind arrives.
func waitEvent(t testing.TB, s room.Session, kind room.EventKind, within time.Duration) room.Event {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case ev, ok := <-s.Events():
			if !ok {
				t.Fatalf("session ended (%v) before %v", s.Err(), kind)
			}
			if ev.Kind == kind {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %v within %v", kind, within)
		}
	}
}

func TestToneReachesSubscriber(t *testing.T) {
	srv := livekittest.Start(t)
	listener := join(t, newRoom(t, srv, "tone", "listener", Options{ListenOnly: true, Subscribe: true}))
	if err := listener.WriteOpus([]byte{1, 2, 3}, 20*time.Millisecond); !errors.Is(err, room.ErrNotPublishing) {
		t.Errorf("listen-only WriteOpus = %v, want ErrNotPublishing", err)
	}

	dev := newRoom(t, srv, "tone", "device", Options{})
	t0 := time.Now()
	ds := join(t, dev)
	joinTime := time.Since(t0)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sendTone(ctx, t, ds, newTone(t, 1000, 0.1))

	ev := waitEvent(t, listener, room.EventTrackAdded, 10*time.Second)
	if ev.Participant != "device" || ev.Track.Participant() != "device" || ev.Track.ID() == "" {
		t.Errorf("track event %+v", ev)
	}
	rec := &received{}
	done := make(chan struct{})
	go decodeTrack(t, ev.Track, 48000*3/2, rec, done)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("1.5 s of audio did not arrive within 10 s")
	}
	if rec.err != nil {
		t.Fatal(rec.err)
	}
	firstPacket := rec.first.Sub(t0)
	pcm := rec.pcm[48000/5:] // skip the codec's first 200 ms
	f := zeroCrossFreq(pcm)
	level := rmsDBFS(pcm)
	want := 20 * math.Log10(0.1/math.Sqrt2)
	if math.Abs(f-1000) > 2 {
		t.Errorf("subscriber hears %.2f Hz, want 1000 Hz", f)
	}
	if math.Abs(level-want) > 1.5 {
		t.Errorf("subscriber hears %.2f dBFS RMS, want %.2f", level, want)
	}

	// Receiver reports come about once a second.
	deadline := time.Now().Add(5 * time.Second)
	for ds.Stats().RTT == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	st := ds.Stats()
	if st.PacketsSent < 50 || st.BytesSent < st.PacketsSent*10 {
		t.Errorf("stats %+v", st)
	}
	if st.RTT <= 0 || st.RTT > time.Second {
		t.Errorf("RTT %v from receiver reports, want a loopback value", st.RTT)
	}
	if st.FractionLost != 0 {
		t.Errorf("loss %v on loopback", st.FractionLost)
	}
	t.Logf("join %v; join → first packet at subscriber %v; %.2f Hz at %.2f dBFS; RTT %v, jitter %v, loss %v",
		joinTime.Round(time.Millisecond), firstPacket.Round(time.Millisecond), f, level, st.RTT, st.Jitter, st.FractionLost)

	cancel()
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ds.Done():
	default:
		t.Error("Done not closed after Close")
	}
	if err := ds.Err(); err != nil {
		t.Errorf("Err after Close = %v", err)
	}
	if err := ds.WriteOpus([]byte{1, 2, 3}, 20*time.Millisecond); !errors.Is(err, room.ErrClosed) {
		t.Errorf("WriteOpus after Close = %v", err)
	}
	if err := ds.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// The listener sees the device leave.
	waitEvent(t, listener, room.EventTrackRemoved, 10*time.Second)
}
