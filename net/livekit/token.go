package livekit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/livekit/protocol/auth"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/net/livekit/lkauth"
	"github.com/onair-gateway/onair/net/room"
)

// ErrTokenExpired is wrapped by the JoinError of a join whose configured
// token has expired; it is caught on the device, before any network.
var ErrTokenExpired = errors.New("livekit: token expired")

// token returns the join token for one join: the configured one (checked
// for expiry on the device), or a fresh one minted with the API key.
func (r *Room) token(now time.Time) (string, error) {
	if r.cfg.Token.IsSet() {
		tok := r.cfg.Token.Reveal()
		exp, err := tokenExpiry(tok)
		if err != nil {
			return "", &room.JoinError{Op: "token", Permanent: true, Err: err}
		}
		if !exp.IsZero() && !now.Before(exp) {
			return "", &room.JoinError{Op: "token", Permanent: true,
				Err: fmt.Errorf("%w at %s (%s ago)", ErrTokenExpired, exp.UTC().Format(time.RFC3339), now.Sub(exp).Round(time.Second))}
		}
		return tok, nil
	}
	canPublish, canSubscribe := !r.opts.ListenOnly, r.opts.Subscribe
	at := auth.NewAccessToken(r.cfg.APIKey, r.cfg.APISecret.Reveal()).
		SetIdentity(r.cfg.Identity).
		SetName(cmp.Or(r.opts.Name, r.cfg.Identity)).
		SetValidFor(r.cfg.TokenTTL.D()).
		SetVideoGrant(&auth.VideoGrant{
			RoomJoin:     true,
			Room:         r.cfg.Room,
			CanPublish:   &canPublish,
			CanSubscribe: &canSubscribe,
		})
	tok, err := at.ToJWT()
	if err != nil {
		return "", &room.JoinError{Op: "token", Permanent: true, Err: fmt.Errorf("mint token: %w", err)}
	}
	return tok, nil
}

// tokenExpiry reads the exp claim of a JWT without verifying its signature:
// the server verifies; the device only wants to know early that retrying is
// pointless. A token without exp yields the zero time.
func tokenExpiry(tok string) (time.Time, error) {
	c, err := lkauth.Read(tok)
	return c.Expires, err
}

// classify turns a failed SDK join into a *room.JoinError. The SDK reports
// a refused token only as text, so classify asks the server itself: a GET of
// /rtc/validate with the same token returns the HTTP status (401 for a bad
// or expired token) that decides whether retrying can help.
func (r *Room) classify(ctx context.Context, token string, joinErr error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	op := "signal"
	if errors.Is(joinErr, lksdk.ErrConnectionTimeout) {
		op = "ice"
	}
	status, retryAfter, body, err := r.validate(ctx, token)
	if err != nil {
		// Server unreachable: the join error says it best.
		return &room.JoinError{Op: op, Unreachable: true, Err: joinErr}
	}
	je := &room.JoinError{Op: op, Status: status, RetryAfter: retryAfter, Err: joinErr}
	switch {
	case status == http.StatusOK:
		// The token is good; the failure was elsewhere (ICE, a race).
		je.Status = 0
	case status == http.StatusUnauthorized:
		je.Op, je.Permanent = "token", true
		je.Err = fmt.Errorf("unauthorized (bad, expired or foreign token): %s", body)
	case status == http.StatusNotFound:
		je.Permanent = true
		je.Err = fmt.Errorf("not found: %s (GET /rtc/validate answered 404: is this a LiveKit server?)", body)
	case status == http.StatusForbidden:
		je.Permanent = true
		je.Err = fmt.Errorf("%s: %s", strings.ToLower(http.StatusText(status)), body)
	}
	return je
}

// validate asks the server whether token may join. It returns the HTTP
// status, the Retry-After delay, and the start of the body.
func (r *Room) validate(ctx context.Context, token string) (int, time.Duration, string, error) {
	u, err := httpURL(r.cfg.URL, "/rtc/validate")
	if err != nil {
		return 0, 0, "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := r.http.Do(req)
	if err != nil {
		return 0, 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	return resp.StatusCode, room.RetryAfter(resp.Header.Get("Retry-After"), r.opts.Clock.Now()), redactJWT(room.ServerText(b, token)), nil
}

// redactJWT replaces anything that looks like a JWT (LiveKit echoes a
// refused token in its error text) with conf.Redacted, so errors and logs
// never carry a credential.
func redactJWT(s string) string {
	for {
		i := strings.Index(s, "eyJ")
		if i < 0 {
			return s
		}
		j := i
		for j < len(s) && (isBase64URL(s[j]) || s[j] == '.') {
			j++
		}
		s = s[:i] + conf.Redacted + s[j:]
	}
}

func isBase64URL(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// httpURL maps the signalling URL (ws, wss, http or https) to the HTTP URL
// of path below its base path (a server behind a proxy may have one).
func httpURL(signal, path string) (string, error) {
	u, err := url.Parse(signal)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	}
	u.Path, u.RawPath = strings.TrimRight(u.Path, "/")+path, ""
	u.RawQuery, u.Fragment = "", ""
	return u.String(), nil
}

// Probe implements room.Prober: it asks the server's base URL whether the
// server answers at all. It sends no credential.
func (r *Room) Probe(ctx context.Context) error {
	u, err := httpURL(r.cfg.URL, "/")
	if err != nil {
		return err
	}
	return room.ProbeHTTP(ctx, r.http, u)
}

var _ room.Prober = (*Room)(nil)
