package httpapi

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"golang.org/x/crypto/bcrypt"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/gateway"
	"github.com/onair-gateway/onair/gateway/provision"
	"github.com/onair-gateway/onair/provisioning"
	"github.com/onair-gateway/onair/provisioning/mqtt"
)

const testPassword = "correct horse battery"

// device is a Device over a decoded config; it records the commands and
// config requests the page sends.
type device struct {
	mu       sync.Mutex
	r        *provisioning.Resolved
	cmds     []string
	applied  []mqtt.ConfigSet
	checked  []mqtt.ConfigSet
	redacted string
}

func newDevice(t *testing.T, http string) *device {
	t.Helper()
	r, err := provisioning.Decode([]byte("room: {url: \"ws://127.0.0.1:7880\", token: t}\ne2ee: {passphrase: a-room-passphrase}\nhttp: "+http+"\n"), provisioning.YAML)
	if err != nil {
		t.Fatal(err)
	}
	j, _ := json.Marshal(r.Config)
	return &device{r: r, redacted: string(j)}
}

func (d *device) Snapshot() provision.State {
	return provision.State{Status: gateway.Status{Device: d.r.Device.ID, State: gateway.StateLive}}
}
func (d *device) Running() (*provisioning.Resolved, int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.r, 0
}
func (d *device) Config() ([]byte, int64) { return []byte(d.redacted), 0 }
func (d *device) Command(_ context.Context, name string, payload []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cmds = append(d.cmds, name+" "+string(payload))
	return nil
}
func (d *device) CheckConfig(req mqtt.ConfigSet) mqtt.ConfigResult {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.checked = append(d.checked, req)
	return mqtt.ConfigResult{OK: true, Applied: []string{}}
}
func (d *device) ApplyConfig(_ context.Context, req mqtt.ConfigSet) mqtt.ConfigResult {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.applied = append(d.applied, req)
	return mqtt.ConfigResult{OK: true, Applied: []string{}}
}
func (d *device) commands() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.cmds...)
}

func hashOf(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// client is a browser-like client: a cookie jar and same-origin POSTs.
type client struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newClient(t *testing.T, s *Server) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: "http://" + s.Addr().String(), c: &http.Client{Jar: jar}}
}

func (c *client) do(method, path, body string, hdr ...string) (*http.Response, string) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if method == http.MethodPost {
		req.Header.Set("Origin", c.base)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func startWeb(t *testing.T, dev Device, clock clockwork.Clock) *Server {
	t.Helper()
	return start(t, Config{Device: dev, Clock: clock}, &fixed{})
}

// TestLoginSessionAndCommands: a wrong password is refused and sets no
// cookie; the right one sets an HttpOnly SameSite=Strict session cookie
// with which a button's command reaches the device, and without which it
// does not. Logging out ends the session.
func TestLoginSessionAndCommands(t *testing.T) {
	dev := newDevice(t, "{password_hash: '"+hashOf(t, testPassword)+"'}")
	s := startWeb(t, dev, nil)
	c := newClient(t, s)
	if resp, _ := c.do("POST", "/api/command/mute", `{"on":true}`); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("command without a login: %d", resp.StatusCode)
	}
	if resp, body := c.do("POST", "/api/login", `{"password":"guess"}`); resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 || !strings.Contains(body, "wrong password") {
		t.Fatalf("wrong password: %d %v %s", resp.StatusCode, resp.Cookies(), body)
	}
	resp, _ := c.do("POST", "/api/login", `{"password":"`+testPassword+`"}`)
	if resp.StatusCode != http.StatusOK || len(resp.Cookies()) != 1 {
		t.Fatalf("login: %d %v", resp.StatusCode, resp.Cookies())
	}
	ck := resp.Cookies()[0]
	if ck.Name != SessionCookie || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure || ck.Path != "/" {
		t.Errorf("session cookie %+v", ck)
	}
	if resp, body := c.do("POST", "/api/command/mute", `{"on":true}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("command: %d %s", resp.StatusCode, body)
	}
	if resp, _ := c.do("POST", "/api/command/restart", `{}`); resp.StatusCode != http.StatusNotFound {
		t.Errorf("restart from the page: %d, want 404 (only onair, mute, identify)", resp.StatusCode)
	}
	if got := dev.commands(); len(got) != 1 || got[0] != `mute {"on":true}` {
		t.Errorf("commands %q", got)
	}
	// A forged cookie is not a session.
	other := newClient(t, s)
	u, _ := http.NewRequest("GET", c.base, nil)
	forged := c.c.Jar.Cookies(u.URL)[0].Value
	forged = forged[:len(forged)-2] + "AA"
	other.c.Jar.SetCookies(u.URL, []*http.Cookie{{Name: SessionCookie, Value: forged}})
	if resp, _ := other.do("POST", "/api/command/mute", `{"on":false}`); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("forged cookie: %d", resp.StatusCode)
	}
	old := c.c.Jar.Cookies(u.URL)[0]
	c.do("POST", "/api/logout", `{}`)
	// The logged-out token is refused even if a client kept it.
	other.c.Jar.SetCookies(u.URL, []*http.Cookie{{Name: SessionCookie, Value: old.Value}})
	if resp, _ := other.do("POST", "/api/command/mute", `{"on":false}`); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("command after logout: %d", resp.StatusCode)
	}
	if len(dev.commands()) != 1 {
		t.Errorf("commands %q", dev.commands())
	}
}

// TestNewPasswordEndsSessions: the session key comes from the password
// hash, so a changed password logs everyone out.
func TestNewPasswordEndsSessions(t *testing.T) {
	dev := newDevice(t, "{password_hash: '"+hashOf(t, testPassword)+"'}")
	s := startWeb(t, dev, nil)
	c := newClient(t, s)
	c.do("POST", "/api/login", `{"password":"`+testPassword+`"}`)
	if _, body := c.do("GET", "/api/session", ""); !strings.Contains(body, `"logged_in":true`) {
		t.Fatalf("session: %s", body)
	}
	next := *dev.r
	h := hashOf(t, "another password")
	dev.mu.Lock()
	next.HTTP.PasswordHash = conf.Secret(h)
	dev.r = &next
	dev.mu.Unlock()
	if _, body := c.do("GET", "/api/session", ""); !strings.Contains(body, `"logged_in":false`) {
		t.Fatalf("session after the password changed: %s", body)
	}
}

// TestLoginSlowedAfterFiveFailures: five wrong passwords within a minute
// make the next attempt, even with the right password, wait (429 with
// Retry-After) until the first failure is a minute old.
func TestLoginSlowedAfterFiveFailures(t *testing.T) {
	clock := clockwork.NewFakeClock()
	dev := newDevice(t, "{password_hash: '"+hashOf(t, testPassword)+"'}")
	s := startWeb(t, dev, clock)
	c := newClient(t, s)
	for i := 0; i < LoginFailures; i++ {
		if resp, _ := c.do("POST", "/api/login", `{"password":"guess"}`); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, resp.StatusCode)
		}
		clock.Advance(5 * time.Second)
	}
	resp, body := c.do("POST", "/api/login", `{"password":"`+testPassword+`"}`)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "35" || len(resp.Cookies()) != 0 {
		t.Fatalf("sixth attempt: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	clock.Advance(36 * time.Second) // the first failure is now 61 s old
	if resp, body := c.do("POST", "/api/login", `{"password":"`+testPassword+`"}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("after the window: %d %s", resp.StatusCode, body)
	}
}

// TestCrossSitePostRefused: a POST whose browser says it comes from
// another site is refused before the login is even looked at, and
// reaches nothing.
func TestCrossSitePostRefused(t *testing.T) {
	dev := newDevice(t, "{password_hash: '"+hashOf(t, testPassword)+"'}")
	s := startWeb(t, dev, nil)
	c := newClient(t, s)
	c.do("POST", "/api/login", `{"password":"`+testPassword+`"}`)
	for _, hdr := range [][]string{
		{"Sec-Fetch-Site", "cross-site", "Origin", "http://evil.example"},
		{"Sec-Fetch-Site", "same-site", "Origin", "http://127.0.0.1:1"},
		{"Sec-Fetch-Site", "", "Origin", "http://evil.example"},
	} {
		resp, body := c.do("POST", "/api/command/mute", `{"on":true}`, hdr...)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "cross-site") {
			t.Errorf("%v: %d %s", hdr, resp.StatusCode, body)
		}
	}
	if len(dev.commands()) != 0 {
		t.Errorf("a cross-site POST reached the device: %q", dev.commands())
	}
}

// TestNoPasswordIsReadOnly: without http.password_hash the page shows
// the device but every change is refused with how to set one.
func TestNoPasswordIsReadOnly(t *testing.T) {
	dev := newDevice(t, "{}")
	s := startWeb(t, dev, nil)
	c := newClient(t, s)
	if resp, body := c.do("GET", "/api/config", ""); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"version":0`) {
		t.Errorf("config view: %d %s", resp.StatusCode, body)
	}
	for _, p := range []string{"/api/command/mute", "/api/config/apply", "/api/login"} {
		if resp, body := c.do("POST", p, `{"on":true}`); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "onairctl passwd") {
			t.Errorf("%s: %d %s", p, resp.StatusCode, body)
		}
	}
	// The event stream opens and sends the info event, then the state.
	resp, err := c.c.Get(c.base + "/api/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	var lines []string
	for len(lines) < 4 {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if l != "\n" {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	if resp.Header.Get("Content-Type") != "text/event-stream" || lines[0] != "retry: 1000" || lines[1] != "event: info" ||
		!strings.Contains(lines[2], `"can_write":false`) || !strings.Contains(lines[3], `"state":"live"`) {
		t.Errorf("event stream: %s %q", resp.Header.Get("Content-Type"), lines)
	}
}

// TestOpenMetrics: with a password, /metrics, /healthz and /status stay
// open by default and need a login with http.open_metrics false; the page
// itself needs a login either way.
func TestOpenMetrics(t *testing.T) {
	h := hashOf(t, testPassword)
	for _, open := range []bool{true, false} {
		spec := "{password_hash: '" + h + "'}"
		if !open {
			spec = "{password_hash: '" + h + "', open_metrics: false}"
		}
		s := startWeb(t, newDevice(t, spec), nil)
		c := newClient(t, s)
		for _, p := range []string{"/metrics", "/healthz", "/status"} {
			resp, _ := c.do("GET", p, "")
			if (resp.StatusCode == http.StatusUnauthorized) == open {
				t.Errorf("open_metrics %v: %s %d", open, p, resp.StatusCode)
			}
		}
		if resp, _ := c.do("GET", "/api/config", ""); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("config without a login: %d", resp.StatusCode)
		}
		c.do("POST", "/api/login", `{"password":"`+testPassword+`"}`)
		if resp, _ := c.do("GET", "/metrics", ""); resp.StatusCode != http.StatusOK {
			t.Errorf("open_metrics %v: /metrics after login %d", open, resp.StatusCode)
		}
	}
}

// TestConfigEditIsAPatch: the edited config becomes the merge patch of
// what changed (redacted secrets left alone are not in it), checked or
// applied with the next version; a stale version or a placeholder inside
// a changed list is refused with its path.
func TestConfigEditIsAPatch(t *testing.T) {
	dev := newDevice(t, "{password_hash: '"+hashOf(t, testPassword)+"'}")
	s := startWeb(t, dev, nil)
	c := newClient(t, s)
	c.do("POST", "/api/login", `{"password":"`+testPassword+`"}`)
	var doc map[string]any
	_ = json.Unmarshal([]byte(dev.redacted), &doc)
	if doc["e2ee"].(map[string]any)["passphrase"] != "<redacted>" {
		t.Fatalf("the redacted config shows e2ee %v", doc["e2ee"])
	}
	doc["device"].(map[string]any)["name"] = "Studio Z"
	edit, _ := json.Marshal(map[string]any{"version": 0, "config": doc})
	for _, p := range []string{"/api/config/check", "/api/config/apply"} {
		resp, body := c.do("POST", p, string(edit))
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"patch":{"device":{"name":"Studio Z"}}`) {
			t.Errorf("%s: %d %s", p, resp.StatusCode, body)
		}
	}
	if len(dev.checked) != 1 || len(dev.applied) != 1 || *dev.applied[0].Version != 1 || string(dev.applied[0].Config) != `{"device":{"name":"Studio Z"}}` {
		t.Fatalf("checked %+v applied %+v", dev.checked, dev.applied)
	}
	stale, _ := json.Marshal(map[string]any{"version": 3, "config": doc})
	if resp, body := c.do("POST", "/api/config/apply", string(stale)); resp.StatusCode != http.StatusConflict || !strings.Contains(body, `"path":"version"`) {
		t.Errorf("stale edit: %d %s", resp.StatusCode, body)
	}
	doc["controls"] = map[string]any{"buttons": []any{map[string]any{"pin": "<redacted>"}}}
	ph, _ := json.Marshal(map[string]any{"version": 0, "config": doc})
	if _, body := c.do("POST", "/api/config/apply", string(ph)); !strings.Contains(body, `"path":"controls.buttons[0].pin"`) {
		t.Errorf("placeholder in a list: %s", body)
	}
	if len(dev.applied) != 1 {
		t.Errorf("a refused edit reached the device: %+v", dev.applied)
	}
}

// TestPageBudget: the page's three files, all it loads, stay under
// 100 KB, and none refers to another host (no CDN).
func TestPageBudget(t *testing.T) {
	total := 0
	for _, f := range assets {
		b, err := webFS.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		total += len(b)
		for _, bad := range []string{"http://", "https://", "//cdn"} {
			if i := strings.Index(string(b), bad); i >= 0 && !strings.Contains(string(b[i:min(i+40, len(b))]), "www.w3.org/2000/svg") {
				t.Errorf("%s refers to another host: %q", f, b[i:min(i+40, len(b))])
			}
		}
	}
	t.Logf("page: %d bytes uncompressed", total)
	if total > 100<<10 {
		t.Errorf("page is %d bytes, over the 100 KB budget", total)
	}
}

// TestTLS: with tls_cert and tls_key the server speaks HTTPS only and
// the session cookie is Secure.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	dev := newDevice(t, "{password_hash: '"+hashOf(t, testPassword)+"'}")
	s, err := Start(Config{Addr: "127.0.0.1:0", Device: dev, TLSCert: certFile, TLSKey: keyFile}, &fixed{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := "https://" + s.Addr().String()
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, _ := http.NewRequest("POST", base+"/api/login", strings.NewReader(`{"password":"`+testPassword+`"}`))
	req.Header.Set("Origin", base)
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(resp.Cookies()) != 1 || !resp.Cookies()[0].Secure {
		t.Errorf("login over TLS: %d %v", resp.StatusCode, resp.Cookies())
	}
	if resp, err := http.Get("http://" + s.Addr().String() + "/healthz"); err == nil && resp.StatusCode == http.StatusOK {
		t.Error("plain HTTP answered on a TLS server")
	}
	if _, err := Start(Config{Addr: "127.0.0.1:0", TLSCert: filepath.Join(dir, "none.pem"), TLSKey: keyFile}, &fixed{}, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "http.tls_cert") {
		t.Errorf("missing certificate: %v", err)
	}
}

func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "onair"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestEventStreamOutlivesReadTimeout: the server's read timeout, which
// cuts off slow request bodies, does not end a page's event stream.
func TestEventStreamOutlivesReadTimeout(t *testing.T) {
	s := start(t, Config{Device: newDevice(t, "{}"), ReadTimeout: 150 * time.Millisecond}, &fixed{})
	resp, err := http.Get("http://" + s.Addr().String() + "/api/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	t0 := time.Now()
	for n := 0; n < 12; {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended after %d events, %v: %v", n, time.Since(t0), err)
		}
		if strings.HasPrefix(l, "data: {\"device\"") {
			n++
		}
	}
	if time.Since(t0) < 300*time.Millisecond {
		t.Fatalf("12 events in %v: the stream is not paced", time.Since(t0))
	}
}
