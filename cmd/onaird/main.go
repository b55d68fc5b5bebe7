// Command onaird is the onair appliance daemon: it reads the config, opens
// the board, and keeps the device in its voice room. main only parses flags
// and calls run; signals cancel the root context there and only there.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"

	"github.com/onair-gateway/onair/provisioning"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitConfig  = 2
)

type options struct {
	config      string
	checkConfig bool
	version     bool
	logFormat   string
	logLevel    string
}

func main() {
	os.Exit(mainErr(os.Args[1:], os.Stdout, os.Stderr))
}

func mainErr(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("onaird", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.config, "config", "/etc/onair/onair.yaml", "config file (YAML, or JSON by extension)")
	fs.BoolVar(&o.checkConfig, "check-config", false, "validate the config, print every problem, exit 2 if any")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.StringVar(&o.logFormat, "log-format", "", "text or json (default: text on a terminal, json otherwise)")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: onaird [flags]\n\nonaird keeps an onair device in its voice room.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitConfig
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "onaird: unexpected argument %q\n", fs.Arg(0))
		return exitConfig
	}
	if o.version {
		fmt.Fprintf(stdout, "onaird %s\n", version)
		return exitOK
	}
	// Bad logging flags fail -check-config too: the unit would not start.
	log, err := newLogger(o.logFormat, o.logLevel, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "onaird: %v\n", err)
		return exitConfig
	}
	if o.checkConfig {
		return checkConfig(o.config, stdout, stderr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, log); err != nil {
		log.Error("onaird stopped", "err", err)
		var ce *configError
		if errors.As(err, &ce) {
			return exitConfig
		}
		return exitFailure
	}
	return exitOK
}

// checkConfig validates a config file and prints every problem, one per
// line. Secrets never appear: the decoder redacts them.
func checkConfig(path string, stdout, stderr io.Writer) int {
	r, err := provisioning.Load(path)
	if err != nil && !errors.Is(err, provisioning.ErrInvalid) {
		fmt.Fprintf(stderr, "%s: cannot %v\n", path, err)
		return exitConfig
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: invalid config:\n", path)
		for _, p := range provisioning.Problems(err) {
			fmt.Fprintf(stderr, "  %v\n", p)
		}
		return exitConfig
	}
	for _, w := range provisioning.Warnings(path, r) {
		fmt.Fprintf(stderr, "%s: warning: %s\n", path, w)
	}
	if errs := provisioning.Preflight(r); len(errs) > 0 {
		fmt.Fprintf(stderr, "%s: valid, but not usable on this machine:\n", path)
		for _, e := range errs {
			fmt.Fprintf(stderr, "  %v\n", e)
		}
		return exitConfig
	}
	fmt.Fprintf(stdout, "%s: ok (board %s, %d ch %s @ %d Hz, room %q via %s)\n", path,
		r.Board.Profile, r.Audio.Capture.Channels, r.Audio.Capture.Format, r.Audio.Capture.Rate, r.Room.Room, r.Room.Backend)
	return exitOK
}

// newLogger builds the process logger: text on a terminal, JSON under
// systemd (JOURNAL_STREAM set) or when stderr is not a terminal.
func newLogger(format, level string, w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level: %q is not debug, info, warn or error", level)
	}
	if format == "" {
		format = "json"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) && os.Getenv("JOURNAL_STREAM") == "" {
			format = "text"
		}
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("-log-format: %q is not text or json", format)
}

// configError marks a failure caused by the config, so main exits 2.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }
