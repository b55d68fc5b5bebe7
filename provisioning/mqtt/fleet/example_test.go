package fleet_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/provisioning/mqtt/fleet"
)

// Provision a gain change to every device and print each refusal.
func ExampleClient_Provision() {
	ctx := context.Background()
	c, err := fleet.Connect(ctx, fleet.Options{Broker: "mqtts://broker.lan", CAFile: "ca.pem",
		Username: "operator", Password: conf.Secret(os.Getenv("ONAIR_MQTT_PASSWORD"))}, nil, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	res, err := c.Provision(ctx, fleet.Target{All: true}, json.RawMessage(`{"audio":{"gain_db":3}}`), fleet.ProvisionOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range res {
		switch {
		case r.Err != nil:
			fmt.Println(r.Device, r.Err)
		case !r.Result.OK:
			for _, e := range r.Result.Errors {
				fmt.Println(r.Device, e.Path, e.Message)
			}
		}
	}
}

// Watch the fleet until the context ends.
func ExampleClient_Watch() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := fleet.Connect(ctx, fleet.Options{Broker: "tcp://localhost:1883"}, nil, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	_ = c.Watch(ctx, func(changed []string, t *fleet.Table) {
		for _, id := range changed {
			d, _ := t.Device(id)
			fmt.Println(d.ID, d.Status, d.State, d.Room)
		}
	})
}

// Keep one device supplied with join tokens, never giving it the secret.
func ExampleClient_Token() {
	ctx := context.Background()
	c, err := fleet.Connect(ctx, fleet.Options{Broker: "tcp://localhost:1883"}, nil, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	err = c.Token(ctx, fleet.Target{IDs: []string{"studio-a"}},
		fleet.TokenOptions{APIKey: "APIkey", APISecret: conf.Secret(os.Getenv("ONAIR_API_SECRET")), TTL: 6 * time.Hour, Refresh: true},
		func(pushes []fleet.TokenPush) {
			for _, p := range pushes {
				fmt.Println(p.Device, p.Room, p.OK(), p.Next)
			}
		})
	if err != nil {
		fmt.Println(err)
	}
}
