package main

import (
	"bytes"
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
