package provisioning

import (
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/net/livekit/lkauth"
	"github.com/onair-gateway/onair/net/room"
)

// Warnings returns advice about a valid config that is not an error: a file
// holding secrets that others can read, a device that mints its own tokens,
// an unencrypted room. path may be "" when the config did not come from a
// file.
func Warnings(path string, r *Resolved) []string {
	var w []string
	hasSecret := r.Room.Token.IsSet() || r.Room.APISecret.IsSet() || r.E2EE.Passphrase.IsSet() ||
		r.E2EE.Key.IsSet() || r.MQTT.Password.IsSet()
	if path != "" && hasSecret {
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			w = append(w, "the file holds secrets but its mode is "+fi.Mode().Perm().String()+"; run chmod 600 on it")
		}
	}
	if r.Room.APISecret.IsSet() {
		w = append(w, "room.api_secret is set: this device can mint any token for its LiveKit project; prefer room.token in production")
	}
	if r.E2EE.Enabled() && r.Room.Backend == "whip" {
		w = append(w, "e2ee: a key is set but room.backend whip cannot carry LiveKit's frame encryption: audio goes out NOT end-to-end encrypted; set e2ee.required to refuse that")
	}
	w = append(w, tokenWarnings(r, time.Now())...)
	if exposed(r.HTTP.Listen) {
		switch {
		case !r.HTTP.PasswordHash.IsSet() || *r.HTTP.OpenMetrics:
			w = append(w, "http.listen "+r.HTTP.Listen+" is reachable from other hosts: /status and /metrics have no authentication (set http.password_hash and http.open_metrics: false to require one); keep it on 127.0.0.1 unless a firewall guards it")
		case r.HTTP.TLSCert == "":
			w = append(w, "http.listen "+r.HTTP.Listen+" is reachable from other hosts without TLS: the web page's password and session cross the network in clear text; set http.tls_cert and http.tls_key")
		}
	}
	if b := r.MQTT.Broker; (strings.HasPrefix(b, "tcp://") || strings.HasPrefix(b, "mqtt://")) && !conf.LoopbackURL(b) {
		w = append(w, "mqtt.broker "+conf.RedactURL(b)+" is not encrypted: config patches (room tokens among them) and the broker password cross the network in clear text; use ssl:// with mqtt.ca_file")
	}
	if !r.E2EE.Enabled() {
		w = append(w, "e2ee: no key is set, so the room server can hear this device's audio; set e2ee.passphrase")
	}
	return w
}

// tokenWarnings reads a configured LiveKit token's claims (not its
// signature: the server checks that) for what would stop or surprise the
// device: a token that is not a JWT, has expired or soon will, or names
// another room or identity than the config.
func tokenWarnings(r *Resolved, now time.Time) []string {
	if r.Room.Backend != room.BackendLiveKit || !r.Room.Token.IsSet() {
		return nil
	}
	c, err := lkauth.Read(r.Room.Token.Reveal())
	if err != nil {
		return []string{"room.token is not a LiveKit join token (" + strings.TrimPrefix(err.Error(), lkauth.ErrBadToken.Error()+": ") +
			"): the server will refuse it and onaird will not join"}
	}
	var w []string
	switch left := c.Expires.Sub(now); {
	case c.Expires.IsZero():
	case left <= 0:
		w = append(w, fmt.Sprintf("room.token expired at %s (%s ago): onaird will not join until it has a new one",
			c.Expires.UTC().Format(time.RFC3339), (-left).Round(time.Second)))
	case left < 24*time.Hour:
		w = append(w, fmt.Sprintf("room.token expires at %s (in %s): the device cannot rejoin after that without a new one",
			c.Expires.UTC().Format(time.RFC3339), left.Round(time.Second)))
	}
	if c.Room != "" && c.Room != r.Room.Room {
		w = append(w, fmt.Sprintf("room.token is for room %q but room.room is %q: LiveKit joins the token's room", c.Room, r.Room.Room))
	}
	if c.Identity != "" && c.Identity != r.Room.Identity {
		w = append(w, fmt.Sprintf("room.token is for identity %q but room.identity is %q: LiveKit uses the token's", c.Identity, r.Room.Identity))
	}
	return w
}

// exposed reports whether a listen address (host:port) accepts connections
// from other hosts: an empty host, a wildcard, or any address that is not
// loopback. localhost counts as loopback.
func exposed(addr string) bool {
	if addr == "" {
		return false
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false // validation reports a malformed address
	}
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}
