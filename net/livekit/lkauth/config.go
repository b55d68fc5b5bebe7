package lkauth

import (
	"errors"
	"time"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/net/room"
)

// The room section's schema is flat (room.url, room.token, room.api_key,
// ...) and shared by both backends; the rules for its LiveKit-only fields
// live here, beside the token reader, so the backend-neutral net/room knows
// nothing of LiveKit's credentials.

// DefaultTokenTTL is room.token_ttl's default.
const DefaultTokenTTL = 6 * time.Hour

// SetDefaults fills the LiveKit-only fields of a room config.
func SetDefaults(c *room.Config) {
	if c.TokenTTL == 0 {
		c.TokenTTL = conf.Duration(DefaultTokenTTL)
	}
}

// Validate reports every problem with a LiveKit room config's credentials:
// a token, or an API key pair to mint tokens on the device, never both;
// a room name; a token lifetime of 1m..24h. Paths are relative to the room
// section.
func Validate(c room.Config) error {
	var errs []error
	if c.Room == "" {
		errs = append(errs, conf.Errorf("room", "must not be empty"))
	}
	hasKey := c.APIKey != "" || c.APISecret.IsSet()
	switch {
	case c.Token.IsSet() && hasKey:
		errs = append(errs, conf.Errorf("token", "set either token or api_key/api_secret, not both"))
	case !c.Token.IsSet() && !hasKey:
		errs = append(errs, conf.Errorf("token", "required (or api_key and api_secret)"))
	case hasKey && c.APIKey == "":
		errs = append(errs, conf.Errorf("api_key", "required with api_secret"))
	case hasKey && !c.APISecret.IsSet():
		errs = append(errs, conf.Errorf("api_secret", "required with api_key"))
	}
	if t := c.TokenTTL.D(); t < time.Minute || t > 24*time.Hour {
		errs = append(errs, conf.Errorf("token_ttl", "%v is out of range 1m..24h", t))
	}
	return errors.Join(errs...)
}
