package livekit

import (
	"context"
	"errors"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onair-gateway/onair/net/livekit/livekittest"
	"github.com/onair-gateway/onair/net/room"
)

// xorSealer stands in for net/e2ee to test the hook's plumbing: it keeps the
// TOC byte clear, as LiveKit's format does, scrambles the rest and appends
// a one-byte trailer. It is not encryption.
type xorSealer struct{ sealed, opened atomic.Int64 }

func (x *xorSealer) Seal(dst, frame []byte) ([]byte, error) {
	x.sealed.Add(1)
	dst = append(dst, frame[0])
	for _, b := range frame[1:] {
		dst = append(dst, b^0x5a)
	}
	return append(dst, 0xee), nil
}

func (x *xorSealer) Open(dst, frame []byte, participant string) ([]byte, error) {
	if len(frame) < 2 || frame[len(frame)-1] != 0xee {
		return nil, errors.New("not sealed")
	}
	x.opened.Add(1)
	dst = append(dst, frame[0])
	for _, b := range frame[1 : len(frame)-1] {
		dst = append(dst, b^0x5a)
	}
	return dst, nil
}

func TestEncryptorHook(t *testing.T) {
	srv := livekittest.Start(t)
	sealer, opener := &xorSealer{}, &xorSealer{}
	listener := join(t, newRoom(t, srv, "e2ee", "listener", Options{ListenOnly: true, Subscribe: true, Encryptor: opener}))
	dev := join(t, newRoom(t, srv, "e2ee", "device", Options{Encryptor: sealer}))
	if !dev.Stats().Encrypted {
		t.Error("Stats.Encrypted is false with an Encryptor")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sendTone(ctx, t, dev, newTone(t, 1000, 0.1))

	ev := waitEvent(t, listener, room.EventTrackAdded, 10*time.Second)
	rec := &received{}
	done := make(chan struct{})
	go decodeTrack(t, ev.Track, 48000/2, rec, done)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("no audio through the hook")
	}
	if rec.err != nil {
		t.Fatal(rec.err)
	}
	if f := zeroCrossFreq(rec.pcm[4800:]); math.Abs(f-1000) > 2 {
		t.Errorf("heard %.1f Hz through Seal and Open", f)
	}
	if sealer.sealed.Load() == 0 || opener.opened.Load() < int64(rec.packets) {
		t.Errorf("sealed %d, opened %d, decoded %d", sealer.sealed.Load(), opener.opened.Load(), rec.packets)
	}
}
