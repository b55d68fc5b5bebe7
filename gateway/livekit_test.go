package gateway

import (
	"context"
	"errors"
	"io"
	"math"
	"sync"
	"testing"
	"time"

	pgpio "periph.io/x/conn/v3/gpio"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/opus"
	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/net/e2ee"
	"github.com/onair-gateway/onair/net/livekit"
	"github.com/onair-gateway/onair/net/livekit/livekittest"
	"github.com/onair-gateway/onair/net/room"
)

// heard is what an independent subscriber decoded, with arrival times.
type heard struct {
	mu      sync.Mutex
	samples []float32
	at      []time.Time // arrival time of each 20 ms block
	raw     [][]byte    // payloads as received (after decryption, if keyed)
	decErrs int         // payloads the Opus decoder refused
}

func (h *heard) since(t time.Time) []float32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []float32
	for i, a := range h.at {
		if !a.Before(t) {
			out = append(out, h.samples[i*960:(i+1)*960]...)
		}
	}
	return out
}

// subscribe joins as an independent listener (the LiveKit SDK through
// net/livekit, listen-only) and decodes the device's track.
func subscribe(t *testing.T, srv *livekittest.Server, roomName, device string) *heard {
	return subscribeKeyed(t, srv, roomName, device, "listener", nil)
}

// subscribeKeyed is subscribe with the room's e2ee keys (nil: none, so the
// listener gets the payloads exactly as the server forwards them).
func subscribeKeyed(t *testing.T, srv *livekittest.Server, roomName, device, identity string, keys *e2ee.Keys) *heard {
	t.Helper()
	cfg := room.Config{Backend: room.BackendLiveKit, URL: srv.URL, Room: roomName, Identity: identity,
		Token: conf.Secret(srv.Token(identity, roomName, false))}
	cfg.SetDefaults(identity)
	opts := livekit.Options{ListenOnly: true, Subscribe: true}
	if keys != nil {
		opts.Encryptor = keys
	}
	rm, err := livekit.New(cfg, opts, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sess, err := rm.Join(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h := &heard{}
	var wg sync.WaitGroup
	t.Cleanup(func() { sess.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ev := range sess.Events() {
			if ev.Kind != room.EventTrackAdded || ev.Participant != device {
				continue
			}
			wg.Add(1)
			go func(tr room.RemoteTrack) {
				defer wg.Done()
				dec, err := opus.NewDecoder(audio.Rate48k, 1)
				if err != nil {
					t.Error(err)
					return
				}
				buf := make([]byte, 1500)
				pcm := make([]float32, 5760)
				for {
					p, err := tr.ReadPacket(buf)
					if err != nil {
						if !errors.Is(err, io.EOF) {
							t.Logf("read: %v", err)
						}
						return
					}
					h.mu.Lock()
					h.raw = append(h.raw, append([]byte(nil), p.Payload...))
					h.mu.Unlock()
					n, err := dec.Decode(p.Payload, pcm)
					if err != nil || n != 960 {
						h.mu.Lock()
						h.decErrs++
						h.mu.Unlock()
						continue
					}
					h.mu.Lock()
					h.samples = append(h.samples, pcm[:n]...)
					h.at = append(h.at, time.Now())
					h.mu.Unlock()
				}
			}(ev.Track)
		}
	}()
	return h
}

func rmsDBFS(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	if len(x) == 0 || s == 0 {
		return -120
	}
	return 10 * math.Log10(s/float64(len(x)))
}

// toneShare is the fraction of x's energy at freq (Goertzel), 0..1.
func toneShare(x []float32, freq float64) float64 {
	w := 2 * math.Pi * freq / 48000
	c := 2 * math.Cos(w)
	var s1, s2, e float64
	for _, v := range x {
		s0 := float64(v) + c*s1 - s2
		s2, s1 = s1, s0
		e += float64(v) * float64(v)
	}
	p := s1*s1 + s2*s2 - c*s1*s2
	if e == 0 {
		return 0
	}
	return 2 * p / (float64(len(x)) * e)
}

// TestPTTIntoRealRoom: the whole state machine on the simulated board against
// a real livekit-server. Press PTT: an independent subscriber hears the
// talker's 1 kHz tone; release: silence (DTX); the tally follows.
func TestPTTIntoRealRoom(t *testing.T) {
	srv := livekittest.Start(t)
	hw := &SimHardware{log: testLogger(t)}
	g := runDeviceOn(t, deviceDoc(srv, "gw-e2e", "e2e", "signal: tone, frequency: 1000, level: -12", "opus: {dtx: true}"), hw)
	ctx := context.Background()
	waitFor(t, "live", func() bool { return g.Status().State == StateLive })
	h := subscribe(t, srv, "e2e", "gw-e2e")
	tallyLevel := func() pgpio.Level { l, _ := hw.Pins().Level("GPIO22"); return l }

	// Off air at first: what arrives is silence. (The waits in this test
	// are for real audio through a real server, not for a clock.)
	time.Sleep(700 * time.Millisecond)
	if lvl := rmsDBFS(h.since(time.Now().Add(-500 * time.Millisecond))); lvl > -60 {
		t.Errorf("off air the listener hears %.1f dBFS", lvl)
	}
	if err := g.Do(ctx, Command{Kind: CmdPress, Button: "ptt"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "on air", func() bool { return g.Status().State == StateOnAir })
	onAt := time.Now()
	if tallyLevel() != pgpio.High {
		t.Error("tally off while on air")
	}
	waitFor(t, "1 s of audio at the listener", func() bool { return len(h.since(onAt.Add(300*time.Millisecond))) >= 48000 })
	on := h.since(onAt.Add(300 * time.Millisecond))
	lvl, share := rmsDBFS(on), toneShare(on, 1000)
	t.Logf("on air: listener hears %.1f dBFS, %.0f%% of it at 1 kHz", lvl, 100*share)
	if lvl < -30 || share < 0.8 {
		t.Errorf("on air the listener hears %.1f dBFS with %.0f%% at 1 kHz; want a loud 1 kHz tone", lvl, 100*share)
	}

	if err := g.Do(ctx, Command{Kind: CmdRelease, Button: "ptt"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "off air", func() bool { return g.Status().State == StateLive })
	offAt := time.Now()
	waitFor(t, "tally off", func() bool { return tallyLevel() == pgpio.Low })
	packetsOff := func() int { return len(h.since(offAt.Add(300*time.Millisecond))) / 960 }
	time.Sleep(1300 * time.Millisecond)
	off := h.since(offAt.Add(300 * time.Millisecond))
	t.Logf("off air: %d packets in 1 s (DTX), %.1f dBFS", packetsOff(), rmsDBFS(off))
	if lvl := rmsDBFS(off); lvl > -60 {
		t.Errorf("after release the listener hears %.1f dBFS", lvl)
	}
	if n := packetsOff(); n > 15 {
		t.Errorf("%d packets in 1 s of silence: DTX is not working (50 without it)", n)
	}
}
