package fleet

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/onair-gateway/onair/provisioning/mqtt/fleet/fleettest"
	"github.com/onair-gateway/onair/provisioning/mqtt/mqtttest"
)

// BenchmarkProvision500 is one provision to 500 stand-in devices on one
// mosquitto, from publishing to the last result: by list, and with All
// (which adds the discovery and its settle time).
func BenchmarkProvision500(b *testing.B) {
	const n = 500
	br := mqtttest.Start(b)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("dev%03d", i)
		fleettest.Start(b, fleettest.Config{Broker: br.URL(), ID: ids[i]})
	}
	c, err := Connect(b.Context(), Options{Broker: br.URL()}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	patch := json.RawMessage(`{"audio":{"gain_db":3}}`)
	for _, tc := range []struct {
		name   string
		target Target
	}{
		{"list", Target{IDs: ids}},
		{"all", Target{All: true, Settle: DefaultSettle}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				res, err := c.Provision(b.Context(), tc.target, patch, ProvisionOptions{Timeout: 30 * time.Second})
				if err != nil {
					b.Fatal(err)
				}
				ok := 0
				for _, r := range res {
					if r.OK() {
						ok++
					}
				}
				if ok != n {
					b.Fatalf("%d of %d devices applied the patch", ok, n)
				}
			}
		})
	}
}
