package whip

import (
	"testing"

	"github.com/onair-gateway/onair/net/room"
	"github.com/onair-gateway/onair/net/room/roomtest"
)

// TestSessionContract runs the room.Session contract against sessions on
// the test WHIP endpoint (a real pion peer behind httptest).
func TestSessionContract(t *testing.T) {
	srv := newWHIPServer(t, "secret-token", serverOptions{})
	roomtest.TestSession(t, func(t *testing.T) room.Session {
		_, s := joinTest(t, srv.url(), "secret-token", Options{})
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
