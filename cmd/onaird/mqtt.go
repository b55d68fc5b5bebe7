package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/onair-gateway/onair/audio/dsp"
	"github.com/onair-gateway/onair/gateway/provision"
	"github.com/onair-gateway/onair/provisioning"
	"github.com/onair-gateway/onair/provisioning/mqtt"
)

// defaultWatch is how often the state's discrete fields are compared for a change.
const defaultWatch = 100 * time.Millisecond

// startMQTT runs the MQTT agent for the config's mqtt section until ctx
// ends; it returns nil when no broker is set. The device runs whether or
// not the broker answers: the agent reconnects by itself.
func startMQTT(ctx context.Context, wg *sync.WaitGroup, r *provisioning.Resolved, dev *provision.Device, log *slog.Logger) (*mqtt.Agent, error) {
	if r.MQTT.Broker == "" {
		return nil, nil
	}
	info := mqtt.Info{Name: r.Device.Name, Board: r.Board.Profile, Version: version, HasDOA: r.Audio.Processing.Beam == dsp.BeamDOA}
	o, err := mqtt.OptionsFrom(r.MQTT, r.Device.ID, info)
	if err != nil {
		return nil, err
	}
	o.Logger = log
	a := mqtt.New(o, dev)
	wg.Add(2)
	go func() { defer wg.Done(); a.Run(ctx) }()
	go func() { defer wg.Done(); dev.Watch(ctx, defaultWatch) }()
	return a, nil
}
