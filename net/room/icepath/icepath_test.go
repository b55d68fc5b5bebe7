package icepath

import (
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/onair-gateway/onair/net/room"
)

// report is a stats report with one nominated pair between local and
// remote, and a stale nominated pair that sent earlier.
func report(local, remote webrtc.ICECandidateStats) webrtc.StatsReport {
	local.ID, remote.ID = "L", "R"
	return webrtc.StatsReport{
		"L": local, "R": remote,
		"old": webrtc.ICECandidatePairStats{ID: "old", LocalCandidateID: "x", RemoteCandidateID: "y", Nominated: true,
			State: webrtc.StatsICECandidatePairStateSucceeded, LastPacketSentTimestamp: 1},
		"P": webrtc.ICECandidatePairStats{ID: "P", LocalCandidateID: "L", RemoteCandidateID: "R", Nominated: true,
			State: webrtc.StatsICECandidatePairStateSucceeded, LastPacketSentTimestamp: 2},
		"unused": webrtc.ICECandidatePairStats{ID: "unused", LocalCandidateID: "x", RemoteCandidateID: "y",
			State: webrtc.StatsICECandidatePairStateSucceeded, LastPacketSentTimestamp: 3},
	}
}

func TestOf(t *testing.T) {
	host := webrtc.ICECandidateStats{CandidateType: webrtc.ICECandidateTypeHost, Protocol: "udp"}
	for _, tc := range []struct {
		name          string
		local, remote webrtc.ICECandidateStats
		want          room.Path
	}{
		{"udp", host, host, room.Path{Transport: room.TransportUDP, LocalCandidate: "host", RemoteCandidate: "host"}},
		{"ice-tcp", webrtc.ICECandidateStats{CandidateType: webrtc.ICECandidateTypeHost, Protocol: "tcp"}, host,
			room.Path{Transport: room.TransportTCP, LocalCandidate: "host", RemoteCandidate: "host"}},
		{"turn over tcp", webrtc.ICECandidateStats{CandidateType: webrtc.ICECandidateTypeRelay, Protocol: "udp", RelayProtocol: "tcp"}, host,
			room.Path{Transport: room.TransportRelay, RelayProtocol: "tcp", LocalCandidate: "relay", RemoteCandidate: "host"}},
		{"server relays", webrtc.ICECandidateStats{CandidateType: webrtc.ICECandidateTypeSrflx, Protocol: "udp"},
			webrtc.ICECandidateStats{CandidateType: webrtc.ICECandidateTypeRelay, Protocol: "udp"},
			room.Path{Transport: room.TransportRelay, LocalCandidate: "srflx", RemoteCandidate: "relay"}},
	} {
		if got := Of(report(tc.local, tc.remote)); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
	if got := Of(webrtc.StatsReport{}); got != (room.Path{}) {
		t.Errorf("no pair: %+v", got)
	}
}

// TestTracker: two pion peers on loopback connect over UDP host
// candidates, and the tracker says so.
func TestTracker(t *testing.T) {
	a, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := a.CreateDataChannel("x", nil); err != nil {
		t.Fatal(err)
	}
	up := make(chan struct{})
	a.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			close(up)
		}
	})
	var tr Tracker
	if p := tr.Path(a, time.Now()); p != (room.Path{}) {
		t.Errorf("path before connecting: %+v", p)
	}
	offer, err := a.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(a)
	if err := a.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	if err := b.SetRemoteDescription(*a.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	answer, err := b.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered = webrtc.GatheringCompletePromise(b)
	if err := b.SetLocalDescription(answer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	if err := a.SetRemoteDescription(*b.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-up:
	case <-time.After(20 * time.Second):
		t.Fatal("peers did not connect")
	}
	// No pair was selected at the first read: it is read again once
	// emptyRefresh has passed, then kept for Refresh.
	now := time.Now().Add(emptyRefresh)
	p := tr.Path(a, now)
	if p.Transport != room.TransportUDP || p.LocalCandidate != "host" {
		t.Errorf("path %+v, want udp between host candidates", p)
	}
	a.Close()
	if q := tr.Path(a, now.Add(Refresh/2)); q != p {
		t.Errorf("path within Refresh %+v, want the cached %+v", q, p)
	}
	// A closed connection is never read again (pion's GetStats races with
	// its close): the last path stays.
	if q := tr.Path(a, now.Add(2*Refresh)); q != p {
		t.Errorf("path of a closed connection %+v, want the cached %+v", q, p)
	}
}
