package livekit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/net/livekit/lkauth"
	"github.com/onair-gateway/onair/net/room"
)

// Encryptor is where end-to-end encryption plugs in; net/e2ee's Keys
// implements it. When Options.Encryptor is set, every frame WriteOpus sends is
// sealed first and the track is announced as encrypted (GCM), and every
// received frame of an encrypted remote track is opened before ReadPacket
// returns it. Both methods run on the hot path: they must not allocate when
// dst has room (WriteOpus and ReadPacket pass buffers of 1500 bytes).
type Encryptor interface {
	// Seal encrypts one Opus frame into LiveKit's frame format (the TOC
	// byte left clear, AES-GCM, IV and key index in a trailer), appends it
	// to dst and returns the result.
	Seal(dst, frame []byte) ([]byte, error)
	// Open decrypts one frame received from participant, appends the Opus
	// frame to dst and returns the result.
	Open(dst, frame []byte, participant string) ([]byte, error)
}

// Options are the LiveKit-specific choices of a Room.
type Options struct {
	// Name is the participant's display name in the tokens the device
	// mints (with an API key). Default: the identity. A configured token
	// carries the name its issuer chose.
	Name string
	// Channels of the published Opus track: 1 (mono) or 2 (stereo).
	// Default: 1.
	Channels int
	// DTX tells the server the encoder uses discontinuous transmission;
	// WriteOpus then skips packets of 2 bytes or less (the encoder's
	// "nothing to send", RFC 6716 §2.1.9) while keeping RTP time running.
	// Default: false.
	DTX bool
	// Subscribe receives other participants' audio as EventTrackAdded.
	// Default: false.
	Subscribe bool
	// ListenOnly joins without publishing (onairctl listen); WriteOpus then
	// returns room.ErrNotPublishing. Default: false.
	ListenOnly bool
	// Encryptor, if set, end-to-end encrypts the device's frames and opens
	// encrypted remote frames. Default: nil, frames are protected by SRTP
	// hop by hop only.
	Encryptor Encryptor
	// ResumeTimeout is how long a session lets the SDK resume by itself
	// (ICE restart, signal reconnect) before it gives up and ends, so the
	// room.Supervisor joins afresh. The SDK alone would retry for about a
	// minute with growing gaps. Default: 5s.
	ResumeTimeout time.Duration
	// ConnectTimeout bounds the signalling and ICE of one join. Default:
	// 10s.
	ConnectTimeout time.Duration
	// HTTPClient asks the server why a join failed. Default: a client
	// with a 5 s timeout.
	HTTPClient *http.Client
	// Clock times the join, the resume window, its probes and the
	// permission poll, and dates token expiry, Retry-After and RTCP
	// round-trip times. Default: the real clock.
	Clock clockwork.Clock
}

func (o *Options) setDefaults() {
	if o.Channels == 0 {
		o.Channels = 1
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.ResumeTimeout <= 0 {
		o.ResumeTimeout = 5 * time.Second
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
}

func (o Options) validate() error {
	var errs []error
	if o.Channels != 1 && o.Channels != 2 {
		errs = append(errs, conf.Errorf("channels", "%d is not 1 or 2", o.Channels))
	}
	if o.ListenOnly && !o.Subscribe {
		errs = append(errs, conf.Errorf("subscribe", "a listen-only room must subscribe"))
	}
	return errors.Join(errs...)
}

// Room joins one LiveKit room through server-sdk-go. It implements
// room.Room; each Join returns a new session.
type Room struct {
	cfg    room.Config
	opts   Options
	log    *slog.Logger
	sdkLog *slog.Logger
	http   *http.Client
}

var _ room.Room = (*Room)(nil)

// CheckConfig fills the LiveKit-only defaults of a room config (whose
// backend-neutral defaults are set) and reports every problem with it, the
// backend-neutral ones and LiveKit's (net/livekit/lkauth).
func CheckConfig(c *room.Config) error {
	lkauth.SetDefaults(c)
	return errors.Join(c.Validate(), lkauth.Validate(*c))
}

// New checks cfg (already defaulted) and opts and returns a Room. It logs a
// warning when cfg holds an API key: a key on a device can mint a token for
// anyone in any room of its project.
func New(cfg room.Config, opts Options, log *slog.Logger) (*Room, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts.setDefaults()
	err := errors.Join(CheckConfig(&cfg), opts.validate())
	if cfg.Backend != room.BackendLiveKit {
		err = errors.Join(err, conf.Errorf("backend", "%q is not livekit", cfg.Backend))
	}
	if err != nil {
		return nil, fmt.Errorf("livekit room: %w", err)
	}
	r := &Room{
		cfg:  cfg,
		opts: opts,
		log:  log.With("component", "net.livekit", "room", cfg.Room, "identity", cfg.Identity),
		http: opts.HTTPClient,
	}
	r.sdkLog = r.log.With("component", "net.livekit.sdk")
	if cfg.APIKey != "" && opts.ListenOnly {
		// An operator's listener, not a device: worth a note, not a warning.
		r.log.Info("minting a listen-only join token from the API key", "api_key", cfg.APIKey)
	} else if cfg.APIKey != "" {
		r.log.Warn("minting join tokens on the device: this API key can mint a token for anyone in any room of its project; prefer a join token in production",
			"api_key", cfg.APIKey)
	}
	return r, nil
}

// Join connects, publishes the device's Opus track (unless ListenOnly) and
// returns when the track is bound to the transport and frames can flow.
// A refused token fails fast with a permanent *room.JoinError (Op "token",
// Status 401); an expired configured token fails before any network.
func (r *Room) Join(ctx context.Context) (room.Session, error) {
	start := r.opts.Clock.Now()
	tok, err := r.token(start)
	if err != nil {
		return nil, err
	}
	s := newSession(r)
	lk := lksdk.NewRoom(s.callbacks())
	s.lk = lk
	signalURL := r.cfg.URL
	if len(r.cfg.ICEServers) > 0 {
		if s.proxy, err = startSignalProxy(r.cfg.URL, r.cfg.ICEServers, r.log); err != nil {
			return nil, &room.JoinError{Op: "signal", Err: err}
		}
		signalURL = s.proxy.URL()
	}
	opts := []lksdk.ConnectOption{
		lksdk.WithAutoSubscribe(r.opts.Subscribe),
		lksdk.WithConnectTimeout(r.opts.ConnectTimeout),
		lksdk.WithLogger(sdkLogger(r.sdkLog)),
	}
	if r.cfg.ICETransportPolicy == room.ICERelay {
		opts = append(opts, lksdk.WithICETransportPolicy(webrtc.ICETransportPolicyRelay))
	}
	err = lk.JoinWithContextAndToken(ctx, signalURL, tok, opts...)
	if err != nil {
		s.disconnect()
		return nil, r.classify(ctx, tok, err)
	}
	// Server-injected frames (silence the SFU inserts) end with a trailer
	// the server names at join; an encryptor that knows it tells them
	// apart from frames that fail to decrypt.
	if st, ok := r.opts.Encryptor.(interface{ SetServerTrailer([]byte) }); ok {
		st.SetServerTrailer(lk.SifTrailer())
	}
	if !r.opts.ListenOnly {
		if err := s.publish(ctx); err != nil {
			s.disconnect()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, &room.JoinError{Op: "publish", Err: err}
		}
	}
	s.start()
	r.log.Info("joined", "join_time", r.opts.Clock.Now().Sub(start).Round(time.Millisecond), "publishing", !r.opts.ListenOnly)
	return s, nil
}

// codec is the published track's codec: Opus on the 48 kHz RTP clock, two
// channels in SDP whatever is sent (RFC 7587 §7), in-band FEC.
func (r *Room) codec() webrtc.RTPCodecCapability {
	fmtp := "minptime=10;useinbandfec=1"
	if r.opts.Channels == 2 {
		fmtp += ";stereo=1;sprop-stereo=1"
	}
	if r.opts.DTX {
		fmtp += ";usedtx=1"
	}
	return webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: fmtp}
}

func (r *Room) publication() *lksdk.TrackPublicationOptions {
	o := &lksdk.TrackPublicationOptions{
		Name:       "microphone",
		Source:     livekit.TrackSource_MICROPHONE,
		DisableDTX: !r.opts.DTX,
		Stereo:     r.opts.Channels == 2,
	}
	if r.opts.Encryptor != nil {
		o.Encryption = livekit.Encryption_GCM
	}
	return o
}
