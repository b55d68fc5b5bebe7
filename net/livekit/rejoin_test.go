package livekit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/onair-gateway/onair/net/livekit/livekittest"
	"github.com/onair-gateway/onair/net/room"
)

// TestSupervisorBackWithinFirstProbeSecond: the backoff has grown to 8 s
// or more after join failures against a killed server, and the server is back at
// once after the last failure, before the wait's first probe. The failed
// join (unreachable) is evidence the server was down, so the Supervisor
// joins as soon as a probe finds it answering, not when the backoff ends.
func TestSupervisorBackWithinFirstProbeSecond(t *testing.T) {
	srv := livekittest.Start(t)
	const name = "firstsecond"
	dev := newRoom(t, srv, name, "device", Options{ResumeTimeout: time.Second})
	// The first wait (4 s) sits out the outage; the wait after the failed
	// join (8 s or more) is the one that must end early.
	const backoff = 4 * time.Second
	sup, states := runSupervisor(t, dev, room.SupervisorConfig{MinBackoff: backoff, MaxBackoff: time.Minute})
	waitSupState(t, states, room.StateConnected, 20*time.Second)

	srv.Kill()
	waitFailures(t, sup, 1)
	failed := time.Now()
	c := sup.State()
	srv.Restart()
	back := time.Now()
	waitSupState(t, states, room.StateConnected, 15*time.Second)
	took := time.Since(back)
	st := sup.Stats()
	t.Logf("server back %v after the failed join; joined %v after the server answered (backoff %v); early joins %d",
		back.Sub(failed).Round(time.Millisecond), took.Round(time.Millisecond), c.RetryIn.Round(time.Millisecond), st.EarlyJoins)
	if st.EarlyJoins == 0 {
		t.Error("EarlyJoins = 0: the wait slept out its backoff")
	}
	if since := time.Since(failed); since >= c.RetryIn {
		t.Errorf("joined %v after the failed join: not before the %v backoff ended", since, c.RetryIn)
	}
}

// TestMeasureRejoin measures how long after livekit-server answers again a
// device (default Supervisor and Options, as onaird runs them) has audio
// flowing to a listener, over outages of several lengths, five runs each.
// It takes minutes, so it runs only with ONAIR_MEASURE_REJOIN=1 (or =N
// runs); the numbers go to the log (go test -v).
func TestMeasureRejoin(t *testing.T) {
	runs, _ := strconv.Atoi(os.Getenv("ONAIR_MEASURE_REJOIN"))
	if runs <= 0 {
		t.Skip("set ONAIR_MEASURE_REJOIN=1 (or a number of runs) to measure rejoin times")
	}
	if runs == 1 {
		runs = 5
	}
	srv := livekittest.Start(t)
	const name = "measure"
	dev := newRoom(t, srv, name, "device", Options{})
	sup, states := runSupervisor(t, dev, room.SupervisorConfig{})
	waitSupState(t, states, room.StateConnected, 20*time.Second)
	go func() { // the states are not needed; keep the channel drained
		for range states {
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sendTone(ctx, t, sup, newTone(t, 1000, 0.1))

	// firstPacket joins a listener as soon as the server answers and
	// returns when the device's audio reaches it.
	firstPacket := func(back time.Time) (time.Duration, error) {
		lctx, lcancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer lcancel()
		l, err := newRoom(t, srv, name, fmt.Sprintf("listener-%d", time.Now().UnixNano()), Options{ListenOnly: true, Subscribe: true}).Join(lctx)
		if err != nil {
			return 0, err
		}
		defer l.Close()
		for {
			select {
			case ev, open := <-l.Events():
				if !open {
					return 0, fmt.Errorf("listener session ended: %v", l.Err())
				}
				if ev.Kind != room.EventTrackAdded {
					continue
				}
				buf := make([]byte, 1500)
				if _, err := ev.Track.ReadPacket(buf); err != nil {
					return 0, err
				}
				return time.Since(back), nil
			case <-lctx.Done():
				return 0, lctx.Err()
			}
		}
	}
	cases := []struct {
		name string
		down func()
	}{
		{"2s outage", func() { time.Sleep(2 * time.Second) }},
		{"10s outage", func() { time.Sleep(10 * time.Second) }},
		{"60s outage", func() { time.Sleep(60 * time.Second) }},
		{"back right after the 4th join failure", func() {
			waitFailures(t, sup, sup.Stats().JoinFailures+4)
		}},
	}
	for _, c := range cases {
		var worst time.Duration
		var all []string
		for i := 0; i < runs; i++ {
			for sup.State().State != room.StateConnected {
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(2 * time.Second) // steady on air
			early := sup.Stats().EarlyJoins
			srv.Kill()
			c.down()
			srv.Restart()
			back := time.Now()
			took, err := firstPacket(back)
			if err != nil {
				t.Fatalf("%s run %d: %v", c.name, i+1, err)
			}
			worst = max(worst, took)
			all = append(all, took.Round(10*time.Millisecond).String())
			t.Logf("%s run %d: audio at a listener %v after the server answered; early joins +%d",
				c.name, i+1, took.Round(time.Millisecond), sup.Stats().EarlyJoins-early)
		}
		t.Logf("MEASURE %s: worst %v of %v", c.name, worst.Round(10*time.Millisecond), all)
	}
}

// waitFailures polls until sup has counted n join failures (a repeated
// failure with the same reason reports no state change to wait for).
func waitFailures(t *testing.T, sup *room.Supervisor, n uint64) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for sup.Stats().JoinFailures < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d join failures after 2 min, want %d", sup.Stats().JoinFailures, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestSessionEndsWhenServerBackWhileResuming: livekit-server is killed and
// restarted while the session resumes. The session's probes (on a fake
// clock) see the server down and then answering, and the session ends with
// room.ErrServerBack, long before its 30 s resume window, so the
// Supervisor can join afresh at once.
func TestSessionEndsWhenServerBackWhileResuming(t *testing.T) {
	srv := livekittest.Start(t)
	clock := clockwork.NewFakeClock()
	s := join(t, newRoom(t, srv, "resume", "device", Options{ResumeTimeout: 30 * time.Second, Clock: clock}))
	srv.Kill()
	waitEvent(t, s, room.EventReconnecting, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The permission poll, the resume timer and the probe ticker.
	if err := clock.BlockUntilContext(ctx, 3); err != nil {
		t.Fatal(err)
	}
	clock.Advance(resumeProbe) // a probe finds the server down
	srv.Restart()
	// Probe again until the session ends: one probe sees the server back,
	// the next one still finds the session resuming. Real time passes only
	// for the probes to run.
	for i := 0; ; i++ {
		clock.Advance(resumeProbe)
		select {
		case <-s.Done():
		case ev := <-s.Events():
			if ev.Kind == room.EventReconnected {
				t.Skip("the SDK resumed by itself before a probe saw the server back")
			}
			continue
		case <-time.After(50 * time.Millisecond):
			if i < 40 {
				continue
			}
			t.Fatalf("session still up after %d probes with the server back", i+1)
		}
		break
	}
	if err := s.Err(); !errors.Is(err, room.ErrServerBack) {
		t.Errorf("session ended with %v, want room.ErrServerBack", err)
	}
}
