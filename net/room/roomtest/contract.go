package roomtest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/onair-gateway/onair/net/room"
)

// EndWithin bounds how long a session may take after Close to close Done
// and Events. It is generous: the contract is about behaviour, not speed.
const EndWithin = 10 * time.Second

// Silence is a valid 20 ms Opus packet (CELT, fullband, silence) that every
// backend can send.
var Silence = []byte{0xf8, 0xff, 0xfe}

// TestSession runs the room.Session contract as subtests. join is called
// once per subtest and must return a fresh, live session (joined, allowed
// to publish); it may register t.Cleanup functions.
//
// The contract: while live, Done is open, Err is nil and WriteOpus of a
// valid packet returns nil and is counted in Stats().PacketsSent. Close
// returns nil, may be called twice, closes Done and Events within
// EndWithin, leaves Err nil (Close is not a failure), and makes WriteOpus
// return room.ErrClosed. Close unblocks a goroutine ranging over Events,
// and WriteOpus may race with Close.
func TestSession(t *testing.T, join func(t *testing.T) room.Session) {
	t.Run("write", func(t *testing.T) {
		s := join(t)
		select {
		case <-s.Done():
			t.Fatalf("Done closed on a live session (Err %v)", s.Err())
		default:
		}
		if err := s.Err(); err != nil {
			t.Errorf("Err on a live session: %v", err)
		}
		const n = 10
		for i := 0; i < n; i++ {
			if err := s.WriteOpus(Silence, 20*time.Millisecond); err != nil {
				t.Fatalf("WriteOpus %d: %v", i, err)
			}
		}
		if got := s.Stats().PacketsSent; got < n {
			t.Errorf("Stats().PacketsSent = %d after %d writes", got, n)
		}
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})

	t.Run("close", func(t *testing.T) {
		s := join(t)
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		select {
		case <-s.Done():
		case <-time.After(EndWithin):
			t.Fatalf("Done still open %v after Close", EndWithin)
		}
		drainClosed(t, s.Events())
		if err := s.Err(); err != nil {
			t.Errorf("Err after Close = %v, want nil", err)
		}
		if err := s.WriteOpus(Silence, 20*time.Millisecond); !errors.Is(err, room.ErrClosed) {
			t.Errorf("WriteOpus after Close = %v, want room.ErrClosed", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})

	t.Run("close unblocks events", func(t *testing.T) {
		s := join(t)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for range s.Events() {
			}
		}()
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		select {
		case <-done:
		case <-time.After(EndWithin):
			t.Fatalf("a reader of Events still blocked %v after Close", EndWithin)
		}
	})

	t.Run("write races close", func(t *testing.T) {
		s := join(t)
		var wg sync.WaitGroup
		wg.Add(1)
		stop := make(chan struct{})
		var after error
		go func() {
			defer wg.Done()
			for {
				err := s.WriteOpus(Silence, 20*time.Millisecond)
				select {
				case <-stop:
					after = s.WriteOpus(Silence, 20*time.Millisecond)
					return
				default:
				}
				if err != nil && !errors.Is(err, room.ErrClosed) && !errors.Is(err, room.ErrNotConnected) {
					t.Errorf("WriteOpus during Close: %v", err)
					return
				}
			}
		}()
		time.Sleep(20 * time.Millisecond) // some writes before Close
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		close(stop)
		wg.Wait()
		if !errors.Is(after, room.ErrClosed) {
			t.Errorf("WriteOpus after a racing Close = %v, want room.ErrClosed", after)
		}
	})
}

// drainClosed reads ev until it is closed, or fails after EndWithin.
func drainClosed(t *testing.T, ev <-chan room.Event) {
	t.Helper()
	timeout := time.After(EndWithin)
	for {
		select {
		case _, ok := <-ev:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatalf("Events still open %v after Close", EndWithin)
		}
	}
}
