package gateway

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"

	"github.com/onair-gateway/onair/net/livekit"
	"github.com/onair-gateway/onair/net/room"
	"github.com/onair-gateway/onair/net/whip"
	"github.com/onair-gateway/onair/provisioning"
)

// DefaultRooms makes a LiveKit or WHIP room from the config.
func DefaultRooms(r *provisioning.Resolved, log *slog.Logger) (room.Room, bool, error) {
	switch r.Room.Backend {
	case room.BackendLiveKit:
		opts := livekit.Options{Channels: r.Opus.Channels, DTX: r.Opus.DTX}
		enc, err := newEncryptor(r)
		if err != nil {
			return nil, false, err
		}
		if enc != nil {
			opts.Encryptor = enc
		}
		rm, err := livekit.New(r.Room, opts, log)
		return rm, enc != nil, err
	case room.BackendWHIP:
		rm, err := whip.New(r.Room, whip.Options{Channels: r.Opus.Channels, Loopback: isLoopback(r.Room.URL)}, log)
		return rm, false, err
	}
	return nil, false, fmt.Errorf("room.backend: %q is not livekit or whip", r.Room.Backend)
}

// isLoopback reports whether a URL's host is a loopback address, where ICE
// must use loopback candidates (a server on the same host: the demo, tests).
func isLoopback(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
