package main

import (
	"context"
	"log/slog"

	"github.com/onair-gateway/onair/provisioning"
)

// run loads the config and runs the daemon until ctx is cancelled.
func run(ctx context.Context, o options, log *slog.Logger) error {
	r, err := provisioning.Load(o.config)
	if err != nil {
		for _, p := range provisioning.Problems(err) {
			log.Error("config problem", "problem", p.Error())
		}
		return &configError{err}
	}
	_ = r
	<-ctx.Done()
	return nil
}
