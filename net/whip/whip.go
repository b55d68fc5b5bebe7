package whip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/webrtc/v4"

	"github.com/jonboulle/clockwork"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/net/room"
)

// Sentinel errors. Join failures arrive as *room.JoinError wrapping one of
// these where it applies; compare with errors.Is.
var (
	// ErrNoLocation: the endpoint answered 201 Created without the
	// Location header that names the WHIP session (RFC 9725 §4.2).
	ErrNoLocation = errors.New("whip: 201 Created without a Location header")
	// ErrBadLocation: the endpoint answered 201 Created with a Location
	// that is not an http(s) URL (javascript:, ftp:, a bad escape), so
	// there is no WHIP session to talk to.
	ErrBadLocation = errors.New("whip: 201 Created with a Location that is not an http(s) URL")
	// ErrBadAnswer: the endpoint's answer is not a usable SDP answer (wrong
	// content type, does not parse, no audio m-line, no Opus).
	ErrBadAnswer = errors.New("whip: unusable SDP answer")
	// ErrTooManyRedirects: more than 5 redirects in a row.
	ErrTooManyRedirects = errors.New("whip: too many redirects")
	// ErrInsecureRedirect: a redirect from https to http, which would send
	// the bearer token in clear.
	ErrInsecureRedirect = errors.New("whip: refusing redirect from https to http")
	// ErrRestartUnsupported: the WHIP session answered an ICE restart with
	// 405, 422 or 501. The local ICE agent has already restarted, so the
	// session ends with this error; the documented fallback is to rejoin
	// (DELETE and POST again), which the room supervisor does.
	ErrRestartUnsupported = errors.New("whip: the WHIP session does not support ICE restarts; rejoin")
	// ErrRejoin: the WHIP session answered an ICE restart with 412
	// Precondition Failed or 404 Not Found: the server no longer knows this
	// session's ICE state. The session ends; rejoin.
	ErrRejoin = errors.New("whip: the WHIP session is gone or its ICE state diverged; rejoin")
	// ErrConnectionLost: the connection stayed down longer than
	// Options.DisconnectTimeout.
	ErrConnectionLost = errors.New("whip: connection lost")
	// ErrPeerClosed: the server closed the DTLS connection (it removed
	// the session).
	ErrPeerClosed = errors.New("whip: server closed the connection")
	// ErrBadPacket: WriteOpus got an empty or oversized packet, or a
	// duration outside 2.5..120 ms (RFC 6716 §2).
	ErrBadPacket = errors.New("whip: invalid Opus packet")
)

// Defaults for Options fields left zero.
const (
	// DefaultConnectTimeout bounds ICE+DTLS setup: generous for a slow
	// uplink, short enough for the supervisor to retry soon.
	DefaultConnectTimeout = 15 * time.Second
	// DefaultGatherTimeout bounds gathering: host candidates take
	// milliseconds, a STUN or TURN round trip well under a second.
	DefaultGatherTimeout = 3 * time.Second
	// DefaultDisconnectTimeout is how long a dropped connection may take
	// to come back (pion declares ICE disconnected after 5 s of silence).
	DefaultDisconnectTimeout = 20 * time.Second
	// DefaultLinkRestartAfter is how long Join gives the first offer's
	// candidates before restarting ICE with the endpoint's servers.
	DefaultLinkRestartAfter = 3 * time.Second
	// DefaultDeleteTimeout bounds the DELETE on Close.
	DefaultDeleteTimeout = 3 * time.Second
)

// opusPayloadType is the dynamic RTP payload type offered for Opus. Any
// value in 96..127 works (RFC 7587 §7); 111 is what browsers use, which
// keeps SDP dumps familiar.
const opusPayloadType = 111

// Options tune a Room beyond its room.Config. The zero value is usable.
type Options struct {
	// Channels is 1 (mono) or 2 (stereo). Default: 1. With 2 the offer's
	// fmtp carries stereo=1;sprop-stereo=1 (RFC 7587 §7.1).
	Channels int
	// HTTPClient sends the WHIP requests. Its CheckRedirect is not used:
	// redirects are followed by this package so that the Authorization
	// header and the body survive them. Default: a client with a 15 s
	// overall timeout, 5 s dial and TLS handshake timeouts and a 10 s
	// response header timeout.
	HTTPClient *http.Client
	// ICEServers are used in addition to the STUN/TURN servers the
	// endpoint sends in Link headers (RFC 9725 §4.6), after those of the
	// room config (room.ice_servers). Default: none.
	ICEServers []webrtc.ICEServer
	// Loopback restricts ICE to IPv4 loopback candidates and disables
	// mDNS: for tests and for a WHIP server on the same host.
	Loopback bool
	// ConfigureSettings, if set, is called on the pion SettingEngine after
	// the options above are applied, for anything else (ICE timeouts, port
	// ranges, interface filters).
	ConfigureSettings func(*webrtc.SettingEngine)
	// ConnectTimeout bounds the wait for ICE and DTLS to connect, in Join
	// and in Restart. Default: 15s.
	ConnectTimeout time.Duration
	// GatherTimeout bounds ICE gathering before an offer is sent (the
	// offer is not trickled: it carries the candidates gathered by then).
	// Default: 3s.
	GatherTimeout time.Duration
	// DisconnectTimeout is how long the connection may stay down before
	// the session ends with ErrConnectionLost. Default: 20s.
	DisconnectTimeout time.Duration
	// LinkRestartAfter is how long Join waits for a connection before it
	// restarts ICE with STUN/TURN servers the endpoint sent in Link headers
	// and the offer did not use yet (RFC 9725 §4.6). Default: 3s.
	LinkRestartAfter time.Duration
	// NoAutoRestart stops the session from restarting ICE by itself when
	// the connection drops; it then only waits DisconnectTimeout for ICE
	// to recover. Default: false (restart automatically).
	NoAutoRestart bool
	// DeleteTimeout bounds the DELETE sent by Close. Default: 3s.
	DeleteTimeout time.Duration
	// Clock times everything the Room and its sessions wait for (gathering,
	// connecting, ICE restarts and their backoff) and dates Retry-After and
	// RTCP round-trip times. Default: the real clock.
	Clock clockwork.Clock
}

func (o *Options) setDefaults() {
	if o.Channels == 0 {
		o.Channels = 1
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.GatherTimeout == 0 {
		o.GatherTimeout = DefaultGatherTimeout
	}
	if o.DisconnectTimeout == 0 {
		o.DisconnectTimeout = DefaultDisconnectTimeout
	}
	if o.LinkRestartAfter == 0 {
		o.LinkRestartAfter = DefaultLinkRestartAfter
	}
	if o.DeleteTimeout == 0 {
		o.DeleteTimeout = DefaultDeleteTimeout
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
}

func (o Options) validate() error {
	var errs []error
	if o.Channels != 1 && o.Channels != 2 {
		errs = append(errs, conf.Errorf("channels", "%d is not 1 or 2", o.Channels))
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{
		{"connect_timeout", o.ConnectTimeout}, {"gather_timeout", o.GatherTimeout},
		{"disconnect_timeout", o.DisconnectTimeout}, {"link_restart_after", o.LinkRestartAfter},
		{"delete_timeout", o.DeleteTimeout},
	} {
		if d.d < 0 {
			errs = append(errs, conf.Errorf(d.name, "%v is negative", d.d))
		}
	}
	for i, s := range o.ICEServers {
		for _, u := range s.URLs {
			if err := validICEURL(u); err != nil {
				errs = append(errs, conf.Errorf(fmt.Sprintf("ice_servers[%d]", i), "%v", err))
			}
		}
	}
	return errors.Join(errs...)
}

// Room publishes the device's audio to one WHIP endpoint. It is safe for
// concurrent use; each Join makes an independent Session.
type Room struct {
	endpoint  *url.URL
	token     conf.Secret
	streamID  string
	opts      Options
	client    *http.Client
	ownClient bool
	api       *webrtc.API
	log       *slog.Logger
	// policy is room.ice_transport_policy: relay offers only relay
	// candidates.
	policy webrtc.ICETransportPolicy

	// noRestart is set once the endpoint answered an ICE restart with
	// 405, 422 or 501: later sessions do not try again.
	noRestart atomic.Bool

	mu sync.Mutex
	// linkServers are the STUN/TURN servers the endpoint sent last; the
	// next Join offers with them from the start.
	linkServers []webrtc.ICEServer
}

// Compile-time checks that the types implement the room seam.
var (
	_ room.Room    = (*Room)(nil)
	_ room.Session = (*Session)(nil)
)

// New returns a Room that publishes to the WHIP endpoint cfg.URL with
// cfg.Token as the bearer token (no Authorization header when the token is
// empty). It checks cfg.URL and opts but does not touch the network.
func New(cfg room.Config, opts Options, log *slog.Logger) (*Room, error) {
	if log == nil {
		return nil, errors.New("whip: nil logger")
	}
	opts.setDefaults()
	var errs []error
	u, err := url.Parse(cfg.URL)
	switch {
	case cfg.URL == "":
		errs = append(errs, conf.Errorf("url", "must not be empty (the WHIP endpoint, e.g. https://host/whip)"))
	case err != nil || u.Host == "":
		errs = append(errs, conf.Errorf("url", "is not an absolute URL"))
	case u.Scheme != "http" && u.Scheme != "https":
		errs = append(errs, conf.Errorf("url", "scheme %q is not http or https", u.Scheme))
	}
	// room.ice_servers come first; Options.ICEServers add to them.
	opts.ICEServers = mergeICEServers(configICEServers(cfg.ICEServers), opts.ICEServers)
	if err := opts.validate(); err != nil {
		errs = append(errs, err)
	}
	policy := webrtc.ICETransportPolicyAll
	switch cfg.ICETransportPolicy {
	case "", room.ICEAll:
	case room.ICERelay:
		policy = webrtc.ICETransportPolicyRelay
	default:
		errs = append(errs, conf.Errorf("ice_transport_policy", "%q is not all or relay", cfg.ICETransportPolicy))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	r := &Room{
		endpoint: u,
		token:    cfg.Token,
		streamID: cfg.Identity,
		opts:     opts,
		policy:   policy,
		log:      log.With("component", "net.whip", "endpoint", conf.RedactURL(u.String())),
	}
	if r.streamID == "" {
		r.streamID = "onair"
	}
	base := opts.HTTPClient
	if base == nil {
		base = defaultHTTPClient()
		r.ownClient = true
	}
	c := *base
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	r.client = &c
	if r.api, err = newAPI(opts, policy, r.log); err != nil {
		return nil, fmt.Errorf("whip: %w", err)
	}
	return r, nil
}

// configICEServers turns room.ice_servers into pion's servers.
func configICEServers(in []room.ICEServer) []webrtc.ICEServer {
	out := make([]webrtc.ICEServer, 0, len(in))
	for _, s := range in {
		out = append(out, webrtc.ICEServer{
			URLs:           append([]string(nil), s.URLs...),
			Username:       s.Username,
			Credential:     s.Credential.Reveal(),
			CredentialType: webrtc.ICECredentialTypePassword,
		})
	}
	return out
}

func defaultHTTPClient() *http.Client {
	return &http.Client{
		Timeout: 15 * time.Second,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 10 * time.Second,
			IdleConnTimeout:       60 * time.Second,
			MaxIdleConns:          4,
			ForceAttemptHTTP2:     true,
		},
	}
}

// opusCodec is the one codec offered: Opus at 48 kHz, always written
// "opus/48000/2" in the rtpmap (RFC 7587 §7), with in-band FEC.
func opusCodec(channels int) webrtc.RTPCodecCapability {
	fmtp := "minptime=10;useinbandfec=1"
	if channels == 2 {
		fmtp += ";stereo=1;sprop-stereo=1"
	}
	return webrtc.RTPCodecCapability{
		MimeType:    webrtc.MimeTypeOpus,
		ClockRate:   48000,
		Channels:    2,
		SDPFmtpLine: fmtp,
	}
}

func newAPI(opts Options, policy webrtc.ICETransportPolicy, log *slog.Logger) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: opusCodec(opts.Channels),
		PayloadType:        opusPayloadType,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("register opus: %w", err)
	}
	// Only sender reports: they let the receiver's reports carry LSR/DLSR,
	// from which the round-trip time is computed (RFC 3550 §6.4.1). The
	// device receives nothing on this connection, so no receiver-side
	// interceptors; audio is not retransmitted, so no NACK.
	reg := &interceptor.Registry{}
	sr, err := report.NewSenderInterceptor(report.SenderNow(opts.Clock.Now))
	if err != nil {
		return nil, fmt.Errorf("sender reports: %w", err)
	}
	reg.Add(sr)
	se := webrtc.SettingEngine{}
	se.LoggerFactory = room.PionLogs(log)
	if opts.Loopback {
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	}
	if policy == webrtc.ICETransportPolicyRelay {
		// ICE holds a relayed pair back 2 s in case a direct one comes
		// (pion's default); with only relay candidates none will.
		se.SetRelayAcceptanceMinWait(0)
	}
	if opts.ConfigureSettings != nil {
		opts.ConfigureSettings(&se)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg),
		webrtc.WithSettingEngine(se)), nil
}

// iceServers returns the configured servers followed by the endpoint's
// last Link servers that are not already among them.
func (r *Room) iceServers() []webrtc.ICEServer {
	r.mu.Lock()
	defer r.mu.Unlock()
	return mergeICEServers(r.opts.ICEServers, r.linkServers)
}

func (r *Room) setLinkServers(s []webrtc.ICEServer) {
	r.mu.Lock()
	r.linkServers = s
	r.mu.Unlock()
}

// Join implements room.Room. It creates a PeerConnection with one sendonly
// Opus transceiver, gathers candidates (bounded by GatherTimeout), POSTs
// the offer (RFC 9725 §4.2), applies the answer and waits for ICE and DTLS
// (bounded by ConnectTimeout and ctx). The returned room.Session is a
// *Session. Every failure is a *room.JoinError.
func (r *Room) Join(ctx context.Context) (room.Session, error) {
	s, err := r.join(ctx)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Probe implements room.Prober: a HEAD request to the endpoint, which
// succeeds on any HTTP answer (405 and 401 included). It sends no token.
func (r *Room) Probe(ctx context.Context) error {
	return room.ProbeHTTP(ctx, r.client, r.endpoint.String())
}

func (r *Room) join(ctx context.Context) (*Session, error) {
	start := r.opts.Clock.Now()
	s, err := newSession(r)
	if err != nil {
		return nil, &room.JoinError{Op: "publish", Err: err}
	}
	fail := func(err error) (*Session, error) {
		s.abort()
		return nil, err
	}
	offer, err := s.offer(ctx, false)
	if err != nil {
		return fail(&room.JoinError{Op: "publish", Err: err})
	}
	res, err := r.send(ctx, http.MethodPost, r.endpoint, contentTypeSDP, []byte(offer), "", maxAnswerBytes)
	if err != nil {
		return fail(err)
	}
	if res.status != http.StatusCreated {
		return fail(r.statusError(res, "POST offer"))
	}
	loc := res.header.Get("Location")
	if loc == "" {
		return fail(&room.JoinError{Op: "signal", Status: res.status, Err: ErrNoLocation})
	}
	resource, err := res.url.Parse(loc)
	if err != nil || (resource.Scheme != "http" && resource.Scheme != "https") {
		return fail(&room.JoinError{Op: "signal", Status: res.status,
			Err: fmt.Errorf("%w: %q", ErrBadLocation, room.Printable(loc, r.token.Reveal()))})
	}
	s.resource = resource
	s.etag = res.header.Get("ETag")
	if res.truncated {
		return fail(&room.JoinError{Op: "signal", Status: res.status, Err: tooLarge(res)})
	}
	if err := checkAnswer(res); err != nil {
		return fail(&room.JoinError{Op: "signal", Status: res.status, Err: err})
	}
	newServers := s.applyLinks(res.header)
	if err := s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(res.body)}); err != nil {
		return fail(&room.JoinError{Op: "signal", Status: res.status, Err: fmt.Errorf("%w: %v", ErrBadAnswer, err)})
	}
	s.startRTCP()

	deadline := r.opts.Clock.Now().Add(r.opts.ConnectTimeout)
	first := r.opts.ConnectTimeout
	if newServers {
		first = min(first, r.opts.LinkRestartAfter)
	}
	err = s.waitUp(ctx, first)
	if errors.Is(err, errWaitTimeout) && newServers {
		r.log.Info("no direct connection yet; restarting ice with the endpoint's ice servers",
			"after", first)
		rctx, cancel := clockwork.WithDeadline(ctx, r.opts.Clock, deadline)
		err = s.restart(rctx)
		cancel()
	}
	if err != nil {
		return fail(&room.JoinError{Op: "ice", Err: fmt.Errorf("connect: %w", err)})
	}
	s.startMonitor()
	r.log.Info("joined", "resource", conf.RedactURL(resource.String()), "took", r.opts.Clock.Since(start).Round(time.Millisecond))
	return s, nil
}

// checkAnswer checks the 201 response body is an SDP answer this client
// can use: content type application/sdp, parseable, with an accepted audio
// m-line that carries Opus.
func checkAnswer(res *httpResult) error {
	if ct := mediaType(res.header.Get("Content-Type")); ct != contentTypeSDP {
		return fmt.Errorf("%w: content type %q, want %s", ErrBadAnswer, room.Printable(ct, ""), contentTypeSDP)
	}
	return checkAnswerSDP(res.body)
}

func mediaType(v string) string {
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	return strings.ToLower(strings.TrimSpace(v))
}

var _ room.Prober = (*Room)(nil)
