package whip

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/pion/webrtc/v4"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/net/room"
)

const token = "secret-token"

// redirector is a server that answers every request with status and
// Location loc, recording what it got.
type redirector struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []seenRequest
}

func newRedirector(t *testing.T, status int, loc func(r *http.Request) string, tls bool) *redirector {
	rd := &redirector{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rd.mu.Lock()
		rd.seen = append(rd.seen, seenRequest{method: r.Method, path: r.URL.Path, auth: r.Header.Get("Authorization"),
			contentType: r.Header.Get("Content-Type"), body: string(body)})
		rd.mu.Unlock()
		if l := loc(r); l != "" {
			w.Header().Set("Location", l)
		}
		w.WriteHeader(status)
	})
	if tls {
		rd.srv = httptest.NewTLSServer(h)
	} else {
		rd.srv = httptest.NewServer(h)
	}
	t.Cleanup(rd.srv.Close)
	return rd
}

func (rd *redirector) requests() []seenRequest {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	return append([]seenRequest(nil), rd.seen...)
}

// localhost rewrites a 127.0.0.1 httptest URL to name the host
// "localhost": another host as far as net/http's redirect rules go.
func localhost(u string) string { return strings.Replace(u, "127.0.0.1", "localhost", 1) }

func TestRedirectsKeepTokenAndBody(t *testing.T) {
	srv := newWHIPServer(t, token, serverOptions{})
	// Relative redirects inside the WHIP server itself.
	srv.mux.HandleFunc("POST /a/old", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "../whip") // relative to /a/old
		w.WriteHeader(http.StatusTemporaryRedirect)
	})
	srv.mux.HandleFunc("POST /hop1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/a/old")
		w.WriteHeader(http.StatusPermanentRedirect)
	})
	// Another host: Go's own redirect handling would drop Authorization.
	cross := newRedirector(t, http.StatusPermanentRedirect, func(*http.Request) string { return srv.url() }, false)

	for _, c := range []struct {
		name, url string
		// hops is how many redirects the WHIP server itself answers.
		hops int
	}{
		{"307 relative", srv.srv.URL + "/a/old", 1},
		{"308 absolute to another host", localhost(cross.srv.URL) + "/whip", 0},
		{"308 then 307", srv.srv.URL + "/hop1", 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			before, beforeCross := len(srv.requests()), len(cross.requests())
			_, s := joinTest(t, c.url, token, Options{})
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			reqs := srv.requests()[before:]
			if len(reqs) != c.hops+2 {
				t.Fatalf("server saw %d requests, want %d redirects + POST + DELETE: %+v", len(reqs), c.hops, reqs)
			}
			post := reqs[c.hops]
			if post.method != "POST" || post.path != "/whip" || post.auth != "Bearer "+token || post.contentType != contentTypeSDP {
				t.Errorf("final POST %s %s auth %q type %q", post.method, post.path, post.auth, post.contentType)
			}
			for _, r := range append(reqs[:c.hops:c.hops], cross.requests()[beforeCross:]...) {
				if r.auth != "Bearer "+token || r.body != post.body {
					t.Errorf("redirected request %s %s: auth %q, body same as final: %v", r.method, r.path, r.auth, r.body == post.body)
				}
			}
			// The Location "/resource/N" resolves against the URL that
			// answered, so the DELETE goes to the WHIP server.
			del := reqs[len(reqs)-1]
			if del.method != "DELETE" || !strings.HasPrefix(del.path, "/resource/") || del.auth != "Bearer "+token {
				t.Errorf("last request %s %s auth %q, want an authorized DELETE of the resource", del.method, del.path, del.auth)
			}
		})
	}
}

func TestRedirectFailures(t *testing.T) {
	loop := newRedirector(t, http.StatusTemporaryRedirect, func(r *http.Request) string { return r.URL.Path }, false)
	noLoc := newRedirector(t, http.StatusTemporaryRedirect, func(*http.Request) string { return "" }, false)
	plain := newRedirector(t, http.StatusServiceUnavailable, func(*http.Request) string { return "" }, false)
	down := newRedirector(t, http.StatusTemporaryRedirect, func(*http.Request) string { return plain.srv.URL + "/whip" }, true)

	for _, c := range []struct {
		name   string
		rd     *redirector
		client *http.Client
		is     error
		reqs   int
	}{
		{"loop is capped", loop, nil, ErrTooManyRedirects, maxRedirects + 1},
		{"no Location", noLoc, nil, nil, 1},
		{"https to http refused", down, down.srv.Client(), ErrInsecureRedirect, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := New(room.Config{URL: c.rd.srv.URL + "/whip", Token: token}, Options{Loopback: true, HTTPClient: c.client}, testLog(t))
			if err != nil {
				t.Fatal(err)
			}
			_, err = r.Join(testContext(t))
			var je *room.JoinError
			if !errors.As(err, &je) || je.Op != "http" || je.Status != http.StatusTemporaryRedirect {
				t.Fatalf("err = %v, want a JoinError for the 307", err)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("err = %v, want %v", err, c.is)
			}
			if n := len(c.rd.requests()); n != c.reqs {
				t.Errorf("redirector saw %d requests, want %d", n, c.reqs)
			}
			if len(plain.requests()) != 0 {
				t.Error("the token was sent over http after an https redirect")
			}
		})
	}
}

func TestJoinHTTPErrors(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	junk := strings.Repeat("\x00\x01bad\xff\xfe", 200<<10)
	bigSDP := "v=0\r\n" + strings.Repeat("a=x-pad:"+strings.Repeat("x", 1000)+"\r\n", 1100)
	videoOnly := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:96 VP8/90000\r\n"
	rejected := strings.Replace(videoOnly, "m=video 9 UDP/TLS/RTP/SAVPF 96", "m=audio 0 UDP/TLS/RTP/SAVPF 111", 1)
	noOpus := strings.Replace(strings.Replace(videoOnly, "m=video", "m=audio", 1), "VP8/90000", "PCMU/8000", 1)

	reply := func(status int, ctype, body string, hdr ...string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i+1 < len(hdr); i += 2 {
				w.Header().Set(hdr[i], hdr[i+1])
			}
			if ctype != "" {
				w.Header().Set("Content-Type", ctype)
			}
			w.WriteHeader(status)
			io.WriteString(w, body)
		}
	}
	for _, c := range []struct {
		name       string
		h          http.HandlerFunc
		op         string
		status     int
		permanent  bool
		retryAfter time.Duration
		is         error
		contains   string
		lacks      string // the message must not say this
		deletes    bool
	}{
		{name: "401 json echoing the token", h: reply(401, "application/json", `{"error":"token secret-token has expired"}`),
			op: "http", status: 401, permanent: true, contains: "401 Unauthorized: token [redacted] has expired"},
		{name: "403 text", h: reply(403, "text/plain", "room is closed\n"), op: "http", status: 403, permanent: true,
			contains: "403 Forbidden: room is closed"},
		{name: "404", h: reply(404, "text/plain", "no such stream"), op: "http", status: 404, permanent: true, contains: "no such stream"},
		{name: "400", h: reply(400, "", "bad offer"), op: "http", status: 400, permanent: true, contains: "bad offer"},
		{name: "405", h: reply(405, "", ""), op: "http", status: 405, permanent: true},
		{name: "415", h: reply(415, "", ""), op: "http", status: 415, permanent: true},
		{name: "409 is not permanent", h: reply(409, "", "busy"), op: "http", status: 409},
		{name: "500 junk body is bounded", h: reply(500, "application/octet-stream", junk), op: "http", status: 500,
			contains: "500 Internal Server Error: bad bad bad"},
		{name: "429 Retry-After seconds", h: reply(429, "", "slow down", "Retry-After", "7"), op: "http", status: 429,
			retryAfter: 7 * time.Second, contains: "slow down"},
		{name: "503 Retry-After date", h: reply(503, "", "maintenance", "Retry-After", now.Add(30*time.Second).Format(http.TimeFormat)),
			op: "http", status: 503, retryAfter: 30 * time.Second},
		{name: "503 Retry-After in the past", h: reply(503, "", "", "Retry-After", now.Add(-time.Minute).Format(http.TimeFormat)),
			op: "http", status: 503},
		{name: "201 without Location", h: reply(201, contentTypeSDP, videoOnly), op: "signal", status: 201, is: ErrNoLocation},
		{name: "201 wrong content type", h: reply(201, "text/html", "<html>", "Location", "/r/1"), op: "signal", status: 201,
			is: ErrBadAnswer, contains: `content type "text/html"`, deletes: true},
		{name: "201 garbage SDP", h: reply(201, contentTypeSDP, "this is not SDP", "Location", "/r/1"), op: "signal", status: 201,
			is: ErrBadAnswer, contains: "does not parse", deletes: true},
		{name: "201 no audio", h: reply(201, contentTypeSDP, videoOnly, "Location", "/r/1"), op: "signal", status: 201,
			is: ErrBadAnswer, contains: "no audio", deletes: true},
		{name: "201 audio rejected", h: reply(201, contentTypeSDP, rejected, "Location", "/r/1"), op: "signal", status: 201,
			is: ErrBadAnswer, contains: "port 0", deletes: true},
		{name: "201 no opus", h: reply(201, contentTypeSDP, noOpus, "Location", "/r/1"), op: "signal", status: 201,
			is: ErrBadAnswer, contains: "opus", deletes: true},
		{name: "201 huge body", h: reply(201, contentTypeSDP, bigSDP, "Location", "/r/1"), op: "signal", status: 201,
			is: ErrBadAnswer, contains: "larger than", deletes: true},
		{name: "201 Location not http", h: reply(201, contentTypeSDP, videoOnly, "Location", "ftp://x/r/1"), op: "signal",
			status: 201, is: ErrBadLocation, contains: `Location that is not an http(s) URL: "ftp://x/r/1"`, lacks: "without"},
		{name: "201 Location javascript", h: reply(201, contentTypeSDP, videoOnly, "Location", "javascript:alert(1)"), op: "signal",
			status: 201, is: ErrBadLocation, contains: `not an http(s) URL: "javascript:alert(1)"`, lacks: "without"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var mu sync.Mutex
			var deletes []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodDelete {
					mu.Lock()
					deletes = append(deletes, r.URL.Path+" "+r.Header.Get("Authorization"))
					mu.Unlock()
					return
				}
				c.h(w, r)
			}))
			defer srv.Close()
			r, err := New(room.Config{URL: srv.URL + "/whip", Token: conf.Secret(token)},
				Options{Loopback: true, Clock: clockwork.NewFakeClockAt(now)}, testLog(t))
			if err != nil {
				t.Fatal(err)
			}
			s, err := r.Join(testContext(t))
			if s != nil {
				t.Fatal("Join returned a session with an error")
			}
			var je *room.JoinError
			if !errors.As(err, &je) {
				t.Fatalf("err = %v (%T), want *room.JoinError", err, err)
			}
			msg := err.Error()
			if je.Op != c.op || je.Status != c.status || je.Permanent != c.permanent || je.RetryAfter != c.retryAfter {
				t.Errorf("JoinError{Op %q Status %d Permanent %v RetryAfter %v}, want {%q %d %v %v}: %s",
					je.Op, je.Status, je.Permanent, je.RetryAfter, c.op, c.status, c.permanent, c.retryAfter, msg)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("err = %v, want errors.Is %v", err, c.is)
			}
			if !strings.Contains(msg, c.contains) {
				t.Errorf("message %q lacks %q", msg, c.contains)
			}
			if c.lacks != "" && strings.Contains(msg, c.lacks) {
				t.Errorf("message %q says %q", msg, c.lacks)
			}
			if strings.Contains(msg, token) {
				t.Errorf("message %q leaks the token", msg)
			}
			if len(msg) > 300 {
				t.Errorf("message is %d bytes long", len(msg))
			}
			for _, b := range []byte(msg) {
				if b < ' ' || b > '~' {
					t.Errorf("message has byte %#x", b)
					break
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if c.deletes != (len(deletes) == 1) || (c.deletes && deletes[0] != "/r/1 Bearer "+token) {
				t.Errorf("DELETEs after the failed join: %q, want one: %v", deletes, c.deletes)
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  room.Config
		o    Options
		want string
	}{
		{"empty url", room.Config{}, Options{}, "url: must not be empty"},
		{"relative url", room.Config{URL: "/whip"}, Options{}, "url: is not an absolute URL"},
		{"ws url", room.Config{URL: "ws://h/whip"}, Options{}, `scheme "ws"`},
		{"channels", room.Config{URL: "http://h/whip"}, Options{Channels: 3}, "channels: 3 is not 1 or 2"},
		{"negative timeout", room.Config{URL: "http://h/whip"}, Options{ConnectTimeout: -1}, "connect_timeout"},
		{"bad ice server", room.Config{URL: "http://h/whip"}, Options{ICEServers: []webrtc.ICEServer{{URLs: []string{"http://x"}}}}, "ice_servers[0]"},
	} {
		_, err := New(c.cfg, c.o, testLog(t))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := New(room.Config{URL: "https://h/whip"}, Options{}, nil); err == nil {
		t.Error("nil logger accepted")
	}
}
