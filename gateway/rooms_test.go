package gateway

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/livekit/protocol/auth"

	"github.com/onair-gateway/onair/net/livekit/livekittest"
)

// runDevice starts a gateway from a config document and stops it at cleanup.
func runDevice(t *testing.T, doc string) *Gateway {
	t.Helper()
	return runDeviceOn(t, doc, nil)
}

// runDeviceOn is runDevice with the test's own Hardware (nil: the default).
func runDeviceOn(t *testing.T, doc string, hw Hardware) *Gateway {
	t.Helper()
	return runDeviceClock(t, doc, hw, nil)
}

// runDeviceClock is runDeviceOn with the test's own clock (nil: real),
// which times the gateway and its room supervisor.
func runDeviceClock(t *testing.T, doc string, hw Hardware, clock clockwork.Clock) *Gateway {
	t.Helper()
	g, err := New(resolve(t, doc), Options{Hardware: hw, Log: testLogger(t), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return g
}

// deviceDoc is the config of a simulated board saying signal (a board.sim
// snippet) in room roomName of srv, with extra sections appended.
func deviceDoc(srv *livekittest.Server, id, roomName, signal, extra string) string {
	return fmt.Sprintf(`
device: {id: %s}
board:
  profile: sim
  sim: {%s, snr: 50, keyboard: false}
room: {url: %q, api_key: %s, api_secret: %s, room: %s}
%s
`, id, signal, srv.URL, srv.APIKey, srv.APISecret, roomName, extra)
}

// TestWHIPIntoLiveKit: the device publishes through WHIP to livekit-server's
// own /whip/v1 endpoint and an independent LiveKit subscriber hears it.
func TestWHIPIntoLiveKit(t *testing.T) {
	srv := livekittest.Start(t)
	doc := fmt.Sprintf(`
device: {id: whip-dev}
board:
  profile: sim
  sim: {signal: tone, frequency: 750, level: -12, snr: 50, keyboard: false}
room: {backend: whip, url: %q, token: %q, room: whip-room}
`, srv.HTTPURL+"/whip/v1", srv.Token("whip-dev", "whip-room", true))
	g := runDevice(t, doc)
	waitFor(t, "live", func() bool { return g.Status().State == StateLive })
	if g.Status().Encrypted {
		t.Error("a WHIP room reports encrypted")
	}
	if err := g.Do(context.Background(), Command{Kind: CmdOnAir, On: true}); err != nil {
		t.Fatal(err)
	}
	h := subscribe(t, srv, "whip-room", "whip-dev")
	start := time.Now()
	waitFor(t, "1 s of audio through WHIP", func() bool { return len(h.since(start.Add(300*time.Millisecond))) >= 48000 })
	got := h.since(start.Add(300 * time.Millisecond))
	t.Logf("through WHIP: %.1f dBFS, %.0f%% at 750 Hz", rmsDBFS(got), 100*toneShare(got, 750))
	if rmsDBFS(got) < -30 || toneShare(got, 750) < 0.8 {
		t.Errorf("through WHIP the listener hears %.1f dBFS, %.0f%% at 750 Hz", rmsDBFS(got), 100*toneShare(got, 750))
	}
}

// TestServerRestartRecovers: livekit-server is killed and started again; with
// onaird's default backoff and resume settings audio flows again within 5 s
// of the server being back, without restarting the gateway.
func TestServerRestartRecovers(t *testing.T) {
	srv := livekittest.Start(t)
	g := runDevice(t, deviceDoc(srv, "restart-dev", "restart", "signal: tone, frequency: 1000, level: -12", ""))
	waitFor(t, "live", func() bool { return g.Status().State == StateLive })
	if err := g.Do(context.Background(), Command{Kind: CmdOnAir, On: true}); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	waitFor(t, "the device notices", func() bool {
		s := g.Status().State
		return s == StateDegraded || s == StateJoining || s == StateError
	})
	time.Sleep(time.Second) // an outage of a second (not a wait for a clock)
	srv.Restart()
	back := time.Now()
	h := subscribe(t, srv, "restart", "restart-dev")
	deadline := back.Add(15 * time.Second)
	for len(h.since(back)) < 10*960 {
		if time.Now().After(deadline) {
			t.Fatalf("no audio 15 s after the server came back; device state %s (%s)", g.Status().State, g.Status().Reason)
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.mu.Lock()
	first := h.at[0]
	for _, a := range h.at {
		if !a.Before(back) {
			first = a
			break
		}
	}
	h.mu.Unlock()
	rec := first.Sub(back)
	t.Logf("audio again %v after the server was back (joins: %d)", rec.Round(time.Millisecond), g.Status().RoomStats.JoinAttempts)
	if rec > 5*time.Second {
		t.Errorf("audio flowed again %v after the server was back, want ≤ 5 s", rec)
	}
}

// TestBadTokenIsAnErrorNotABusyLoop: a wrong token puts the device in the
// error state with the reason, and it does not hammer the server.
func TestBadTokenIsAnErrorNotABusyLoop(t *testing.T) {
	srv := livekittest.Start(t)
	for _, tc := range []struct{ name, token string }{
		{"wrong key", foreignToken(t, "bad-dev", "r")},
		{"expired", srv.TokenTTL("bad-dev", "r", true, -time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := clockwork.NewFakeClock()
			g := runDeviceClock(t, fmt.Sprintf(`
device: {id: bad-dev}
board: {profile: sim, sim: {keyboard: false}}
room: {url: %q, token: %q, room: r}
`, srv.URL, tc.token), nil, clock)
			waitFor(t, "error state", func() bool { return g.Status().State == StateError })
			s := g.Status()
			t.Logf("state %s: %s", s.State, s.Reason)
			if !strings.Contains(strings.ToLower(s.Reason), "token") && !strings.Contains(s.Reason, "401") {
				t.Errorf("reason does not say the token is the problem: %q", s.Reason)
			}
			// 3 s on the supervisor's (fake) clock, in steps its timers
			// and the status ticker see.
			n := s.RoomStats.JoinAttempts
			for range 30 {
				clock.Advance(100 * time.Millisecond)
				runtime.Gosched()
			}
			if err := g.Do(context.Background(), Command{Kind: CmdMute}); err != nil {
				t.Fatal(err) // a round trip: the status is current
			}
			if m := g.Status().RoomStats.JoinAttempts; m-n > 1 {
				t.Errorf("%d join attempts in 3 s after a permanent error: a busy loop", m-n)
			}
			if strings.Contains(s.Reason, tc.token) {
				t.Error("the token appears in the status")
			}
		})
	}
}

// foreignToken is a well-formed join token signed by a key the server does
// not know.
func foreignToken(t *testing.T, identity, roomName string) string {
	t.Helper()
	yes := true
	at := auth.NewAccessToken("not-this-servers-key", "a-secret-this-server-has-never-seen")
	at.SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: roomName, CanPublish: &yes}).SetIdentity(identity).SetValidFor(time.Hour)
	tok, err := at.ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
