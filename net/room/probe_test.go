package room_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/onair-gateway/onair/net/room"
	"github.com/onair-gateway/onair/net/room/roomtest"
)

// slowBackoff makes the first backoff wait 20 s, far longer than a probe.
func slowBackoff(c *room.SupervisorConfig) {
	c.MinBackoff, c.MaxBackoff = 20*time.Second, time.Minute
}

// TestSupervisorJoinsWhenServerIsBack: the server goes away under a live
// session; the Supervisor probes during its 20 s backoff and joins the
// moment the server answers again, 3 s later, not when the backoff ends.
func TestSupervisorJoinsWhenServerIsBack(t *testing.T) {
	r := &roomtest.ProbingRoom{}
	s1, s2 := roomtest.NewSession(), roomtest.NewSession()
	r.Add(roomtest.Step{Session: s1}, roomtest.Step{Session: s2})
	h := start(t, r, slowBackoff)
	h.waitState(room.StateConnected)

	r.SetUp(false)
	s1.End(errNet)
	c := h.waitState(room.StateReconnecting)
	if c.RetryIn < 10*time.Second {
		t.Fatalf("backoff %v, want the 20 s the test is about", c.RetryIn)
	}
	for i := 0; i < 2; i++ { // two probes find the server down
		h.clock.block(t, 2) // the backoff and the probe timer
		h.clock.Advance(time.Second)
	}
	h.clock.block(t, 2)
	if n := r.Joins(); n != 1 {
		t.Fatalf("%d joins while the server was down, want 1", n)
	}
	r.SetUp(true)
	h.clock.Advance(time.Second)
	h.waitState(room.StateConnected)
	if n := r.Joins(); n != 2 {
		t.Errorf("%d joins, want 2", n)
	}
	if st := h.sup.Stats(); st.EarlyJoins != 1 {
		t.Errorf("EarlyJoins = %d, want 1", st.EarlyJoins)
	}
	if n := h.logs.count("the server answers again; joining before the backoff ends"); n != 1 {
		t.Errorf("early join logged %d times, want once", n)
	}
}

// TestSupervisorProbeAnsweringServerWaits: a server that answers all along
// (the join failed for another reason) does not cut the backoff short.
func TestSupervisorProbeAnsweringServerWaits(t *testing.T) {
	r := &roomtest.ProbingRoom{}
	s1 := roomtest.NewSession()
	r.Add(roomtest.Step{Err: errNet}, roomtest.Step{Session: s1})
	h := start(t, r, slowBackoff)
	h.clock.block(t, 2)
	c := h.sup.State()
	if c.State != room.StateConnecting || c.RetryIn < 10*time.Second {
		t.Fatalf("after a failed join: %+v", c)
	}
	for i := 0; i < 5; i++ {
		h.clock.block(t, 2)
		h.clock.Advance(time.Second)
	}
	h.clock.block(t, 2)
	if n := r.Joins(); n != 1 {
		t.Fatalf("joined again after 5 s of a %v backoff with the server answering", c.RetryIn)
	}
	if r.Probes() != 6 {
		t.Errorf("%d probes in 5 s, want 6 (one at once, then one a second)", r.Probes())
	}
	h.clock.Advance(c.RetryIn)
	h.waitState(room.StateConnected)
	if st := h.sup.Stats(); st.EarlyJoins != 0 {
		t.Errorf("EarlyJoins = %d, want 0", st.EarlyJoins)
	}
}

// TestSupervisorServerBackBeforeFirstProbe: the server went down with the
// session and is back before the wait's second probe. The first probe, at
// once, saw it down, so the one a second later joins; before, the wait's
// first probe came after a second, found the server answering, and the
// device slept out the whole backoff.
func TestSupervisorServerBackBeforeFirstProbe(t *testing.T) {
	r := &roomtest.ProbingRoom{}
	s1, s2 := roomtest.NewSession(), roomtest.NewSession()
	r.Add(roomtest.Step{Session: s1}, roomtest.Step{Session: s2})
	h := start(t, r, slowBackoff)
	h.waitState(room.StateConnected)

	r.SetUp(false)
	s1.End(errNet)
	h.waitState(room.StateReconnecting)
	h.clock.block(t, 2) // the backoff and the probe timer, after the first probe
	if n := r.Probes(); n != 1 {
		t.Fatalf("%d probes before the clock moved, want 1 at once", n)
	}
	r.SetUp(true)
	h.clock.Advance(time.Second)
	h.waitState(room.StateConnected)
	if st := h.sup.Stats(); st.EarlyJoins != 1 || st.JoinAttempts != 2 {
		t.Errorf("EarlyJoins %d, JoinAttempts %d; want 1 and 2", st.EarlyJoins, st.JoinAttempts)
	}
}

// TestSupervisorUnreachableJoinIsEvidence: a join that could not reach the
// server at all counts as the server seen down, so a server that answers
// the wait's first probe is joined at once, with no clock advance. If that
// join fails unreachable again while probes succeed (a server that answers
// probes but not joins), the next wait needs a probe to see it down and
// otherwise sleeps out its backoff: no rejoin loop without a pause.
func TestSupervisorUnreachableJoinIsEvidence(t *testing.T) {
	r := &roomtest.ProbingRoom{}
	unreachable := &room.JoinError{Op: "signal", Unreachable: true, Err: errNet}
	s1 := roomtest.NewSession()
	r.Add(roomtest.Step{Err: unreachable}, roomtest.Step{Err: unreachable}, roomtest.Step{Session: s1})
	h := start(t, r, slowBackoff)
	h.clock.block(t, 2) // the second wait: backoff and probe timer
	if n := r.Joins(); n != 2 {
		t.Fatalf("%d joins before the clock moved, want 2 (the second at once)", n)
	}
	if st := h.sup.Stats(); st.EarlyJoins != 1 {
		t.Errorf("EarlyJoins = %d, want 1", st.EarlyJoins)
	}
	for i := 0; i < 5; i++ {
		h.clock.Advance(time.Second)
		h.clock.block(t, 2)
	}
	if n := r.Joins(); n != 2 {
		t.Fatalf("%d joins: the second unreachable failure was trusted again", n)
	}
	h.clock.Advance(time.Minute)
	h.waitState(room.StateConnected)
}

// TestSupervisorServerBackRejoinsAtOnce: a session that ends with
// ErrServerBack (its server restarted while it resumed) is joined again at
// once, with no backoff wait on the clock.
func TestSupervisorServerBackRejoinsAtOnce(t *testing.T) {
	r := &roomtest.Room{}
	s1, s2 := roomtest.NewSession(), roomtest.NewSession()
	r.Add(roomtest.Step{Session: s1}, roomtest.Step{Session: s2})
	h := start(t, r, slowBackoff)
	h.waitState(room.StateConnected)
	s1.End(fmt.Errorf("%w (while resuming)", room.ErrServerBack))
	h.waitState(room.StateConnected) // no clock advance
	if st := h.sup.Stats(); st.Sessions != 2 || st.EarlyJoins != 1 {
		t.Errorf("Sessions %d, EarlyJoins %d; want 2 and 1", st.Sessions, st.EarlyJoins)
	}
}

// TestSupervisorNoProbeOnPermanentError: a refused token is not cured by
// the server being up; the slow retry is not probed at all.
func TestSupervisorNoProbeOnPermanentError(t *testing.T) {
	r := &roomtest.ProbingRoom{}
	r.SetUp(false)
	r.Add(roomtest.Step{Err: &room.JoinError{Op: "token", Status: 401, Permanent: true, Err: errors.New("unauthorized")}})
	h := start(t, r, slowBackoff)
	h.waitState(room.StateError)
	h.clock.block(t, 1)
	h.clock.Advance(5 * time.Second)
	h.clock.block(t, 1)
	if n := r.Probes(); n != 0 {
		t.Errorf("%d probes after a permanent error", n)
	}
}

// TestSupervisorProbeDisabled: a negative ProbeInterval turns probing off.
func TestSupervisorProbeDisabled(t *testing.T) {
	r := &roomtest.ProbingRoom{}
	r.SetUp(false)
	r.Add(roomtest.Step{Err: errNet})
	h := start(t, r, func(c *room.SupervisorConfig) { slowBackoff(c); c.ProbeInterval = -1 })
	h.waitState(room.StateConnecting)
	h.clock.block(t, 1)
	h.clock.Advance(5 * time.Second)
	h.clock.block(t, 1)
	if n := r.Probes(); n != 0 {
		t.Errorf("%d probes with probing off", n)
	}
}

// TestProbeHTTP: any HTTP answer means the server is there; a closed port
// and a server that never answers are errors, the latter within the
// context's deadline.
func TestProbeHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodHead {
			t.Errorf("probe used %s", r.Method)
		}
		w.WriteHeader(http.StatusMethodNotAllowed)
	}))
	defer srv.Close()
	ctx := context.Background()
	if err := room.ProbeHTTP(ctx, srv.Client(), srv.URL); err != nil {
		t.Errorf("answering server: %v", err)
	}

	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	if err := room.ProbeHTTP(ctx, http.DefaultClient, closed); err == nil {
		t.Error("closed port: no error")
	}

	// A server that accepts and never answers.
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	go func() {
		for {
			c, err := mute.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := room.ProbeHTTP(tctx, http.DefaultClient, "http://"+mute.Addr().String()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("mute server: %v, want the deadline", err)
	}
	if err := room.ProbeHTTP(ctx, http.DefaultClient, "::bad"); err == nil {
		t.Error("bad URL: no error")
	}
}
