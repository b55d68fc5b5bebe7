package room

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestPionLogs: pion's levels land on slog as documented, with the scope as
// an attribute, and formatting is skipped for disabled levels.
func TestPionLogs(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l := PionLogs(log).NewLogger("ice")
	l.Infof("candidate %d", 1)
	l.Warn("no route")
	l.Errorf("dtls: %s", "bad")
	l.Trace("trace")
	out := buf.String()
	for _, want := range []string{
		`level=DEBUG msg="candidate 1" pion=ice`,
		`level=WARN msg="no route" pion=ice`,
		`level=WARN msg="dtls: bad" pion=ice`,
		`level=DEBUG msg=trace pion=ice`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}

	buf.Reset()
	quiet := PionLogs(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))).NewLogger("dtls")
	calls := 0
	quiet.Debugf("%v", stringer(func() string { calls++; return "x" }))
	if calls != 0 || buf.Len() != 0 {
		t.Errorf("a disabled level formatted its arguments (%d calls) or logged %q", calls, buf.String())
	}
	PionLogs(nil).NewLogger("x").Error("discarded") // a nil logger is allowed
}

type stringer func() string

func (s stringer) String() string { return s() }
