package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/onair-gateway/onair/gateway"
	"github.com/onair-gateway/onair/httpapi"
	"github.com/onair-gateway/onair/net/livekit"
	"github.com/onair-gateway/onair/provisioning"
)

// run loads the config and runs the gateway until ctx is cancelled. SIGHUP
// reloads the config file: a bad file is rejected with every problem logged,
// and the device keeps running on the last good config.
func run(ctx context.Context, o options, log *slog.Logger) error {
	// Catch SIGHUP before anything else: its default action kills.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	r, err := provisioning.Load(o.config)
	if err != nil {
		for _, p := range provisioning.Problems(err) {
			log.Error("config problem", "file", o.config, "problem", p.Error())
		}
		return &configError{err}
	}
	for _, w := range provisioning.Warnings(o.config, r) {
		log.Warn("config", "file", o.config, "advice", w)
	}
	// The LiveKit SDK and pion log through a process-wide logger; route it
	// into ours (demoted: their info is our debug).
	livekit.SetSDKLogger(log)
	hw := gateway.NewHardware(r, log)
	g, err := gateway.New(r, gateway.Options{Hardware: hw, Log: log})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// Cancel first, then wait: the goroutines below end on ctx.
	defer func() { cancel(); wg.Wait() }()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				reload(ctx, g, o.config, log)
			}
		}
	}()
	// A terminal can press the buttons of hardware that takes presses by
	// command (the simulated board).
	if _, ok := hw.(gateway.Presser); ok && *r.Board.Sim.Keyboard {
		if kb, err := newKeyboard(os.Stdin, g, log); err == nil {
			wg.Add(1)
			go func() { defer wg.Done(); kb.run(ctx, cancel) }()
			defer kb.restore()
		} else {
			log.Info("keyboard unavailable", "reason", err.Error())
		}
	}
	if r.HTTP.Listen != "" {
		srv, err := httpapi.Start(httpapi.Config{Addr: r.HTTP.Listen}, g, log)
		if err != nil {
			return &configError{err}
		}
		defer srv.Close()
	}
	return g.Run(ctx)
}

func reload(ctx context.Context, g *gateway.Gateway, path string, log *slog.Logger) {
	r, err := provisioning.LoadContext(ctx, path) // SIGTERM wins over a slow decode
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		for _, p := range provisioning.Problems(err) {
			log.Error("reload rejected; still running on the last good config", "file", path, "problem", p.Error())
		}
		return
	}
	// The same advice as at start: a reload can drop the e2ee key or
	// loosen the file's mode as easily as a first start.
	for _, w := range provisioning.Warnings(path, r) {
		log.Warn("config", "file", path, "advice", w)
	}
	if err := g.Apply(ctx, r); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("reload failed; still running on the last good config", "file", path, "err", err)
		return
	}
	log.Info("config reloaded", "file", path)
}
