// Package lkauth reads LiveKit join tokens without the LiveKit SDK, so that
// config checks (provisioning, onairctl) can say early that a token is
// malformed, expired, or names another room or identity, without pulling
// the SDK and pion into their builds. It verifies no signature: the server
// does.
package lkauth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// ErrBadToken is wrapped when a LiveKit token cannot be read as a JWT.
var ErrBadToken = errors.New("token is not a JWT")

// Claims are what a device may read from a LiveKit join token without
// verifying its signature (the server verifies): enough to say early that
// it has expired or names another room or identity.
type Claims struct {
	// Expires is the exp claim (RFC 7519 §4.1.4); zero when absent.
	Expires time.Time
	// Identity is the sub claim: the participant identity LiveKit gives
	// the device, whatever the config's identity says.
	Identity string
	// Room is the video grant's room: the room LiveKit joins, whatever
	// the config's room says. Empty when the token does not name one.
	Room string
}

// Read reads a LiveKit JWT's claims. The token must be a compact JWS (RFC
// 7515 §7.1): a base64url JSON header, a base64url JSON payload and a
// base64url signature, with nothing around them; a leading "Bearer " (an
// Authorization header pasted whole) is refused with advice to drop it.
// Errors wrap ErrBadToken and never quote the token.
func Read(tok string) (Claims, error) {
	if len(tok) >= 7 && strings.EqualFold(tok[:7], "bearer ") {
		return Claims{}, fmt.Errorf(`%w: it starts with "Bearer ": drop that prefix, the token is what follows it`, ErrBadToken)
	}
	if i := strings.IndexFunc(tok, func(r rune) bool { return r <= ' ' || r == 0x7f }); i >= 0 {
		return Claims{}, fmt.Errorf("%w: it holds a space or control character at byte %d", ErrBadToken, i)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return Claims{}, fmt.Errorf("%w: %d dot-separated parts, want 3", ErrBadToken, len(parts))
	}
	header, err := decodePart(parts[0])
	if err != nil {
		return Claims{}, fmt.Errorf("%w: header: %v", ErrBadToken, err)
	}
	var h map[string]any
	if err := json.Unmarshal(header, &h); err != nil || h == nil {
		return Claims{}, fmt.Errorf("%w: header is not a JSON object", ErrBadToken)
	}
	if sig, err := decodePart(parts[2]); err != nil || len(sig) == 0 {
		return Claims{}, fmt.Errorf("%w: signature is empty or not base64url", ErrBadToken)
	}
	payload, err := decodePart(parts[1])
	if err != nil {
		return Claims{}, fmt.Errorf("%w: payload: %v", ErrBadToken, err)
	}
	var claims struct {
		Exp   *json.Number `json:"exp"`
		Sub   string       `json:"sub"`
		Video *struct {
			Room string `json:"room"`
		} `json:"video"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return Claims{}, fmt.Errorf("%w: claims are not a JSON object of the expected types", ErrBadToken)
	}
	c := Claims{Identity: claims.Sub}
	if claims.Video != nil {
		c.Room = claims.Video.Room
	}
	if claims.Exp != nil {
		f, err := claims.Exp.Float64()
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1<<40 {
			return Claims{}, fmt.Errorf("%w: exp %q is not a date", ErrBadToken, claims.Exp.String())
		}
		sec, frac := math.Modf(f)
		c.Expires = time.Unix(int64(sec), int64(frac*1e9))
	}
	return c, nil
}

// decodePart decodes one base64url part, tolerating padding.
func decodePart(p string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(p, "="))
}
