// Package icepath reads the network path of a pion PeerConnection: which
// ICE candidate pair it sends on, and what that means for the transport
// (UDP, TCP or a TURN relay). Both room backends report it in room.Stats.
package icepath

import (
	"sync"

	"github.com/pion/webrtc/v4"

	"github.com/onair-gateway/onair/net/room"
)

// Tracker reads a PeerConnection's selected pair, and looks up the relay
// protocol (which the pair itself does not carry) in the connection's
// stats only when the pair changes. It is safe for concurrent use.
type Tracker struct {
	mu   sync.Mutex
	key  webrtc.ICECandidatePair
	path room.Path
}

// Path returns the path of pc's media: that of the first sender's
// transport, else of the data channel transport. It is zero when pc is nil
// or ICE has selected no pair yet.
func (t *Tracker) Path(pc *webrtc.PeerConnection) room.Path {
	it := iceTransport(pc)
	if it == nil {
		return room.Path{}
	}
	pair, err := it.GetSelectedCandidatePair()
	if err != nil || pair == nil || pair.Local == nil || pair.Remote == nil {
		return room.Path{}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	key := webrtc.ICECandidatePair{Local: pair.Local, Remote: pair.Remote}
	if t.key.Local != nil && *t.key.Local == *key.Local && *t.key.Remote == *key.Remote {
		return t.path
	}
	t.key, t.path = key, Of(pc, pair)
	return t.path
}

// Of describes pair, the selected pair of pc; for a relay candidate it
// finds in pc's stats how the device reaches the TURN server.
func Of(pc *webrtc.PeerConnection, pair *webrtc.ICECandidatePair) room.Path {
	p := room.Path{LocalCandidate: pair.Local.Typ.String(), RemoteCandidate: pair.Remote.Typ.String()}
	switch {
	case pair.Local.Typ == webrtc.ICECandidateTypeRelay || pair.Remote.Typ == webrtc.ICECandidateTypeRelay:
		p.Transport = room.TransportRelay
	case pair.Local.Protocol == webrtc.ICEProtocolTCP:
		p.Transport = room.TransportTCP
	default:
		p.Transport = room.TransportUDP
	}
	if pair.Local.Typ == webrtc.ICECandidateTypeRelay {
		for _, s := range pc.GetStats() {
			c, ok := s.(webrtc.ICECandidateStats)
			if ok && c.Type == webrtc.StatsTypeLocalCandidate && c.CandidateType == webrtc.ICECandidateTypeRelay &&
				c.IP == pair.Local.Address && c.Port == int32(pair.Local.Port) {
				p.RelayProtocol = c.RelayProtocol
				break
			}
		}
	}
	return p
}

func iceTransport(pc *webrtc.PeerConnection) *webrtc.ICETransport {
	if pc == nil {
		return nil
	}
	for _, s := range pc.GetSenders() {
		if dt := s.Transport(); dt != nil {
			return dt.ICETransport()
		}
	}
	if sctp := pc.SCTP(); sctp != nil && sctp.Transport() != nil {
		return sctp.Transport().ICETransport()
	}
	return nil
}
