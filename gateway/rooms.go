package gateway

import (
	"fmt"
	"log/slog"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/net/e2ee"
	"github.com/onair-gateway/onair/net/livekit"
	"github.com/onair-gateway/onair/net/room"
	"github.com/onair-gateway/onair/net/whip"
	"github.com/onair-gateway/onair/provisioning"
)

// DefaultRooms makes a LiveKit or WHIP room from the config. keys, when
// not nil, end-to-end encrypt every frame (LiveKit only: WHIP has no way to
// carry LiveKit's frame encryption, so a WHIP room reports unencrypted).
func DefaultRooms(r *provisioning.Resolved, keys *e2ee.Keys, log *slog.Logger) (room.Room, bool, error) {
	switch r.Room.Backend {
	case room.BackendLiveKit:
		opts := livekit.Options{Name: r.Device.Name, Channels: r.Opus.Channels, DTX: r.Opus.DTX, Subscribe: r.Audio.Playback.On()}
		if keys != nil {
			opts.Encryptor = keys
		}
		rm, err := livekit.New(r.Room, opts, log)
		return rm, keys != nil, err
	case room.BackendWHIP:
		// NoAutoRestart: livekit-server v1.13.5's WHIP endpoint crashes on an
		// ICE-restart PATCH whose offer ends with several candidate lines, as
		// pion's do. A device must never be able to take its owner's server
		// down, so on a network change the supervisor rejoins instead.
		rm, err := whip.New(r.Room, whip.Options{Channels: r.Opus.Channels, Loopback: conf.LoopbackURL(r.Room.URL), NoAutoRestart: true}, log)
		return rm, false, err
	}
	return nil, false, fmt.Errorf("room.backend: %q is not livekit or whip", r.Room.Backend)
}
