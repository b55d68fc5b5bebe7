package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/onair-gateway/onair/gateway"
)

// keyboard turns a terminal into the simulated board's buttons: hold space
// to talk (push-to-talk), m toggles mute, i identifies, q quits. A terminal
// reports no key-up, so "held" means key repeats keep arriving: the button is
// released releaseAfter after the last one (longer than the usual initial
// repeat delays: 500 ms on the Linux console, 660 ms under X.Org).
type keyboard struct {
	f     *os.File
	old   *termState
	g     *gateway.Gateway
	log   *slog.Logger
	muted bool
}

const releaseAfter = 750 * time.Millisecond

func newKeyboard(f *os.File, g *gateway.Gateway, log *slog.Logger) (*keyboard, error) {
	old, err := rawTerminal(f)
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(os.Stderr, "onaird: simulated board: hold SPACE to talk, m = mute, i = identify, q = quit")
	return &keyboard{f: f, old: old, g: g, log: log}, nil
}

func (k *keyboard) restore() { restoreTerminal(k.f, k.old) }

func (k *keyboard) run(ctx context.Context, quit context.CancelFunc) {
	keys := make(chan byte)
	go func() {
		// This read is not interruptible; the goroutine ends with the
		// process (it holds nothing but stdin).
		b := make([]byte, 1)
		for {
			if _, err := k.f.Read(b); err != nil {
				return
			}
			select {
			case keys <- b[0]:
			case <-ctx.Done():
				return
			}
		}
	}()
	var held bool
	release := time.NewTimer(time.Hour)
	release.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-release.C:
			held = false
			k.press(ctx, gateway.CmdRelease)
		case c := <-keys:
			switch c {
			case ' ':
				if !held {
					held = true
					k.press(ctx, gateway.CmdPress)
				}
				release.Reset(releaseAfter)
			case 'm', 'M':
				k.muted = !k.muted
				k.do(ctx, gateway.Command{Kind: gateway.CmdMute, On: k.muted})
			case 'i', 'I':
				k.do(ctx, gateway.Command{Kind: gateway.CmdIdentify})
			case 'q', 'Q':
				quit()
				return
			}
		}
	}
}

func (k *keyboard) press(ctx context.Context, kind gateway.CommandKind) {
	k.do(ctx, gateway.Command{Kind: kind, Button: "ptt"})
}

func (k *keyboard) do(ctx context.Context, c gateway.Command) {
	if err := k.g.Do(ctx, c); err != nil && !errors.Is(err, context.Canceled) {
		k.log.Warn("keyboard", "err", err)
	}
}
