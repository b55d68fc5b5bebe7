package whip

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/onair-gateway/onair/net/room"
)

// Backoff between automatic ICE restart attempts whose PATCH failed (the
// network is still away): short, because the session only has
// DisconnectTimeout to come back.
const (
	restartBackoffMin = 500 * time.Millisecond
	restartBackoffMax = 4 * time.Second
)

// Restart restarts ICE (RFC 9725 §4.3.2): it makes an offer with new ICE
// credentials, gathers candidates, PATCHes them to the WHIP session as an
// application/trickle-ice-sdpfrag body (RFC 8840) with If-Match: "*",
// applies the credentials and candidates of the 200 answer and waits for
// the connection (bounded by ctx and ConnectTimeout). Call it when the
// network changed; the session also calls it by itself when the
// connection drops (unless Options.NoAutoRestart).
//
// It sends EventReconnecting first and the session sends
// EventReconnected once the connection is up again. WriteOpus drops
// frames (room.ErrNotConnected) meanwhile.
//
// If the server answers 412 or 404 the error wraps ErrRejoin; 405, 422 or
// 501 wrap ErrRestartUnsupported. In both cases the session ends with that
// error (Done closes) and the caller rejoins, which is the documented
// fallback: the local ICE agent has already restarted and cannot go back.
// Other failures (network) leave the session running, so a later Restart
// can succeed within DisconnectTimeout.
func (s *Session) Restart(ctx context.Context) error {
	select {
	case <-s.done:
		return room.ErrClosed
	default:
	}
	if s.reconnecting.CompareAndSwap(false, true) {
		s.emit(room.Event{Kind: room.EventReconnecting, Reason: "ice restart requested"})
	}
	err := s.restart(ctx)
	if fatalRestartErr(err) {
		s.fail(err)
	}
	s.notify() // let the monitor look at the state again
	return err
}

func fatalRestartErr(err error) bool {
	return errors.Is(err, ErrRestartUnsupported) || errors.Is(err, ErrRejoin) || errors.Is(err, ErrPeerClosed)
}

func (s *Session) restart(ctx context.Context) error {
	s.restartMu.Lock()
	defer s.restartMu.Unlock()
	return s.restartLocked(ctx)
}

// restartLocked restarts ICE; the caller holds restartMu.
func (s *Session) restartLocked(ctx context.Context) error {
	select {
	case <-s.done:
		return room.ErrClosed
	default:
	}
	if s.r.noRestart.Load() {
		return fmt.Errorf("whip: ice restart: %w", ErrRestartUnsupported)
	}
	start := s.r.opts.Clock.Now()
	if err := s.settle(); err != nil {
		return fmt.Errorf("whip: ice restart: %w", err)
	}
	offer, err := s.offer(ctx, true)
	if err != nil {
		return s.restartFailed(fmt.Errorf("whip: ice restart: %w", err))
	}
	frag, err := fragFromSDP(offer)
	if err != nil {
		return s.restartFailed(fmt.Errorf("whip: ice restart: %w", err))
	}
	res, err := s.r.send(ctx, http.MethodPatch, s.resource, contentTypeSDPFrag, frag.marshal(), "*", maxAnswerBytes)
	if err != nil {
		return s.restartFailed(fmt.Errorf("whip: ice restart: %w", err))
	}
	switch res.status {
	case http.StatusOK:
	case http.StatusPreconditionFailed, http.StatusNotFound:
		return fmt.Errorf("%w: %w", ErrRejoin, s.r.statusError(res, "PATCH ice restart"))
	case http.StatusMethodNotAllowed, http.StatusUnprocessableEntity, http.StatusNotImplemented:
		s.r.noRestart.Store(true)
		return fmt.Errorf("%w: %w", ErrRestartUnsupported, s.r.statusError(res, "PATCH ice restart"))
	default:
		return s.restartFailed(fmt.Errorf("whip: ice restart: %w", s.r.statusError(res, "PATCH ice restart")))
	}
	if res.truncated {
		return s.restartFailed(fmt.Errorf("whip: ice restart: %w", tooLarge(res)))
	}
	if ct := mediaType(res.header.Get("Content-Type")); ct != contentTypeSDPFrag {
		return s.restartFailed(fmt.Errorf("whip: ice restart: %w: content type %q, want %s",
			ErrBadAnswer, room.Printable(ct, ""), contentTypeSDPFrag))
	}
	answer, skipped, err := parseICEFrag(res.body)
	if err != nil {
		return s.restartFailed(fmt.Errorf("whip: ice restart: %w", err))
	}
	if skipped > 0 {
		s.log.Warn("ignoring candidates that do not parse", "count", skipped)
	}
	if etag := res.header.Get("ETag"); etag != "" {
		s.hmu.Lock()
		s.etag = etag
		s.hmu.Unlock()
	}
	s.applyLinks(res.header) // for the next restart (RFC 9725 §4.3.2)
	remote := s.pc.CurrentRemoteDescription()
	if remote == nil {
		return s.restartFailed(errors.New("whip: ice restart: no remote description"))
	}
	patched, err := patchSDP(remote.SDP, answer)
	if err != nil {
		return s.restartFailed(fmt.Errorf("whip: ice restart: %w", err))
	}
	if err := s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: patched}); err != nil {
		return s.restartFailed(fmt.Errorf("whip: ice restart: apply answer: %w", err))
	}
	if err := s.waitUp(ctx, s.r.opts.ConnectTimeout); err != nil {
		return fmt.Errorf("whip: ice restart: %w", err)
	}
	s.log.Info("ice restarted", "took", s.r.opts.Clock.Since(start).Round(time.Millisecond))
	return nil
}

// restartFailed returns the signalling state to stable so that the next
// restart can make a fresh offer, and returns err.
func (s *Session) restartFailed(err error) error {
	if serr := s.settle(); serr != nil {
		s.log.Debug("settle restart offer", "err", serr)
	}
	return err
}

// settle ends a restart offer that got no answer. pion cannot roll back
// a local offer (nor make a second one on top), so the previous answer is
// applied again: signalling is stable, while the ICE agent keeps the new
// local credentials it took at CreateOffer. The old path stays dead until
// a restart succeeds, which is the state the session was in anyway.
func (s *Session) settle() error {
	remote := s.pc.CurrentRemoteDescription()
	if s.pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer || remote == nil {
		return nil
	}
	if err := s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: remote.SDP}); err != nil {
		return fmt.Errorf("settle offer: %w", err)
	}
	return nil
}

func (s *Session) startMonitor() {
	s.wg.Add(1)
	go s.monitor()
}

// monitor watches the connection. When it drops, it sends
// EventReconnecting and restarts ICE (retrying with backoff while the
// PATCH fails); when it is back, EventReconnected. If it stays down longer
// than DisconnectTimeout, or the server says the session is gone, the
// session ends.
func (s *Session) monitor() {
	defer s.wg.Done()
	o := s.r.opts
	var downSince, nextTry time.Time
	backoff := room.Backoff{Min: restartBackoffMin, Max: restartBackoffMax}
	clock := o.Clock
	timer := clock.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		sig := s.signal()
		wait := time.Hour
		switch st := s.pc.ConnectionState(); st {
		case webrtc.PeerConnectionStateConnected:
			downSince = time.Time{}
			backoff.Reset()
			if s.reconnecting.CompareAndSwap(true, false) {
				s.emit(room.Event{Kind: room.EventReconnected})
			}
		case webrtc.PeerConnectionStateClosed:
			if !s.closing.Load() {
				s.fail(ErrPeerClosed)
			}
			return
		default:
			now := clock.Now()
			if downSince.IsZero() {
				downSince, nextTry = now, now
				s.log.Info("connection down", "state", st.String())
				if s.reconnecting.CompareAndSwap(false, true) {
					s.emit(room.Event{Kind: room.EventReconnecting, Reason: "connection " + st.String()})
				}
			}
			deadline := downSince.Add(o.DisconnectTimeout)
			if !now.Before(deadline) {
				s.fail(fmt.Errorf("%w: down for %v (state %s)", ErrConnectionLost, o.DisconnectTimeout, st))
				return
			}
			auto := !o.NoAutoRestart && !s.r.noRestart.Load()
			// TryLock: while a Restart call is under way, wait for it
			// (it wakes this loop when it ends) instead of queueing a
			// second restart behind it.
			if auto && !now.Before(nextTry) && s.restartMu.TryLock() {
				ctx, cancel := clockwork.WithDeadline(s.ctx, clock, deadline)
				err := s.restartLocked(ctx)
				s.restartMu.Unlock()
				cancel()
				switch {
				case err == nil:
				case fatalRestartErr(err):
					s.fail(err)
					return
				case s.ctx.Err() != nil:
					return
				default:
					wait := backoff.Next()
					s.log.Warn("ice restart failed", "err", err, "retry_in", wait)
					nextTry = clock.Now().Add(wait)
				}
				continue
			}
			wait = deadline.Sub(clock.Now())
			if t := nextTry.Sub(clock.Now()); auto && t > 0 && t < wait {
				wait = t
			}
		}
		timer.Reset(wait)
		select {
		case <-s.ctx.Done():
			return
		case <-sig:
		case <-timer.Chan():
		}
	}
}

func (s *Session) startRTCP() {
	s.wg.Add(1)
	go s.readRTCP()
}

// readRTCP keeps reading RTCP from the sender, which is what drives
// pion's interceptors, and turns the reception reports about this track
// into Stats. It ends when the sender stops (PeerConnection closed).
func (s *Session) readRTCP() {
	defer s.wg.Done()
	var ssrc uint32
	if enc := s.sender.GetParameters().Encodings; len(enc) > 0 {
		ssrc = uint32(enc[0].SSRC)
	}
	for {
		pkts, _, err := s.sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.ReceiverReport:
				s.report(ssrc, p.Reports)
			case *rtcp.SenderReport:
				s.report(ssrc, p.Reports)
			case *rtcp.TransportLayerNack:
				s.nacks.Add(room.NACKedPackets(p, ssrc))
			}
		}
	}
}

// report takes one reception report block about ssrc (RFC 3550 §6.4.1):
// fraction lost out of 256, interarrival jitter in RTP clock units (48 kHz
// for Opus), and the round-trip time from LSR and DLSR, both in 1/65536 s
// units of the middle 32 bits of an NTP timestamp.
func (s *Session) report(ssrc uint32, reports []rtcp.ReceptionReport) {
	for _, r := range reports {
		if r.SSRC != ssrc {
			continue
		}
		s.lost.Store(uint32(r.FractionLost))
		s.jitter.Store(int64(time.Duration(r.Jitter) * time.Second / 48000))
		s.reports.Add(1)
		if r.LastSenderReport == 0 {
			continue
		}
		rtt := ntpMiddle(s.r.opts.Clock.Now()) - r.LastSenderReport - r.Delay
		// A "negative" (wrapped) value or one over a minute means clocks
		// or reports that cannot be trusted.
		if d := time.Duration(rtt) * time.Second / 65536; rtt < 1<<31 && d < time.Minute {
			s.rtt.Store(int64(d))
		}
	}
}

// ntpMiddle returns the middle 32 bits of t as an NTP timestamp (RFC 3550
// §4): 16 bits of seconds since 1900, 16 bits of fraction.
func ntpMiddle(t time.Time) uint32 {
	const unixToNTP = 2208988800
	secs := uint64(t.Unix() + unixToNTP)
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return uint32(secs<<16 | frac>>16)
}

func randUint32() uint32 { return rand.Uint32() }
