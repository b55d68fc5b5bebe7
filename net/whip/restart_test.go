package whip

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/onair-gateway/onair/net/room"
)

// fastICE makes ICE notice a dead path within a second.
func fastICE(se *webrtc.SettingEngine) {
	se.SetICETimeouts(time.Second, 2*time.Second, 200*time.Millisecond)
}

func nextEvent(t *testing.T, s *Session) room.Event {
	t.Helper()
	select {
	case ev, ok := <-s.Events():
		if !ok {
			t.Fatalf("events closed (session err %v)", s.Err())
		}
		return ev
	case <-time.After(15 * time.Second):
		t.Fatal("no event within 15 s")
	}
	return room.Event{}
}

func waitDone(t *testing.T, s *Session) error {
	t.Helper()
	select {
	case <-s.Done():
		return s.Err()
	case <-time.After(20 * time.Second):
		t.Fatal("session did not end within 20 s")
	}
	return nil
}

// breakICE restarts the server's ICE agent behind the client's back: the
// client's consent checks stop being answered, as when a NAT binding or
// the network goes away, while the WHIP session stays.
func (ss *serverSession) breakICE(t *testing.T) {
	if _, err := ss.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true}); err != nil {
		t.Fatal(err)
	}
}

func TestRestart(t *testing.T) {
	srv := newWHIPServer(t, token, serverOptions{})
	_, s := joinTest(t, srv.url(), token, Options{})
	defer s.Close()
	ss := srv.only()
	frames := toneFrames(t, 440, 1, 10, 20*time.Millisecond)
	for round := 1; round <= 2; round++ {
		if err := s.Restart(testContext(t)); err != nil {
			t.Fatalf("restart %d: %v", round, err)
		}
		if ev := nextEvent(t, s); ev.Kind != room.EventReconnecting {
			t.Fatalf("event %v, want reconnecting", ev.Kind)
		}
		if ev := nextEvent(t, s); ev.Kind != room.EventReconnected {
			t.Fatalf("event %v, want reconnected", ev.Kind)
		}
		for _, f := range frames {
			if err := s.WriteOpus(f, 20*time.Millisecond); err != nil {
				t.Fatal(err)
			}
		}
		ss.waitPackets(t, len(frames))
		s.hmu.Lock()
		etag := s.etag
		s.hmu.Unlock()
		if etag != ss.etag {
			t.Errorf("stored ETag %q, server's %q", etag, ss.etag)
		}
	}
	var patches []seenRequest
	for _, r := range srv.requests() {
		if r.method == http.MethodPatch {
			patches = append(patches, r)
		}
	}
	if len(patches) != 2 {
		t.Fatalf("%d PATCHes, want 2", len(patches))
	}
	for _, p := range patches {
		if p.ifMatch != "*" || p.contentType != contentTypeSDPFrag || p.auth != "Bearer "+token || p.path != "/resource/1" {
			t.Errorf("PATCH %s If-Match %q type %q auth %q", p.path, p.ifMatch, p.contentType, p.auth)
		}
		for _, want := range []string{"a=ice-ufrag:", "a=ice-pwd:", "m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=mid:0", "a=candidate:", "a=end-of-candidates"} {
			if !strings.Contains(p.body, want) {
				t.Errorf("PATCH body lacks %q:\n%s", want, p.body)
			}
		}
	}
	if patches[0].body == patches[1].body {
		t.Error("two restarts sent the same credentials")
	}
}

func TestRestartRefused(t *testing.T) {
	for _, c := range []struct {
		status      int
		is          error
		unsupported bool
	}{
		{http.StatusPreconditionFailed, ErrRejoin, false},
		{http.StatusNotFound, ErrRejoin, false},
		{http.StatusMethodNotAllowed, ErrRestartUnsupported, true},
		{http.StatusUnprocessableEntity, ErrRestartUnsupported, true},
		{http.StatusNotImplemented, ErrRestartUnsupported, true},
	} {
		t.Run(http.StatusText(c.status), func(t *testing.T) {
			srv := newWHIPServer(t, token, serverOptions{})
			r, s := joinTest(t, srv.url(), token, Options{})
			srv.patchStatus.Store(int32(c.status))
			err := s.Restart(testContext(t))
			var je *room.JoinError
			if !errors.Is(err, c.is) || !errors.As(err, &je) || je.Status != c.status || !strings.Contains(err.Error(), "patch refused by test") {
				t.Fatalf("err = %v, want %v with the server's %d", err, c.is, c.status)
			}
			if err := waitDone(t, s); !errors.Is(err, c.is) {
				t.Errorf("session ended with %v, want %v", err, c.is)
			}
			if r.noRestart.Load() != c.unsupported {
				t.Errorf("room remembers restart unsupported: %v", r.noRestart.Load())
			}
			if err := s.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
			if !srv.only().deleted.Load() {
				t.Error("ended session not deleted")
			}
		})
	}
}

func TestRestartAfterFailedPatch(t *testing.T) {
	srv := newWHIPServer(t, token, serverOptions{})
	_, s := joinTest(t, srv.url(), token, Options{NoAutoRestart: true})
	defer s.Close()
	srv.patchStatus.Store(http.StatusServiceUnavailable)
	err := s.Restart(testContext(t))
	var je *room.JoinError
	if !errors.As(err, &je) || je.Status != http.StatusServiceUnavailable || fatalRestartErr(err) {
		t.Fatalf("err = %v, want the 503", err)
	}
	select {
	case <-s.Done():
		t.Fatalf("session ended after a 503: %v", s.Err())
	default:
	}
	srv.patchStatus.Store(0)
	if err := s.Restart(testContext(t)); err != nil {
		t.Fatalf("second restart: %v", err)
	}
	frames := toneFrames(t, 440, 1, 5, 20*time.Millisecond)
	for _, f := range frames {
		if err := s.WriteOpus(f, 20*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	srv.only().waitPackets(t, len(frames))
}

func TestAutoRestartAfterPathLoss(t *testing.T) {
	srv := newWHIPServer(t, token, serverOptions{})
	_, s := joinTest(t, srv.url(), token, Options{ConfigureSettings: fastICE})
	defer s.Close()
	ss := srv.only()
	ss.breakICE(t)
	ev := nextEvent(t, s)
	if ev.Kind != room.EventReconnecting || !strings.Contains(ev.Reason, "disconnected") {
		t.Fatalf("event %+v, want reconnecting after a disconnection", ev)
	}
	if ev := nextEvent(t, s); ev.Kind != room.EventReconnected {
		t.Fatalf("event %v, want reconnected", ev.Kind)
	}
	frames := toneFrames(t, 440, 1, 5, 20*time.Millisecond)
	for _, f := range frames {
		if err := s.WriteOpus(f, 20*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	ss.waitPackets(t, len(frames))
}

// TestSessionEnds covers the ways a session ends by itself. A server that
// drops the session is noticed by ICE consent failing (pion processes no
// DTLS close_notify on a media-only connection), then the restart PATCH
// gets 404.
func TestSessionEnds(t *testing.T) {
	for _, c := range []struct {
		name string
		o    Options
		// gone: the server deletes the session instead of losing the path.
		gone        bool
		patchStatus int
		is          []error
	}{
		// Which one depends on whether pion happens to read the server's
		// DTLS close_notify before ICE notices.
		{"server drops the session", Options{ConfigureSettings: fastICE}, true, 0, []error{ErrRejoin, ErrPeerClosed}},
		{"path lost without restarts", Options{ConfigureSettings: fastICE, NoAutoRestart: true, DisconnectTimeout: 1500 * time.Millisecond},
			false, 0, []error{ErrConnectionLost}},
		{"path lost and restarts fail", Options{ConfigureSettings: fastICE, DisconnectTimeout: 2500 * time.Millisecond},
			false, http.StatusInternalServerError, []error{ErrConnectionLost}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := newWHIPServer(t, token, serverOptions{})
			_, s := joinTest(t, srv.url(), token, c.o)
			ss := srv.only()
			srv.patchStatus.Store(int32(c.patchStatus))
			if c.gone {
				ss.deleted.Store(true)
				ss.pc.Close()
			} else {
				ss.breakICE(t)
				if ev := nextEvent(t, s); ev.Kind != room.EventReconnecting {
					t.Fatalf("event %v, want reconnecting", ev.Kind)
				}
				if err := s.WriteOpus([]byte{0xfc}, 20*time.Millisecond); !errors.Is(err, room.ErrNotConnected) {
					t.Errorf("WriteOpus while down = %v, want ErrNotConnected", err)
				}
				if n := s.Dropped(); n != 1 {
					t.Errorf("dropped %d packets, want 1", n)
				}
			}
			err := waitDone(t, s)
			if !isAny(err, c.is) {
				t.Fatalf("session ended with %v, want one of %v", err, c.is)
			}
			if err := s.WriteOpus([]byte{0xfc}, 20*time.Millisecond); !errors.Is(err, room.ErrClosed) {
				t.Errorf("WriteOpus after the end = %v, want ErrClosed", err)
			}
			for ev := range s.Events() { // ends: the channel is closed
				if !c.gone || ev.Kind != room.EventReconnecting {
					t.Errorf("unexpected event %v", ev.Kind)
				}
			}
			if err := s.Close(); err != nil && !c.gone {
				t.Errorf("close: %v", err)
			}
			if s.Err() != err {
				t.Errorf("Err after Close = %v, want %v still", s.Err(), err)
			}
			if !c.gone && !ss.deleted.Load() {
				t.Error("the session was not deleted on the server")
			}
		})
	}
}

func isAny(err error, targets []error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
