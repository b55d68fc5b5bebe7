package livekit

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/net/e2ee"
	"github.com/onair-gateway/onair/net/livekit/livekittest"
	"github.com/onair-gateway/onair/net/room"
)

// runSupervisor runs sup until the test ends and returns a channel of its
// state changes.
func runSupervisor(t *testing.T, r room.Room, cfg room.SupervisorConfig) (*room.Supervisor, <-chan room.StateChange) {
	t.Helper()
	states := make(chan room.StateChange, 256)
	cfg.OnState = func(c room.StateChange) {
		select {
		case states <- c:
		default:
		}
	}
	sup := room.NewSupervisor(r, cfg, testLog(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("Supervisor.Run did not return after cancel")
		}
	})
	return sup, states
}

func waitSupState(t *testing.T, states <-chan room.StateChange, want room.State, within time.Duration) room.StateChange {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case c := <-states:
			if c.State == want {
				return c
			}
		case <-timeout:
			t.Fatalf("supervisor never reached %v within %v", want, within)
		}
	}
}

// TestSupervisorRejoinsAfterServerRestart kills livekit-server under a
// publishing Supervisor and starts it again on the same ports: audio must
// flow again, through the same Supervisor, within 5 s of the server being
// back.
func TestSupervisorRejoinsAfterServerRestart(t *testing.T) {
	srv := livekittest.Start(t)
	const name = "restart"
	dev := newRoom(t, srv, name, "device", Options{ResumeTimeout: 2 * time.Second})
	sup, states := runSupervisor(t, dev, room.SupervisorConfig{MinBackoff: 200 * time.Millisecond, MaxBackoff: time.Second})
	waitSupState(t, states, room.StateConnected, 20*time.Second)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sendTone(ctx, t, sup, newTone(t, 1000, 0.1))

	// Audio flows before the restart.
	listen := func() (time.Duration, *received) {
		t.Helper()
		start := time.Now()
		l := join(t, newRoom(t, srv, name, "listener-"+time.Now().Format("150405.000"), Options{ListenOnly: true, Subscribe: true}))
		defer l.Close()
		ev := waitEvent(t, l, room.EventTrackAdded, 10*time.Second)
		rec := &received{}
		done := make(chan struct{})
		go decodeTrack(t, ev.Track, 4800, rec, done)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("no audio at the listener")
		}
		if rec.err != nil {
			t.Fatal(rec.err)
		}
		return rec.first.Sub(start), rec
	}
	listen()

	srv.Kill()
	c := waitSupState(t, states, room.StateReconnecting, 10*time.Second)
	t.Logf("after kill: %s (%s)", c.State, c.Reason)
	srv.Restart() // down for as long as a restart takes
	back := time.Now()

	// A listener that joins the restarted server hears the device within
	// 5 s of the server being back.
	deadline := back.Add(5 * time.Second)
	var heard time.Duration
	for {
		lctx, lcancel := context.WithDeadline(context.Background(), deadline)
		l, err := newRoom(t, srv, name, "listener-after", Options{ListenOnly: true, Subscribe: true}).Join(lctx)
		lcancel()
		if err != nil {
			t.Fatalf("listener join after restart: %v", err)
		}
		ok := func() bool {
			defer l.Close()
			timeout := time.After(time.Until(deadline))
			for {
				select {
				case ev, open := <-l.Events():
					if !open {
						return false
					}
					if ev.Kind != room.EventTrackAdded {
						continue
					}
					buf := make([]byte, 1500)
					if _, err := ev.Track.ReadPacket(buf); err == nil {
						heard = time.Since(back)
						return true
					}
				case <-timeout:
					return false
				}
			}
		}()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audio within 5 s of the server being back; supervisor %+v", sup.Stats())
		}
	}
	st := sup.Stats()
	t.Logf("audio flowing again %v after the server was back; sessions %d, join attempts %d, frames dropped %d",
		heard.Round(time.Millisecond), st.Sessions, st.JoinAttempts, st.Dropped)
	if st.Dropped == 0 {
		t.Error("no frames counted as dropped while the server was down")
	}
}

// TestSupervisorBackSoonAfterLongOutage: the server stays down past the
// SDK's resume window (on the session's fake clock) while the Supervisor's
// backoff has grown to 20 s. Probing the server, the Supervisor joins soon
// after the server is back instead of sleeping out the backoff.
func TestSupervisorBackSoonAfterLongOutage(t *testing.T) {
	srv := livekittest.Start(t)
	const name = "outage"
	clock := clockwork.NewFakeClock()
	dev := newRoom(t, srv, name, "device", Options{ResumeTimeout: time.Second, Clock: clock})
	const backoff = 20 * time.Second
	sup, states := runSupervisor(t, dev, room.SupervisorConfig{MinBackoff: backoff, MaxBackoff: time.Minute})
	waitSupState(t, states, room.StateConnected, 20*time.Second)

	srv.Kill()
	// First the SDK tries to resume; its window passes on the fake clock;
	// then the session ends and the Supervisor schedules a join after its
	// backoff.
	waitSupState(t, states, room.StateReconnecting, 15*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clock.BlockUntilContext(ctx, 3); err != nil { // permission poll, resume timer, probe ticker
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	c := waitSupState(t, states, room.StateReconnecting, 15*time.Second)
	for c.RetryIn == 0 {
		c = waitSupState(t, states, room.StateReconnecting, 15*time.Second)
	}
	lost := time.Now()
	if c.RetryIn < backoff*3/4 {
		t.Fatalf("backoff %v after the loss, want about %v", c.RetryIn, backoff)
	}
	srv.Restart()
	back := time.Now()
	waitSupState(t, states, room.StateConnected, 15*time.Second)
	took := time.Since(back)
	st := sup.Stats()
	t.Logf("joined %v after the server was back (%v after the loss, backoff was %v); early joins %d",
		took.Round(time.Millisecond), time.Since(lost).Round(time.Millisecond), c.RetryIn.Round(time.Millisecond), st.EarlyJoins)
	if st.EarlyJoins != 1 {
		t.Errorf("EarlyJoins = %d, want 1", st.EarlyJoins)
	}
	// Without probing the join could not come before the backoff ended.
	if since := time.Since(lost); since >= c.RetryIn {
		t.Errorf("joined %v after the loss: not before the %v backoff ended", since, c.RetryIn)
	}
}

// TestSupervisorRefusedTokenNoBusyLoop joins with a token the server
// refuses: the Supervisor must report an error state naming the cause and
// then try only once per MaxBackoff of its (fake) clock.
func TestSupervisorRefusedTokenNoBusyLoop(t *testing.T) {
	srv := livekittest.Start(t)
	tok := srv.Token("device", "auth", true)
	cfg := room.Config{URL: srv.URL, Room: "auth", Token: conf.Secret(tok[:len(tok)-4] + "AAAA")}
	cfg.SetDefaults("device")
	dev, err := New(cfg, Options{}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	clock := clockwork.NewFakeClock()
	sc := cfg.SupervisorConfig()
	sc.Clock = clock
	sup, states := runSupervisor(t, dev, sc)

	c := waitSupState(t, states, room.StateError, 10*time.Second)
	if !strings.Contains(c.Reason, "401") || !strings.Contains(c.Reason, "unauthorized") {
		t.Errorf("error state reason %q does not name the cause", c.Reason)
	}
	const waits = 20 // 20 × 30 s = 10 minutes of fake time
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; i < waits; i++ {
		if err := clock.BlockUntilContext(ctx, 1); err != nil {
			t.Fatal(err)
		}
		clock.Advance(cfg.MaxBackoff.D())
	}
	if err := clock.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	attempts := sup.Stats().JoinAttempts
	time.Sleep(50 * time.Millisecond) // real time passes, the fake clock stands still
	if got := sup.Stats().JoinAttempts; got != attempts {
		t.Errorf("join attempts went from %d to %d while the clock stood still", attempts, got)
	}
	if attempts != waits+1 {
		t.Errorf("%d join attempts in %v of fake time, want %d (one per MaxBackoff)", attempts, time.Duration(waits)*cfg.MaxBackoff.D(), waits+1)
	}
	if st := sup.State(); st.State != room.StateError {
		t.Errorf("state %v after retries, want error", st.State)
	}
}

func TestWriteOpusAllocs(t *testing.T) {
	srv := livekittest.Start(t)
	keys, err := e2ee.New(e2ee.Config{Passphrase: "alloc-room-passphrase"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"plain", Options{}},
		{"end-to-end encrypted", Options{Encryptor: keys}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dev := newRoom(t, srv, "allocs", "device-"+strings.ReplaceAll(tc.name, " ", "-"), tc.opts)
			sup, states := runSupervisor(t, dev, room.SupervisorConfig{})
			waitSupState(t, states, room.StateConnected, 20*time.Second)
			pkt := make([]byte, 120)
			pkt[0] = 0xf8
			for i := 0; i < 50; i++ { // warm pion's pools
				if err := sup.WriteOpus(pkt, 20*time.Millisecond); err != nil {
					t.Fatal(err)
				}
			}
			n := testing.AllocsPerRun(500, func() {
				if err := sup.WriteOpus(pkt, 20*time.Millisecond); err != nil {
					t.Fatal(err)
				}
			})
			t.Logf("allocations per WriteOpus through Supervisor, sealing, SDK, pion and SRTP: %v", n)
			if n != 0 {
				t.Errorf("WriteOpus allocates %v times per frame", n)
			}
		})
	}
}
