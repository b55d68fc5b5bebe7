package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe to read while the process writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestReloadOnSIGHUP runs the daemon and reloads it as an operator would:
// a broken file is rejected with its problem named and the daemon keeps
// running; a good file that drops the e2ee key is applied, with the same
// warning a first start gives; SIGTERM still ends it cleanly.
func TestReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "onair.yaml")
	base := `device: {id: hup-dev}
board:
  profile: sim
  sim: {signal: tone, frequency: 1000, keyboard: false}
room: {url: "ws://127.0.0.1:1", api_key: k, api_secret: s, room: hup}
`
	write := func(doc string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(base + "e2ee: {passphrase: hup-test-passphrase}\n")
	cmd := exec.Command(onairdBin, "-config", path, "-log-format", "json")
	var logs syncBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	waitLog := func(what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(logs.String(), what) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the log:\n%s", what, logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitLog(`"onair started"`)

	write(base + "e2ee: {passphrase: hup-test-passphrase, pasphrase: typo}\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog("reload rejected; still running on the last good config")
	if !strings.Contains(logs.String(), `e2ee.pasphrase: unknown key`) {
		t.Errorf("the rejection does not name the problem:\n%s", logs.String())
	}

	write(base)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(`"config reloaded"`)
	if !strings.Contains(logs.String(), "e2ee: no key is set") {
		t.Errorf("a reload that drops the e2ee key gives no warning:\n%s", logs.String())
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after reloads: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("onaird did not stop after SIGTERM")
	}
	if strings.Contains(logs.String(), "hup-test-passphrase") {
		t.Error("the passphrase is in the log")
	}
}

// mergeBomb is issue 15's YAML "merge bomb": each level merges the one
// below ten times, so the room expands to 10^levels merges in a few
// hundred bytes.
func mergeBomb(levels int, room string) string {
	var b strings.Builder
	b.WriteString("x-m0: &m0 {room: probe}\n")
	for n := 1; n <= levels; n++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*m%d, ", n-1), 10), ", ")
		fmt.Fprintf(&b, "x-m%d: &m%d {<<: [%s]}\n", n, n, refs)
	}
	fmt.Fprintf(&b, "room: {<<: *m%d, %s}\n", levels, room)
	return b.String()
}

// TestSIGTERMDuringBombedReload: a SIGHUP that loads a merge bomb (10^8
// merges; it once took 14 s of CPU with no log line, and SIGTERM then did
// not end the process) is rejected as one problem, and a SIGTERM sent right
// after it ends onaird within 2 s.
func TestSIGTERMDuringBombedReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "onair.yaml")
	room := `url: "ws://127.0.0.1:1", api_key: k, api_secret: s`
	head := "device: {id: bomb-dev}\nboard: {profile: sim, sim: {signal: tone, keyboard: false}}\n"
	if err := os.WriteFile(path, []byte(head+"room: {"+room+", room: bomb}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(onairdBin, "-config", path, "-log-format", "json")
	var logs syncBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	exited := make(chan struct{})
	go func() { done <- cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), `"onair started"`) {
		if time.Now().After(deadline) {
			t.Fatalf("onaird did not start:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := os.WriteFile(path, []byte(head+mergeBomb(8, room)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let the reload start decoding
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit: %v\n%s", err, logs.String())
		}
		t.Logf("exited %v after SIGTERM", time.Since(start))
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("took %v to stop after SIGTERM, want ≤ 2s", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("still running 10 s after SIGTERM during a bombed reload\n%s", logs.String())
	}
	if n := strings.Count(logs.String(), "reload rejected"); n > 1 {
		t.Errorf("%d rejection lines for one bomb, want at most one", n)
	}
}
