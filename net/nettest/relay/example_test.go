package relay_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/onair-gateway/onair/net/nettest/relay"
	"github.com/onair-gateway/onair/net/room"
)

// A relay losing 10% of packets with 30 ms of jitter, and the room config
// that sends a device through it over TCP only.
func Example() {
	r, err := relay.Start(relay.Config{Faults: relay.Faults{Loss: 0.1, Jitter: 30 * time.Millisecond}, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	cfg := room.Config{
		ICEServers:         []room.ICEServer{r.ICEServer(r.TCPURL())},
		ICETransportPolicy: room.ICERelay,
	}
	fmt.Println(r.Faults())
	fmt.Println(strings.HasSuffix(cfg.ICEServers[0].URLs[0], "?transport=tcp"), cfg.ICEServers[0].Credential)
	fmt.Println(r.Stats().Allocations)
	// Output:
	// loss 10% jitter 30ms
	// true <redacted>
	// 0
}
