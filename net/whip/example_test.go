package whip_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/net/room"
	"github.com/onair-gateway/onair/net/whip"
)

// Publishing to a WHIP endpoint: join, write the encoder's packets every
// 20 ms, restart ICE when the network changes, and leave.
func Example() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	r, err := whip.New(room.Config{
		Backend:  room.BackendWHIP,
		URL:      "https://whip.example.com/whip/endpoint",
		Token:    conf.Secret(os.Getenv("WHIP_TOKEN")),
		Identity: "studio-1",
	}, whip.Options{Channels: 2}, log)
	if err != nil {
		fmt.Println("config:", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sess, err := r.Join(ctx)
	var je *room.JoinError
	switch {
	case errors.As(err, &je) && je.Permanent:
		fmt.Println("fix the configuration:", err) // 401, 403, 404...
		return
	case je != nil:
		fmt.Println("retry in", je.RetryAfter, "or with backoff:", err) // 429, 503, network
		return
	case err != nil:
		fmt.Println("join:", err)
		return
	}
	defer sess.Close()

	// On a network change (the supervisor does this):
	if rs, ok := sess.(interface{ Restart(context.Context) error }); ok {
		if err := rs.Restart(ctx); errors.Is(err, whip.ErrRestartUnsupported) || errors.Is(err, whip.ErrRejoin) {
			fmt.Println("rejoin:", err)
			return
		}
	}

	var packet []byte // from the Opus encoder, 20 ms each
	if err := sess.WriteOpus(packet, 20*time.Millisecond); err != nil && !errors.Is(err, room.ErrNotConnected) {
		fmt.Println("write:", err)
	}
}

// New checks the configuration without touching the network.
func ExampleNew() {
	_, err := whip.New(room.Config{URL: "ws://127.0.0.1:7880"}, whip.Options{Channels: 3}, slog.Default())
	fmt.Println(err)
	// Output:
	// url: scheme "ws" is not http or https
	// channels: 3 is not 1 or 2
}
