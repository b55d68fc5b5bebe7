package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/provisioning"
)

// runConfig: onairctl config check|show -config FILE.
func runConfig(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "check" && args[0] != "show") {
		return &usageError{"want `config check -config FILE` or `config show -config FILE`"}
	}
	sub := args[0]
	fs := newFlags("config "+sub, stderr)
	path := fs.String("config", "/etc/onair/onair.yaml", "config file")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	r, err := provisioning.Load(*path)
	if err != nil && !errors.Is(err, provisioning.ErrInvalid) {
		return &configError{fmt.Sprintf("%s: cannot %v", *path, err)}
	}
	if err != nil {
		for _, p := range provisioning.Problems(err) {
			fmt.Fprintf(stderr, "  %v\n", p)
		}
		return &configError{*path + ": invalid config"}
	}
	for _, w := range provisioning.Warnings(*path, r) {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if sub == "check" {
		if errs := provisioning.Preflight(r); len(errs) > 0 {
			for _, e := range errs {
				fmt.Fprintf(stderr, "  %v\n", e)
			}
			return &configError{*path + ": valid, but not usable on this machine"}
		}
		fmt.Fprintf(stdout, "%s: ok\n", *path)
		return nil
	}
	// Secrets marshal as [redacted]; URLs may carry credentials too.
	c := r.Config
	c.Room.URL, c.MQTT.Broker = conf.RedactURL(c.Room.URL), conf.RedactURL(c.MQTT.Broker)
	out, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	_, err = stdout.Write(out)
	return err
}
