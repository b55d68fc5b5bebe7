package livekit

import (
	"fmt"
	"testing"

	"github.com/onair-gateway/onair/net/livekit/livekittest"
	"github.com/onair-gateway/onair/net/room"
	"github.com/onair-gateway/onair/net/room/roomtest"
)

// TestSessionContract runs the room.Session contract against sessions on a
// real livekit-server.
func TestSessionContract(t *testing.T) {
	srv := livekittest.Start(t)
	n := 0
	roomtest.TestSession(t, func(t *testing.T) room.Session {
		n++
		return join(t, newRoom(t, srv, "contract", fmt.Sprintf("device-%d", n), Options{}))
	})
}
