package httpapi

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"golang.org/x/crypto/bcrypt"

	"github.com/onair-gateway/onair/audio/dsp"
	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/gateway/provision"
	"github.com/onair-gateway/onair/provisioning"
	"github.com/onair-gateway/onair/provisioning/mqtt"
)

// Device is the device as the web page shows and drives it: the same
// state, commands and config path as the MQTT agent. *provision.Device
// implements it.
type Device interface {
	// Snapshot is the state the page shows (GET /status's fields plus
	// uptime, version, board and config version).
	Snapshot() provision.State
	// Running is the running config; the page reads http.password_hash
	// and http.open_metrics from it on every request, so a changed
	// password takes effect at once.
	Running() (*provisioning.Resolved, int64)
	// Config is the running config as JSON, secrets redacted.
	Config() ([]byte, int64)
	Command(ctx context.Context, name string, payload []byte) error
	CheckConfig(req mqtt.ConfigSet) mqtt.ConfigResult
	ApplyConfig(ctx context.Context, req mqtt.ConfigSet) mqtt.ConfigResult
}

var _ Device = (*provision.Device)(nil)

//go:embed web
var webFS embed.FS

// Page assets: one page, its script and its style sheet.
var assets = map[string]string{
	"/":        "web/index.html",
	"/app.js":  "web/app.js",
	"/app.css": "web/app.css",
}

const (
	// SessionCookie holds a login.
	SessionCookie = "onair_session"
	// SessionTTL is how long a login lasts.
	SessionTTL = 12 * time.Hour
	// LoginFailures failed logins within LoginWindow make further
	// attempts wait until the oldest of them is LoginWindow old.
	LoginFailures = 5
	LoginWindow   = time.Minute
	// EventInterval is how often the page's event stream sends the state
	// (the meters move at 10 updates a second).
	EventInterval = 100 * time.Millisecond
)

// pageCommands are the commands the page's buttons send.
var pageCommands = map[string]bool{mqtt.CmdOnAir: true, mqtt.CmdMute: true, mqtt.CmdIdentify: true}

// web serves the page and its API.
type web struct {
	dev   Device
	clock clockwork.Clock
	log   *slog.Logger
	tls   bool
	done  chan struct{}

	mu       sync.Mutex
	failures []time.Time          // failed (and in-flight) logins, oldest first
	revoked  map[string]time.Time // logged-out tokens until they expire
	reqID    atomic.Uint64
}

func newWeb(dev Device, clock clockwork.Clock, tls bool, log *slog.Logger) *web {
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	return &web{dev: dev, clock: clock, tls: tls, log: log, done: make(chan struct{}), revoked: map[string]time.Time{}}
}

func (h *web) register(mux *http.ServeMux) {
	for path, file := range assets {
		pattern := "GET " + path
		if path == "/" {
			pattern = "GET /{$}"
		}
		mux.HandleFunc(pattern, h.asset(file))
	}
	mux.HandleFunc("GET /api/session", h.session)
	mux.HandleFunc("POST /api/login", h.login)
	mux.HandleFunc("POST /api/logout", h.logout)
	mux.HandleFunc("GET /api/events", h.view(h.events))
	mux.HandleFunc("GET /api/config", h.view(h.config))
	mux.HandleFunc("POST /api/config/check", h.change(h.configSet(false)))
	mux.HandleFunc("POST /api/config/apply", h.change(h.configSet(true)))
	mux.HandleFunc("POST /api/command/{name}", h.change(h.command))
}

func (h *web) asset(file string) http.HandlerFunc {
	data, err := webFS.ReadFile(file)
	if err != nil {
		panic(err) // the embed directive guarantees the file
	}
	ctype := "text/html; charset=utf-8"
	switch {
	case strings.HasSuffix(file, ".js"):
		ctype = "text/javascript; charset=utf-8"
	case strings.HasSuffix(file, ".css"):
		ctype = "text/css; charset=utf-8"
	}
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	}
}

// securityHeaders are on every response: the page loads only its own
// files, in no frame, and sends no referrer.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// httpConfig is the running config's http section.
func (h *web) httpConfig() provisioning.HTTPConfig {
	r, _ := h.dev.Running()
	return r.HTTP
}

// sessionKey signs sessions: derived from the password hash, so changing
// the password ends every session, and a restart keeps them.
func sessionKey(hash conf.Secret) []byte {
	m := hmac.New(sha256.New, []byte(hash.Reveal()))
	m.Write([]byte("onair web session v1"))
	return m.Sum(nil)
}

// newToken is base64(expiry, 16 random bytes).base64(HMAC).
func newToken(key []byte, expires time.Time) string {
	payload := make([]byte, 24)
	binary.BigEndian.PutUint64(payload, uint64(expires.Unix()))
	_, _ = rand.Read(payload[8:])
	m := hmac.New(sha256.New, key)
	m.Write(payload)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(m.Sum(nil))
}

// validToken checks a token's signature and expiry.
func validToken(key []byte, tok string, now time.Time) bool {
	p, s, ok := strings.Cut(tok, ".")
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p)
	sig, err2 := enc.DecodeString(s)
	if !ok || err1 != nil || err2 != nil || len(payload) != 24 {
		return false
	}
	m := hmac.New(sha256.New, key)
	m.Write(payload)
	if !hmac.Equal(sig, m.Sum(nil)) {
		return false
	}
	return now.Unix() < int64(binary.BigEndian.Uint64(payload))
}

// loggedIn reports whether r carries a valid session for the current
// password. Without a password nobody is logged in.
func (h *web) loggedIn(r *http.Request) bool {
	hash := h.httpConfig().PasswordHash
	if !hash.IsSet() {
		return false
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil || !validToken(sessionKey(hash), c.Value, h.clock.Now()) {
		return false
	}
	h.mu.Lock()
	_, revoked := h.revoked[c.Value]
	h.mu.Unlock()
	return !revoked
}

// canView: without a password the page shows the device to anyone who
// reaches it (http.listen is loopback by default); with one, to a login.
func (h *web) canView(r *http.Request) bool {
	return !h.httpConfig().PasswordHash.IsSet() || h.loggedIn(r)
}

// monitoring guards /healthz, /status and /metrics: open unless a
// password is set and http.open_metrics is false.
func (h *web) monitoring(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := h.httpConfig()
		if c.PasswordHash.IsSet() && c.OpenMetrics != nil && !*c.OpenMetrics && !h.loggedIn(r) {
			apiError(w, http.StatusUnauthorized, "log in first (http.open_metrics is false)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (h *web) view(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !h.canView(r) {
			apiError(w, http.StatusUnauthorized, "log in first")
			return
		}
		next(w, r)
	}
}

// change guards every request that changes the device: a password must
// be set and the request logged in. (Cross-site requests were refused
// before this, by http.CrossOriginProtection.)
func (h *web) change(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !h.httpConfig().PasswordHash.IsSet() {
			apiError(w, http.StatusForbidden, "no password is set, so this page cannot change the device: set http.password_hash (onairctl passwd)")
			return
		}
		if !h.loggedIn(r) {
			apiError(w, http.StatusUnauthorized, "log in first")
			return
		}
		next(w, r)
	}
}

type sessionInfo struct {
	PasswordSet bool `json:"password_set"`
	LoggedIn    bool `json:"logged_in"`
}

func (h *web) session(w http.ResponseWriter, r *http.Request) {
	apiJSON(w, http.StatusOK, sessionInfo{PasswordSet: h.httpConfig().PasswordHash.IsSet(), LoggedIn: h.loggedIn(r)})
}

// login checks the password. After LoginFailures failures within
// LoginWindow it answers 429 without checking until the window has room
// again; an attempt in flight counts as a failure until it succeeds, so
// parallel guesses cannot slip past the limit.
func (h *web) login(w http.ResponseWriter, r *http.Request) {
	hash := h.httpConfig().PasswordHash
	if !hash.IsSet() {
		apiError(w, http.StatusForbidden, "no password is set: set http.password_hash (onairctl passwd)")
		return
	}
	var req struct {
		Password string `json:"password"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		apiError(w, http.StatusBadRequest, "body: want {\"password\": \"...\"}")
		return
	}
	now := h.clock.Now()
	h.mu.Lock()
	i := 0
	for i < len(h.failures) && now.Sub(h.failures[i]) >= LoginWindow {
		i++
	}
	h.failures = h.failures[i:]
	if len(h.failures) >= LoginFailures {
		wait := h.failures[0].Add(LoginWindow).Sub(now)
		h.mu.Unlock()
		secs := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		apiError(w, http.StatusTooManyRequests, fmt.Sprintf("%d failed logins within a minute: try again in %d s", LoginFailures, secs))
		return
	}
	h.failures = append(h.failures, now)
	h.mu.Unlock()
	if bcrypt.CompareHashAndPassword([]byte(hash.Reveal()), []byte(req.Password)) != nil {
		h.log.Warn("web login failed", "remote", r.RemoteAddr)
		apiError(w, http.StatusUnauthorized, "wrong password")
		return
	}
	h.mu.Lock()
	for j := len(h.failures) - 1; j >= 0; j-- {
		if h.failures[j].Equal(now) {
			h.failures = append(h.failures[:j], h.failures[j+1:]...)
			break
		}
	}
	h.mu.Unlock()
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: newToken(sessionKey(hash), now.Add(SessionTTL)), Path: "/",
		MaxAge: int(SessionTTL.Seconds()), HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: h.tls,
	})
	h.log.Info("web login", "remote", r.RemoteAddr)
	apiJSON(w, http.StatusOK, sessionInfo{PasswordSet: true, LoggedIn: true})
}

func (h *web) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(SessionCookie); err == nil && h.loggedIn(r) {
		now := h.clock.Now()
		h.mu.Lock()
		for t, exp := range h.revoked {
			if now.After(exp) {
				delete(h.revoked, t)
			}
		}
		h.revoked[c.Value] = now.Add(SessionTTL)
		h.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: h.tls})
	apiJSON(w, http.StatusOK, sessionInfo{PasswordSet: h.httpConfig().PasswordHash.IsSet()})
}

// pageInfo is the stream's "info" event: what the page draws once per
// config version.
type pageInfo struct {
	Mics     int     `json:"mics"`
	Shape    string  `json:"shape"`
	RadiusM  float64 `json:"radius_m"`
	DOA      bool    `json:"doa"`
	CanWrite bool    `json:"can_write"`
}

// events streams the state as Server-Sent Events every EventInterval,
// with an "info" event first and whenever the config version changes.
// The stream ends with the request, the server, or the login.
func (h *web) events(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	var buf bytes.Buffer
	buf.WriteString("retry: 1000\n\n")
	lastVersion := int64(-1)
	t := h.clock.NewTicker(EventInterval)
	defer t.Stop()
	for n := 0; ; n++ {
		s := h.dev.Snapshot()
		if s.ConfigVersion != lastVersion {
			lastVersion = s.ConfigVersion
			rcfg, _ := h.dev.Running()
			g := rcfg.Board.Geometry
			info, _ := json.Marshal(pageInfo{Mics: g.Mics, Shape: string(g.Shape), RadiusM: g.Radius,
				DOA: rcfg.Audio.Processing.Beam == dsp.BeamDOA, CanWrite: h.loggedIn(r)})
			fmt.Fprintf(&buf, "event: info\ndata: %s\n\n", info)
		}
		data, err := json.Marshal(s)
		if err != nil {
			return
		}
		fmt.Fprintf(&buf, "data: %s\n\n", data)
		_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := w.Write(buf.Bytes()); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		buf.Reset()
		// A logout or a new password ends the stream; the page then asks
		// for a login.
		if n%10 == 9 && !h.canView(r) {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-h.done:
			return
		case <-t.Chan():
		}
	}
}

type configView struct {
	Version int64           `json:"version"`
	Config  json.RawMessage `json:"config"`
}

func (h *web) config(w http.ResponseWriter, _ *http.Request) {
	data, v := h.dev.Config()
	apiJSON(w, http.StatusOK, configView{Version: v, Config: data})
}

// configResult is mqtt.ConfigResult plus the patch the edit makes.
type configResult struct {
	mqtt.ConfigResult
	Patch json.RawMessage `json:"patch,omitempty"`
}

// configSet takes the edited config (the redacted running config the
// page loaded, changed) and the version it was loaded at. The change is
// the JSON Merge Patch from the running config to the edit, so values
// left as the redaction placeholder stay as they are; it is then checked
// or applied exactly as an MQTT patch (provision.Manager).
func (h *web) configSet(apply bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Version *int64          `json:"version"`
			Config  json.RawMessage `json:"config"`
		}
		dec := json.NewDecoder(r.Body)
		if err := dec.Decode(&req); err != nil || req.Version == nil || len(req.Config) == 0 {
			msg := "body: want {\"version\": N, \"config\": {...}}"
			if err != nil {
				msg += ": " + err.Error()
			}
			apiJSON(w, http.StatusBadRequest, configResult{ConfigResult: fail("config", msg)})
			return
		}
		running, version := h.dev.Config()
		if *req.Version != version {
			apiJSON(w, http.StatusConflict, configResult{ConfigResult: fail("version",
				fmt.Sprintf("the config changed on the device since the page loaded it (version %d, now %d): reload it", *req.Version, version))})
			return
		}
		var from, to any
		if err := json.Unmarshal(running, &from); err != nil {
			apiError(w, http.StatusInternalServerError, "running config: "+err.Error())
			return
		}
		if err := json.Unmarshal(req.Config, &to); err != nil {
			apiJSON(w, http.StatusBadRequest, configResult{ConfigResult: fail("config", "not JSON: "+err.Error())})
			return
		}
		if _, ok := to.(map[string]any); !ok {
			apiJSON(w, http.StatusBadRequest, configResult{ConfigResult: fail("config", "must be a JSON object")})
			return
		}
		diff := provisioning.DiffPatch(from, to)
		if diff == nil {
			diff = map[string]any{}
		}
		if p := placeholder(diff, ""); p != "" {
			apiJSON(w, http.StatusOK, configResult{ConfigResult: fail(p, "holds the placeholder "+conf.Redacted+
				" inside a changed list: type the secret's value there, or leave the list as it was")})
			return
		}
		patch, _ := json.Marshal(diff)
		next := version + 1
		set := mqtt.ConfigSet{ID: fmt.Sprintf("web-%d", h.reqID.Add(1)), Version: &next, Config: patch}
		var res mqtt.ConfigResult
		if apply {
			// A browser that goes away mid-apply does not cut the apply
			// (and its rollback) short.
			res = h.dev.ApplyConfig(context.WithoutCancel(r.Context()), set)
			h.log.Info("web config apply", "remote", r.RemoteAddr, "ok", res.OK, "version", res.Version, "sections", strings.Join(res.Applied, ","))
		} else {
			res = h.dev.CheckConfig(set)
		}
		apiJSON(w, http.StatusOK, configResult{ConfigResult: res, Patch: patch})
	}
}

// placeholder returns the path of a conf.Redacted string the patch would
// store (a list is replaced whole, so a redacted secret inside a changed
// list would overwrite the secret), or "".
func placeholder(v any, path string) string {
	switch x := v.(type) {
	case string:
		if x == conf.Redacted {
			return path
		}
	case map[string]any:
		for k, e := range x {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if q := placeholder(e, p); q != "" {
				return q
			}
		}
	case []any:
		for i, e := range x {
			if q := placeholder(e, fmt.Sprintf("%s[%d]", path, i)); q != "" {
				return q
			}
		}
	}
	return ""
}

func fail(path, msg string) mqtt.ConfigResult {
	return mqtt.ConfigResult{Applied: []string{}, Errors: []mqtt.FieldError{{Path: path, Message: msg}}}
}

// command runs one of the page's buttons through the same Device.Command
// as MQTT: {"on": true|false} for onair and mute, nothing for identify.
func (h *web) command(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !pageCommands[name] {
		apiError(w, http.StatusNotFound, fmt.Sprintf("unknown command %q (onair, mute, identify)", name))
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		apiError(w, http.StatusBadRequest, "body: "+err.Error())
		return
	}
	if err := h.dev.Command(r.Context(), name, body); err != nil {
		apiError(w, http.StatusConflict, err.Error())
		return
	}
	h.log.Info("web command", "command", name, "args", string(body), "remote", r.RemoteAddr)
	apiJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func apiJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	writeJSON(w, v)
}

func apiError(w http.ResponseWriter, code int, msg string) {
	apiJSON(w, code, map[string]string{"error": msg})
}
