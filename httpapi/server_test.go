package httpapi

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/onair-gateway/onair/gateway"
)

// fixed is a Source whose status the test sets.
type fixed struct {
	mu sync.Mutex
	s  gateway.Status
}

func (f *fixed) Status() gateway.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.s
}

func (f *fixed) set(st gateway.State) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.s.State = st
}

var _ Source = (*fixed)(nil)

func start(t *testing.T, cfg Config, src Source) *Server {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	s, err := Start(cfg, src, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func get(t *testing.T, s *Server, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + s.Addr().String() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestEveryStateIsASeries: each scrape has one onair_state series per
// gateway state, 1 for the current one and 0 for the rest, so a state
// change moves the 1 instead of making a series vanish.
func TestEveryStateIsASeries(t *testing.T) {
	src := &fixed{}
	s := start(t, Config{}, src)
	for _, st := range gateway.States() {
		src.set(st)
		fams := scrape(t, s)
		f := fams["onair_state"]
		if f == nil || f.GetType() != dto.MetricType_GAUGE || len(f.Metric) != len(gateway.States()) {
			t.Fatalf("state %s: onair_state = %v", st, f)
		}
		for _, m := range f.Metric {
			want := 0.0
			if m.Label[0].GetValue() == string(st) {
				want = 1
			}
			if m.Gauge.GetValue() != want {
				t.Errorf("state %s: onair_state{state=%q} = %v, want %v", st, m.Label[0].GetValue(), m.Gauge.GetValue(), want)
			}
		}
		var goFam, procFam bool
		for name := range fams {
			goFam = goFam || strings.HasPrefix(name, "go_")
			procFam = procFam || strings.HasPrefix(name, "process_")
		}
		if !goFam || !procFam {
			t.Errorf("no go_ (%v) or process_ (%v) families", goFam, procFam)
		}
	}
}

// TestHealthz: 200 while in the room or on the way, 503 idle or in error.
func TestHealthz(t *testing.T) {
	src := &fixed{}
	s := start(t, Config{}, src)
	for _, st := range gateway.States() {
		src.set(st)
		want := http.StatusOK
		if st == gateway.StateIdle || st == gateway.StateError {
			want = http.StatusServiceUnavailable
		}
		if code, body := get(t, s, "/healthz"); code != want || !strings.HasPrefix(body, string(st)) {
			t.Errorf("%s: /healthz %d %q, want %d", st, code, body, want)
		}
	}
}

// TestIdleConnectionClosed: a keep-alive connection left idle after a
// request is closed by the server after IdleTimeout (the 1000 idle
// connections stayed open for good).
func TestIdleConnectionClosed(t *testing.T) {
	s := start(t, Config{IdleTimeout: 50 * time.Millisecond}, &fixed{})
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// The server closes the connection: the next read sees EOF long
	// before this safety deadline.
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection: read = %v, want EOF from the server closing it", err)
	}
}

// TestTrickledBodyCut: a client that sends a large body a byte at a time
// is cut off after ReadTimeout instead of holding the connection.
func TestTrickledBodyCut(t *testing.T) {
	s := start(t, Config{ReadTimeout: 200 * time.Millisecond}, &fixed{})
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "POST /status HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() {
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, err := io.Copy(io.Discard, c) // until the server closes
		closed <- err
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case err := <-closed:
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the server never closed the connection")
			}
			return
		case <-tick.C:
			if _, err := c.Write([]byte{'x'}); err != nil {
				return // the server is gone
			}
			if i > 250 { // 5 s of trickle
				t.Fatal("a trickled body held the connection for 5 s")
			}
		}
	}
}

// TestConnectionCap: with MaxConns connections open, the next one is not
// served until one of them closes.
func TestConnectionCap(t *testing.T) {
	s := start(t, Config{MaxConns: 2}, &fixed{})
	dial := func() net.Conn {
		c, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	request := func(c net.Conn, deadline time.Duration) error {
		_ = c.SetDeadline(time.Now().Add(deadline))
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		return resp.Body.Close()
	}
	a, b := dial(), dial()
	if err := request(a, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := request(b, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	c := dial()
	_ = c.SetDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	var ne net.Error
	if _, err := c.Read(make([]byte, 1)); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("third connection: read = %v, want no answer while two are open", err)
	}
	a.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("third connection after one closed: %v", err)
	}
	resp.Body.Close()
}

// scrape gets /metrics from s and parses it as Prometheus text.
func scrape(t *testing.T, s *Server) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := get(t, s, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics is not Prometheus text: %v", err)
	}
	return fams
}
