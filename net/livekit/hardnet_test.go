package livekit

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/net/livekit/livekittest"
	"github.com/onair-gateway/onair/net/nettest/relay"
	"github.com/onair-gateway/onair/net/room"
)

// joinHard joins srv as "device" with ice servers and policy from the room
// config while a direct listener decodes it; it checks the listener hears
// the 1 kHz tone and returns the session and the join time.
func joinHard(t *testing.T, srv *livekittest.Server, name string, servers []room.ICEServer, policy room.ICETransportPolicy) (room.Session, time.Duration) {
	t.Helper()
	listener := join(t, newRoom(t, srv, name, "listener", Options{ListenOnly: true, Subscribe: true}))
	cfg := room.Config{URL: srv.URL, Room: name, APIKey: srv.APIKey, APISecret: conf.Secret(srv.APISecret),
		ICEServers: servers, ICETransportPolicy: policy}
	cfg.SetDefaults("device")
	dev, err := New(cfg, Options{}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	ds := join(t, dev)
	took := time.Since(t0)

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go sendTone(ctx, t, ds, newTone(t, 1000, 0.1))
	ev := waitEvent(t, listener, room.EventTrackAdded, 10*time.Second)
	rec := &received{}
	done := make(chan struct{})
	go decodeTrack(t, ev.Track, 48000, rec, done)
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("1 s of audio did not arrive within 15 s")
	}
	if rec.err != nil {
		t.Fatal(rec.err)
	}
	if f := zeroCrossFreq(rec.pcm[48000/5:]); math.Abs(f-1000) > 2 {
		t.Errorf("listener hears %.2f Hz, want 1000 Hz", f)
	}
	return ds, took
}

// TestRelayJoin: with ice_transport_policy relay and the relay (which
// LiveKit knows nothing of) in ice_servers, the device joins
// livekit-server through the relay, the relay carries its audio, and the
// stats say so.
func TestRelayJoin(t *testing.T) {
	srv := livekittest.Start(t)
	rl, err := relay.Start(relay.Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer rl.Close()
	ds, took := joinHard(t, srv, "relay", []room.ICEServer{rl.ICEServer(rl.URL())}, room.ICERelay)
	st := ds.Stats()
	t.Logf("joined through the relay in %v; path %+v; relay %+v", took.Round(time.Millisecond), st.Path, rl.Stats())
	if st.Path.Transport != room.TransportRelay || st.Path.LocalCandidate != "relay" || st.Path.RelayProtocol != "udp" {
		t.Errorf("path %+v, want relay over udp", st.Path)
	}
	// The audio (50 packets a second, 1 s heard) went through it.
	if rs := rl.Stats(); rs.Allocations == 0 || rs.ToPeer.Out < 50 {
		t.Errorf("relay stats %+v: the device's media did not go through it", rs)
	}
}

// TestNoUDPJoin: the device may not use UDP at all: its only ICE server is
// a TURN server reachable over TCP and the policy is relay, so its only
// candidates are relayed addresses allocated over TCP and it sends no UDP
// datagram of its own, as behind a firewall that blocks UDP. (server-sdk-go
// lets no one set pion's network, so the UDP-dropping firewall that
// net/whip's TestLiveKitWHIPNoUDP puts under pion cannot be used here.) It
// joins within 5 s of the first attempt, the listener hears it, and the
// stats report relay over tcp.
func TestNoUDPJoin(t *testing.T) {
	srv := livekittest.Start(t)
	rl, err := relay.Start(relay.Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer rl.Close()
	ds, took := joinHard(t, srv, "noudp", []room.ICEServer{rl.ICEServer(rl.TCPURL())}, room.ICERelay)
	st := ds.Stats()
	t.Logf("joined over TURN/TCP in %v; path %+v; relay %+v", took.Round(time.Millisecond), st.Path, rl.Stats())
	if took > 5*time.Second {
		t.Errorf("join took %v, want within 5 s", took)
	}
	if st.Path.Transport != room.TransportRelay || st.Path.RelayProtocol != "tcp" {
		t.Errorf("path %+v, want relay over tcp", st.Path)
	}
}

// TestRelayRefusedToken: the signal proxy that adds ice_servers passes the
// server's refusal on, so a bad token is still a permanent 401.
func TestRelayRefusedToken(t *testing.T) {
	srv := livekittest.Start(t)
	bad := srv.Token("device", "auth", true)
	bad = bad[:len(bad)-4] + "AAAA"
	cfg := room.Config{URL: srv.URL, Room: "auth", Token: conf.Secret(bad),
		ICEServers: []room.ICEServer{{URLs: []string{"turn:127.0.0.1:9?transport=udp"}, Username: "u", Credential: "p"}}}
	cfg.SetDefaults("device")
	r, err := New(cfg, Options{}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Join(context.Background())
	if err == nil {
		s.Close()
		t.Fatal("join with a refused token succeeded")
	}
	var je *room.JoinError
	if !errors.As(err, &je) || !je.Permanent || je.Status != 401 {
		t.Fatalf("err = %v, want a permanent 401", err)
	}
}
