package room

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// PionLogs bridges pion's logging (webrtc, ice, dtls, sctp, srtp) to log, so
// that pion never writes to stderr behind slog's back. Give it to a pion
// SettingEngine with SetLoggerFactory (or to any pion LoggerFactory
// option). Each pion scope becomes a "pion" attribute. pion is chatty at
// info (every candidate, every state change, which the backends report once
// themselves), so trace, debug and info all arrive at debug; warnings and
// errors arrive as warnings: a failure that matters comes back as an error
// from the backend as well.
func PionLogs(log *slog.Logger) logging.LoggerFactory {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return pionFactory{log: log}
}

type pionFactory struct{ log *slog.Logger }

// NewLogger implements logging.LoggerFactory.
func (f pionFactory) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{log: f.log.With("pion", scope)}
}

// pionLogger is one pion scope's logger.
type pionLogger struct{ log *slog.Logger }

func (l pionLogger) at(level slog.Level, msg string) {
	l.log.Log(context.Background(), level, msg)
}

func (l pionLogger) atf(level slog.Level, format string, args ...any) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}

func (l pionLogger) Trace(msg string)                  { l.at(slog.LevelDebug, msg) }
func (l pionLogger) Tracef(format string, args ...any) { l.atf(slog.LevelDebug, format, args...) }
func (l pionLogger) Debug(msg string)                  { l.at(slog.LevelDebug, msg) }
func (l pionLogger) Debugf(format string, args ...any) { l.atf(slog.LevelDebug, format, args...) }
func (l pionLogger) Info(msg string)                   { l.at(slog.LevelDebug, msg) }
func (l pionLogger) Infof(format string, args ...any)  { l.atf(slog.LevelDebug, format, args...) }
func (l pionLogger) Warn(msg string)                   { l.at(slog.LevelWarn, msg) }
func (l pionLogger) Warnf(format string, args ...any)  { l.atf(slog.LevelWarn, format, args...) }
func (l pionLogger) Error(msg string)                  { l.at(slog.LevelWarn, msg) }
func (l pionLogger) Errorf(format string, args ...any) { l.atf(slog.LevelWarn, format, args...) }

var (
	_ logging.LoggerFactory = pionFactory{}
	_ logging.LeveledLogger = pionLogger{}
)
