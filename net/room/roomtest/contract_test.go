package roomtest

import (
	"testing"

	"github.com/onair-gateway/onair/net/room"
)

func TestFakeSessionContract(t *testing.T) {
	TestSession(t, func(t *testing.T) room.Session { return NewSession() })
}
