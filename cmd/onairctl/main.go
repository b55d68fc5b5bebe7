// Command onairctl is the operator's tool for onair devices: it listens to a
// room the way a participant hears it, encodes a WAV file through a board's
// speak path, and checks or shows configs. main only dispatches to
// subcommands; each parses its own flags and returns an error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

var version = "dev"

// usageError marks a command-line mistake: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// configError marks an invalid or unusable config file: exit code 2, as
// onaird -check-config.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"listen":  {"join a room as a listener and show, per participant, level, loss, jitter and latency", runListen},
		"encode":  {"run a board's speak path on a WAV file and write Ogg Opus", runEncode},
		"config":  {"check a config file, or show it with defaults applied (secrets redacted)", runConfig},
		"version": {"print the version", runVersion},

		// The MQTT fleet commands (fleet.go).
		"watch":     {"show every device under an MQTT prefix, live or as one snapshot", runWatch},
		"provision": {"push a config patch to devices over MQTT and collect each result", runProvision},
		"cmd":       {"send a command (mute, onair, identify, ...) to devices over MQTT", runCmd},
		"token":     {"mint LiveKit join tokens for devices and push them over MQTT", runToken},

		"relay": {"run a TURN relay with loss, jitter and a bandwidth cap, to test a device on a hard network", runRelay},
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: onairctl <command> [flags]\n\nCommands:\n")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintf(w, "\nRun onairctl <command> -h for a command's flags.\n")
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := mainErr(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func mainErr(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "-version" || args[0] == "--version" {
		args[0] = "version"
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "onairctl: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	err := cmd.run(ctx, args[1:], stdout, stderr)
	var ue *usageError
	var ce *configError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue), errors.As(err, &ce):
		fmt.Fprintf(stderr, "onairctl %s: %v\n", args[0], err)
		return 2
	}
	fmt.Fprintf(stderr, "onairctl %s: %v\n", args[0], err)
	return 1
}

func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) error {
	fmt.Fprintf(stdout, "onairctl %s\n", version)
	return nil
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("onairctl "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses args and turns a flag error into a usageError.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}
