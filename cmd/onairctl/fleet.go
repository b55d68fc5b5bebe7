package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/net/e2ee"
	"github.com/onair-gateway/onair/provisioning/mqtt"
	"github.com/onair-gateway/onair/provisioning/mqtt/fleet"
)

// The fleet subcommands (watch, provision, cmd, token) parse flags and
// print; provisioning/mqtt/fleet does the MQTT.

// brokerFlags are the connection flags every fleet subcommand takes.
type brokerFlags struct {
	o        fleet.Options
	password string
}

func addBrokerFlags(fs *flag.FlagSet) *brokerFlags {
	b := &brokerFlags{}
	fs.StringVar(&b.o.Broker, "broker", "tcp://localhost:1883", "broker URL: tcp:// or mqtt:// (plain), ssl:// or mqtts:// (TLS)")
	fs.StringVar(&b.o.CAFile, "ca", "", "CA certificate (PEM) that verifies the broker (default: the system's)")
	fs.StringVar(&b.o.CertFile, "cert", "", "client certificate (PEM) for mutual TLS")
	fs.StringVar(&b.o.KeyFile, "key", "", "client key (PEM) for -cert")
	fs.StringVar(&b.o.Username, "username", "", "broker user name")
	fs.StringVar(&b.password, "password", "", "broker password (default: $ONAIR_MQTT_PASSWORD; the environment keeps it out of ps)")
	fs.StringVar(&b.o.ClientID, "client-id", "", "MQTT client id (default: onairctl- and random digits)")
	fs.StringVar(&b.o.Prefix, "prefix", fleet.DefaultPrefix, "the devices' mqtt.topic_prefix")
	return b
}

// options returns the validated connection options.
func (b *brokerFlags) options() (fleet.Options, error) {
	if b.password == "" {
		b.password = os.Getenv("ONAIR_MQTT_PASSWORD")
	}
	b.o.Password = conf.Secret(b.password)
	if err := b.o.Validate(); err != nil {
		return b.o, &usageError{err.Error()}
	}
	return b.o, nil
}

// targetFlags are -device and -all.
type targetFlags struct {
	devices string
	all     bool
	settle  time.Duration
}

func addTargetFlags(fs *flag.FlagSet) *targetFlags {
	t := &targetFlags{}
	fs.StringVar(&t.devices, "device", "", "device id, or a comma-separated list")
	fs.BoolVar(&t.all, "all", false, "every device with a retained status under -prefix")
	fs.DurationVar(&t.settle, "settle", fleet.DefaultSettle, "with -all: quiet time that ends the broker's burst of retained messages")
	return t
}

// fleetArgs turns the broker and device flags of a command that addresses
// devices into fleet options and a target.
func fleetArgs(bf *brokerFlags, tf *targetFlags) (fleet.Options, fleet.Target, error) {
	o, err := bf.options()
	if err != nil {
		return o, fleet.Target{}, err
	}
	tg, err := tf.target()
	return o, tg, err
}

func (t *targetFlags) target() (fleet.Target, error) {
	var tg fleet.Target
	if t.devices != "" {
		for _, id := range strings.Split(t.devices, ",") {
			tg.IDs = append(tg.IDs, strings.TrimSpace(id))
		}
	}
	tg.All, tg.Settle = t.all, t.settle
	if err := tg.Validate(); err != nil {
		return tg, &usageError{err.Error()}
	}
	if t.settle <= 0 {
		return tg, &usageError{"-settle must be positive"}
	}
	return tg, nil
}

func connectFleet(ctx context.Context, o fleet.Options) (*fleet.Client, error) {
	return fleet.Connect(ctx, o, nil, nil)
}

// runWatch implements `onairctl watch`.
func runWatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("watch", stderr)
	bf := addBrokerFlags(fs)
	once := fs.Bool("once", false, "print one snapshot after the broker's retained burst, and exit")
	asJSON := fs.Bool("json", false, "print JSON: with -once an array of devices, else one device per line as it changes")
	settle := fs.Duration("settle", fleet.DefaultSettle, "with -once: quiet time that ends the broker's burst of retained messages")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: onairctl watch [-once] [-json] [-broker URL] [flags]\n\n"+
			"Shows every device under -prefix: id, name, status, state, room, on air, level, loss, RTT,\n"+
			"version and when it was last heard, refreshed as state arrives.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	o, err := bf.options()
	if err != nil {
		return err
	}
	if *settle <= 0 {
		return &usageError{"-settle must be positive"}
	}
	c, err := connectFleet(ctx, o)
	if err != nil {
		return err
	}
	defer c.Close()
	if *once {
		tab, err := c.Snapshot(ctx, *settle)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(stdout, tab.Devices())
		}
		return writeTable(stdout, tab.Devices())
	}
	f, ok := stdout.(*os.File)
	tty := ok && term.IsTerminal(int(f.Fd())) && !*asJSON
	switch {
	case tty:
		fmt.Fprint(stdout, "\x1b[2J")
	case !*asJSON:
		fmt.Fprintln(stdout, tableHeader)
	}
	err = c.Watch(ctx, func(changed []string, tab *fleet.Table) {
		switch {
		case tty:
			// Redrawn in place without flicker: home, each line cleared
			// to its end, then the rest of the screen.
			var b strings.Builder
			_ = writeTable(&b, tab.Devices())
			fmt.Fprint(stdout, "\x1b[H"+strings.ReplaceAll(b.String(), "\n", "\x1b[K\n")+"\x1b[J")
		default:
			for _, id := range changed {
				d, _ := tab.Device(id)
				if *asJSON {
					b, _ := json.Marshal(d)
					fmt.Fprintf(stdout, "%s\n", b)
				} else {
					fmt.Fprintln(stdout, tableRow(d))
				}
			}
		}
	})
	return err
}

const tableHeader = "ID\tNAME\tSTATUS\tSTATE\tROOM\tON AIR\tLEVEL\tLOSS\tRTT\tVERSION\tSEEN"

// tableRow is one device as tab-separated cells.
func tableRow(d fleet.Device) string {
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	onAir := "no"
	if d.OnAir {
		onAir = "yes"
	}
	if d.Muted {
		onAir += " (muted)"
	}
	level, loss, rtt := "-", "-", "-"
	if d.State != "" {
		level = fmt.Sprintf("%.1f dBFS", d.LevelDBFS)
		loss = fmt.Sprintf("%.1f%%", 100*d.Loss)
		if d.RTT > 0 {
			rtt = d.RTT.Round(time.Millisecond).String()
		}
	}
	state := dash(d.State)
	if d.Reason != "" {
		state += " (" + d.Reason + ")"
	}
	return strings.Join([]string{d.ID, dash(d.Name), dash(d.Status), state, dash(d.Room), onAir, level, loss, rtt,
		dash(d.Version), d.LastSeen.Format("15:04:05")}, "\t")
}

func writeTable(w io.Writer, devs []fleet.Device) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, tableHeader)
	for _, d := range devs {
		fmt.Fprintln(tw, tableRow(d))
	}
	if len(devs) == 0 {
		fmt.Fprintln(tw, "(no device)")
	}
	return tw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// runProvision implements `onairctl provision`.
func runProvision(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("provision", stderr)
	bf := addBrokerFlags(fs)
	tf := addTargetFlags(fs)
	set := fs.String("set", "", "the patch: a JSON (.json) or YAML file, merged onto each device's config (RFC 7396)")
	timeout := fs.Duration("timeout", fleet.DefaultTimeout, "how long each device has to answer")
	var version *int64
	fs.Func("version", "config version to set; a device whose version is not below it refuses the patch as stale", func(s string) error {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 1 {
			return fmt.Errorf("%q is not a positive integer", s)
		}
		version = &v
		return nil
	})
	force := fs.Bool("force", false, "allow a patch that changes how the devices reach the broker")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: onairctl provision (-device ID[,ID...] | -all) -set patch.json|patch.yaml [flags]\n\n"+
			"Pushes a config patch to each device, waits for each result, prints every refusal with its\n"+
			"config paths, and exits 1 if any device refused or did not answer within -timeout.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	o, tg, err := fleetArgs(bf, tf)
	if err != nil {
		return err
	}
	if *set == "" {
		return &usageError{"-set: required (a JSON or YAML patch file)"}
	}
	if *timeout <= 0 {
		return &usageError{"-timeout must be positive"}
	}
	patch, err := fleet.ReadPatch(*set)
	if err != nil {
		return &usageError{err.Error()}
	}
	c, err := connectFleet(ctx, o)
	if err != nil {
		return err
	}
	defer c.Close()
	res, err := c.Provision(ctx, tg, patch, fleet.ProvisionOptions{Version: version, Force: *force, Timeout: *timeout})
	if err != nil {
		return err
	}
	failed := 0
	for _, r := range res {
		if !r.OK() {
			failed++
		}
		printProvision(stdout, r)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d devices did not apply the patch", failed, len(res))
	}
	return nil
}

func printProvision(w io.Writer, r fleet.ProvisionResult) {
	switch {
	case r.Err != nil:
		fmt.Fprintf(w, "%s: %v\n", r.Device, r.Err)
	case r.Result.OK:
		applied := "nothing restarted"
		if len(r.Result.Applied) > 0 {
			applied = "restarted " + strings.Join(r.Result.Applied, ", ")
		}
		fmt.Fprintf(w, "%s: ok, config version %d, %s\n", r.Device, r.Result.Version, applied)
	default:
		fmt.Fprintf(w, "%s: refused (config version %d unchanged)\n", r.Device, r.Result.Version)
		printFieldErrors(w, r.Result.Errors)
	}
}

func printFieldErrors(w io.Writer, errs []mqtt.FieldError) {
	for _, e := range errs {
		path := e.Path
		if path == "" {
			path = "(request)"
		}
		fmt.Fprintf(w, "  %s: %s\n", path, e.Message)
	}
}

// runCmd implements `onairctl cmd`.
func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("cmd", stderr)
	bf := addBrokerFlags(fs)
	tf := addTargetFlags(fs)
	timeout := fs.Duration("timeout", fleet.DefaultTimeout, "how long each device has to answer")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: onairctl cmd (-device ID[,ID...] | -all) [flags] COMMAND [ARGS]\n\n"+
			"Commands: onair on|off, mute on|off, identify, join, leave, restart,\n"+
			"rotate_key -index N (-passphrase P | -key BASE64; default: $ONAIR_E2EE_PASSPHRASE or $ONAIR_E2EE_KEY).\n"+
			"Sends the command, waits for each device's result, exits 1 if any failed or did not answer.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{err.Error()}
	}
	o, tg, err := fleetArgs(bf, tf)
	if err != nil {
		return err
	}
	if *timeout <= 0 {
		return &usageError{"-timeout must be positive"}
	}
	if fs.NArg() == 0 {
		return &usageError{"a command is required: " + strings.Join(mqtt.Commands, ", ")}
	}
	name := fs.Arg(0)
	cmdArgs, err := commandArgs(name, fs.Args()[1:], stderr)
	if err != nil {
		return err
	}
	c, err := connectFleet(ctx, o)
	if err != nil {
		return err
	}
	defer c.Close()
	res, err := c.Command(ctx, tg, name, cmdArgs, *timeout)
	if err != nil {
		return err
	}
	failed := 0
	for _, r := range res {
		switch {
		case r.Err != nil:
			failed++
			fmt.Fprintf(stdout, "%s: %s: %v\n", r.Device, name, r.Err)
		case r.Result.OK:
			fmt.Fprintf(stdout, "%s: %s ok\n", r.Device, name)
		default:
			failed++
			fmt.Fprintf(stdout, "%s: %s failed: %s\n", r.Device, name, r.Result.Error)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%s failed on %d of %d devices", name, failed, len(res))
	}
	return nil
}

// commandArgs turns a command's words into its payload arguments.
func commandArgs(name string, args []string, stderr io.Writer) (map[string]any, error) {
	switch name {
	case mqtt.CmdOnAir, mqtt.CmdMute:
		if len(args) != 1 {
			return nil, &usageError{fmt.Sprintf("%s takes one argument, on or off", name)}
		}
		switch strings.ToLower(args[0]) {
		case "on", "true", "1", "yes":
			return map[string]any{"on": true}, nil
		case "off", "false", "0", "no":
			return map[string]any{"on": false}, nil
		}
		return nil, &usageError{fmt.Sprintf("%s %q: want on or off", name, args[0])}
	case mqtt.CmdIdentify, mqtt.CmdJoin, mqtt.CmdLeave, mqtt.CmdRestart:
		if len(args) > 0 {
			return nil, &usageError{fmt.Sprintf("%s takes no argument, got %q", name, args[0])}
		}
		return nil, nil
	case mqtt.CmdRotateKey:
		return rotateKeyArgs(args, stderr)
	}
	return nil, &usageError{fmt.Sprintf("unknown command %q: want one of %s", name, strings.Join(mqtt.Commands, ", "))}
}

func rotateKeyArgs(args []string, stderr io.Writer) (map[string]any, error) {
	fs := newFlags("cmd rotate_key", stderr)
	index := fs.Int("index", -1, "key index 0..255 of the new key (required)")
	passphrase := fs.String("passphrase", "", "the new room passphrase (default: $ONAIR_E2EE_PASSPHRASE)")
	key := fs.String("key", "", "the new raw 16-byte key, base64 (default: $ONAIR_E2EE_KEY)")
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	if *passphrase == "" && *key == "" {
		*passphrase, *key = os.Getenv("ONAIR_E2EE_PASSPHRASE"), os.Getenv("ONAIR_E2EE_KEY")
	}
	if *index < 0 {
		return nil, &usageError{"rotate_key: -index is required (0..255)"}
	}
	if *passphrase == "" && *key == "" {
		return nil, &usageError{"rotate_key: -passphrase or -key is required"}
	}
	c := e2ee.Config{Passphrase: conf.Secret(*passphrase), Key: conf.Secret(*key), KeyIndex: *index}
	if err := c.Validate(); err != nil {
		flags := map[string]string{"key": "-key", "passphrase": "-passphrase", "key_index": "-index"}
		var msgs []string
		for _, e := range conf.Flatten(err) {
			var fe *conf.FieldError
			if errors.As(e, &fe) && flags[fe.Path] != "" {
				msgs = append(msgs, flags[fe.Path]+": "+fe.Msg)
			} else {
				msgs = append(msgs, e.Error())
			}
		}
		return nil, &usageError{"rotate_key: " + strings.Join(msgs, "; ")}
	}
	a := map[string]any{"index": *index}
	if *passphrase != "" {
		a["passphrase"] = *passphrase
	} else {
		a["key"] = *key
	}
	return a, nil
}

// runToken implements `onairctl token`.
func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("token", stderr)
	bf := addBrokerFlags(fs)
	tf := addTargetFlags(fs)
	var secret string
	var to fleet.TokenOptions
	fs.StringVar(&to.APIKey, "api-key", "", "LiveKit API key that signs the tokens")
	fs.StringVar(&secret, "api-secret", "", "LiveKit API secret (default: $ONAIR_API_SECRET; the environment keeps it out of ps)")
	fs.DurationVar(&to.TTL, "ttl", 6*time.Hour, "token lifetime, 1m..24h")
	fs.StringVar(&to.Room, "room", "", "room to grant (default: room.room of each device's retained config)")
	fs.BoolVar(&to.Refresh, "refresh", false, "keep pushing a fresh token at 2/3 of -ttl until interrupted")
	fs.DurationVar(&to.Timeout, "timeout", fleet.DefaultTimeout, "how long each device has to answer a push")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: onairctl token (-device ID[,ID...] | -all) -api-key K -api-secret S [-ttl 6h] [-room R] [-refresh] [flags]\n\n"+
			"Mints a LiveKit join token per device (identity: the device id) and pushes it as a room.token\n"+
			"patch, so devices never hold the API secret. With -refresh it keeps doing so before expiry.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	o, tg, err := fleetArgs(bf, tf)
	if err != nil {
		return err
	}
	if secret == "" {
		secret = os.Getenv("ONAIR_API_SECRET")
	}
	to.APISecret, to.Settle = conf.Secret(secret), tf.settle
	if err := to.Validate(); err != nil {
		return &usageError{err.Error()}
	}
	if to.Timeout <= 0 {
		return &usageError{"-timeout must be positive"}
	}
	c, err := connectFleet(ctx, o)
	if err != nil {
		return err
	}
	defer c.Close()
	failed, total := 0, 0
	err = c.Token(ctx, tg, to, func(pushes []fleet.TokenPush) {
		for _, p := range pushes {
			total++
			if !p.OK() {
				failed++
			}
			printToken(stdout, p)
		}
	})
	if err != nil {
		return err
	}
	if !to.Refresh && failed > 0 {
		return fmt.Errorf("%d of %d devices did not take the token", failed, total)
	}
	return nil
}

func printToken(w io.Writer, p fleet.TokenPush) {
	r := p.Result
	switch {
	case r.Err != nil:
		fmt.Fprintf(w, "%s: token not pushed: %v\n", p.Device, r.Err)
	case !r.Result.OK:
		fmt.Fprintf(w, "%s: token for room %s refused\n", p.Device, p.Room)
		printFieldErrors(w, r.Result.Errors)
	default:
		fmt.Fprintf(w, "%s: token for room %s, valid until %s, applied (config version %d)\n",
			p.Device, p.Room, p.Expires.UTC().Format(time.RFC3339), r.Result.Version)
	}
	if !p.Next.IsZero() {
		fmt.Fprintf(w, "%s: next token at %s\n", p.Device, p.Next.UTC().Format(time.RFC3339))
	}
}
