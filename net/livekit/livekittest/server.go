// Package livekittest runs a real livekit-server on loopback for tests: free
// ports, a throwaway API key, join tokens, and Kill/Restart on the same ports
// for reconnect tests.
//
// The server binary is $ONAIR_LIVEKIT_SERVER, else
// /root/.cache/onair/bin/server (build it with
// `go install github.com/livekit/livekit-server/cmd/server@v1.13.5`; newer
// versions need pion forks the module proxy does not serve). When it is
// missing, Start fails the test if CI=true and skips it otherwise.
//
// Each Server is one child process that Start's test cleanup kills with
// SIGKILL (one SIGTERM would wait about 20 s for participants to leave).
package livekittest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

// DefaultBinary is where the project's setup puts livekit-server v1.13.5.
const DefaultBinary = "/root/.cache/onair/bin/server"

// EnvBinary names the environment variable that overrides DefaultBinary.
const EnvBinary = "ONAIR_LIVEKIT_SERVER"

// Server is a livekit-server child process listening on 127.0.0.1.
type Server struct {
	// URL is the signalling URL (ws://127.0.0.1:port); HTTPURL the same
	// server over HTTP, for the server API.
	URL, HTTPURL string
	// APIKey and APISecret are the server's only key pair.
	APIKey, APISecret string
	// Port is the HTTP/WebSocket port, RTCPort the single UDP port for
	// all media, TCPPort the ICE-TCP port (0: ICE-TCP off).
	Port, RTCPort, TCPPort int

	t       testing.TB
	bin     string
	dir     string
	logPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	wait chan struct{}
}

// Binary returns the path of the livekit-server binary, or an error saying
// how to get it.
func Binary() (string, error) {
	p := os.Getenv(EnvBinary)
	if p == "" {
		p = DefaultBinary
	}
	if st, err := os.Stat(p); err != nil || st.IsDir() {
		return "", fmt.Errorf("livekit-server not found at %s: install it with "+
			"`go install github.com/livekit/livekit-server/cmd/server@v1.13.5` and copy "+
			"$(go env GOPATH)/bin/server there, or set %s", p, EnvBinary)
	}
	return p, nil
}

// Options are choices of a test server beyond the defaults.
type Options struct {
	// ICETCP makes the server offer ICE-TCP candidates (RFC 6544, passive)
	// on a free loopback port, TCPPort, besides UDP: the path a client
	// whose UDP is blocked takes when the server offers it. Default: off.
	ICETCP bool
}

// Start starts a server on free loopback ports and waits until it answers.
// The test's cleanup kills it.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith is Start with options.
func StartWith(t testing.TB, o Options) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %v", err)
		}
		t.Skip(err)
	}
	s := &Server{
		t:         t,
		bin:       bin,
		dir:       t.TempDir(),
		APIKey:    "onairtest",
		APISecret: randomSecret(t),
	}
	s.logPath = filepath.Join(s.dir, "server.log")
	for try := 0; ; try++ {
		s.Port, s.RTCPort = freeTCPPort(t), freeUDPPort(t)
		if o.ICETCP {
			s.TCPPort = freeTCPPort(t)
		}
		s.URL = fmt.Sprintf("ws://127.0.0.1:%d", s.Port)
		s.HTTPURL = fmt.Sprintf("http://127.0.0.1:%d", s.Port)
		if err := s.writeConfig(); err != nil {
			t.Fatal(err)
		}
		err := s.start()
		if err == nil {
			break
		}
		if try == 2 {
			t.Fatalf("livekit-server did not start: %v\n%s", err, s.logTail())
		}
	}
	t.Cleanup(func() {
		s.Kill()
		if t.Failed() {
			t.Logf("livekit-server log (tail):\n%s", s.logTail())
		}
	})
	return s
}

func (s *Server) writeConfig() error {
	cfg := fmt.Sprintf(`port: %d
bind_addresses: ["127.0.0.1"]
keys:
  %s: %s
rtc:
  udp_port: %d
  tcp_port: %d
  node_ip: 127.0.0.1
  use_external_ip: false
  enable_loopback_candidate: true
  interfaces:
    includes: [lo]
  ips:
    includes: [127.0.0.1/32]
room:
  enable_remote_unmute: true
  empty_timeout: 30
  departure_timeout: 1
logging:
  level: info
`, s.Port, s.APIKey, s.APISecret, s.RTCPort, s.TCPPort)
	return os.WriteFile(filepath.Join(s.dir, "livekit.yaml"), []byte(cfg), 0o600)
}

// start runs the binary and waits until its HTTP port answers.
func (s *Server) start() error {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, "--config", filepath.Join(s.dir, "livekit.yaml"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = s.dir
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	wait := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(wait)
	}()
	s.mu.Lock()
	s.cmd, s.wait = cmd, wait
	s.mu.Unlock()

	deadline := time.Now().Add(20 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-wait:
			return errors.New("livekit-server exited during start")
		default:
		}
		resp, err := client.Get(s.HTTPURL + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Kill()
	return errors.New("livekit-server did not answer within 20s")
}

// Kill stops the server at once with SIGKILL and waits for it to exit. It is
// safe to call when the server is not running.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, wait := s.cmd, s.wait
	s.cmd, s.wait = nil, nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-wait
}

// Restart kills the server (if running) and starts it again on the same
// ports, with the same keys, and waits until it answers.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	var err error
	// The UDP port is free at once after SIGKILL; retry briefly in case the
	// kernel has not released it yet.
	for try := 0; try < 5; try++ {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("livekit-server restart: %v\n%s", err, s.logTail())
}

// Running reports whether the server process is up.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// Token returns a join token for identity in room, valid for an hour, that
// may subscribe and, if canPublish, publish.
func (s *Server) Token(identity, room string, canPublish bool) string {
	s.t.Helper()
	return s.TokenTTL(identity, room, canPublish, time.Hour)
}

// TokenTTL is Token with a chosen lifetime; a negative ttl gives a token
// that expired -ttl ago (signed with the server's key, so only its expiry is
// wrong).
func (s *Server) TokenTTL(identity, room string, canPublish bool, ttl time.Duration) string {
	s.t.Helper()
	sub := true
	grant := &auth.VideoGrant{RoomJoin: true, Room: room, CanPublish: &canPublish, CanSubscribe: &sub}
	if ttl > 0 {
		tok, err := auth.NewAccessToken(s.APIKey, s.APISecret).
			SetIdentity(identity).SetValidFor(ttl).SetVideoGrant(grant).ToJWT()
		if err != nil {
			s.t.Fatalf("mint token: %v", err)
		}
		return tok
	}
	// auth.AccessToken replaces a lifetime <= 0 by its default, so sign
	// the expired claims here, in the same layout.
	now := time.Now()
	claims := struct {
		jwt.RegisteredClaims
		auth.ClaimGrants
	}{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.APIKey,
			Subject:   identity,
			IssuedAt:  jwt.NewNumericDate(now.Add(2 * ttl)),
			NotBefore: jwt.NewNumericDate(now.Add(2 * ttl)),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		ClaimGrants: auth.ClaimGrants{Identity: identity, Video: grant},
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(s.APISecret))
	if err != nil {
		s.t.Fatalf("sign token: %v", err)
	}
	return tok
}

// RoomService returns a client of the server API (mute tracks, change
// permissions, list participants).
func (s *Server) RoomService() *lksdk.RoomServiceClient {
	return lksdk.NewRoomServiceClient(s.HTTPURL, s.APIKey, s.APISecret)
}

// WaitParticipant waits until identity is in room and has published a
// track, as the server sees it, and returns its track sids.
func (s *Server) WaitParticipant(ctx context.Context, room, identity string) ([]string, error) {
	rs := s.RoomService()
	for {
		res, err := rs.GetParticipant(ctx, &livekit.RoomParticipantIdentity{Room: room, Identity: identity})
		if err == nil && len(res.Tracks) > 0 {
			sids := make([]string, len(res.Tracks))
			for i, tr := range res.Tracks {
				sids[i] = tr.Sid
			}
			return sids, nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = errors.New("no published track")
			}
			return nil, fmt.Errorf("participant %s in %s: %w (%v)", identity, room, ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// LogTail returns the end of the server's log, for failure messages.
func (s *Server) LogTail() string { return s.logTail() }

func (s *Server) logTail() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

func randomSecret(t testing.TB) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func freeTCPPort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func freeUDPPort(t testing.TB) int {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}
