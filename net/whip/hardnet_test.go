package whip

import (
	"testing"
	"time"

	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/net/livekit/livekittest"
	"github.com/onair-gateway/onair/net/nettest/relay"
	"github.com/onair-gateway/onair/net/room"
)

// hardJoin joins livekit-server's WHIP endpoint with ice servers and policy
// from the room config, sends audio until the listener has n packets, and
// returns the session and how long the join took.
func hardJoin(t *testing.T, lk *livekittest.Server, roomName string, servers []room.ICEServer, policy room.ICETransportPolicy, o Options) (*Session, time.Duration) {
	t.Helper()
	const identity = "whip-device"
	l := listen(t, lk, roomName)
	o.Loopback = true
	cfg := room.Config{URL: lk.HTTPURL + "/whip/v1", Token: conf.Secret(lk.Token(identity, roomName, true)), Identity: identity,
		ICEServers: servers, ICETransportPolicy: policy}
	r, err := New(cfg, o, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	js, err := r.Join(testContext(t))
	if err != nil {
		t.Fatalf("join: %v\n%s", err, lk.LogTail())
	}
	took := time.Since(start)
	s := js.(*Session)
	t.Cleanup(func() { s.Close() })
	frames := toneFrames(t, 697, 1, 50, 20*time.Millisecond)
	if run := longestRun(sendUntil(t, s, l, frames, 50)); len(run) < 20 {
		t.Errorf("longest gapless run at the listener is %d packets", len(run))
	}
	return s, took
}

// TestLiveKitWHIPRelay: with ice_transport_policy relay and the relay in
// ice_servers, the device publishes to livekit-server through the relay
// (the relay counts the packets) and a listener hears it.
func TestLiveKitWHIPRelay(t *testing.T) {
	lk := livekittest.Start(t)
	rl, err := relay.Start(relay.Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer rl.Close()
	s, took := hardJoin(t, lk, "whip-relay", []room.ICEServer{rl.ICEServer(rl.URL())}, room.ICERelay, Options{})
	t.Logf("joined through the relay in %v; relay %+v", took.Round(time.Millisecond), rl.Stats())
	st := s.Stats()
	if st.Path.Transport != room.TransportRelay || st.Path.LocalCandidate != "relay" || st.Path.RelayProtocol != "udp" {
		t.Errorf("path %+v, want relay over udp from a local relay candidate", st.Path)
	}
	if rs := rl.Stats(); rs.ToPeer.Out < 50 || rs.Allocations == 0 {
		t.Errorf("relay stats %+v: the audio did not go through it", rs)
	}
}

// TestLiveKitWHIPNoUDP: the device sits behind a firewall that drops all
// UDP (relay.DropUDP under pion: its UDP sockets open, nothing crosses),
// with policy all and a TURN server reachable over TCP only. ICE finds the
// TCP path by itself, the device joins within 5 s of the first attempt,
// a listener hears it, and the stats report the transport.
func TestLiveKitWHIPNoUDP(t *testing.T) {
	lk := livekittest.Start(t)
	rl, err := relay.Start(relay.Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer rl.Close()
	std, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	blockUDP := func(se *webrtc.SettingEngine) { se.SetNet(relay.DropUDP(std)) }
	s, took := hardJoin(t, lk, "whip-noudp", []room.ICEServer{rl.ICEServer(rl.TCPURL())}, room.ICEAll, Options{ConfigureSettings: blockUDP})
	t.Logf("joined with UDP blocked in %v; path %+v; relay %+v", took.Round(time.Millisecond), s.Stats().Path, rl.Stats())
	if took > 5*time.Second {
		t.Errorf("join with UDP blocked took %v, want within 5 s", took)
	}
	if p := s.Stats().Path; p.Transport != room.TransportRelay || p.RelayProtocol != "tcp" {
		t.Errorf("path %+v, want relay over tcp", p)
	}
}

// TestLiveKitWHIPNoUDPICETCP: behind the same UDP-dropping firewall and
// with no TURN server at all, the device reaches a server that offers
// ICE-TCP (livekit-server's rtc.tcp_port) directly over TCP (an active
// ICE-TCP candidate, RFC 6544).
func TestLiveKitWHIPNoUDPICETCP(t *testing.T) {
	lk := livekittest.StartWith(t, livekittest.Options{ICETCP: true})
	std, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	blockUDP := func(se *webrtc.SettingEngine) {
		se.SetNet(relay.DropUDP(std))
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeTCP4})
	}
	s, took := hardJoin(t, lk, "whip-icetcp", nil, room.ICEAll, Options{ConfigureSettings: blockUDP})
	p := s.Stats().Path
	t.Logf("joined over ICE-TCP with UDP blocked in %v; path %+v", took.Round(time.Millisecond), p)
	if took > 5*time.Second {
		t.Errorf("join with UDP blocked took %v, want within 5 s", took)
	}
	if p.Transport != room.TransportTCP || p.LocalCandidate != "host" {
		t.Errorf("path %+v, want tcp between host candidates", p)
	}
}
