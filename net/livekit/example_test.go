package livekit_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/onair-gateway/onair/net/livekit"
	"github.com/onair-gateway/onair/net/room"
)

// A device joins a room through the Supervisor, which rejoins after any
// loss; the capture loop writes Opus packets through it.
func ExampleNew() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	livekit.SetSDKLogger(log)

	cfg := room.Config{URL: "ws://127.0.0.1:7880", Room: "studio", Token: "eyJ…"}
	cfg.SetDefaults("device-1")
	r, err := livekit.New(cfg, livekit.Options{Channels: 1, Subscribe: true}, log)
	if err != nil {
		fmt.Println(err)
		return
	}
	sc := cfg.SupervisorConfig()
	sc.OnState = func(c room.StateChange) { fmt.Println("room:", c.State, c.Reason) }
	sc.OnEvent = func(ev room.Event) {
		if ev.Kind == room.EventTrackAdded {
			go func() { // read the remote track on a goroutine of its own
				buf := make([]byte, 1500)
				for {
					if _, err := ev.Track.ReadPacket(buf); err != nil {
						return
					}
				}
			}()
		}
	}
	sup := room.NewSupervisor(r, sc, log)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	go func() { _ = sup.WriteOpus([]byte{0xf8, 0xff, 0xfe}, 20*time.Millisecond) }()
	_ = sup.Run(ctx)
}
