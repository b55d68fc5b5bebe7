package room

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/pion/stun/v4"

	"github.com/onair-gateway/onair/conf"
)

// Backend names a signalling protocol.
type Backend string

// Backends.
const (
	// BackendLiveKit joins a LiveKit room through its SDK.
	BackendLiveKit Backend = "livekit"
	// BackendWHIP publishes to any RFC 9725 WHIP endpoint.
	BackendWHIP Backend = "whip"
)

// Config says which room to join and how.
type Config struct {
	// Backend is livekit or whip. Default: livekit.
	Backend Backend `yaml:"backend" json:"backend"`
	// URL is the server: ws(s)://host:7880 or http(s)://host:7880 for
	// LiveKit, the endpoint URL for WHIP. Required.
	URL string `yaml:"url" json:"url"`
	// Room is the LiveKit room name. Default: "onair".
	Room string `yaml:"room" json:"room"`
	// Identity is this device's participant identity. Default: the device
	// id.
	Identity string `yaml:"identity" json:"identity"`
	// Token is a join token (LiveKit JWT, or the WHIP bearer token).
	// Either Token or APIKey+APISecret is required for LiveKit.
	Token conf.Secret `yaml:"token" json:"token"`
	// APIKey and APISecret let the device mint its own tokens (hobbyist
	// mode). A key on a device can mint any token for its project: prefer
	// Token in production.
	APIKey    string      `yaml:"api_key" json:"api_key"`
	APISecret conf.Secret `yaml:"api_secret" json:"api_secret"`
	// TokenTTL is the lifetime of minted tokens, 1m..24h. Default: 6h.
	TokenTTL conf.Duration `yaml:"token_ttl" json:"token_ttl"`
	// MinBackoff and MaxBackoff bound the reconnect backoff, which grows
	// exponentially with jitter. Defaults: 1s and 30s. While it waits, the
	// device probes the server at once and then once a second, and rejoins
	// as soon as a server that was down (or could not be reached by the
	// failed join) answers again.
	MinBackoff conf.Duration `yaml:"min_backoff" json:"min_backoff"`
	MaxBackoff conf.Duration `yaml:"max_backoff" json:"max_backoff"`
	// ICEServers are STUN and TURN servers added to those the room's server
	// hands out (LiveKit's join response, WHIP's Link headers). Default:
	// none.
	ICEServers []ICEServer `yaml:"ice_servers" json:"ice_servers"`
	// ICETransportPolicy is all (any candidate) or relay (only TURN relay
	// candidates, so every packet goes through a TURN server). Default:
	// all.
	ICETransportPolicy ICETransportPolicy `yaml:"ice_transport_policy" json:"ice_transport_policy"`
}

// ICEServer is one STUN or TURN server (the RTCIceServer of WebRTC).
type ICEServer struct {
	// URLs are stun:, turn: or turns: URLs (RFC 7064, RFC 7065), e.g.
	// turn:turn.example.com:3478?transport=tcp. At least one.
	URLs []string `yaml:"urls" json:"urls"`
	// Username and Credential are the TURN long-term credential; required
	// for turn: and turns: URLs.
	Username   string      `yaml:"username" json:"username"`
	Credential conf.Secret `yaml:"credential" json:"credential"`
}

// ICETransportPolicy says which ICE candidates a session may use.
type ICETransportPolicy string

// ICE transport policies (WebRTC's RTCIceTransportPolicy).
const (
	// ICEAll lets ICE use any candidate: host, server reflexive, relay.
	ICEAll ICETransportPolicy = "all"
	// ICERelay uses only relay candidates from a TURN server.
	ICERelay ICETransportPolicy = "relay"
)

// SetDefaults fills zero fields with their defaults; identity is the device
// id, used when Identity is empty.
func (c *Config) SetDefaults(identity string) {
	if c.Backend == "" {
		c.Backend = BackendLiveKit
	}
	if c.Room == "" {
		c.Room = "onair"
	}
	if c.Identity == "" {
		c.Identity = identity
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = conf.Duration(time.Second)
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = conf.Duration(30 * time.Second)
	}
	if c.ICETransportPolicy == "" {
		c.ICETransportPolicy = ICEAll
	}
}

// Validate reports every problem with c's backend-neutral fields. The
// LiveKit-only fields (api_key, api_secret, token_ttl, and the rule that a
// LiveKit room needs a token or a key pair) are checked by
// net/livekit/lkauth.Validate.
func (c Config) Validate() error {
	var errs []error
	switch c.Backend {
	case BackendLiveKit, BackendWHIP:
	default:
		errs = append(errs, conf.Errorf("backend", "%q is not livekit or whip", c.Backend))
	}
	if c.URL == "" {
		errs = append(errs, conf.Errorf("url", "must not be empty (e.g. ws://127.0.0.1:7880)"))
	} else if u, err := url.Parse(c.URL); err != nil || u.Host == "" || strings.ContainsAny(c.URL, " \t\r\n") {
		errs = append(errs, conf.Errorf("url", "%q is not an absolute URL", conf.RedactURL(c.URL)))
	} else if p := u.Port(); p != "" && !conf.ValidPort(p) {
		errs = append(errs, conf.Errorf("url", "port %q is not a number 1..65535", p))
	} else {
		ok := u.Scheme == "http" || u.Scheme == "https"
		if c.Backend == BackendLiveKit {
			ok = ok || u.Scheme == "ws" || u.Scheme == "wss"
		}
		if !ok {
			errs = append(errs, conf.Errorf("url", "scheme %q is not allowed for %s", u.Scheme, c.Backend))
		}
	}
	if c.Identity == "" {
		errs = append(errs, conf.Errorf("identity", "must not be empty"))
	}
	for _, f := range []struct{ path, v string }{{"identity", c.Identity}, {"room", c.Room}} {
		if err := conf.CheckText(f.path, f.v); err != nil {
			errs = append(errs, err)
		}
	}
	if c.MinBackoff.D() <= 0 || c.MinBackoff.D() > time.Minute {
		errs = append(errs, conf.Errorf("min_backoff", "%v is out of range (0, 1m]", c.MinBackoff))
	}
	if c.MaxBackoff < c.MinBackoff || c.MaxBackoff.D() > 10*time.Minute {
		errs = append(errs, conf.Errorf("max_backoff", "%v must be between min_backoff (%v) and 10m", c.MaxBackoff, c.MinBackoff))
	}
	errs = append(errs, c.validateICE()...)
	return errors.Join(errs...)
}

// maxICEServers bounds room.ice_servers: each TURN URL is one more
// allocation per peer connection and one more gathering round trip.
const maxICEServers = 8

// validateICE checks ice_servers and ice_transport_policy: every URL is a
// stun:, turn: or turns: URL (RFC 7064, RFC 7065) with a host, a TURN URL
// comes with a username and a credential, and the relay policy has at least
// one TURN server to relay through.
func (c Config) validateICE() []error {
	var errs []error
	turns := 0
	if len(c.ICEServers) > maxICEServers {
		errs = append(errs, conf.Errorf("ice_servers", "%d servers, at most %d", len(c.ICEServers), maxICEServers))
	}
	for i, s := range c.ICEServers {
		path := fmt.Sprintf("ice_servers[%d]", i)
		if len(s.URLs) == 0 {
			errs = append(errs, conf.Errorf(path+".urls", "must list at least one stun:, turn: or turns: URL"))
		}
		needAuth := false
		for j, raw := range s.URLs {
			upath := fmt.Sprintf("%s.urls[%d]", path, j)
			u, err := stun.ParseURI(raw)
			if err != nil || u.Host == "" || strings.ContainsAny(raw, " \t\r\n") {
				errs = append(errs, conf.Errorf(upath, "%q is not a stun:, turn: or turns: URL (e.g. turn:turn.example.com:3478?transport=tcp)", raw))
				continue
			}
			if u.Scheme == stun.SchemeTypeTURN || u.Scheme == stun.SchemeTypeTURNS {
				needAuth = true
				turns++
			}
		}
		if needAuth && (s.Username == "" || !s.Credential.IsSet()) {
			errs = append(errs, conf.Errorf(path, "a TURN server needs username and credential"))
		}
		if err := conf.CheckText(path+".username", s.Username); err != nil {
			errs = append(errs, err)
		}
	}
	switch c.ICETransportPolicy {
	case "", ICEAll:
	case ICERelay:
		if turns == 0 {
			errs = append(errs, conf.Errorf("ice_transport_policy", "relay needs a turn: or turns: URL in ice_servers (the server's own TURN servers are not known before a join)"))
		}
	default:
		errs = append(errs, conf.Errorf("ice_transport_policy", "%q is not all or relay", c.ICETransportPolicy))
	}
	return errs
}
