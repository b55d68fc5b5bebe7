// Package lkpeer is the other participants of a test room on a real
// livekit-server (livekittest): a Talker that publishes generated audio in
// real time, as a capture would deliver it, and a Recorder that records
// every remote track onto one timeline by RTP time. The gateway's, onairctl's
// and test/hardnet's end-to-end tests share them.
//
// Goroutines: Talk starts one sender and Record one room supervisor; both
// stop when the test ends (t.Cleanup), or earlier by Recorder.Stop.
package lkpeer

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/mix"
	"github.com/onair-gateway/onair/audio/opus"
	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/net/livekit"
	"github.com/onair-gateway/onair/net/livekit/livekittest"
	"github.com/onair-gateway/onair/net/room"
	"github.com/onair-gateway/onair/net/room/listen"
)

// Frame is the talker's frame: 20 ms at 48 kHz.
const Frame = 20 * time.Millisecond

// Talk joins roomName on srv as identity with opts (an Encryptor for an
// encrypted room) and publishes what gen renders, one 20 ms mono frame at a
// time in real time: frame k (samples from pos k·960) is sent at
// start + (k+1)·20 ms, when a capture would deliver it. It sends until the
// test ends. log may be nil.
func Talk(t testing.TB, srv *livekittest.Server, roomName, identity string, start time.Time, opts livekit.Options, log *slog.Logger, gen func(pos int64, frame []float32)) {
	t.Helper()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg := room.Config{URL: srv.URL, Room: roomName, APIKey: srv.APIKey, APISecret: conf.Secret(srv.APISecret)}
	cfg.SetDefaults(identity)
	r, err := livekit.New(cfg, opts, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := r.Join(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ecfg := opus.Config{}
	ecfg.SetDefaults()
	enc, err := opus.NewEncoder(ecfg, audio.Rate48k)
	if err != nil {
		s.Close()
		t.Fatal(err)
	}
	n := audio.Rate48k.Samples(Frame)
	done, stop := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		frame, out := make([]float32, n), make([]byte, 1500)
		for k := int64(0); ; k++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Until(start.Add(time.Duration(k+1) * Frame))):
			}
			gen(k*int64(n), frame)
			m, err := enc.Encode(frame, out)
			if err != nil {
				t.Error(err)
				return
			}
			_ = s.WriteOpus(out[:m], Frame)
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		_ = s.Close()
		_ = enc.Close()
	})
}

// Recorder is a listen-only participant that decodes every remote track
// (FEC and PLC, audio/rx) onto one mono timeline placed by RTP time: the
// ideal listener of a measurement, with none of a playout buffer's delay
// changes.
type Recorder struct {
	// Start is the timeline's origin: sample i was heard at Start + i/48 kHz.
	Start time.Time
	l     *listen.Listener
	tl    *mix.Timeline
	sink  *pcm
	stop  func()
}

// Record joins roomName on srv as identity, listen-only, and records every
// remote track except skip's (none when skip is empty). It returns once
// joined, failing the test after 30 s. log may be nil.
func Record(t testing.TB, srv *livekittest.Server, roomName, identity, skip string, log *slog.Logger) *Recorder {
	t.Helper()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rc := room.Config{URL: srv.URL, Room: roomName, APIKey: srv.APIKey, APISecret: conf.Secret(srv.APISecret)}
	rc.SetDefaults(identity)
	r, err := livekit.New(rc, livekit.Options{ListenOnly: true, Subscribe: true}, log)
	if err != nil {
		t.Fatal(err)
	}
	rec := &Recorder{sink: &pcm{}, Start: time.Now()}
	if rec.tl, err = mix.New(rec.sink, 1, 60*48000); err != nil {
		t.Fatal(err)
	}
	rec.l = listen.New(listen.Config{Channels: 1, Mix: rec.tl, Start: rec.Start, Skip: skip}, log)
	sc := rc.SupervisorConfig()
	sc.OnEvent = rec.l.OnEvent
	connected := make(chan struct{})
	var once sync.Once
	sc.OnState = func(c room.StateChange) {
		if c.State == room.StateConnected {
			once.Do(func() { close(connected) })
		}
	}
	sup := room.NewSupervisor(r, sc, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = sup.Run(ctx) }()
	var stopOnce sync.Once
	rec.stop = func() {
		stopOnce.Do(func() {
			cancel()
			<-done
			rec.l.Wait()
		})
	}
	t.Cleanup(rec.stop)
	select {
	case <-connected:
	case <-time.After(30 * time.Second):
		t.Fatal("the recorder never joined")
	}
	return rec
}

// Heard leaves the room and returns the whole timeline, from Start.
func (r *Recorder) Heard(t testing.TB) []float32 {
	t.Helper()
	r.stop()
	if err := r.tl.Flush(r.tl.End()); err != nil {
		t.Fatal(err)
	}
	return r.sink.samples
}

// Stop leaves the room (Heard does too); the figures stay readable.
func (r *Recorder) Stop() { r.stop() }

// Participant returns the listener's figures for identity.
func (r *Recorder) Participant(identity string) (listen.Participant, bool) {
	for _, p := range r.Participants() {
		if p.Identity == identity {
			return p, true
		}
	}
	return listen.Participant{}, false
}

// Participants returns the listener's figures for every participant.
func (r *Recorder) Participants() []listen.Participant {
	return r.l.Participants(false, time.Now())
}

// Timeline returns the timeline's counters.
func (r *Recorder) Timeline() mix.Stats { return r.tl.Stats() }

// pcm is the timeline's sink: every sample, in memory.
type pcm struct{ samples []float32 }

func (p *pcm) Write(s []float32) error {
	p.samples = append(p.samples, s...)
	return nil
}
