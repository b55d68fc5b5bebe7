package httpapi

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/net/netutil"

	"github.com/onair-gateway/onair/gateway"
	"github.com/onair-gateway/onair/provisioning"
)

// Source is what the server reports on. *gateway.Gateway implements it.
type Source interface {
	// Status returns a snapshot of the device's status.
	Status() gateway.Status
}

var _ Source = (*gateway.Gateway)(nil)

// Config limits what a client can hold of the server. Zero fields take
// their defaults (SetDefaults).
type Config struct {
	// Addr is the host:port to listen on (http.listen). Required.
	Addr string
	// ReadHeaderTimeout bounds reading a request's headers. Default: 5s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included, so a
	// client that trickles a body is cut off. Default: 10s.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response. Default: 10s.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection idle this long.
	// Default: 30s (a Prometheus scrape interval is 15s..60s; a scraper
	// whose connection was closed simply opens another).
	IdleTimeout time.Duration
	// MaxBodyBytes bounds a request body; the endpoints take none.
	// Default: 4 KiB.
	MaxBodyBytes int64
	// MaxConns caps the connections served at once; further ones wait in
	// the kernel's accept queue. Default: 32 (a few scrapers and pages).
	MaxConns int
	// Collectors are exported on /metrics beside the device's status (the
	// MQTT agent's counters).
	Collectors []prometheus.Collector
	// Device, when set, adds the web page on / and its API under /api/
	// (web.go). Without it the server serves the three endpoints alone.
	Device Device
	// TLSCert and TLSKey are PEM files (http.tls_cert, http.tls_key):
	// set both to serve HTTPS.
	TLSCert, TLSKey string
	// Clock times sessions and the login limit; nil is the real clock.
	Clock clockwork.Clock
}

// SetDefaults fills zero fields with their defaults.
func (c *Config) SetDefaults() {
	if c.ReadHeaderTimeout == 0 {
		c.ReadHeaderTimeout = 5 * time.Second
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = 10 * time.Second
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 30 * time.Second
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 4 << 10
		if c.Device != nil {
			c.MaxBodyBytes = provisioning.MaxDocumentSize // the config editor's edits
		}
	}
	if c.MaxConns == 0 {
		c.MaxConns = 32
	}
}

// Healthy reports whether a device in state s is doing its job: in its
// room or on the way there. /healthz answers 503 otherwise.
func Healthy(s gateway.State) bool {
	return s != gateway.StateError && s != gateway.StateIdle
}

// Handler serves /healthz, /status and /metrics for src, without the
// server's limits (Start adds them); for embedding in another server.
// extra collectors (the MQTT agent's) are exported beside the status.
func Handler(src Source, log *slog.Logger, extra ...prometheus.Collector) http.Handler {
	return handler(src, nil, log, extra...)
}

// handler is Handler with the web page when h is set: /healthz, /status
// and /metrics then follow http.open_metrics, every response carries the
// security headers, and cross-site requests that change something are
// refused (403) before any handler runs.
func handler(src Source, h *web, log *slog.Logger, extra ...prometheus.Collector) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		newCollector(src),
		newAdaptCollector(src),
		newNetCollector(src),
		newListenCollector(src),
		newAECCollector(src),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	reg.MustRegister(extra...)
	mux := http.NewServeMux()
	monitor := http.NewServeMux()
	monitor.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		writeJSON(w, src.Status())
	})
	monitor.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		s := src.Status()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !Healthy(s.State) {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintf(w, "%s: %s\n", s.State, s.Reason)
	})
	monitor.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	}))
	if h == nil {
		return monitor
	}
	guarded := h.monitoring(monitor)
	for _, p := range []string{"/status", "/healthz", "/metrics"} {
		mux.Handle(p, guarded)
	}
	h.register(mux)
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.Warn("cross-site request refused", "method", r.Method, "path", r.URL.Path, "origin", r.Header.Get("Origin"), "remote", r.RemoteAddr)
		apiError(w, http.StatusForbidden, "cross-site request refused")
	}))
	return securityHeaders(csrf.Handler(mux))
}

// Server is a running status server.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	log  *slog.Logger
	web  *web
	wg   sync.WaitGroup
	once sync.Once
	err  error
}

// Start listens on cfg.Addr and serves Handler(src) with cfg's limits
// until Close.
func Start(cfg Config, src Source, log *slog.Logger) (*Server, error) {
	cfg.SetDefaults()
	log = log.With("component", "httpapi")
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("http.listen: %w", err)
	}
	var tlsConf *tls.Config
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("http.tls_cert/http.tls_key: %w", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	var h *web
	if cfg.Device != nil {
		h = newWeb(cfg.Device, cfg.Clock, tlsConf != nil, log)
	}
	s := &Server{
		ln:  netutil.LimitListener(ln, cfg.MaxConns),
		log: log,
		web: h,
		srv: &http.Server{
			Handler:           http.MaxBytesHandler(handler(src, h, log, cfg.Collectors...), cfg.MaxBodyBytes),
			TLSConfig:         tlsConf,
			ReadHeaderTimeout: cfg.ReadHeaderTimeout,
			ReadTimeout:       cfg.ReadTimeout,
			WriteTimeout:      cfg.WriteTimeout,
			IdleTimeout:       cfg.IdleTimeout,
			MaxHeaderBytes:    8 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		},
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		serve := s.srv.Serve
		if tlsConf != nil {
			serve = func(ln net.Listener) error { return s.srv.ServeTLS(ln, "", "") }
		}
		if err := serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("status server stopped", "err", err)
		}
	}()
	log.Info("status server", "addr", ln.Addr().String(), "tls", tlsConf != nil, "page", h != nil)
	return s, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops the server, closes its connections and waits for its
// goroutine. It is safe to call more than once.
func (s *Server) Close() error {
	s.once.Do(func() {
		if s.web != nil {
			close(s.web.done) // end the event streams
		}
		s.err = s.srv.Close()
		s.wg.Wait()
	})
	return s.err
}
