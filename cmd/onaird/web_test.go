package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/onair-gateway/onair/net/livekit/livekittest"
)

// pageResult is what test/browser/webpage.mjs prints.
type pageResult struct {
	Errors        []string `json:"errors"`
	LoginShown    bool     `json:"loginShown"`
	WrongPassword struct {
		Message string `json:"message"`
		Cookies int    `json:"cookies"`
	} `json:"wrongPassword"`
	Cookie *struct {
		Name     string `json:"name"`
		HTTPOnly bool   `json:"httpOnly"`
		SameSite string `json:"sameSite"`
	} `json:"cookie"`
	PageSeesCookie string `json:"pageSeesCookie"`
	OnAir          struct {
		PageState string `json:"pageState"`
	} `json:"onAir"`
	Meters struct {
		Levels          []string `json:"levels"`
		EventsPerSecond float64  `json:"eventsPerSecond"`
		Voice           string   `json:"voice"`
		DOA             string   `json:"doa"`
	} `json:"meters"`
	Mute struct {
		StatusMs  int    `json:"statusMs"`
		PageMs    int    `json:"pageMs"`
		PageState string `json:"pageState"`
		MutedRow  string `json:"mutedRow"`
	} `json:"mute"`
	Identify    string `json:"identify"`
	InvalidEdit struct {
		CheckProblems []string `json:"checkProblems"`
		ApplyProblems []string `json:"applyProblems"`
		Message       string   `json:"message"`
		Unchanged     bool     `json:"unchanged"`
		Version       int64    `json:"version"`
	} `json:"invalidEdit"`
	ValidEdit struct {
		Checked string `json:"checked"`
		Message string `json:"message"`
		Name    string `json:"name"`
	} `json:"validEdit"`
	CrossSite struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
		Muted  bool   `json:"muted"`
	} `json:"crossSite"`
	Phone struct {
		ScrollWidth int `json:"scrollWidth"`
		Width       int `json:"width"`
	} `json:"phone"`
	Restart struct {
		Lost        string `json:"lost"`
		RecoveredMs int    `json:"recoveredMs"`
		EventsAfter int    `json:"eventsAfter"`
		Name        string `json:"name"`
	} `json:"restart"`
	Screenshot string         `json:"screenshot"`
	Transfer   map[string]int `json:"transfer"`
}

// pageBrowser returns node and the page script, or skips (fails under CI)
// saying what is missing, as the gateway's browser tests do.
func pageBrowser(t *testing.T) (node, script string) {
	t.Helper()
	dir, _ := filepath.Abs("../../test/browser")
	script = filepath.Join(dir, "webpage.mjs")
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	missing := ""
	node, err := exec.LookPath("node")
	switch {
	case err != nil:
		missing = "node (apt-get install nodejs npm)"
	case !exists(chromium):
		missing = "chromium (apt-get install chromium)"
	case !exists(filepath.Join(dir, "node_modules/playwright-core/package.json")):
		missing = "playwright-core (make deps-npm)"
	}
	if missing != "" {
		if os.Getenv("CI") == "true" || os.Getenv("ONAIR_SCREENSHOT") != "" {
			t.Fatalf("CI=true or ONAIR_SCREENSHOT set, and the web page test needs %s", missing)
		}
		t.Skipf("the web page test needs %s; `make deps` installs it", missing)
	}
	return node, script
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestWebPage drives onaird's web page in headless Chromium on the
// simulated board talking into a real LiveKit room: a wrong password is
// refused, the right one logs in with an HttpOnly SameSite=Strict cookie,
// the meters move at 10 updates a second or more, "On air" and "Mute" go
// through to /status (muted within a second) and back to the page, an
// invalid config edit lists its problems by path and changes nothing, a
// valid one applies, a cross-site POST is refused, the page fits a phone,
// and it reconnects by itself after onaird restarts. No secret reaches
// the browser. ONAIR_SCREENSHOT=path also saves a screenshot there.
func TestWebPage(t *testing.T) {
	node, script := pageBrowser(t)
	srv := livekittest.Start(t)
	const password = "web-test-password"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	state := t.TempDir()
	cfg := fmt.Sprintf(`
device: {id: web-dev, name: Studio A, state_dir: %q}
board:
  profile: sim
  sim: {signal: wav, file: testdata/speech48k.wav, level: -18, azimuth: 135, keyboard: false}
room: {url: %q, api_key: %s, api_secret: %s, room: web}
e2ee: {passphrase: web-test-passphrase}
http: {listen: %q, password_hash: '%s'}
`, state, srv.URL, srv.APIKey, srv.APISecret, addr, hash)
	start := func() (*exec.Cmd, *bytes.Buffer) {
		cmd, _, errOut := startOnaird(t, cfg, 0)
		deadline := time.Now().Add(20 * time.Second)
		for {
			resp, err := http.Get("http://" + addr + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return cmd, errOut
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("onaird's page did not come up: %v\n%s", err, errOut)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	daemon, errOut := start()

	// Nothing the page can fetch, logged in, carries a secret.
	secrets := []string{"web-test-passphrase", srv.APISecret, string(hash)}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	login, _ := http.NewRequest("POST", "http://"+addr+"/api/login", strings.NewReader(`{"password":"`+password+`"}`))
	login.Header.Set("Origin", "http://"+addr)
	if resp, err := browser.Do(login); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %v %v", resp, err)
	}
	for _, path := range []string{"/", "/app.js", "/status", "/api/config", "/api/session", "/api/events"} {
		resp, err := browser.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		// The event stream never ends: read its first events.
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(b) == 0 {
			t.Errorf("%s: %d, %d bytes", path, resp.StatusCode, len(b))
		}
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Errorf("%s carries a secret", path)
			}
		}
		if path == "/api/config" {
			var v struct {
				Config struct {
					E2EE struct {
						Passphrase string `json:"passphrase"`
					} `json:"e2ee"`
				} `json:"config"`
			}
			if err := json.Unmarshal(b, &v); err != nil || v.Config.E2EE.Passphrase != "<redacted>" {
				t.Errorf("/api/config does not show the passphrase redacted (%v):\n%s", err, b)
			}
		}
	}

	args := []string{script, "--url", "http://" + addr + "/", "--password", password}
	if shot := os.Getenv("ONAIR_SCREENSHOT"); shot != "" {
		abs, _ := filepath.Abs(shot)
		args = append(args, "--screenshot", abs)
	}
	cmd := exec.Command(node, args...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var nodeErr bytes.Buffer
	cmd.Stderr = &nodeErr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	time.AfterFunc(3*time.Minute, func() {
		select {
		case <-done:
		default:
			_ = cmd.Process.Kill()
		}
	})
	var res pageResult
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if string(line) == `{"restart":true}` {
			_ = daemon.Process.Signal(syscall.SIGTERM)
			_ = daemon.Wait()
			daemon, errOut = start()
			_, _ = io.WriteString(stdin, "go\n")
			continue
		}
		if err := json.Unmarshal(line, &res); err != nil {
			t.Fatalf("page script printed %q: %v", line, err)
		}
	}
	waitErr := cmd.Wait()
	close(done)
	if waitErr != nil || len(res.Errors) > 0 {
		t.Fatalf("page script: %v %v\n%s\nonaird:\n%s", waitErr, res.Errors, nodeErr.String(), tail(errOut.String(), 3000))
	}
	t.Logf("meters %.1f events/s, voice %q, %s; mute in /status after %d ms, on the page after %d ms; restart recovered in %d ms; transfer %v",
		res.Meters.EventsPerSecond, res.Meters.Voice, res.Meters.DOA, res.Mute.StatusMs, res.Mute.PageMs, res.Restart.RecoveredMs, res.Transfer)

	if !res.LoginShown || !strings.Contains(res.WrongPassword.Message, "wrong password") || res.WrongPassword.Cookies != 0 {
		t.Errorf("wrong password: %+v", res.WrongPassword)
	}
	if c := res.Cookie; c == nil || c.Name != "onair_session" || !c.HTTPOnly || c.SameSite != "Strict" || res.PageSeesCookie != "" {
		t.Errorf("session cookie %+v, page script sees %q", c, res.PageSeesCookie)
	}
	if res.OnAir.PageState != "ON AIR" {
		t.Errorf("after On air the page says %q", res.OnAir.PageState)
	}
	distinct := map[string]bool{}
	loudest := -200.0
	for _, l := range res.Meters.Levels {
		distinct[l] = true
		if v, err := strconv.ParseFloat(l, 64); err == nil && v > loudest {
			loudest = v
		}
	}
	if len(distinct) < 5 || loudest < -50 || res.Meters.EventsPerSecond < 8 {
		// 10/s is sent; a loaded machine may show a few fewer.
		t.Errorf("meters did not move: %d distinct levels up to %.1f dBFS, %.1f events/s: %v", len(distinct), loudest, res.Meters.EventsPerSecond, res.Meters.Levels)
	}
	if res.Mute.StatusMs > 1000 || res.Mute.PageState != "Muted" || res.Mute.MutedRow != "yes" {
		t.Errorf("mute: %+v", res.Mute)
	}
	if !strings.Contains(res.Identify, "Identifying") {
		t.Errorf("identify: %q", res.Identify)
	}
	ie := res.InvalidEdit
	for _, want := range []string{"opus.bitrate", "room.url"} {
		if !containsPrefix(ie.CheckProblems, want) || !containsPrefix(ie.ApplyProblems, want) {
			t.Errorf("invalid edit: %s not among the problems %q / %q", want, ie.CheckProblems, ie.ApplyProblems)
		}
	}
	if !ie.Unchanged || ie.Version != 0 || !strings.Contains(ie.Message, "nothing was applied") {
		t.Errorf("invalid edit changed the config or said so: %+v", ie)
	}
	ve := res.ValidEdit
	if !strings.Contains(ve.Checked, "device") || !strings.Contains(ve.Message, "Applied as version 1") || ve.Name != "Studio Web" {
		t.Errorf("valid edit: %+v", ve)
	}
	if res.CrossSite.Status != http.StatusForbidden || res.CrossSite.Muted {
		t.Errorf("cross-site POST: %+v", res.CrossSite)
	}
	if res.Phone.ScrollWidth > res.Phone.Width {
		t.Errorf("on a phone the page is %d px wide in a %d px window", res.Phone.ScrollWidth, res.Phone.Width)
	}
	// The applied config was stored: the restarted onaird runs it, and the
	// page, still logged in, shows it.
	if res.Restart.EventsAfter < 5 || res.Restart.Name != "Studio Web" || res.Restart.Lost == "Live" {
		t.Errorf("after the restart: %+v", res.Restart)
	}
	total := 0
	for _, n := range res.Transfer {
		total += n
	}
	if total == 0 || total > 100<<10 {
		t.Errorf("the page transferred %d bytes (%v), want under 100 KB", total, res.Transfer)
	}
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
