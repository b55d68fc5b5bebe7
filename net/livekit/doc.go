// Package livekit joins LiveKit rooms through github.com/livekit/server-sdk-go/v2.
// Room implements room.Room: each Join connects (signalling over WebSocket,
// media over one publisher and one subscriber PeerConnection), publishes one
// Opus track (mono or stereo, source microphone, DTX as configured) and
// returns a session that implements room.Session.
//
// Tokens: a configured join token is used as it is (its expiry is checked on
// the device first), or the device mints one per join from an API key and
// secret with a room-join grant (canPublish unless listen-only, canSubscribe
// when subscribing) and Config.TokenTTL. The SDK swaps in the tokens the
// server refreshes for its own resumes; server-sdk-go v2.19.0 offers no
// callback for them, so sessions of this backend never send
// EventTokenRefreshed.
//
// A failed join is a *room.JoinError: a token the server refuses (HTTP 401
// from its validate endpoint) is Permanent with Op "token", returned in
// milliseconds, so the Supervisor goes to its error state instead of
// retrying quickly.
//
// Sending: WriteOpus writes one RTP packet per Opus packet (RFC 7587) with
// the session's own sequence numbers and a timestamp advanced by each
// packet's duration on the 48 kHz clock, through the SDK's LocalTrack and
// pion's TrackLocalStaticRTP. It allocates nothing in onair's code; pion
// allocates a little per packet on the way to SRTP (see BenchmarkWriteOpus).
// RTP header extensions are not set: no audio level (RFC 6464), so LiveKit
// does not mark the device as an active speaker.
//
// Server control: a track muted by the server (RoomService
// MutePublishedTrack) or a canPublish taken away (UpdateParticipant) gives
// EventPublishDenied and WriteOpus returns room.ErrNotPublishing; unmuting
// (with the server's enable_remote_unmute) or granting canPublish again
// republishes if needed and gives EventPublishAllowed.
//
// Reconnects: the SDK resumes a lost connection by itself
// (EventReconnecting, EventReconnected); a resume that takes longer than
// Options.ResumeTimeout ends the session with ErrResumeTimeout so the
// room.Supervisor joins afresh with its own backoff. While it resumes, the
// session probes the server every 250 ms: a server that stopped answering
// and answers again for a whole probe interval without the SDK having
// resumed has most likely restarted and lost the session, so the session
// ends with room.ErrServerBack and the Supervisor joins again at once,
// instead of waiting for the SDK's next attempt seconds later. A join that
// could not reach the server at all is a room.JoinError with Unreachable
// set.
//
// Stats: PacketsSent and BytesSent (payload bytes) are counted by
// WriteOpus. FractionLost, Jitter and RTT come from the server's RTCP
// receiver reports about the device's stream (RFC 3550 §6.4.2; RTT from
// LSR and DLSR), read by the SDK's RTCP reader of the track's sender. They
// stay zero until the first report (LiveKit sends one about every second);
// ReceiverReports counts them. LiveKit v1.13.5 sends an audio publisher
// receiver reports and XR (RRTR) only: its publisher config negotiates
// neither REMB nor transport-wide congestion control for audio. Its
// FractionLost is the loss left after NACK repair (a retransmitted packet
// counts as received), which is why rate adaptation also reads NACKs.
// Path is the publisher's selected ICE pair (the subscriber's when
// listen-only; net/room/icepath); NACKs counts packets the server asked
// for again.
//
// Hard networks: ice_transport_policy relay is passed to the SDK for both
// peer connections. The SDK takes ICE servers only from the server's join
// and reconnect responses, so a session with ice_servers signals through a
// proxy on 127.0.0.1 (one per session, closed with it) that forwards the
// signal WebSocket and appends the configured servers to those responses;
// other HTTP requests pass through unchanged, and a refused join keeps its
// HTTP status.
//
// Goroutines: the SDK's and pion's, including an RTCP reader on every
// sender and receiver (interceptors only run while someone reads RTCP), plus
// one monitor per session (permission polling, resume deadline), and with
// ice_servers the signal proxy's server and two pumps per WebSocket. Close
// leaves the room and waits for the monitor and, up to 3 s, for the SDK to
// close its PeerConnections.
//
// Buffers: WriteOpus does not keep pkt. ReadPacket reads into the caller's
// buffer and returns the payload as a sub-slice of it.
//
// End-to-end encryption is a hook, Options.Encryptor, for net/e2ee.
package livekit
