package livekit

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/opus"
	"github.com/onair-gateway/onair/net/livekit/livekittest"
	"github.com/onair-gateway/onair/net/room"
)

// TestStereoTrack publishes a stereo track, 500 Hz left and 1 kHz right, and
// checks that a subscriber decodes the two channels apart.
func TestStereoTrack(t *testing.T) {
	srv := livekittest.Start(t)
	listener := join(t, newRoom(t, srv, "stereo", "listener", Options{ListenOnly: true, Subscribe: true}))
	dev := join(t, newRoom(t, srv, "stereo", "device", Options{Channels: 2}))

	cfg := opus.Config{Application: opus.AppAudio, Channels: 2, Bitrate: 96000}
	cfg.SetDefaults()
	enc, err := opus.NewEncoder(cfg, audio.Rate48k)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		pcm := make([]float32, 2*960)
		out := make([]byte, 1500)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for pos := 0; ctx.Err() == nil; pos += 960 {
			<-tick.C
			for i := 0; i < 960; i++ {
				ph := float64(pos+i) / 48000
				pcm[2*i] = float32(0.1 * math.Sin(2*math.Pi*500*ph))
				pcm[2*i+1] = float32(0.1 * math.Sin(2*math.Pi*1000*ph))
			}
			n, err := enc.Encode(pcm, out)
			if err != nil {
				return
			}
			_ = dev.WriteOpus(out[:n], 20*time.Millisecond)
		}
	}()

	ev := waitEvent(t, listener, room.EventTrackAdded, 10*time.Second)
	dec, err := opus.NewDecoder(audio.Rate48k, 2)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	pcm := make([]float32, dec.MaxFrameLen()*2)
	var left, right []float32
	for len(left) < 48000 {
		p, err := ev.Track.ReadPacket(buf)
		if err != nil {
			t.Fatal(err)
		}
		n, err := dec.Decode(p.Payload, pcm)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			left = append(left, pcm[2*i])
			right = append(right, pcm[2*i+1])
		}
	}
	fl, fr := zeroCrossFreq(left[9600:]), zeroCrossFreq(right[9600:])
	if math.Abs(fl-500) > 2 || math.Abs(fr-1000) > 2 {
		t.Errorf("left %.1f Hz, right %.1f Hz; want 500 and 1000", fl, fr)
	}
}

// TestDTXSkipsEmptyPackets writes the 1-byte packets a DTX encoder gives in
// silence: they are not sent, and RTP time runs on across them.
func TestDTXSkipsEmptyPackets(t *testing.T) {
	srv := livekittest.Start(t)
	listener := join(t, newRoom(t, srv, "dtx", "listener", Options{ListenOnly: true, Subscribe: true}))
	dev := join(t, newRoom(t, srv, "dtx", "device", Options{DTX: true}))
	g := newTone(t, 440, 0.1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Pattern: 3 real packets, then 5 "nothing to send", repeated.
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for k := 0; ctx.Err() == nil; k++ {
			<-tick.C
			pkt := g.next(t)
			if k%8 >= 3 {
				pkt = []byte{0xf8}
			}
			_ = dev.WriteOpus(pkt, 20*time.Millisecond)
		}
	}()
	ev := waitEvent(t, listener, room.EventTrackAdded, 10*time.Second)
	buf := make([]byte, 1500)
	var steps []uint32
	var last room.Packet
	for i := 0; i < 13; i++ {
		p, err := ev.Track.ReadPacket(buf)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Payload) <= 2 {
			t.Fatalf("a DTX packet of %d bytes was sent", len(p.Payload))
		}
		if i > 0 {
			if p.Seq != last.Seq+1 {
				t.Errorf("sequence %d after %d: skipped packets must not use sequence numbers", p.Seq, last.Seq)
			}
			steps = append(steps, p.Timestamp-last.Timestamp)
		}
		last = p
	}
	// Timestamps advance by 960 within a burst and by 6·960 across a gap
	// of five skipped frames.
	var gaps int
	for _, s := range steps {
		switch s {
		case 960:
		case 6 * 960:
			gaps++
		default:
			t.Errorf("timestamp step %d", s)
		}
	}
	if gaps < 3 {
		t.Errorf("steps %v: want DTX gaps of 5760", steps)
	}
	st := dev.Stats()
	if st.PacketsSent == 0 {
		t.Errorf("stats %+v", st)
	}
}
