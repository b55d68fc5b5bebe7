package whip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/onair-gateway/onair/net/room"
	"github.com/onair-gateway/onair/net/room/icepath"
)

// eventQueue is the depth of the Events channel. WHIP sessions emit only
// reconnect events, a handful per network change.
const eventQueue = 16

// maxOpusPacket bounds one WriteOpus payload: libopus recommends 4000-byte
// output buffers, enough for any packet it makes (RFC 6716 §3.2.5 allows 120
// ms; 1275 bytes per 20 ms frame at 510 kbit/s).
const maxOpusPacket = 4000

// Session is one published WHIP session (RFC 9725 §4.2). It implements
// room.Session and adds Restart.
//
// A Session owns two goroutines: one reads RTCP from the RTP sender (so
// pion's interceptors run, and receiver reports become Stats), and one
// watches the connection state, restarting ICE when it drops and ending
// the session when it stays down. Close stops both.
type Session struct {
	r        *Room
	log      *slog.Logger
	pc       *webrtc.PeerConnection
	track    *webrtc.TrackLocalStaticRTP
	sender   *webrtc.RTPSender
	resource *url.URL // set once by join, before any goroutine starts

	// ctx ends when the session ends; it bounds the goroutines' work.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// hmu guards the WHIP session's HTTP state.
	hmu  sync.Mutex
	etag string

	// wmu guards the outgoing packet (header state carries over).
	wmu sync.Mutex
	pkt rtp.Packet

	packets, bytes, dropped atomic.Uint64
	nacks                   atomic.Uint64 // packets NACKed by the room
	path                    icepath.Tracker
	rtt, jitter             atomic.Int64 // nanoseconds
	lost                    atomic.Uint32
	reports                 atomic.Uint64 // receiver reports about our stream
	eventsDropped           atomic.Uint64

	restartMu    sync.Mutex  // held for the whole of an ICE restart
	reconnecting atomic.Bool // EventReconnecting sent, EventReconnected not yet

	sigMu sync.Mutex
	sig   chan struct{} // closed and replaced on every connection state change

	evMu     sync.Mutex
	events   chan room.Event
	evClosed bool

	done    chan struct{}
	endOnce sync.Once
	errMu   sync.Mutex
	err     error
	closing atomic.Bool

	teardownOnce sync.Once
	teardownErr  error
}

func newSession(r *Room) (*Session, error) {
	pc, err := r.api.NewPeerConnection(webrtc.Configuration{
		ICEServers:         r.iceServers(),
		ICETransportPolicy: r.policy,
		// RFC 9725 §4.2: WHIP clients use max-bundle.
		BundlePolicy: webrtc.BundlePolicyMaxBundle,
	})
	if err != nil {
		return nil, fmt.Errorf("new peer connection: %w", err)
	}
	s := &Session{
		r:      r,
		log:    r.log,
		pc:     pc,
		sig:    make(chan struct{}),
		events: make(chan room.Event, eventQueue),
		done:   make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.track, err = webrtc.NewTrackLocalStaticRTP(opusCodec(r.opts.Channels), "audio", r.streamID)
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("new track: %w", err)
	}
	tr, err := pc.AddTransceiverFromTrack(s.track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("add transceiver: %w", err)
	}
	s.sender = tr.Sender()
	// Callbacks run on goroutines pion starts, possibly out of order: they
	// only wake the waiters, which read the current state themselves.
	pc.OnConnectionStateChange(func(webrtc.PeerConnectionState) { s.notify() })
	// RTP header state: random start (RFC 3550 §5.1); SSRC and payload
	// type are filled in by the track per binding.
	s.pkt.Header.Version = 2
	s.pkt.Header.SequenceNumber = uint16(randUint32())
	s.pkt.Header.Timestamp = randUint32()
	return s, nil
}

func (s *Session) notify() {
	s.sigMu.Lock()
	close(s.sig)
	s.sig = make(chan struct{})
	s.sigMu.Unlock()
}

func (s *Session) signal() <-chan struct{} {
	s.sigMu.Lock()
	defer s.sigMu.Unlock()
	return s.sig
}

// offer creates an offer (an ICE restart one if restart), sets it as the
// local description, waits for gathering (bounded by GatherTimeout) and
// returns the local description with the candidates gathered so far.
func (s *Session) offer(ctx context.Context, restart bool) (string, error) {
	o, err := s.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: restart})
	if err != nil {
		return "", fmt.Errorf("create offer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(s.pc)
	if err := s.pc.SetLocalDescription(o); err != nil {
		return "", fmt.Errorf("set local description: %w", err)
	}
	t := s.r.opts.Clock.NewTimer(s.r.opts.GatherTimeout)
	defer t.Stop()
	select {
	case <-gathered:
	case <-t.Chan():
		s.log.Warn("ice gathering not complete; offering the candidates gathered so far",
			"after", s.r.opts.GatherTimeout)
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return s.pc.LocalDescription().SDP, nil
}

// applyLinks takes the rel="ice-server" Links of a response (RFC 9725
// §4.6), remembers them for the next Join and sets them on the
// PeerConnection so the next ICE gathering (an ICE restart) uses them. It
// reports whether they add servers the current configuration lacks.
func (s *Session) applyLinks(h http.Header) bool {
	servers, notes := iceServersFromLinks(h.Values("Link"))
	for _, n := range notes {
		s.log.Warn("ignoring a link header", "reason", n)
	}
	if len(servers) == 0 {
		return false
	}
	s.r.setLinkServers(servers)
	cfg := s.pc.GetConfiguration()
	merged := mergeICEServers(s.r.opts.ICEServers, servers)
	added := false
	for _, srv := range merged {
		if !containsICEServer(cfg.ICEServers, srv) {
			added = true
		}
	}
	if !added {
		return false
	}
	if err := s.pc.SetConfiguration(webrtc.Configuration{ICEServers: merged, ICETransportPolicy: cfg.ICETransportPolicy}); err != nil {
		s.log.Warn("cannot use the endpoint's ice servers", "err", err)
		return false
	}
	s.log.Info("endpoint sent ice servers", "count", len(servers))
	return true
}

var errWaitTimeout = errors.New("timed out")

// waitUp waits until the PeerConnection is connected.
func (s *Session) waitUp(ctx context.Context, timeout time.Duration) error {
	t := s.r.opts.Clock.NewTimer(timeout)
	defer t.Stop()
	for {
		sig := s.signal()
		switch st := s.pc.ConnectionState(); st {
		case webrtc.PeerConnectionStateConnected:
			return nil
		case webrtc.PeerConnectionStateClosed:
			return ErrPeerClosed
		}
		select {
		case <-sig:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
			return room.ErrClosed
		case <-t.Chan():
			return fmt.Errorf("%w after %v (state %s)", errWaitTimeout, timeout, s.pc.ConnectionState())
		}
	}
}

// Skip advances the RTP clock by d without sending: audio the device never
// captured, so timestamps keep following the sample counter (RFC 3550
// §5.1). It implements room.Skipper.
func (s *Session) Skip(d time.Duration) {
	samples := uint32(d * 48000 / time.Second)
	s.wmu.Lock()
	s.pkt.Header.Timestamp += samples
	s.wmu.Unlock()
}

var _ room.Skipper = (*Session)(nil)

// WriteOpus implements room.Session. It sends pkt as one RTP packet
// (RFC 7587 §4.2) stamped on the 48 kHz clock; dur advances the timestamp,
// so every packet the encoder makes (DTX ones too) must be written for the
// timestamps to follow the media clock. It does not keep pkt. While the
// connection is down (an ICE restart is under way) it drops the packet,
// counts it and returns room.ErrNotConnected; after the session ended it
// returns room.ErrClosed.
func (s *Session) WriteOpus(pkt []byte, dur time.Duration) error {
	select {
	case <-s.done:
		return room.ErrClosed
	default:
	}
	if len(pkt) == 0 || len(pkt) > maxOpusPacket || dur < 2500*time.Microsecond || dur > 120*time.Millisecond {
		return ErrBadPacket
	}
	// 48 kHz RTP clock for Opus whatever the coded bandwidth (RFC 7587 §4.1).
	samples := uint32(dur * 48000 / time.Second)
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.pc.ConnectionState() != webrtc.PeerConnectionStateConnected {
		// Keep the media clock running so the receiver sees the gap in
		// time; the sequence number counts only packets sent (RFC 3550
		// §5.1), as after DTX.
		s.pkt.Header.Timestamp += samples
		s.dropped.Add(1)
		return room.ErrNotConnected
	}
	s.pkt.Payload = pkt
	err := s.track.WriteRTP(&s.pkt)
	s.pkt.Payload = nil
	s.pkt.Header.SequenceNumber++
	s.pkt.Header.Timestamp += samples
	if err != nil {
		s.dropped.Add(1)
		return fmt.Errorf("whip: write rtp: %w", err)
	}
	s.packets.Add(1)
	s.bytes.Add(uint64(len(pkt)))
	return nil
}

// Events implements room.Session. A WHIP session publishes only, so it
// sends no track events: only EventReconnecting and EventReconnected
// around ICE restarts. The channel is closed when the session ends.
func (s *Session) Events() <-chan room.Event { return s.events }

func (s *Session) emit(ev room.Event) {
	s.evMu.Lock()
	defer s.evMu.Unlock()
	if s.evClosed {
		return
	}
	for {
		select {
		case s.events <- ev:
			return
		default:
		}
		select {
		case <-s.events:
			s.eventsDropped.Add(1)
		default:
		}
	}
}

func (s *Session) closeEvents() {
	s.evMu.Lock()
	defer s.evMu.Unlock()
	if !s.evClosed {
		s.evClosed = true
		close(s.events)
	}
}

// Stats implements room.Session. RTT, FractionLost and Jitter come from
// the server's latest receiver report about this track (RFC 3550 §6.4.2).
func (s *Session) Stats() room.Stats {
	return room.Stats{
		PacketsSent:     s.packets.Load(),
		BytesSent:       s.bytes.Load(),
		RTT:             time.Duration(s.rtt.Load()),
		FractionLost:    float64(s.lost.Load()) / 256,
		ReceiverReports: s.reports.Load(),
		Jitter:          time.Duration(s.jitter.Load()),
		// WHIP carries no key exchange: frames are encrypted, if at all,
		// by the caller before WriteOpus, which the caller knows.
		Encrypted:     false,
		EventsDropped: s.eventsDropped.Load(),
		Path:          s.path.Path(s.pc, s.r.opts.Clock.Now()),
		// The device does not retransmit audio (no NACK responder: Opus
		// FEC covers loss), but the count shows loss on the uplink.
		NACKs: s.nacks.Load(),
	}
}

// Dropped returns how many packets WriteOpus dropped because the
// connection was down (ICE restart under way) or the write failed.
func (s *Session) Dropped() uint64 { return s.dropped.Load() }

// Done implements room.Session.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err implements room.Session: nil if Close ended the session, else why
// it ended (ErrConnectionLost, ErrPeerClosed, ErrRejoin,
// ErrRestartUnsupported), which a later Close does not erase.
func (s *Session) Err() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

// end ends the session once: Done closes, Events closes, goroutines are
// told to stop.
func (s *Session) end(err error) {
	s.endOnce.Do(func() {
		s.errMu.Lock()
		s.err = err
		s.errMu.Unlock()
		s.cancel()
		close(s.done)
		s.closeEvents()
		if err != nil {
			s.log.Warn("session ended", "err", err)
		}
	})
}

// fail ends the session with err and releases it on the server.
func (s *Session) fail(err error) {
	s.end(err)
	s.teardown()
}

// Close implements room.Session: it DELETEs the WHIP session (bounded by
// DeleteTimeout; RFC 9725 §4.2), closes the PeerConnection and waits for the
// session's goroutines. It returns the DELETE's error, if any; a 404 means
// the server already dropped the session and is not an error.
func (s *Session) Close() error {
	s.closing.Store(true)
	s.end(nil)
	err := s.teardown()
	s.wg.Wait()
	return err
}

// abort undoes a join that failed part way.
func (s *Session) abort() {
	s.closing.Store(true)
	s.end(nil)
	s.teardown()
	s.wg.Wait()
}

func (s *Session) teardown() error {
	s.teardownOnce.Do(func() {
		if s.resource != nil {
			s.teardownErr = s.delete()
		}
		if err := s.pc.Close(); err != nil {
			s.log.Debug("close peer connection", "err", err)
		}
		if s.r.ownClient {
			s.r.client.CloseIdleConnections()
		}
	})
	return s.teardownErr
}

func (s *Session) delete() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.r.opts.DeleteTimeout)
	defer cancel()
	res, err := s.r.send(ctx, http.MethodDelete, s.resource, "", nil, "", maxErrorBody)
	if err != nil {
		return fmt.Errorf("whip: delete session: %w", err)
	}
	if res.status >= 300 && res.status != http.StatusNotFound {
		return fmt.Errorf("whip: delete session: %w", s.r.statusError(res, "DELETE"))
	}
	return nil
}
