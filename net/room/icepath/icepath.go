// Package icepath reads the network path of a pion PeerConnection: which
// ICE candidate pair it sends on, and what that means for the transport
// (UDP, TCP or a TURN relay). Both room backends report it in room.Stats.
package icepath

import (
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/onair-gateway/onair/net/room"
)

// Refresh is how often a Tracker reads the connection's stats again: the
// path changes only on an ICE restart or renomination, and status is read
// about once a second.
const Refresh = time.Second

// emptyRefresh is how often it reads again while no pair is selected.
const emptyRefresh = 200 * time.Millisecond

// Tracker caches a PeerConnection's path. It reads it from GetStats, which
// locks what it reads, rather than from ICETransport's selected pair, which
// races with an ICE restart (pion v4.2: ICETransport.Start writes the
// gatherer that GetSelectedCandidatePair reads unlocked). It is safe for
// concurrent use.
type Tracker struct {
	mu   sync.Mutex
	pc   *webrtc.PeerConnection
	at   time.Time
	path room.Path
}

// Path returns the path of pc's media as of now, read again when pc
// changed or Refresh has passed since the last read (200 ms while no pair
// was selected), and never from a closed pc. It is zero when pc is nil or
// ICE has not selected a pair.
func (t *Tracker) Path(pc *webrtc.PeerConnection, now time.Time) room.Path {
	if pc == nil {
		return room.Path{}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	age := now.Sub(t.at)
	fresh := age >= 0 && (age < Refresh && t.path != (room.Path{}) || age < emptyRefresh)
	if pc == t.pc && (fresh || pc.ConnectionState() == webrtc.PeerConnectionStateClosed) {
		return t.path
	}
	t.pc, t.at, t.path = pc, now, Of(pc.GetStats())
	// pion v4.2's GetStats reads pc.statsGetter after its last lock of
	// pc.mu, and PeerConnection.close writes it unlocked, after taking
	// pc.mu: taking pc.mu once more here (GetTransceivers) orders this
	// read before any close that starts afterwards, on whatever goroutine
	// (an SCTP abort from the server closes it on one of pion's own). The
	// race detector found the unordered pair in net/livekit's contract
	// test.
	_ = pc.GetTransceivers()
	return t.path
}

// Of finds the selected (nominated) candidate pair in a stats report and
// describes it; with several nominated pairs, the one that sent last.
func Of(report webrtc.StatsReport) room.Path {
	var pair *webrtc.ICECandidatePairStats
	for _, s := range report {
		p, ok := s.(webrtc.ICECandidatePairStats)
		if !ok || !p.Nominated || p.State != webrtc.StatsICECandidatePairStateSucceeded {
			continue
		}
		if pair == nil || p.LastPacketSentTimestamp > pair.LastPacketSentTimestamp {
			pair = &p
		}
	}
	if pair == nil {
		return room.Path{}
	}
	local, lok := report[pair.LocalCandidateID].(webrtc.ICECandidateStats)
	remote, rok := report[pair.RemoteCandidateID].(webrtc.ICECandidateStats)
	if !lok || !rok {
		return room.Path{}
	}
	p := room.Path{LocalCandidate: local.CandidateType.String(), RemoteCandidate: remote.CandidateType.String()}
	switch {
	case local.CandidateType == webrtc.ICECandidateTypeRelay || remote.CandidateType == webrtc.ICECandidateTypeRelay:
		p.Transport = room.TransportRelay
		if local.CandidateType == webrtc.ICECandidateTypeRelay {
			p.RelayProtocol = local.RelayProtocol
		}
	case local.Protocol == "tcp":
		p.Transport = room.TransportTCP
	default:
		p.Transport = room.TransportUDP
	}
	return p
}
