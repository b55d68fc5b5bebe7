package livekit

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/go-logr/logr"
	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

// sdkLogger adapts log to the LiveKit SDK's logger. The SDK is chatty (it
// logs every join attempt, and every failed one as an error, which the
// Supervisor already reports once as a state change), so all its messages
// are demoted to debug. It also logs refused tokens verbatim; the bridge
// redacts anything that looks like a JWT.
func sdkLogger(log *slog.Logger) protologger.Logger {
	return protologger.LogRLogger(logr.FromSlogHandler(demote{log.Handler()}))
}

// SetSDKLogger routes the LiveKit SDK's process-wide logger (used by the
// SDK and pion before a room has its own logger, and by pion's transports)
// through log, demoted as for each Room. The SDK's default writes to the
// standard library's log package. It changes process-wide state: call it
// once from main (or TestMain).
func SetSDKLogger(log *slog.Logger) {
	lksdk.SetLogger(sdkLogger(log.With("component", "net.livekit.sdk")))
}

// demote lowers every record to debug and redacts tokens from it.
type demote struct{ h slog.Handler }

func lower(l slog.Level) slog.Level { return min(l, slog.LevelDebug) }

func (d demote) Enabled(ctx context.Context, l slog.Level) bool {
	return d.h.Enabled(ctx, lower(l))
}

func (d demote) Handle(ctx context.Context, r slog.Record) error {
	// logr's bridge checks Enabled for info records only; errors arrive
	// here whatever the level.
	if !d.h.Enabled(ctx, lower(r.Level)) {
		return nil
	}
	out := slog.NewRecord(r.Time, lower(r.Level), redactJWT(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return d.h.Handle(ctx, out)
}

func (d demote) WithAttrs(as []slog.Attr) slog.Handler {
	for i := range as {
		as[i] = redactAttr(as[i])
	}
	return demote{d.h.WithAttrs(as)}
}

func (d demote) WithGroup(name string) slog.Handler { return demote{d.h.WithGroup(name)} }

// redactAttr returns a with any JWT in its value replaced by conf.Redacted.
func redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		if s := v.String(); strings.Contains(s, "eyJ") {
			return slog.String(a.Key, redactJWT(s))
		}
	case slog.KindAny:
		if s := fmt.Sprint(v.Any()); strings.Contains(s, "eyJ") {
			return slog.String(a.Key, redactJWT(s))
		}
	case slog.KindGroup:
		g := v.Group()
		out := make([]any, len(g))
		for i, ga := range g {
			out[i] = redactAttr(ga)
		}
		return slog.Group(a.Key, out...)
	}
	return a
}
