package room_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/onair-gateway/onair/net/room"
)

// A LossPolicy turns receiver reports into Opus settings: loss sizes the
// FEC at once; it lowers the bitrate only while the RTT shows a queue.
func ExampleLossPolicy() {
	p := room.NewLossPolicy(room.AdaptConfig{MinBitrate: 16000, MaxBitrate: 64000})
	ms := time.Millisecond
	for _, r := range []room.Report{{FractionLost: 0, RTT: 10 * ms}, {FractionLost: 0.15, RTT: 20 * ms}, {FractionLost: 0.2, RTT: 200 * ms}, {FractionLost: 0, RTT: 10 * ms}} {
		pct, bps, changed := p.Update(r)
		fmt.Println(pct, bps, changed)
	}
	// Output:
	// 0 64000 true
	// 15 64000 true
	// 20 57600 true
	// 14 60480 true
}

// A Supervisor keeps any Room joined; the capture loop writes through it.
func ExampleSupervisor() {
	var r room.Room // a *livekit.Room or a *whip.Room
	if r == nil {
		return
	}
	cfg := room.Config{URL: "ws://127.0.0.1:7880", Token: "…"}
	cfg.SetDefaults("device-1")
	sc := cfg.SupervisorConfig()
	sc.OnState = func(c room.StateChange) { fmt.Println("room:", c.State, c.Reason) }
	sup := room.NewSupervisor(r, sc, slog.New(slog.NewTextHandler(os.Stderr, nil)))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go func() {
		pkt := []byte{0xf8, 0xff, 0xfe} // an Opus packet from the encoder
		for ctx.Err() == nil {
			_ = sup.WriteOpus(pkt, 20*time.Millisecond) // ErrNotConnected while down
			time.Sleep(20 * time.Millisecond)
		}
	}()
	if err := sup.Run(ctx); err != nil {
		fmt.Println(err)
	}
}
