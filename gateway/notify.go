package gateway

import (
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Notifier tells systemd about the daemon's life (sd_notify(3)): READY=1
// once up, a one-line STATUS=, WATCHDOG=1 while the main loop is alive and
// frames flow, STOPPING=1 on the way out. Outside systemd (no NOTIFY_SOCKET)
// every call does nothing.
type Notifier struct {
	mu         sync.Mutex
	lastStatus string
}

// NewNotifier returns a notifier for the current process.
func NewNotifier() *Notifier { return &Notifier{} }

// WatchdogInterval returns how often to pet the watchdog (half of
// WatchdogSec), or 0 when systemd does not watch this process.
func (n *Notifier) WatchdogInterval() time.Duration {
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil || d <= 0 {
		return 0
	}
	return d / 2
}

func (n *Notifier) send(state string) {
	// SdNotify returns (false, nil) when NOTIFY_SOCKET is unset; an error
	// here is a broken socket, and there is nobody to tell.
	_, _ = daemon.SdNotify(false, state)
}

// Ready sends READY=1 with a status line.
func (n *Notifier) Ready(status string) {
	n.send(daemon.SdNotifyReady + "\nSTATUS=" + oneLine(status))
	n.mu.Lock()
	n.lastStatus = status
	n.mu.Unlock()
}

// Status sends STATUS= when the line changed.
func (n *Notifier) Status(status string) {
	n.mu.Lock()
	changed := status != n.lastStatus
	n.lastStatus = status
	n.mu.Unlock()
	if changed {
		n.send("STATUS=" + oneLine(status))
	}
}

// Watchdog sends WATCHDOG=1.
func (n *Notifier) Watchdog() { n.send(daemon.SdNotifyWatchdog) }

// Stopping sends STOPPING=1.
func (n *Notifier) Stopping() { n.send(daemon.SdNotifyStopping) }

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
