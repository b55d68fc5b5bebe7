// Package room is the seam between onair's gateway and the signalling
// protocols that join voice rooms. A Room joins and returns a Session; a
// Session takes the device's Opus frames and delivers remote audio tracks
// and state changes as Events. Each backend (net/livekit, net/whip)
// implements Room in its own package. The Supervisor keeps a session alive
// across server restarts and network changes.
//
// Goroutines: a backend owns the goroutines of its sessions and stops them
// in Session.Close. The Supervisor runs on the goroutine that calls Run and
// starts none of its own; its WriteOpus may be called from the capture
// goroutine at any time.
//
// Buffers: WriteOpus does not keep the packet it is given;
// RemoteTrack.ReadPacket copies into the caller's buffer.
//
// None of the packages under net/ import hw or provisioning.
package room

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// Room joins one room on one server.
type Room interface {
	// Join connects and publishes the device's audio track. It returns when
	// the session is connected and can take frames, or with an error. A
	// *JoinError with Permanent set (bad or expired token, forbidden) tells
	// the supervisor that retrying at once will not help.
	Join(ctx context.Context) (Session, error)
}

// Session is one connected stay in a room.
type Session interface {
	// WriteOpus sends one Opus packet of duration dur (RFC 7587: one
	// packet, 48 kHz RTP clock). It does not keep pkt after it returns. It
	// returns ErrNotPublishing while the server has muted the device or
	// taken away its permission to publish, and ErrClosed after Close.
	WriteOpus(pkt []byte, dur time.Duration) error
	// Events delivers state changes and remote tracks. It is closed when
	// the session ends. The session never blocks on a slow reader: it
	// drops the oldest stats-only events and counts them.
	Events() <-chan Event
	// Stats returns the session's counters and the latest receiver
	// reports.
	Stats() Stats
	// Done is closed when the session has ended (Close, server left,
	// network lost); Err then says why (nil after Close).
	Done() <-chan struct{}
	Err() error
	// Close leaves the room and waits for the session's goroutines.
	Close() error
}

// Skipper is implemented by sessions whose RTP clock can jump forward
// without sending: for audio the device never captured (frames dropped
// under load, a capture overrun), so that RTP timestamps follow the sample
// counter (RFC 3550 §5.1) and the receiver does not buffer the gap as extra
// latency. The next packet carries the marker bit where the backend sets it.
type Skipper interface {
	Skip(d time.Duration)
}

// Errors shared by every backend.
var (
	// ErrClosed is returned by a Session after Close.
	ErrClosed = errors.New("room: session closed")
	// ErrNotPublishing is returned by WriteOpus while the server does not
	// let the device publish (muted, or canPublish taken away).
	ErrNotPublishing = errors.New("room: not allowed to publish")
	// ErrNotConnected is returned by the Supervisor's WriteOpus while no
	// session is up; the frame is counted as dropped. A Session may return
	// it too while it resumes (between EventReconnecting and
	// EventReconnected), rather than drop frames silently.
	ErrNotConnected = errors.New("room: not connected")
	// ErrServerBack ends a Session that saw its server stop answering and
	// answer again while the session was still resuming: the server has
	// most likely restarted and lost the session. The Supervisor joins
	// again at once, without a backoff wait.
	ErrServerBack = errors.New("room: the server was down and answers again")
)

// JoinError says why a join failed and whether retrying can help.
type JoinError struct {
	// Op is what failed: "token", "signal", "ice", "publish", "http".
	Op string
	// Status is the HTTP status for HTTP-based signalling, else 0.
	Status int
	// Permanent means the same request will fail again (401, 403, 404,
	// an expired token): the supervisor backs off to its cap and reports
	// an error state instead of retrying quickly.
	Permanent bool
	// RetryAfter is the server's Retry-After, if it sent one.
	RetryAfter time.Duration
	// Unreachable means no answer came from the server at all (refused
	// connection, no route, timeout): the server is down. The Supervisor's
	// backoff wait then joins as soon as a probe finds the server
	// answering, even the first probe.
	Unreachable bool
	Err         error
}

func (e *JoinError) Error() string {
	s := "join: " + e.Op
	if e.Status != 0 {
		s += " (HTTP " + strconv.Itoa(e.Status) + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *JoinError) Unwrap() error { return e.Err }

// EventKind is what an Event reports.
type EventKind int

// Event kinds.
const (
	// EventTrackAdded: a remote participant's audio track is available.
	EventTrackAdded EventKind = iota + 1
	// EventTrackRemoved: that track ended.
	EventTrackRemoved
	// EventPublishAllowed: the server lets the device publish again
	// (unmuted, or canPublish granted).
	EventPublishAllowed
	// EventPublishDenied: the server muted the device's track or took away
	// canPublish; the gateway goes off air and says so.
	EventPublishDenied
	// EventReconnecting: the backend is resuming the session by itself
	// (ICE restart, signal resume). Frames are dropped meanwhile.
	EventReconnecting
	// EventReconnected: the resume worked.
	EventReconnected
	// EventTokenRefreshed: the server sent a fresh token.
	EventTokenRefreshed
)

func (k EventKind) String() string {
	switch k {
	case EventTrackAdded:
		return "track-added"
	case EventTrackRemoved:
		return "track-removed"
	case EventPublishAllowed:
		return "publish-allowed"
	case EventPublishDenied:
		return "publish-denied"
	case EventReconnecting:
		return "reconnecting"
	case EventReconnected:
		return "reconnected"
	case EventTokenRefreshed:
		return "token-refreshed"
	}
	return "unknown"
}

// Event is one thing that happened in a session.
type Event struct {
	Kind EventKind
	// Participant is the remote identity, for track events.
	Participant string
	// Track is the remote track, for EventTrackAdded and EventTrackRemoved.
	Track RemoteTrack
	// Reason is a short human explanation ("muted by server").
	Reason string
}

// Packet is one received RTP packet's audio payload.
type Packet struct {
	// Seq and Timestamp are the RTP sequence number and timestamp
	// (RFC 3550), the timestamp on the 48 kHz Opus clock (RFC 7587).
	Seq       uint16
	Timestamp uint32
	// Payload is the Opus packet (after decryption, when the room is
	// encrypted), a sub-slice of the caller's buffer.
	Payload []byte
}

// RemoteTrack is another participant's audio.
type RemoteTrack interface {
	// Participant is the publisher's identity; ID the track's id.
	Participant() string
	ID() string
	// ReadPacket blocks for the next packet and copies its payload into
	// buf. It returns io.EOF when the track ends.
	ReadPacket(buf []byte) (Packet, error)
}

// CryptoTrack is implemented by a RemoteTrack whose backend knows whether
// its publisher encrypts end to end (LiveKit announces it per track), so a
// listener can say "encrypted, and I have no key" instead of decoding
// ciphertext as noise.
type CryptoTrack interface {
	// Encrypted reports whether the publisher announced end-to-end
	// encryption. Without a key, ReadPacket then returns ciphertext.
	Encrypted() bool
	// Undecryptable counts frames that did not decrypt with the keys held
	// (a wrong passphrase, a key index not held) and were dropped.
	Undecryptable() uint64
}

// ErrNotAudio is matched (errors.Is) by a decryptor's error for a frame that
// carries no audio (LiveKit's server-injected frames): skipped, not counted
// as undecryptable.
var ErrNotAudio = errors.New("room: frame carries no audio")

// Stats are a session's counters and the latest receiver reports
// (RFC 3550 §6.4.2) about the device's own stream.
type Stats struct {
	PacketsSent uint64 `json:"packets_sent"`
	BytesSent   uint64 `json:"bytes_sent"`
	// RTT from RTCP, zero until known.
	RTT time.Duration `json:"rtt_ns"`
	// FractionLost is the latest receiver-reported loss, 0..1.
	FractionLost float64 `json:"fraction_lost"`
	// Jitter reported by the receiver.
	Jitter time.Duration `json:"jitter_ns"`
	// ReceiverReports counts the receiver reports about the device's
	// stream: FractionLost, Jitter and RTT mean nothing while it is 0.
	ReceiverReports uint64 `json:"receiver_reports"`
	// Encrypted is true when every frame the session sends is end-to-end
	// encrypted.
	Encrypted bool `json:"encrypted"`
	// EventsDropped counts events the session could not deliver because
	// the reader of Events fell behind.
	EventsDropped uint64 `json:"events_dropped"`
	// Path is the network path the device's audio takes, zero until ICE
	// has selected a candidate pair.
	Path Path `json:"path"`
	// NACKs counts the packets the room asked to have sent again (RTCP
	// generic NACK, RFC 4585 §6.2.1): a sign of loss on the uplink.
	NACKs uint64 `json:"nacks_received"`
}

// Transport is how the device's media reaches the room.
type Transport string

// Transports.
const (
	// TransportUDP: directly over UDP (host, server or peer reflexive
	// candidates).
	TransportUDP Transport = "udp"
	// TransportTCP: directly over TCP (ICE-TCP, RFC 6544).
	TransportTCP Transport = "tcp"
	// TransportRelay: through a TURN server (RFC 8656); Path.RelayProtocol
	// says how the device reaches it.
	TransportRelay Transport = "relay"
)

// Path is the ICE candidate pair a session sends on.
type Path struct {
	// Transport is udp, tcp or relay; empty until connected.
	Transport Transport `json:"transport"`
	// RelayProtocol is udp, tcp or tls: how the device reaches its TURN
	// server, when Transport is relay.
	RelayProtocol string `json:"relay_protocol,omitempty"`
	// LocalCandidate and RemoteCandidate are the candidate types (host,
	// srflx, prflx, relay) of the selected pair (RFC 8445 §5.1.1).
	LocalCandidate  string `json:"local_candidate"`
	RemoteCandidate string `json:"remote_candidate"`
}
