package room

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

// TokenClaims are what a device may read from a LiveKit join token without
// verifying its signature (the server verifies): enough to say early that
// it has expired or names another room or identity.
type TokenClaims struct {
	// Expires is the exp claim (RFC 7519 §4.1.4); zero when absent.
	Expires time.Time
	// Identity is the sub claim: the participant identity LiveKit gives
	// the device, whatever Config.Identity says.
	Identity string
	// Room is the video grant's room: the room LiveKit joins, whatever
	// Config.Room says. Empty when the token does not name one.
	Room string
}

// ReadToken reads a LiveKit JWT's claims. Errors wrap ErrBadToken and never
// quote the token.
func ReadToken(tok string) (TokenClaims, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return TokenClaims{}, fmt.Errorf("%w: %d dot-separated parts, want 3", ErrBadToken, len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return TokenClaims{}, fmt.Errorf("%w: payload: %v", ErrBadToken, err)
	}
	var claims struct {
		Exp   *json.Number `json:"exp"`
		Sub   string       `json:"sub"`
		Video *struct {
			Room string `json:"room"`
		} `json:"video"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return TokenClaims{}, fmt.Errorf("%w: claims are not a JSON object of the expected types", ErrBadToken)
	}
	c := TokenClaims{Identity: claims.Sub}
	if claims.Video != nil {
		c.Room = claims.Video.Room
	}
	if claims.Exp != nil {
		f, err := claims.Exp.Float64()
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1<<40 {
			return TokenClaims{}, fmt.Errorf("%w: exp %q is not a date", ErrBadToken, claims.Exp.String())
		}
		sec, frac := math.Modf(f)
		c.Expires = time.Unix(int64(sec), int64(frac*1e9))
	}
	return c, nil
}
