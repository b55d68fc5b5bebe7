package livekit

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/net/livekit/livekittest"
	"github.com/onair-gateway/onair/net/room"
)

func TestRedactJWT(t *testing.T) {
	for in, want := range map[string]string{
		"invalid token: eyJhbGc.eyJpc3M.sig_-x, try again": "invalid token: <redacted>, try again",
		"eyJa eyJb":           "<redacted> <redacted>",
		"invalid API key: k1": "invalid API key: k1",
	} {
		if got := redactJWT(in); got != want {
			t.Errorf("redactJWT(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHTTPURL(t *testing.T) {
	for in, want := range map[string]string{
		"ws://127.0.0.1:7880":          "http://127.0.0.1:7880/rtc/validate",
		"wss://lk.example.org/":        "https://lk.example.org/rtc/validate",
		"https://lk.example.org/base":  "https://lk.example.org/base/rtc/validate",
		"http://h:1/?access_token=abc": "http://h:1/rtc/validate",
	} {
		got, err := httpURL(in, "/rtc/validate")
		if err != nil || got != want {
			t.Errorf("httpURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if got, _ := httpURL("wss://lk.example.org/base/?t=1", "/"); got != "https://lk.example.org/base/" {
		t.Errorf("probe URL %q", got)
	}
}

// tokenRoom returns a Room on url that joins with tok.
func tokenRoom(t *testing.T, url, tok string) *Room {
	t.Helper()
	cfg := room.Config{URL: url, Room: "auth", Token: conf.Secret(tok)}
	cfg.SetDefaults("device")
	r, err := New(cfg, Options{}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRefusedTokenIsPermanent(t *testing.T) {
	srv := livekittest.Start(t)
	foreign, err := auth.NewAccessToken("otherkey", "another-secret-of-enough-length-000000").
		SetIdentity("device").SetValidFor(time.Hour).
		SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: "auth"}).ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	badSig := srv.Token("device", "auth", true)
	badSig = badSig[:len(badSig)-4] + "AAAA"
	for name, tok := range map[string]string{"unknown key": foreign, "bad signature": badSig} {
		t.Run(name, func(t *testing.T) {
			r := tokenRoom(t, srv.URL, tok)
			start := time.Now()
			s, err := r.Join(context.Background())
			took := time.Since(start)
			if err == nil {
				s.Close()
				t.Fatal("join with a refused token succeeded")
			}
			var je *room.JoinError
			if !errors.As(err, &je) || !je.Permanent || je.Status != 401 || je.Op != "token" {
				t.Fatalf("err = %#v (%v), want a permanent 401 token JoinError", err, err)
			}
			if strings.Contains(err.Error(), "eyJ") {
				t.Errorf("error carries the token: %v", err)
			}
			t.Logf("refused in %v: %v", took.Round(time.Millisecond), err)
		})
	}
}

func TestExpiredTokenFailsBeforeNetwork(t *testing.T) {
	srv := livekittest.Start(t)
	expired := srv.TokenTTL("device", "auth", true, -time.Minute)
	// Nothing listens on this port: only a check on the device can answer.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "ws://" + l.Addr().String()
	l.Close()
	r := tokenRoom(t, dead, expired)
	_, err = r.Join(context.Background())
	var je *room.JoinError
	if !errors.As(err, &je) || !je.Permanent || je.Op != "token" || !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("err = %v, want a permanent JoinError wrapping ErrTokenExpired", err)
	}
}

func TestUnreachableServerIsTransient(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "ws://" + l.Addr().String()
	l.Close()
	cfg := room.Config{URL: dead, Room: "auth", APIKey: "k", APISecret: "s"}
	cfg.SetDefaults("device")
	r, err := New(cfg, Options{}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Join(context.Background())
	var je *room.JoinError
	if !errors.As(err, &je) || je.Permanent {
		t.Fatalf("err = %v, want a transient JoinError", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	good := room.Config{URL: "ws://127.0.0.1:1", Token: "t"}
	good.SetDefaults("device")
	cases := []struct {
		name string
		cfg  room.Config
		opts Options
	}{
		{"three channels", good, Options{Channels: 3}},
		{"listen without subscribing", good, Options{ListenOnly: true}},
		{"whip backend", func() room.Config { c := good; c.Backend = room.BackendWHIP; return c }(), Options{}},
		{"no url", func() room.Config { c := good; c.URL = ""; return c }(), Options{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := New(c.cfg, c.opts, nil); err == nil {
				t.Error("accepted")
			}
		})
	}
	if _, err := New(good, Options{}, nil); err != nil {
		t.Errorf("good config rejected: %v", err)
	}
}

// TestMintedTokenName: a token minted on the device carries Options.Name as
// the participant name, and the identity when no name is given.
func TestMintedTokenName(t *testing.T) {
	for name, want := range map[string]string{"Studio A": "Studio A", "": "dev1"} {
		cfg := room.Config{URL: "ws://127.0.0.1:7880", Room: "r", APIKey: "k", APISecret: conf.Secret("a-secret-of-some-length-0123456789")}
		cfg.SetDefaults("dev1")
		r, err := New(cfg, Options{Name: name}, nil)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := r.token(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
		if err != nil {
			t.Fatal(err)
		}
		var claims struct {
			Name string `json:"name"`
			Sub  string `json:"sub"`
		}
		if err := json.Unmarshal(payload, &claims); err != nil {
			t.Fatal(err)
		}
		if claims.Name != want || claims.Sub != "dev1" {
			t.Errorf("name %q: token says name %q, identity %q; want %q, dev1", name, claims.Name, claims.Sub, want)
		}
	}
}

// TestJoinNotALiveKitServer: an ordinary web server at the URL. The error
// names the likely cause and carries no HTML or line breaks into logs and
// the status.
func TestJoinNotALiveKitServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("<!DOCTYPE html>\n<html><head><title>404</title></head>\n<body>Not here</body></html>\n"))
	}))
	defer srv.Close()
	cfg := room.Config{URL: "ws" + strings.TrimPrefix(srv.URL, "http"), Room: "r", APIKey: "k", APISecret: conf.Secret("a-secret-of-some-length-0123456789")}
	cfg.SetDefaults("dev")
	r, err := New(cfg, Options{ConnectTimeout: 3 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = r.Join(ctx)
	var je *room.JoinError
	if !errors.As(err, &je) || !je.Permanent {
		t.Fatalf("err = %v, want a permanent JoinError", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "is this a LiveKit server?") || strings.Contains(msg, "<") || strings.Contains(msg, "\n") {
		t.Errorf("error %q", msg)
	}
}
