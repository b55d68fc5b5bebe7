package livekit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/onair-gateway/onair/net/room"
	"github.com/onair-gateway/onair/net/room/icepath"
)

// resumeProbe is how often a resuming session probes its server.
const resumeProbe = 250 * time.Millisecond

// ErrResumeTimeout ends a session whose connection the SDK could not resume
// within Options.ResumeTimeout.
var ErrResumeTimeout = errors.New("livekit: could not resume the session")

// rtpClock is the Opus RTP clock rate (RFC 7587 §4.1): 48 kHz whatever the
// audio bandwidth.
const rtpClock = 48000

// mtu is the size of the buffers for one sealed or received packet.
const mtu = 1500

// eventQueue is the depth of a session's Events channel: far more than a
// room produces between two reads of a live consumer.
const eventQueue = 64

// permissionPoll is how often the session looks at its publish permission:
// the SDK applies permission updates without a callback.
const permissionPoll = 200 * time.Millisecond

// session is one stay in a LiveKit room. It implements room.Session.
//
// Goroutines: the SDK's (signalling, pion, RTCP readers of every sender and
// receiver, which keep the interceptors running) call the session's
// callbacks; the session adds one monitor goroutine that watches the publish
// permission and the resume deadline. Close stops both.
type session struct {
	r  *Room
	lk *lksdk.Room
	// proxy adds room.ice_servers to the server's; nil without them.
	proxy *signalProxy
	path  icepath.Tracker
	nacks atomic.Uint64 // packets NACKed by the room
	log   *slog.Logger

	track  *lksdk.LocalTrack // nil when listen-only
	boundC chan struct{}     // signalled on every bind of track

	// WriteOpus state, guarded by wmu.
	wmu     sync.Mutex
	pkt     rtp.Packet
	sealBuf []byte
	marker  bool

	packets, bytes, suppressed atomic.Uint64
	rtt, jitter                atomic.Int64  // nanoseconds
	lost                       atomic.Uint64 // float64 bits
	reports                    atomic.Uint64 // receiver reports about our stream
	eventsDropped              atomic.Uint64

	closed       atomic.Bool // Close was called
	ended        atomic.Bool // the session is over
	muted        atomic.Bool // the server muted our track
	revoked      atomic.Bool // the server took canPublish away
	reconnecting atomic.Bool

	allowMu sync.Mutex // serialises publish-allowed transitions
	allowed bool

	evMu     sync.Mutex // guards events, evClosed, err
	events   chan room.Event
	evClosed bool
	err      error
	done     chan struct{}
	endOnce  sync.Once

	closeOnce, discOnce sync.Once
	stop                chan struct{}
	kick                chan struct{}
	wg                  sync.WaitGroup

	tracksMu sync.Mutex
	tracks   map[string]*remoteTrack
}

var _ room.Session = (*session)(nil)

func newSession(r *Room) *session {
	s := &session{
		r:       r,
		log:     r.log,
		boundC:  make(chan struct{}, 1),
		sealBuf: make([]byte, 0, mtu),
		marker:  true,
		allowed: !r.opts.ListenOnly,
		events:  make(chan room.Event, eventQueue),
		done:    make(chan struct{}),
		stop:    make(chan struct{}),
		kick:    make(chan struct{}, 1),
		tracks:  make(map[string]*remoteTrack),
	}
	// RFC 3550 §5.1: random initial sequence number and timestamp.
	s.pkt.Header = rtp.Header{Version: 2, SequenceNumber: uint16(rand.Uint32()), Timestamp: rand.Uint32()}
	return s
}

// publish creates the Opus track, publishes it and waits until pion has
// bound it to the transport (before that, pion drops frames silently).
func (s *session) publish(ctx context.Context) error {
	track, err := lksdk.NewLocalTrack(s.r.codec(), lksdk.WithRTCPHandler(s.onRTCP))
	if err != nil {
		return err
	}
	track.OnBind(func() {
		select {
		case s.boundC <- struct{}{}:
		default:
		}
	})
	s.track = track
	if _, err := s.lk.LocalParticipant.PublishTrack(track, s.r.publication()); err != nil {
		return err
	}
	if track.IsBound() {
		return nil
	}
	t := s.r.opts.Clock.NewTimer(s.r.opts.ConnectTimeout)
	defer t.Stop()
	select {
	case <-s.boundC:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.Chan():
		return errors.New("track published but never bound to the transport")
	}
}

func (s *session) start() {
	s.wg.Add(1)
	go s.monitor()
}

// Skip advances the RTP clock by d without sending: audio the device never
// captured. The next packet starts a talkspurt (marker bit, RFC 7587 §4.1).
// It implements room.Skipper.
func (s *session) Skip(d time.Duration) {
	samples := uint32(int64(d) * rtpClock / int64(time.Second))
	s.wmu.Lock()
	s.pkt.Timestamp += samples
	s.marker = true
	s.wmu.Unlock()
}

var _ room.Skipper = (*session)(nil)

// WriteOpus implements room.Session. It builds the RTP packet in a buffer
// owned by the session (RFC 7587: one Opus packet per RTP packet, timestamp
// on the 48 kHz clock) and hands it to pion, which copies what it keeps.
func (s *session) WriteOpus(pkt []byte, dur time.Duration) error {
	if s.ended.Load() {
		return room.ErrClosed
	}
	if s.track == nil || s.muted.Load() || s.revoked.Load() {
		return room.ErrNotPublishing
	}
	if s.reconnecting.Load() || !s.track.IsBound() {
		return room.ErrNotConnected
	}
	samples := uint32(int64(dur) * rtpClock / int64(time.Second))

	s.wmu.Lock()
	if s.r.opts.DTX && len(pkt) <= 2 {
		// Nothing to send (RFC 6716 §2.1.9); the next packet starts a
		// talkspurt and carries the marker bit (RFC 7587 §4.1).
		s.pkt.Timestamp += samples
		s.marker = true
		s.wmu.Unlock()
		s.suppressed.Add(1)
		return nil
	}
	payload := pkt
	if enc := s.r.opts.Encryptor; enc != nil {
		var err error
		if payload, err = enc.Seal(s.sealBuf[:0], pkt); err != nil {
			s.wmu.Unlock()
			return fmt.Errorf("livekit: seal frame: %w", err)
		}
	}
	s.pkt.Marker = s.marker
	s.pkt.Payload = payload
	err := s.track.WriteRTP(&s.pkt, nil)
	s.pkt.Payload = nil
	s.pkt.SequenceNumber++
	s.pkt.Timestamp += samples
	s.marker = false
	s.wmu.Unlock()
	if err != nil {
		return err
	}
	s.packets.Add(1)
	s.bytes.Add(uint64(len(payload)))
	return nil
}

// Events implements room.Session.
func (s *session) Events() <-chan room.Event { return s.events }

// Done implements room.Session.
func (s *session) Done() <-chan struct{} { return s.done }

// Err implements room.Session.
func (s *session) Err() error {
	s.evMu.Lock()
	defer s.evMu.Unlock()
	return s.err
}

// Stats implements room.Session. RTT, loss and jitter come from the
// server's RTCP receiver reports about the device's track (RFC 3550
// §6.4.2), read by the SDK's RTCP reader of the track's sender.
func (s *session) Stats() room.Stats {
	return room.Stats{
		PacketsSent:     s.packets.Load(),
		BytesSent:       s.bytes.Load(),
		RTT:             time.Duration(s.rtt.Load()),
		FractionLost:    math.Float64frombits(s.lost.Load()),
		ReceiverReports: s.reports.Load(),
		Jitter:          time.Duration(s.jitter.Load()),
		Encrypted:       s.r.opts.Encryptor != nil,
		EventsDropped:   s.eventsDropped.Load(),
		Path:            s.path.Path(s.mediaPC(), s.r.opts.Clock.Now()),
		// The SDK answers NACKs from its retransmission buffer; it does
		// not count what it resends.
		NACKs: s.nacks.Load(),
	}
}

// mediaPC is the peer connection the device's audio goes out on (the
// publisher), or the one it listens on when listen-only.
func (s *session) mediaPC() *webrtc.PeerConnection {
	if s.lk == nil {
		return nil
	}
	if s.r.opts.ListenOnly {
		return s.lk.LocalParticipant.GetSubscriberPeerConnection()
	}
	return s.lk.LocalParticipant.GetPublisherPeerConnection()
}

// Close implements room.Session: it leaves the room, stops the monitor and
// waits (up to 3 s) for the SDK to close its peer connections.
func (s *session) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		pcs := s.peerConnections()
		s.disconnect()
		s.end(nil)
		close(s.stop)
		s.wg.Wait()
		waitClosed(pcs, 3*time.Second)
	})
	return nil
}

func (s *session) disconnect() {
	s.discOnce.Do(func() {
		if s.lk != nil {
			s.lk.Disconnect()
		}
		if s.proxy != nil {
			s.proxy.Close()
		}
	})
}

func (s *session) peerConnections() []*webrtc.PeerConnection {
	if s.lk == nil {
		return nil
	}
	var pcs []*webrtc.PeerConnection
	for _, pc := range []*webrtc.PeerConnection{
		s.lk.LocalParticipant.GetPublisherPeerConnection(),
		s.lk.LocalParticipant.GetSubscriberPeerConnection(),
	} {
		if pc != nil {
			pcs = append(pcs, pc)
		}
	}
	return pcs
}

// waitClosed waits until every pc is closed (the SDK closes them on a
// goroutine of its own after Disconnect), or until limit.
func waitClosed(pcs []*webrtc.PeerConnection, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for _, pc := range pcs {
		for pc.ConnectionState() != webrtc.PeerConnectionStateClosed && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// end closes the session once: Done, Err and the Events channel, after a
// last EventTrackRemoved for every remote track still open.
func (s *session) end(err error) {
	s.endOnce.Do(func() {
		s.ended.Store(true)
		s.tracksMu.Lock()
		gone := make([]*remoteTrack, 0, len(s.tracks))
		for id, t := range s.tracks {
			gone = append(gone, t)
			delete(s.tracks, id)
		}
		s.tracksMu.Unlock()
		for _, t := range gone {
			s.emit(room.Event{Kind: room.EventTrackRemoved, Participant: t.participant, Track: t, Reason: "session ended"})
		}
		s.evMu.Lock()
		s.err = err
		s.evClosed = true
		close(s.events)
		s.evMu.Unlock()
		close(s.done)
		if err != nil {
			s.log.Warn("session ended", "err", err)
		}
	})
}

// emit queues ev without blocking the SDK goroutine that reports it.
func (s *session) emit(ev room.Event) {
	s.evMu.Lock()
	defer s.evMu.Unlock()
	if s.evClosed {
		return
	}
	select {
	case s.events <- ev:
	default:
		if s.eventsDropped.Add(1) == 1 {
			s.log.Warn("event reader too slow: events dropped", "kind", ev.Kind.String())
		}
	}
}

func (s *session) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// monitor watches the publish permission (polled: the SDK applies it
// without a callback) and ends the session when a resume takes longer than
// ResumeTimeout.
func (s *session) monitor() {
	defer s.wg.Done()
	var poll <-chan time.Time
	if s.track != nil {
		t := s.r.opts.Clock.NewTicker(permissionPoll)
		defer t.Stop()
		poll = t.Chan()
	}
	var resume clockwork.Timer
	var resumeC <-chan time.Time
	// While the SDK resumes, the server is probed: one killed and
	// restarted has lost the session, and the SDK would find that out only
	// at its next attempt, seconds later.
	var probe clockwork.Ticker
	var probeC <-chan time.Time
	var seenDown, back bool
	stopProbe := func() {
		if probe != nil {
			probe.Stop()
			probe, probeC = nil, nil
		}
	}
	defer func() {
		if resume != nil {
			resume.Stop()
		}
		stopProbe()
	}()
	for {
		select {
		case <-s.stop:
			return
		case <-s.done:
			return
		case <-s.kick:
			switch rec := s.reconnecting.Load(); {
			case rec && resume == nil:
				resume = s.r.opts.Clock.NewTimer(s.r.opts.ResumeTimeout)
				resumeC = resume.Chan()
				probe = s.r.opts.Clock.NewTicker(resumeProbe)
				probeC, seenDown, back = probe.Chan(), false, false
			case !rec && resume != nil:
				resume.Stop()
				resume, resumeC = nil, nil
				stopProbe()
			}
			if s.track != nil {
				s.checkPermission()
			}
		case <-poll:
			s.checkPermission()
		case <-resumeC:
			s.end(fmt.Errorf("%w within %v", ErrResumeTimeout, s.r.opts.ResumeTimeout))
			s.disconnect()
			return
		case <-probeC:
			ctx, cancel := context.WithTimeout(context.Background(), resumeProbe)
			err := s.r.Probe(ctx)
			cancel()
			switch {
			case err != nil:
				seenDown, back = true, false
			case seenDown && back:
				// Back for a whole probe interval and the SDK has not
				// resumed: join afresh now.
				s.end(fmt.Errorf("%w (while resuming)", room.ErrServerBack))
				s.disconnect()
				return
			case seenDown:
				back = true
			}
		}
	}
}

// checkPermission follows canPublish: revoked → EventPublishDenied;
// granted again → republish the track, then EventPublishAllowed.
func (s *session) checkPermission() {
	perm := s.lk.LocalParticipant.Permissions()
	if perm == nil {
		return
	}
	can := perm.CanPublish
	if srcs := perm.CanPublishSources; can && len(srcs) > 0 {
		can = false
		for _, src := range srcs {
			if src == livekit.TrackSource_MICROPHONE {
				can = true
			}
		}
	}
	switch {
	case !can && !s.revoked.Load():
		s.revoked.Store(true)
		s.updateAllowed("publish permission revoked by server")
	case can && s.revoked.Load() && !s.reconnecting.Load():
		if s.lk.LocalParticipant.GetTrackPublication(livekit.TrackSource_MICROPHONE) == nil {
			if _, err := s.lk.LocalParticipant.PublishTrack(s.track, s.r.publication()); err != nil {
				s.log.Warn("republish after permission granted", "err", err)
				return // try again at the next poll
			}
		}
		s.revoked.Store(false)
		s.updateAllowed("publish permission granted by server")
	}
}

// updateAllowed reports a change of "may publish" as an event.
func (s *session) updateAllowed(reason string) {
	s.allowMu.Lock()
	defer s.allowMu.Unlock()
	now := !s.muted.Load() && !s.revoked.Load()
	if now == s.allowed {
		return
	}
	s.allowed = now
	kind := room.EventPublishDenied
	if now {
		kind = room.EventPublishAllowed
	}
	s.log.Info("publishing", "allowed", now, "reason", reason)
	s.emit(room.Event{Kind: kind, Reason: reason})
}

// onRTCP takes the RTCP packets the SDK reads from the track's sender and
// keeps the server's latest receiver report about our stream.
func (s *session) onRTCP(p rtcp.Packet) {
	ssrc := uint32(s.track.SSRC())
	if n, ok := p.(*rtcp.TransportLayerNack); ok {
		s.nacks.Add(room.NACKedPackets(n, ssrc))
		return
	}
	rr, ok := p.(*rtcp.ReceiverReport)
	if !ok {
		return
	}
	for _, rep := range rr.Reports {
		if rep.SSRC != ssrc {
			continue
		}
		s.lost.Store(math.Float64bits(float64(rep.FractionLost) / 256))
		s.jitter.Store(int64(time.Duration(rep.Jitter) * time.Second / rtpClock))
		s.reports.Add(1)
		if rep.LastSenderReport != 0 {
			// RFC 3550 §6.4.1: RTT = A - LSR - DLSR, in 1/65536 s.
			a := ntpMiddle(s.r.opts.Clock.Now())
			if rtt := a - rep.LastSenderReport - rep.Delay; rtt < 1<<31 {
				s.rtt.Store(int64(time.Duration(rtt) * time.Second / 65536))
			}
		}
	}
}

// ntpMiddle returns the middle 32 bits of t's 64-bit NTP timestamp
// (RFC 3550 §4): 16 bits of seconds since 1900, 16 bits of fraction.
func ntpMiddle(t time.Time) uint32 {
	sec := uint64(t.Unix() + 2208988800)
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return uint32((sec<<32 | frac) >> 16)
}

// callbacks are the SDK callbacks that feed the session.
func (s *session) callbacks() *lksdk.RoomCallback {
	return &lksdk.RoomCallback{
		OnDisconnectedWithReason: func(lksdk.DisconnectionReason) {
			if s.closed.Load() {
				return
			}
			s.end(disconnectError(s.lk.DisconnectReason()))
		},
		OnReconnecting: func() {
			s.reconnecting.Store(true)
			s.emit(room.Event{Kind: room.EventReconnecting, Reason: "connection lost; resuming"})
			s.wake()
		},
		OnReconnected: func() {
			s.reconnecting.Store(false)
			s.emit(room.Event{Kind: room.EventReconnected, Reason: "resumed"})
			s.wake()
		},
		ParticipantCallback: lksdk.ParticipantCallback{
			OnTrackMuted: func(_ lksdk.TrackPublication, p lksdk.Participant) {
				if _, local := p.(*lksdk.LocalParticipant); local {
					s.muted.Store(true)
					s.updateAllowed("muted by server")
				}
			},
			OnTrackUnmuted: func(_ lksdk.TrackPublication, p lksdk.Participant) {
				if _, local := p.(*lksdk.LocalParticipant); local {
					s.muted.Store(false)
					s.updateAllowed("unmuted by server")
				}
			},
			OnLocalTrackUnpublished: func(*lksdk.LocalTrackPublication, *lksdk.LocalParticipant) { s.wake() },
			OnTrackSubscribed:       s.onTrackSubscribed,
			OnTrackUnsubscribed:     s.onTrackUnsubscribed,
		},
	}
}

func (s *session) onTrackSubscribed(t *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
	if t.Kind() != webrtc.RTPCodecTypeAudio {
		// Video costs bandwidth and nobody here watches it.
		_ = pub.SetSubscribed(false)
		return
	}
	encrypted := pub.TrackInfo().GetEncryption() != livekit.Encryption_NONE
	rt := newRemoteTrack(t, rp.Identity(), pub.SID(), encrypted, s.r.opts.Encryptor)
	s.tracksMu.Lock()
	s.tracks[pub.SID()] = rt
	s.tracksMu.Unlock()
	s.emit(room.Event{Kind: room.EventTrackAdded, Participant: rt.participant, Track: rt})
}

func (s *session) onTrackUnsubscribed(_ *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
	s.tracksMu.Lock()
	rt, ok := s.tracks[pub.SID()]
	delete(s.tracks, pub.SID())
	s.tracksMu.Unlock()
	if ok {
		s.emit(room.Event{Kind: room.EventTrackRemoved, Participant: rp.Identity(), Track: rt, Reason: "unsubscribed"})
	}
}

// disconnectError says why the server ended the session. Being replaced by
// another participant with the same identity, or removed by an operator, is
// permanent: rejoining at once would fight the other device or the
// operator, so the Supervisor backs off to its cap.
func disconnectError(reason livekit.DisconnectReason) error {
	err := fmt.Errorf("livekit: session ended (%s)", reason.String())
	switch reason {
	case livekit.DisconnectReason_DUPLICATE_IDENTITY, livekit.DisconnectReason_PARTICIPANT_REMOVED:
		return &room.JoinError{Op: "signal", Permanent: true, Err: err}
	}
	return err
}
