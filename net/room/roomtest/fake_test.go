package roomtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/onair-gateway/onair/net/room"
)

func TestLiveRoomSessionContract(t *testing.T) {
	r := NewLiveRoom(1)
	TestSession(t, func(t *testing.T) room.Session {
		s, err := r.Join(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got := <-r.Joined; got != s {
			t.Fatal("Joined sent another session than Join returned")
		}
		return s
	})
}

func TestLiveRoomScriptThenLive(t *testing.T) {
	errNet := errors.New("network")
	r := NewLiveRoom(4)
	r.Add(Step{Err: errNet})
	ctx := context.Background()
	if _, err := r.Join(ctx); !errors.Is(err, errNet) {
		t.Fatalf("first Join: %v, want the scripted error", err)
	}
	s1, err := r.Join(ctx)
	if err != nil {
		t.Fatalf("Join after the script: %v (the last error step repeated)", err)
	}
	s2, err := r.Join(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s1 == s2 {
		t.Fatal("two joins returned the same session")
	}
	if a, b := <-r.Joined, <-r.Joined; a != s1 || b != s2 {
		t.Error("Joined did not report the sessions in join order")
	}
	if n := r.Joins(); n != 3 {
		t.Errorf("Joins = %d, want 3", n)
	}
	for _, s := range []room.Session{s1, s2, s2} {
		if err := s.WriteOpus(Silence, 20*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if n := r.Packets(); n != 3 {
		t.Errorf("room Packets = %d, want 3 over both sessions", n)
	}
}

// TestLiveRoomJoinWaitsForTheTest: with Joined full, Join waits until the
// test receives or the join's context ends, and then closes the session.
func TestLiveRoomJoinWaitsForTheTest(t *testing.T) {
	r := NewLiveRoom(1)
	if _, err := r.Join(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() { _, err := r.Join(ctx); res <- err }()
	select {
	case err := <-res:
		t.Fatalf("Join returned (%v) with Joined full", err)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("Join after cancel: %v", err)
	}
	<-r.Joined
	select {
	case s := <-r.Joined:
		t.Fatalf("a cancelled Join reported its session (closed %v)", s.Closed())
	default:
	}
}

func TestScriptedRoomHasNoJoined(t *testing.T) {
	r := &Room{}
	r.Add(Step{Session: NewSession()})
	if _, err := r.Join(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r.Joined != nil {
		t.Error("a scripted Room has a Joined channel")
	}
	if _, err := r.Join(context.Background()); !errors.Is(err, ErrNoSteps) {
		t.Errorf("Join past the script: %v, want ErrNoSteps", err)
	}
}
