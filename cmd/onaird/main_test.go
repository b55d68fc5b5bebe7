package main

import (
	"bytes"
	"encoding/binary"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var onairdBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "onaird-test")
	if err != nil {
		panic(err)
	}
	onairdBin = filepath.Join(dir, "onaird")
	out, err := exec.Command("go", "build", "-tags", "nolibopusfile", "-o", onairdBin, ".").CombinedOutput()
	if err != nil {
		os.Stderr.Write(out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func onaird(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(onairdBin, args...)
	cmd.Dir = "../.."
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), 0
}

func TestCheckConfigExamples(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.yaml")
	want := []string{"sim", "respeaker-2mic", "respeaker-4mic", "respeaker-6mic", "i2s-stereo-mems", "hifiberry-dacplusadc"}
	for _, w := range want {
		found := false
		for _, f := range files {
			found = found || filepath.Base(f) == w+".yaml"
		}
		if !found {
			t.Errorf("examples/%s.yaml is missing", w)
		}
	}
	for _, f := range files {
		rel := "examples/" + filepath.Base(f)
		out, errOut, code := onaird(t, "-check-config", "-config", rel)
		if code != 0 {
			t.Errorf("%s: exit %d\n%s%s", rel, code, out, errOut)
		}
	}
}

// TestCheckConfigUnusableWAV: a valid config whose sim WAV file is
// missing, not a WAV, or silent fails the check, naming the field and why.
func TestCheckConfigUnusableWAV(t *testing.T) {
	dir := t.TempDir()
	silent := filepath.Join(dir, "silent.wav")
	// A 48 kHz mono 16-bit WAV of 0.5 s of zeros.
	hdr := []byte("RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80\xbb\x00\x00\x00\x77\x01\x00\x02\x00\x10\x00data")
	body := make([]byte, 48000)
	wav := append(append(hdr, byte(len(body)), byte(len(body)>>8), byte(len(body)>>16), 0), body...)
	binary.LittleEndian.PutUint32(wav[4:], uint32(len(wav)-8))
	notWAV := filepath.Join(dir, "notes.wav")
	for name, data := range map[string][]byte{silent: wav, notWAV: []byte("ID3 this is an mp3, really")} {
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for file, want := range map[string]string{
		filepath.Join(dir, "missing.wav"): "no such file",
		notWAV:                            "RIFF",
		silent:                            "is silent",
	} {
		path := filepath.Join(dir, "c.yaml")
		doc := "board:\n  profile: sim\n  sim: {file: " + file + "}\nroom: {url: \"ws://127.0.0.1:7880\", token: t}\n"
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := onaird(t, "-check-config", "-config", path)
		if code != 2 || !strings.Contains(errOut, "board.sim.file:") || !strings.Contains(errOut, want) {
			t.Errorf("%s: exit %d, want 2 naming board.sim.file and %q\n%s%s", filepath.Base(file), code, want, out, errOut)
		}
	}
}

func TestCheckConfigBad(t *testing.T) {
	const token = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.SIGNATURE-never-print"
	path := filepath.Join(t.TempDir(), "bad.yaml")
	doc := "audio:\n  capture:\n    chanels: 4\n    rate: 12345\nroom:\n  url: \"\"\n  token: " + token + "\n"
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := onaird(t, "-check-config", "-config", path)
	if code != 2 {
		t.Fatalf("exit %d, want 2\n%s%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	for _, p := range []string{"audio.capture.chanels", "audio.capture.rate", "room.url"} {
		n := 0
		for _, l := range lines {
			if strings.HasPrefix(strings.TrimSpace(l), p+":") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("want exactly one line naming %s, got %d:\n%s", p, n, errOut)
		}
	}
	if strings.Contains(out+errOut, "SIGNATURE") || strings.Contains(out+errOut, token) {
		t.Errorf("token printed:\n%s%s", out, errOut)
	}
	// The daemon itself, given the same file, must not print it either.
	out, errOut, code = onaird(t, "-config", path, "-log-format", "json")
	if code != 2 || strings.Contains(out+errOut, "SIGNATURE") {
		t.Errorf("daemon on bad config: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "audio.capture.rate") {
		t.Errorf("daemon does not say what is wrong:\n%s", errOut)
	}
}

func TestFlags(t *testing.T) {
	out, _, code := onaird(t, "-version")
	if code != 0 || !strings.HasPrefix(out, "onaird ") {
		t.Errorf("-version: %d %q", code, out)
	}
	if _, _, code := onaird(t, "-log-format", "xml", "-config", "examples/sim.yaml"); code != 2 {
		t.Errorf("bad -log-format: exit %d, want 2", code)
	}
	if _, _, code := onaird(t, "-no-such-flag"); code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
	if _, errOut, code := onaird(t, "-config", "/nonexistent/onair.yaml"); code != 2 || !strings.Contains(errOut, "/nonexistent/onair.yaml") {
		t.Errorf("missing config: exit %d\n%s", code, errOut)
	}
}

// TestSIGTERMStopsQuickly runs onaird on the sim example, waits for
// READY=1 on a notify socket, and checks it exits 0 within 2 s of SIGTERM
// (and of SIGINT).
func TestSIGTERMStopsQuickly(t *testing.T) {
	cfg, err := os.ReadFile("../../examples/sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		// The example's room is on 127.0.0.1:7880; whether or not a server
		// is there, onaird is up and must stop promptly.
		cmd, notes, errOut := startOnaird(t, string(cfg), 0)
		waitNotify(t, notes, "READY=1", 10*time.Second)
		start := time.Now()
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%v: exit %v after %v\n%s", sig, err, time.Since(start), errOut.String())
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("%v: took %v to stop, want ≤ 2s", sig, d)
			}
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("%v: still running 5 s after the signal\n%s", sig, errOut.String())
		}
	}
}

// TestStartFailureExits: a failure after the config loaded (here the status
// port is taken) makes onaird exit promptly with code 2, not hang.
func TestStartFailureExits(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg, err := os.ReadFile("../../examples/sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(cfg), `listen: ""`, "listen: "+ln.Addr().String(), 1)
	cmd, _, errOut := startOnaird(t, doc, 0)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 2 {
			t.Errorf("exit %v, want 2\n%s", err, errOut.String())
		}
		if !strings.Contains(errOut.String(), "http.listen") {
			t.Errorf("the error does not name http.listen:\n%s", errOut.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("onaird still running 5 s after failing to start\n%s", errOut.String())
	}
}

// TestCheckConfigHostile: -check-config refuses a merge bomb with one
// problem, refuses a room name carrying terminal escapes without printing
// them, and quotes the room it reports for a good file.
func TestCheckConfigHostile(t *testing.T) {
	dir := t.TempDir()
	room := `url: "ws://127.0.0.1:7880", api_key: k, api_secret: s`
	for _, tc := range []struct {
		name, doc string
		code      int
		want      string
	}{
		{"bomb", mergeBomb(7, room), 2, "<< merges expand the document past"},
		{"escapes", "room: {" + room + `, room: "probe\e[2J\e]0;pwned\a\r\nFAKE: ok"}` + "\n", 2, "room.room: "},
		{"quoted", "room: {" + room + `, room: "studio one"}` + "\n", 0, `room "studio one" via livekit`},
	} {
		path := filepath.Join(dir, tc.name+".yaml")
		if err := os.WriteFile(path, []byte(tc.doc), 0o600); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := onaird(t, "-check-config", "-config", path)
		if code != tc.code || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("%s: exit %d, want %d with %q:\n%s%s", tc.name, code, tc.code, tc.want, out, errOut)
		}
		if strings.ContainsAny(out+errOut, "\x1b\a\r") || strings.Contains(out+errOut, "\nFAKE") {
			t.Errorf("%s: raw control characters reach the terminal: %q", tc.name, out+errOut)
		}
		if n := strings.Count(errOut, "\n"); tc.name == "bomb" && n != 2 {
			t.Errorf("bomb: %d lines, want the file line and one problem:\n%s", n, errOut)
		}
	}
}
