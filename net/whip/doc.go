// Package whip publishes the device's Opus audio to any WHIP endpoint:
// the WebRTC-HTTP Ingestion Protocol, RFC 9725. It implements room.Room
// and room.Session on pion/webrtc v4.
//
// # Protocol
//
// Join makes a PeerConnection with one sendonly audio transceiver offering
// Opus at 48 kHz (RFC 7587: "opus/48000/2", useinbandfec=1, and
// stereo=1;sprop-stereo=1 when Options.Channels is 2) and max-bundle. It
// gathers ICE candidates up to Options.GatherTimeout and POSTs the offer
// with every candidate in it (no trickle) as application/sdp with
// "Authorization: Bearer <token>" (RFC 9725 §4.2, §4.8). The endpoint
// answers 201 Created with the SDP answer, the session URL in Location
// (resolved against the URL that answered, after redirects) and an ETag.
//
// Redirects (RFC 9725 §4.5): 307 and 308 are followed by this package, not
// by net/http, re-sending the same body and Authorization header to the
// new Location (Go's client drops Authorization on a cross-host redirect),
// at most 5 in a row, never from https to http.
//
// STUN/TURN servers (RFC 9725 §4.6): Link header fields with
// rel="ice-server" are parsed per RFC 8288 (several links per field,
// several fields, quoted strings, RFC 8187 ext-values); username,
// credential and credential-type="password" become pion ICE servers. As
// they arrive after the offer, they are set with SetConfiguration and used
// by the next ICE gathering: if the connection is not up within
// Options.LinkRestartAfter, Join restarts ICE with them. The Room also
// remembers them, so the next Join offers relay candidates from the start.
// The room config's ice_servers come first, then Options.ICEServers, then
// the endpoint's; ice_transport_policy relay offers relay candidates only
// (and takes a relayed pair without pion's 2 s wait for a direct one).
// Stats.Path says which pair the audio takes (net/room/icepath); NACKs
// counts packets the endpoint asked for again, which the device does not
// resend (Opus FEC covers loss).
//
// ICE restart (RFC 9725 §4.3.2, RFC 8840): Session.Restart, also run by
// the session itself when the connection drops, makes an ICE-restart
// offer and PATCHes its credentials and candidates as an
// application/trickle-ice-sdpfrag body with If-Match: "*" (RFC 9110
// §13.1.1, as RFC 9725 requires for restarts). The 200 answer's sdpfrag
// credentials and candidates replace the old ones in the remote
// description, and its ETag replaces the stored one. 412 and 404 mean the
// server lost the session: ErrRejoin. 405, 422 and 501 mean the endpoint
// cannot restart ICE: ErrRestartUnsupported, and later sessions of the
// same Room do not try again. Either way the session ends and the caller
// (the room supervisor) rejoins: DELETE, then a new POST, which is the
// fallback RFC 9725 leaves to the client. Trickle ICE PATCHes (If-Match:
// <etag>) are not sent: offers carry all their candidates.
//
// Close DELETEs the session URL (bounded by Options.DeleteTimeout) and
// closes the PeerConnection.
//
// A server that drops the session is noticed when ICE consent fails (pion
// reads no DTLS close_notify on a connection without data channels): the
// automatic restart then gets 404 and the session ends with ErrRejoin.
//
// livekit-server v1.13.5 (built with livekit/protocol v1.50.5) crashes on
// an ICE restart PATCH when the session's offer ends with two or more
// candidate or end-of-candidates lines, as pion's offers do; protocol v1.51
// fixes it. Set Options.NoAutoRestart and do not call Restart against such
// a server: the supervisor's rejoin covers network changes instead.
//
// # Errors
//
// Join fails with *room.JoinError. HTTP 4xx/5xx become Op "http" with
// Status, the server's text (the "error" or "message" of a JSON body, or
// the body; printable ASCII, at most 200 bytes, the token redacted) in the
// message, Permanent for 400, 401, 403, 404, 405 and 415, and RetryAfter
// from a 429 or 503 Retry-After in seconds or as an HTTP date. A 201
// without Location (ErrNoLocation) or with one that is not an http(s)
// URL (ErrBadLocation), an answer that is not
// application/sdp, does not parse, has no receiving audio m= line or no
// Opus (ErrBadAnswer), or a body over 64 KiB are Op "signal". A connection
// that does not come up is Op "ice". The token is never logged nor put in
// an error.
//
// # Goroutines and buffers
//
// Each Session runs two goroutines until Close: one reads RTCP from the RTP
// sender (which drives pion's interceptors; receiver reports become
// Stats.FractionLost, Jitter and RTT), one watches the connection state,
// sends EventReconnecting / EventReconnected around ICE restarts and ends
// the session (Done, Err) when the connection stays down longer than
// Options.DisconnectTimeout or the server closes it. Close waits for both.
// WHIP is publish-only: Events never carries remote tracks.
//
// WriteOpus does not keep the caller's packet: it is written into SRTP
// before WriteOpus returns. The RTP header lives in the Session, so the
// steady state allocates nothing of its own (see BenchmarkWriteOpus).
package whip
