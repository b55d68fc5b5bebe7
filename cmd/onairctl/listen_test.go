package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/marks"
	"github.com/onair-gateway/onair/audio/mix"
	"github.com/onair-gateway/onair/audio/rx"
	wavpkg "github.com/onair-gateway/onair/audio/wav"
	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/net/e2ee"
	"github.com/onair-gateway/onair/net/livekit"
	"github.com/onair-gateway/onair/net/livekit/livekittest"
	"github.com/onair-gateway/onair/net/livekit/lkpeer"
	"github.com/onair-gateway/onair/net/room"
	"github.com/onair-gateway/onair/net/room/listen"
)

func TestViewLines(t *testing.T) {
	if b := bar(-30, -10); strings.Count(b, "█") != 15 || !strings.Contains(b, "|") {
		t.Errorf("bar %q", b)
	}
	if b := bar(-200, -200); strings.Count(b, "█") != 0 {
		t.Errorf("silent bar %q", b)
	}
	med := 41.0
	p := listen.Participant{Identity: "dev", Snapshot: rx.Snapshot{Active: true, Packets: 100, Lost: 1, LossPct: 0.99, LevelDB: -23, PeakDB: -20, Freq: 1000, JitterMs: 1, LatencyMs: 40, LatMedianMs: &med, Marks: 3}, E2EE: "on", Undecryptable: 2}
	var buf bytes.Buffer
	v := &view{w: &buf}
	v.draw(viewFrame{room: "demo", state: room.StateChange{State: room.StateConnected}, elapsed: 3 * time.Second, people: []listen.Participant{p}})
	want := "t=3s participant=dev active=true level=-23.0dBFS peak=-20.0dBFS freq=1000Hz packets=100 lost=1 loss=1.0% jitter=1.0ms latency=40.0ms e2ee=on undecryptable=2\n"
	if buf.String() != want {
		t.Errorf("plain line\n%q\nwant\n%q", buf.String(), want)
	}
	buf.Reset()
	v = &view{w: &buf, tty: true}
	v.draw(viewFrame{room: "demo", people: []listen.Participant{p, p}})
	v.draw(viewFrame{room: "demo", people: []listen.Participant{p}})
	out := buf.String()
	if !strings.Contains(out, "\x1b[3A") || strings.Count(out, "\x1b[2K") != 6 {
		t.Errorf("terminal redraw does not move back over its 3 lines and clear them: %q", out)
	}
}

func TestParseListen(t *testing.T) {
	cases := []struct {
		args []string
		ok   bool
	}{
		{[]string{"-url", "ws://127.0.0.1:1", "-token", "t"}, true},
		{[]string{"-api-key", "k", "-api-secret", "s", "-room", "demo", "-duration", "3s", "-once-json"}, true},
		{[]string{}, false}, // no credentials
		{[]string{"-token", "t", "-api-key", "k", "-api-secret", "s"}, false},
		{[]string{"-token", "t", "-wav-channels", "3"}, false},
		{[]string{"-token", "t", "-play", "default", "-volume", "-6"}, true},
		{[]string{"-token", "t", "-volume", "30"}, false},
		{[]string{"-token", "t", "extra"}, false},
		{[]string{"-token", "t", "-url", "ftp://x"}, false},
	}
	for _, c := range cases {
		_, err := parseListen(c.args, &bytes.Buffer{})
		if (err == nil) != c.ok {
			t.Errorf("parseListen(%q) = %v, want ok %v", c.args, err, c.ok)
		}
	}
}

// publisher joins srv as identity and sends what gen renders in real time
// (lkpeer.Talk).
func publisher(t *testing.T, srv *livekittest.Server, name, identity string, start time.Time, gen func(pos int64, frame []float32)) {
	t.Helper()
	lkpeer.Talk(t, srv, name, identity, start, livekit.Options{}, nil, gen)
}

// TestListenAgainstServer runs onairctl listen against a real server with
// two publishers: a 1 kHz tone, and marks on every whole second.
func TestListenAgainstServer(t *testing.T) {
	srv := livekittest.Start(t)
	const name = "demo"
	start := marks.Start(time.Now())
	publisher(t, srv, name, "tone", start, func(pos int64, frame []float32) {
		for i := range frame {
			frame[i] = float32(0.1 * math.Sin(2*math.Pi*1000*float64(pos+int64(i))/48000))
		}
	})
	chirp := marks.Chirp(audio.Rate48k)
	publisher(t, srv, name, "marks", start, func(pos int64, frame []float32) {
		for i := range frame {
			frame[i] = 0
			if off := marks.Offset(pos+int64(i), audio.Rate48k); off < len(chirp) {
				frame[i] = 0.3 * chirp[off]
			}
		}
	})

	wav := filepath.Join(t.TempDir(), "heard.wav")
	var stdout, stderr bytes.Buffer
	err := runListen(context.Background(), []string{
		"-url", srv.URL, "-room", name, "-api-key", srv.APIKey, "-api-secret", srv.APISecret,
		"-duration", "4s", "-once-json", "-wav", wav,
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("listen: %v\n%s", err, stderr.String())
	}
	var s summary
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		t.Fatalf("summary: %v\n%s", err, stdout.String())
	}
	t.Logf("summary: %s", stdout.String())
	if s.State != "connected" || len(s.Participants) != 2 {
		t.Fatalf("state %q, %d participants", s.State, len(s.Participants))
	}
	by := map[string]listen.Participant{}
	for _, p := range s.Participants {
		by[p.Identity] = p
	}
	tone, mk := by["tone"], by["marks"]
	if tone.Packets < 100 || tone.Lost != 0 || tone.Corrupt != 0 {
		t.Errorf("tone: %+v", tone)
	}
	if math.Abs(tone.Freq-1000) > 2 {
		t.Errorf("tone heard at %.1f Hz", tone.Freq)
	}
	if math.Abs(tone.LevelDB-(-23.01)) > 1.5 {
		t.Errorf("tone heard at %.2f dBFS RMS, want -23", tone.LevelDB)
	}
	if mk.Marks < 2 || mk.LatMedianMs == nil {
		t.Fatalf("marks: %d latency measurements", mk.Marks)
	}
	// Frame, Opus look-ahead, loopback and decoding: well under 200 ms,
	// and never before the mark was sent.
	if l := *mk.LatMedianMs; l < 20 || l > 200 {
		t.Errorf("mouth-to-ear latency %.1f ms", l)
	}
	info, err := os.Stat(wav)
	if err != nil {
		t.Fatal(err)
	}
	// About 4 s of mono 16-bit audio, on the wall clock from the start.
	if secs := float64(info.Size()-44) / 96000; secs < 3 || secs > 4.5 {
		t.Errorf("wav holds %.2f s", secs)
	}
	// What was played (jitter buffers, mixed with headroom) holds the
	// tone: its last 1.5 s at the tone's level or above, 1 kHz dominant.
	b, err := os.ReadFile(wav)
	if err != nil {
		t.Fatal(err)
	}
	a, err := wavpkg.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	x := a.Channels[0][a.Len()-72000:]
	var e, peak float64
	for _, v := range x {
		e += float64(v) * float64(v)
		peak = math.Max(peak, math.Abs(float64(v)))
	}
	lvl := 10 * math.Log10(e/float64(len(x)))
	// The tone's share of each 20 ms block (the marks take a tenth of
	// every second; the jitter buffers' 2.5 ms time-scale steps, frequent
	// on a loaded machine, put seams in longer ones), the median of them.
	k := 2 * math.Cos(2*math.Pi*1000/48000)
	var shares []float64
	for b := 0; b+960 <= len(x); b += 960 {
		var s1, s2, eb float64
		for _, v := range x[b : b+960] {
			s1, s2 = float64(v)+k*s1-s2, s1
			eb += float64(v) * float64(v)
		}
		shares = append(shares, 2*(s1*s1+s2*s2-k*s1*s2)/(960*eb))
	}
	slices.Sort(shares)
	share := shares[len(shares)/2]
	t.Logf("played: %.1f dBFS, peak %.2f, %.0f%% at 1 kHz", lvl, peak, 100*share)
	if lvl < -26 || share < 0.3 || peak > mix.Ceiling+1e-3 {
		t.Errorf("played %.1f dBFS, peak %.2f, %.0f%% at 1 kHz: want the tone and the marks, under the ceiling", lvl, peak, 100*share)
	}
}

// TestListenPlayDevice: -play opens an ALSA device; one that is not there
// is a clear error naming it.
func TestListenPlayDevice(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := runListen(context.Background(), []string{"-url", "ws://127.0.0.1:1", "-room", "r", "-api-key", "k", "-api-secret", "s",
		"-play", "no-such-card", "-duration", "1s"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), `"no-such-card"`) {
		t.Errorf("err = %v, want an error naming the device", err)
	}
}

func TestListenRefusedToken(t *testing.T) {
	srv := livekittest.Start(t)
	tok := srv.Token("listener", "demo", false)
	var stdout, stderr bytes.Buffer
	start := time.Now()
	err := runListen(context.Background(), []string{"-url", srv.URL, "-room", "demo", "-token", tok + "x", "-once-json"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("err = %v, want a refusal naming HTTP 401", err)
	}
	var s summary
	if jerr := json.Unmarshal(stdout.Bytes(), &s); jerr != nil || s.State != "error" || !strings.Contains(s.Reason, "unauthorized") {
		t.Errorf("summary %q (%v)", stdout.String(), jerr)
	}
	t.Logf("refused after %v: %v", time.Since(start).Round(time.Millisecond), err)
}

// TestListenEncryptedRoom: a publisher encrypts end to end. Without a key
// the listener must say so and decode nothing (ciphertext decoded as Opus
// is loud noise); with a wrong passphrase it must count the frames that do
// not decrypt and warn; with the right one it hears the tone.
func TestListenEncryptedRoom(t *testing.T) {
	srv := livekittest.Start(t)
	const name, pass = "sealed", "correct horse battery"
	keys, err := e2ee.New(e2ee.Config{Passphrase: conf.Secret(pass)})
	if err != nil {
		t.Fatal(err)
	}
	lkpeer.Talk(t, srv, name, "dev", time.Now(), livekit.Options{Encryptor: keys}, nil, func(pos int64, frame []float32) {
		for i := range frame {
			frame[i] = float32(0.1 * math.Sin(2*math.Pi*1000*float64(pos+int64(i))/48000))
		}
	})
	run := func(extra ...string) (listen.Participant, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		args := append([]string{"-url", srv.URL, "-room", name, "-api-key", srv.APIKey, "-api-secret", srv.APISecret,
			"-duration", "2500ms", "-once-json"}, extra...)
		if err := runListen(context.Background(), args, &stdout, &stderr); err != nil {
			t.Fatalf("listen %v: %v\n%s", extra, err, stderr.String())
		}
		var s summary
		if err := json.Unmarshal(stdout.Bytes(), &s); err != nil || len(s.Participants) != 1 {
			t.Fatalf("summary %v: %s", err, stdout.String())
		}
		return s.Participants[0], stderr.String()
	}
	t.Setenv("ONAIR_E2EE_PASSPHRASE", "")

	p, logs := run()
	if p.E2EE != "no-key" || p.Packets < 50 || p.LevelDB != -120 || p.Corrupt != 0 {
		t.Errorf("without a key: %+v", p)
	}
	if !strings.Contains(logs, "end-to-end encrypted") || !strings.Contains(logs, "ONAIR_E2EE_PASSPHRASE") {
		t.Errorf("without a key, no warning saying so:\n%s", logs)
	}

	p, logs = run("-e2ee-passphrase", "wrong horse battery")
	if p.E2EE != "on" || p.Packets != 0 || p.Undecryptable < 50 {
		t.Errorf("wrong passphrase: %+v", p)
	}
	if !strings.Contains(logs, "wrong passphrase or key index") {
		t.Errorf("wrong passphrase, no warning saying so:\n%s", logs)
	}

	p, _ = run("-e2ee-passphrase", pass)
	if p.E2EE != "on" || p.Undecryptable != 0 || p.Packets < 50 || math.Abs(p.Freq-1000) > 2 {
		t.Errorf("right passphrase: %+v", p)
	}
}

// TestListenNeverJoined: nothing listens at the URL; when the duration ends
// without a join, listen fails (exit 1) and says why, and -once-json still
// prints its summary.
func TestListenNeverJoined(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "ws://" + ln.Addr().String()
	ln.Close()
	var stdout, stderr bytes.Buffer
	err = runListen(context.Background(), []string{"-url", url, "-room", "r", "-api-key", "k", "-api-secret", "s", "-duration", "1500ms", "-once-json"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "never joined room r") {
		t.Errorf("err = %v, want a failure saying it never joined", err)
	}
	var s summary
	if jerr := json.Unmarshal(stdout.Bytes(), &s); jerr != nil || s.State == "connected" {
		t.Errorf("summary %q (%v)", stdout.String(), jerr)
	}
}

// TestListenCredentialsFromEnvironment: the token and API secret may come
// from the environment, out of ps, as the passphrase does.
func TestListenCredentialsFromEnvironment(t *testing.T) {
	t.Setenv("ONAIR_TOKEN", "tok-from-env")
	t.Setenv("ONAIR_API_SECRET", "secret-from-env")
	var stderr bytes.Buffer
	o, err := parseListen([]string{"-url", "ws://127.0.0.1:7880", "-room", "r"}, &stderr)
	if err != nil || o.cfg.Token.Reveal() != "tok-from-env" {
		t.Errorf("token from $ONAIR_TOKEN: %v, %v", err, o.cfg.Token)
	}
	o, err = parseListen([]string{"-url", "ws://127.0.0.1:7880", "-room", "r", "-api-key", "k"}, &stderr)
	if err != nil || o.cfg.APISecret.Reveal() != "secret-from-env" || o.cfg.Token.IsSet() {
		t.Errorf("secret from $ONAIR_API_SECRET: %v", err)
	}
}
