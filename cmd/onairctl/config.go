package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/provisioning"
	"github.com/onair-gateway/onair/provisioning/store"
)

// runConfig: onairctl config check|show|forget -config FILE.
func runConfig(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "check" && args[0] != "show" && args[0] != "forget") {
		return &usageError{"want `config check -config FILE`, `config show -config FILE` or `config forget -config FILE`"}
	}
	sub := args[0]
	fs := newFlags("config "+sub, stderr)
	path := fs.String("config", "/etc/onair/onair.yaml", "config file")
	stateDir := fs.String("state-dir", "", "for forget: the state directory (default: the config's device.state_dir)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if sub == "forget" {
		return forget(*path, *stateDir, stdout)
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
	// Secrets marshal as <redacted>; URLs may carry credentials too.
	c := r.Config
	c.Room.URL, c.MQTT.Broker = conf.RedactURL(c.Room.URL), conf.RedactURL(c.MQTT.Broker)
	out, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	_, err = stdout.Write(out)
	return err
}

// forget deletes the provisioned config stored under the state directory:
// the device runs its config file alone from its next start or reload.
func forget(path, dir string, stdout io.Writer) error {
	if dir == "" {
		r, err := provisioning.Load(path)
		if err != nil {
			return &configError{fmt.Sprintf("%s: cannot find device.state_dir: %v (or pass -state-dir)", path, err)}
		}
		dir = r.Device.StateDir
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		fmt.Fprintf(stdout, "%s: no state directory, nothing provisioned to forget\n", dir)
		return nil
	}
	s, err := store.Open(dir)
	if err != nil {
		return err
	}
	rec, lerr := s.Load()
	if err := s.Forget(); err != nil {
		return err
	}
	switch {
	case rec != nil:
		fmt.Fprintf(stdout, "%s: forgot the provisioned config (version %d); reload onaird (systemctl reload onaird) to run the config file alone\n", dir, rec.Version)
	case lerr != nil:
		fmt.Fprintf(stdout, "%s: removed a damaged provisioned config (%v)\n", dir, lerr)
	default:
		fmt.Fprintf(stdout, "%s: nothing provisioned to forget\n", dir)
	}
	return nil
}
