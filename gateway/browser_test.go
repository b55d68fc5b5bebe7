package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/onair-gateway/onair/net/livekit/livekittest"
)

// browserResult is what test/browser/listener.mjs prints.
type browserResult struct {
	Participants map[string]struct {
		Packets       int     `json:"packets"`
		Encrypted     bool    `json:"encrypted"`
		RMSMedianDBFS float64 `json:"rmsMedianDbfs"`
		FreqMedianHz  float64 `json:"freqMedianHz"`
		ActiveFrames  int     `json:"activeFrames"`
		Frames        int     `json:"frames"`
	} `json:"participants"`
	Errors []string `json:"errors"`
}

// browser returns the command that runs the headless Chromium listener, or
// skips (fails under CI) saying how to get what is missing.
func browser(t *testing.T) (node, script string) {
	t.Helper()
	dir, _ := filepath.Abs("../test/browser")
	script = filepath.Join(dir, "listener.mjs")
	missing := ""
	node, err := exec.LookPath("node")
	switch {
	case err != nil:
		missing = "node (apt-get install nodejs npm)"
	case fileMissing(os.Getenv("CHROMIUM"), "/usr/bin/chromium"):
		missing = "chromium (apt-get install chromium)"
	case fileMissing(filepath.Join(dir, "node_modules/livekit-client/dist/livekit-client.umd.js"), ""):
		missing = "livekit-client (make deps-npm)"
	}
	if missing != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and the browser listener needs %s", missing)
		}
		t.Skipf("browser interop needs %s; `make deps` installs it", missing)
	}
	return node, script
}

func fileMissing(paths ...string) bool {
	for _, p := range paths {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return false
		}
	}
	return true
}

func runBrowser(t *testing.T, ctx context.Context, args ...string) browserResult {
	t.Helper()
	node, script := browser(t)
	cmd := exec.CommandContext(ctx, node, append([]string{script}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("browser listener: %v\n%s", err, errb.String())
	}
	var res browserResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("browser output %q: %v\n%s", out.String(), err, errb.String())
	}
	return res
}

// TestBrowserInterop: headless Chromium running livekit-client with E2EE
// and the same passphrase hears the device (WebAudio measures level and
// frequency), and the device's room code decrypts the browser's encrypted
// audio. A browser with the wrong passphrase hears nothing of the signal.
func TestBrowserInterop(t *testing.T) {
	browser(t)
	srv := livekittest.Start(t)
	startDevice(t, srv, "br-dev", "browser", "signal: tone, frequency: 1000, level: -12",
		"e2ee: {passphrase: "+roomPassphrase+", required: true}")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// The device side listens for the browser's encrypted 660 Hz tone.
	fromBrowser := subscribeKeyed(t, srv, "browser", "chromium", "device-listen", roomKeys(t, roomPassphrase, 0))
	var right, wrong browserResult
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		right = runBrowser(t, ctx, "--url", srv.URL, "--token", srv.Token("chromium", "browser", true),
			"--passphrase", roomPassphrase, "--duration", "7000", "--publish-hz", "660")
	}()
	go func() {
		defer wg.Done()
		wrong = runBrowser(t, ctx, "--url", srv.URL, "--token", srv.Token("chromium-wrong-key", "browser", false),
			"--passphrase", "not-the-room-passphrase", "--duration", "5000")
	}()
	wg.Wait()

	p, ok := right.Participants["br-dev"]
	if !ok {
		t.Fatalf("the browser did not hear the device: %+v", right)
	}
	t.Logf("browser with the key: %d packets, encrypted=%v, %.1f dBFS median, %.0f Hz median, errors %v",
		p.Packets, p.Encrypted, p.RMSMedianDBFS, p.FreqMedianHz, right.Errors)
	if !p.Encrypted || p.RMSMedianDBFS < -35 || p.FreqMedianHz < 985 || p.FreqMedianHz > 1015 {
		t.Errorf("browser with the key: %+v", p)
	}
	if w, ok := wrong.Participants["br-dev"]; ok {
		t.Logf("browser with a wrong key: %d packets, %.1f dBFS median, %d of %d frames above the floor, errors %d",
			w.Packets, w.RMSMedianDBFS, w.ActiveFrames, w.Frames, len(wrong.Errors))
		if w.RMSMedianDBFS > -60 && w.FreqMedianHz > 985 && w.FreqMedianHz < 1015 {
			t.Errorf("a browser with the wrong key hears the tone: %+v", w)
		}
	}
	got := fromBrowser.since(time.Time{})
	share := toneShare(got, 660)
	t.Logf("device decrypting the browser: %d samples, %.1f dBFS, %.0f%% at 660 Hz", len(got), rmsDBFS(got), 100*share)
	if len(got) < 48000 || share < 0.8 {
		t.Errorf("the device did not decrypt the browser's tone: %d samples, %.0f%% at 660 Hz", len(got), 100*share)
	}
}
