package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/onair-gateway/onair/gateway"
	"github.com/onair-gateway/onair/gateway/provision"
	"github.com/onair-gateway/onair/httpapi"
	"github.com/onair-gateway/onair/net/livekit"
	"github.com/onair-gateway/onair/provisioning"
	"github.com/onair-gateway/onair/provisioning/store"
)

// run loads the config (the file, with the provisioned patch stored under
// device.state_dir over it) and runs the gateway until ctx is cancelled.
// SIGHUP reloads both: a bad file is rejected with every problem logged, and
// the device keeps running on the last good config. With mqtt.broker set,
// the MQTT agent provisions and reports the device.
func run(ctx context.Context, o options, log *slog.Logger) error {
	// Catch SIGHUP before anything else: its default action kills.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	file, err := provisioning.Load(o.config)
	if err != nil {
		for _, p := range provisioning.Problems(err) {
			log.Error("config problem", "file", o.config, "problem", p.Error())
		}
		return &configError{err}
	}
	mgr, err := provision.Load(provision.Options{Path: o.config, Store: openStore(file, log), Log: log.With("component", "provision")})
	if err != nil {
		return &configError{err}
	}
	r, _ := mgr.Running()
	for _, w := range provisioning.Warnings(o.config, r) {
		log.Warn("config", "file", o.config, "advice", w)
	}
	// The LiveKit SDK and pion log through a process-wide logger; route it
	// into ours (demoted: their info is our debug).
	livekit.SetSDKLogger(log)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// Cancel first, then wait: the goroutines below end on ctx.
	defer func() { cancel(); wg.Wait() }()
	hw := gateway.NewHardware(r, log)
	g, err := gateway.New(r, gateway.Options{Hardware: hw, Log: log, Forget: func() error { return mgr.Forget(ctx) }})
	if err != nil {
		return err
	}
	mgr.Attach(g)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				reload(ctx, mgr, o.config, log)
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
	dev := provision.NewDevice(mgr, g, version, nil)
	agent, err := startMQTT(ctx, &wg, r, dev, log)
	if err != nil {
		return &configError{err}
	}
	var extra []prometheus.Collector
	if agent != nil {
		mgr.SetOnRollback(agent.PublishConfigResult)
		extra = append(extra, agent.Collector())
	}
	if r.HTTP.Listen != "" {
		// The web page goes through dev, as the MQTT agent does: the same
		// commands, and config changes through the Manager.
		srv, err := httpapi.Start(httpapi.Config{Addr: r.HTTP.Listen, Collectors: extra, Device: dev,
			TLSCert: r.HTTP.TLSCert, TLSKey: r.HTTP.TLSKey}, g, log)
		if err != nil {
			return &configError{err}
		}
		defer srv.Close()
	}
	return g.Run(ctx)
}

// openStore opens the provisioned-config store under device.state_dir:
// always when MQTT can provision the device (creating the directory), and
// otherwise only if the directory exists, so a stored patch still applies
// after MQTT is turned off. A store that cannot open is logged; the device
// then runs its file alone and refuses patches.
func openStore(r *provisioning.Resolved, log *slog.Logger) *store.Store {
	dir := r.Device.StateDir
	if r.MQTT.Broker == "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return nil
		}
	}
	s, err := store.Open(dir)
	if err != nil {
		log.Error("provisioned config unavailable: cannot open device.state_dir; config patches will be refused", "dir", dir, "err", err)
		return nil
	}
	return s
}

func reload(ctx context.Context, mgr *provision.Manager, path string, log *slog.Logger) {
	r, err := mgr.Reload(ctx) // SIGTERM wins over a slow decode
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		if !errors.Is(err, provision.ErrNotApplied) {
			for _, p := range provisioning.Problems(err) {
				log.Error("reload rejected; still running on the last good config", "file", path, "problem", p.Error())
			}
			return
		}
		log.Error("reload failed; still running on the last good config", "file", path, "err", err)
		return
	}
	// The same advice as at start: a reload can drop the e2ee key or
	// loosen the file's mode as easily as a first start.
	for _, w := range provisioning.Warnings(path, r) {
		log.Warn("config", "file", path, "advice", w)
	}
	log.Info("config reloaded", "file", path)
}
