package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/net/nettest/relay"
	"github.com/onair-gateway/onair/net/room"
)

// fraction is a probability flag: "10%" or "0.1".
type fraction struct{ p *float64 }

func (f fraction) String() string {
	if f.p == nil {
		return "0"
	}
	return strconv.FormatFloat(*f.p*100, 'g', -1, 64) + "%"
}

func (f fraction) Set(s string) error {
	v, err := parseFraction(s)
	if err != nil {
		return err
	}
	*f.p = v
	return nil
}

func parseFraction(s string) (float64, error) {
	pct := strings.HasSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a fraction (0.1) or a percentage (10%%)", s)
	}
	if pct {
		v /= 100
	}
	if v < 0 || v > 1 {
		return 0, fmt.Errorf("%q is not between 0 and 100%%", s)
	}
	return v, nil
}

// bitrate is a bits-per-second flag: "64000", "64k", "1.5M".
type bitrate struct{ v *int64 }

func (b bitrate) String() string {
	if b.v == nil {
		return "0"
	}
	return strconv.FormatInt(*b.v, 10)
}

func (b bitrate) Set(s string) error {
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1e3, strings.TrimSuffix(s, "k")
	case strings.HasSuffix(s, "M"):
		mult, s = 1e6, strings.TrimSuffix(s, "M")
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 {
		return fmt.Errorf("%q is not a bit rate (64000, 64k, 1.5M)", s)
	}
	*b.v = int64(v * mult)
	return nil
}

type relayOpts struct {
	cfg   relay.Config
	every time.Duration
}

func parseRelay(args []string, stderr io.Writer) (relayOpts, error) {
	var o relayOpts
	fs := newFlags("relay", stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: onairctl relay [flags]\n\n"+
			"Run a TURN relay (UDP and TCP on one port) whose relayed packets meet loss,\n"+
			"burst loss, delay with jitter, reordering and a bandwidth cap, seeded so a run\n"+
			"repeats. It prints the room config that sends a device through it, then a\n"+
			"line of counters every -stats until interrupted.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	f := &o.cfg.Faults
	var pass string
	fs.StringVar(&o.cfg.IP, "ip", "127.0.0.1", "`address` to listen on and relay from")
	fs.IntVar(&o.cfg.Port, "port", 3478, "UDP and TCP `port` (0: any free port)")
	fs.StringVar(&o.cfg.RelayIP, "relay-ip", "", "`address` given out as the relayed address (default: -ip)")
	fs.StringVar(&o.cfg.Username, "user", "onair", "TURN `username`")
	fs.StringVar(&pass, "pass", "onair-relay", "TURN `password`")
	fs.Var(fraction{&f.Loss}, "loss", "random loss, each packet independently (10% or 0.1)")
	fs.Var(fraction{&f.BurstLoss}, "burst-loss", "long-run loss in Gilbert-Elliott bursts (at most 90%)")
	fs.Float64Var(&f.BurstLen, "burst-len", 3, "mean burst length in `packets`")
	fs.DurationVar(&f.Delay, "delay", 0, "one-way `delay` added to every packet")
	fs.DurationVar(&f.Jitter, "jitter", 0, "extra delay, uniform in [0, `jitter`) (reorders packets closer than that)")
	fs.Var(fraction{&f.Reorder}, "reorder", "share of packets held back behind the next one")
	fs.Var(bitrate{&f.RateBps}, "rate", "bandwidth cap per direction in bits/s (64k, 1.5M; 0: none)")
	fs.DurationVar(&f.QueueLimit, "queue", 200*time.Millisecond, "longest wait in the bandwidth cap's queue before a packet is dropped")
	fs.Uint64Var(&o.cfg.Seed, "seed", 1, "random `seed`: the same seed repeats a run")
	fs.DurationVar(&o.every, "stats", 5*time.Second, "`interval` between counter lines (0: none)")
	if err := parse(fs, args); err != nil {
		return o, err
	}
	o.cfg.Password = conf.Secret(pass)
	if f.BurstLoss == 0 {
		f.BurstLen = 0
	}
	if f.RateBps == 0 {
		f.QueueLimit = 0
	}
	o.cfg.SetDefaults()
	if err := o.cfg.Validate(); err != nil {
		return o, &usageError{err.Error()}
	}
	if o.every < 0 {
		return o, &usageError{fmt.Sprintf("-stats %v is negative", o.every)}
	}
	return o, nil
}

// relaySnippet is the room config that forces a device through r, with the
// credential in clear so it can be pasted.
func relaySnippet(r *relay.Relay) ([]byte, error) {
	s := r.ICEServer()
	type server struct {
		URLs       []string `yaml:"urls"`
		Username   string   `yaml:"username"`
		Credential string   `yaml:"credential"`
	}
	type roomPart struct {
		ICEServers []server                `yaml:"ice_servers"`
		Policy     room.ICETransportPolicy `yaml:"ice_transport_policy"`
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	err := enc.Encode(map[string]roomPart{"room": {
		ICEServers: []server{{URLs: s.URLs, Username: s.Username, Credential: s.Credential.Reveal()}},
		Policy:     room.ICERelay,
	}})
	return b.Bytes(), err
}

func runRelay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseRelay(args, stderr)
	if err != nil {
		return err
	}
	o.cfg.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	r, err := relay.Start(o.cfg)
	if err != nil {
		return err
	}
	defer r.Close()
	snippet, err := relaySnippet(r)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "# TURN relay on %s (udp) and %s (tcp), seed %d, faults: %v\n# Paste into the device's config (or drop the tcp URL to keep it on UDP):\n%s",
		r.UDPAddr(), r.TCPAddr(), o.cfg.Seed, r.Faults(), snippet)
	var tick <-chan time.Time
	if o.every > 0 {
		t := time.NewTicker(o.every)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			printRelayStats(stdout, r.Stats())
			return nil
		case <-tick:
			printRelayStats(stdout, r.Stats())
		}
	}
}

func printRelayStats(w io.Writer, s relay.Stats) {
	line := func(name string, l relay.LinkStats) string {
		return fmt.Sprintf("%s in %d out %d lost %d burst %d overflow %d reordered %d", name, l.In, l.Out, l.Lost, l.BurstLost, l.Overflow, l.Reordered)
	}
	fmt.Fprintf(w, "allocations %d | %s | %s\n", s.Allocations, line("to peer:", s.ToPeer), line("from peer:", s.FromPeer))
}
