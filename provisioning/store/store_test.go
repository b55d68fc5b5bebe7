package store

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func patch(v int64) json.RawMessage {
	// Big enough that a write takes more than one syscall's worth of
	// page cache work, so kills land inside writes too.
	return json.RawMessage(fmt.Sprintf(`{"room":{"token":"t-%d"},"device":{"name":"v%d %s"}}`, v, v, strings.Repeat("x", 16<<10)))
}

func TestSaveLoadRollbackForget(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := s.Load(); err != nil || r != nil {
		t.Fatalf("empty store: %v, %v", r, err)
	}
	for v := int64(1); v <= 3; v++ {
		if err := s.Save(Record{Version: v, Patch: patch(v)}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := s.Load()
	if err != nil || r.Version != 3 || string(r.Patch) != string(patch(3)) {
		t.Fatalf("Load: %+v, %v", r, err)
	}
	p, err := s.Previous()
	if err != nil || p.Version != 2 {
		t.Fatalf("Previous: %+v, %v", p, err)
	}
	for _, name := range []string{CurrentFile, PreviousFile} {
		st, err := os.Stat(filepath.Join(s.Dir(), name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", name, st.Mode().Perm())
		}
	}
	r, err = s.Rollback()
	if err != nil || r.Version != 2 {
		t.Fatalf("Rollback: %+v, %v", r, err)
	}
	if r, _ := s.Load(); r.Version != 2 {
		t.Fatalf("after rollback Load gives version %d", r.Version)
	}
	if _, err := s.Rollback(); err == nil {
		t.Fatal("second Rollback with no previous record succeeded")
	}
	if err := s.Forget(); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Load(); err != nil || r != nil {
		t.Fatalf("after Forget: %+v, %v", r, err)
	}
}

func TestSaveRefusesNonObject(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{``, `[]`, `"x"`, `{`, `null`} {
		if err := s.Save(Record{Version: 1, Patch: json.RawMessage(p)}); err == nil {
			t.Errorf("Save(%q) succeeded", p)
		}
	}
}

func TestCorruptCurrentFallsBackToPrevious(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for v := int64(1); v <= 2; v++ {
		if err := s.Save(Record{Version: v, Patch: patch(v)}); err != nil {
			t.Fatal(err)
		}
	}
	cur := filepath.Join(s.Dir(), CurrentFile)
	data, _ := os.ReadFile(cur)
	data[len(data)/2] ^= 0x20 // one flipped bit inside the patch
	if err := os.WriteFile(cur, data, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := s.Load()
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Load of a damaged file: err %v, want ErrCorrupt", err)
	}
	if r == nil || r.Version != 1 {
		t.Fatalf("Load fell back to %+v, want version 1", r)
	}
	// Saving over a damaged current does not make it the previous record.
	if err := s.Save(Record{Version: 3, Patch: patch(3)}); err != nil {
		t.Fatal(err)
	}
	if p, err := s.Previous(); err != nil || p.Version != 1 {
		t.Fatalf("Previous after saving over damage: %+v, %v", p, err)
	}
}

func TestOpenRemovesStaleTemporaries(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, ".provisioned.json.tmp-123")
	if err := os.WriteFile(stale, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale temporary still there: %v", err)
	}
}

// The crash test: a child process saves versions 1, 2, 3, ... as fast as it
// can, printing each version once Save has returned; the parent SIGKILLs
// it at a random moment and loads. The record found must be the last one
// reported or the one being written, and whole.
func TestCrashDuringSave(t *testing.T) {
	if os.Getenv("ONAIR_STORE_CHILD") != "" {
		crashChild()
		return
	}
	kills := 100
	if testing.Short() {
		kills = 30
	}
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	start := int64(0)
	var maxV int64
	for i := 0; i < kills; i++ {
		cmd := exec.Command(exe, "-test.run=^TestCrashDuringSave$")
		cmd.Env = append(os.Environ(), "ONAIR_STORE_CHILD="+dir, "ONAIR_STORE_START="+strconv.FormatInt(start, 10))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		if !sc.Scan() || sc.Text() != "ready" {
			t.Fatalf("child did not start: %q %v", sc.Text(), sc.Err())
		}
		// Kill after the first save of this run, at a random point within
		// about two saves' time, so kills land inside and between saves
		// whatever the machine's fsync speed.
		t0 := time.Now()
		last := start
		if !sc.Scan() {
			t.Fatalf("child saved nothing: %v", sc.Err())
		}
		last, _ = strconv.ParseInt(sc.Text(), 10, 64)
		d := time.Since(t0)
		lines := make(chan int64, 1024)
		go func() {
			defer close(lines)
			for sc.Scan() {
				if v, err := strconv.ParseInt(sc.Text(), 10, 64); err == nil {
					lines <- v
				}
			}
		}()
		time.Sleep(time.Duration(rng.Int64N(int64(2*d) + 1)))
		cmd.Process.Signal(syscall.SIGKILL)
		for v := range lines {
			last = v
		}
		cmd.Wait()

		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.Load()
		if err != nil {
			t.Fatalf("kill %d: Load: %v", i, err)
		}
		if last == 0 && r == nil {
			start = 0
			continue
		}
		if r == nil {
			t.Fatalf("kill %d: no record after version %d was saved", i, last)
		}
		if r.Version != last && r.Version != last+1 {
			t.Fatalf("kill %d: loaded version %d, last saved %d", i, r.Version, last)
		}
		if string(r.Patch) != string(patch(r.Version)) {
			t.Fatalf("kill %d: version %d has another version's patch", i, r.Version)
		}
		start = r.Version
		maxV = max(maxV, r.Version)
	}
	t.Logf("%d SIGKILLs during saves, %d versions written: every load was whole", kills, maxV)
}

func crashChild() {
	s, err := Open(os.Getenv("ONAIR_STORE_CHILD"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	v, _ := strconv.ParseInt(os.Getenv("ONAIR_STORE_START"), 10, 64)
	fmt.Println("ready")
	for {
		v++
		if err := s.Save(Record{Version: v, Patch: patch(v)}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(v)
	}
}
