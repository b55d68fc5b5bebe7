package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/net/livekit"
	"github.com/onair-gateway/onair/net/livekit/livekittest"
	"github.com/onair-gateway/onair/net/room"
)

// notifySocket listens where onaird sends sd_notify messages, as systemd
// would, and delivers each datagram.
func notifySocket(t *testing.T) (string, <-chan string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan string, 64)
	go func() {
		defer close(ch)
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			ch <- string(buf[:n])
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return path, ch
}

func waitNotify(t *testing.T, ch <-chan string, prefix string, within time.Duration) string {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case m, ok := <-ch:
			if !ok {
				t.Fatalf("notify socket closed before %q", prefix)
			}
			for _, line := range strings.Split(m, "\n") {
				if strings.HasPrefix(line, prefix) {
					return m
				}
			}
		case <-deadline:
			t.Fatalf("no %q from onaird within %v", prefix, within)
		}
	}
}

// startOnaird runs the binary with a config under a fake systemd notify
// socket (and a watchdog of wd, if not zero).
func startOnaird(t *testing.T, cfg string, wd time.Duration) (*exec.Cmd, <-chan string, *bytes.Buffer) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "onair.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	sock, ch := notifySocket(t)
	cmd := exec.Command(onairdBin, "-config", path, "-log-format", "json")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock)
	if wd > 0 {
		cmd.Env = append(cmd.Env, fmt.Sprintf("WATCHDOG_USEC=%d", wd.Microseconds()))
	}
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, ch, &errOut
}

// TestSystemdNotifyAndLiveRoom runs onaird as systemd would (NOTIFY_SOCKET,
// WATCHDOG_USEC) on the simulated board against a real livekit-server, and
// checks READY=1 with a one-line STATUS, WATCHDOG=1 while frames flow, an
// independent subscriber hearing the device, STOPPING=1 and exit 0 within
// 2 s of SIGTERM. It reports process start → first packet at the
// subscriber, and the daemon's resident memory while live.
func TestSystemdNotifyAndLiveRoom(t *testing.T) {
	srv := livekittest.Start(t)
	cfg := fmt.Sprintf(`
device: {id: notify-dev}
board:
  profile: sim
  sim: {signal: tone, frequency: 1000, level: -12, keyboard: false, script: [{at: 0s, action: press}]}
room: {url: %q, api_key: %s, api_secret: %s, room: notify}
e2ee: {passphrase: notify-test-passphrase}
`, srv.URL, srv.APIKey, srv.APISecret)

	// The listener is in the room before onaird starts.
	first := make(chan time.Time, 1)
	lcfg := room.Config{Backend: room.BackendLiveKit, URL: srv.URL, Room: "notify", Identity: "listener",
		Token: conf.Secret(srv.Token("listener", "notify", false))}
	lcfg.SetDefaults("listener")
	rm, err := livekit.New(lcfg, livekit.Options{ListenOnly: true, Subscribe: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sess, err := rm.Join(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	go func() {
		for ev := range sess.Events() {
			if ev.Kind == room.EventTrackAdded {
				go func(tr room.RemoteTrack) {
					buf := make([]byte, 1500)
					if _, err := tr.ReadPacket(buf); err == nil {
						first <- time.Now()
					}
				}(ev.Track)
			}
		}
	}()

	start := time.Now()
	cmd, notes, errOut := startOnaird(t, cfg, 2*time.Second)
	ready := waitNotify(t, notes, "READY=1", 10*time.Second)
	if !strings.Contains(ready, "STATUS=") || strings.Count(strings.Split(ready, "STATUS=")[1], "\n") > 0 {
		t.Errorf("READY without a one-line STATUS: %q", ready)
	}
	status := waitNotify(t, notes, "STATUS=onair", 10*time.Second)
	if !strings.Contains(status, "encrypted") || strings.Contains(status, "NOT encrypted") {
		t.Errorf("status does not say the room is encrypted: %q", status)
	}
	waitNotify(t, notes, "WATCHDOG=1", 5*time.Second)
	var got time.Time
	select {
	case got = <-first:
	case <-time.After(15 * time.Second):
		t.Fatalf("no packet at the subscriber\n%s", errOut.String())
	}
	t.Logf("process start → first packet at an independent subscriber: %v", got.Sub(start).Round(time.Millisecond))
	// Live for a while (two more watchdog pets: frames flowed), then the
	// memory must fit a 512 MB Pi Zero 2 W with room to spare.
	waitNotify(t, notes, "WATCHDOG=1", 5*time.Second)
	waitNotify(t, notes, "WATCHDOG=1", 5*time.Second)
	rss, err := residentKB(cmd.Process.Pid)
	if err != nil {
		t.Fatalf("resident memory: %v", err)
	}
	t.Logf("onaird resident memory while live: %.1f MB", float64(rss)/1024)
	if rss > 100<<10 {
		t.Errorf("onaird uses %.1f MB while live, want under 100 MB", float64(rss)/1024)
	}

	stop := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitNotify(t, notes, "STOPPING=1", 2*time.Second)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit: %v\n%s", err, errOut.String())
	}
	if d := time.Since(stop); d > 2*time.Second {
		t.Errorf("stopped %v after SIGTERM, want ≤ 2 s", d)
	}
	t.Logf("SIGTERM → exit: %v", time.Since(stop).Round(time.Millisecond))
	if strings.Contains(errOut.String(), "notify-test-passphrase") || strings.Contains(errOut.String(), srv.APISecret) {
		t.Error("a secret appears in onaird's log")
	}
}

// residentKB reads VmRSS from /proc.
func residentKB(pid int) (int, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, fmt.Errorf("no VmRSS")
}
