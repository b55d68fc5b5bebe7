package e2ee

import (
	"encoding/base64"
	"errors"

	"github.com/onair-gateway/onair/conf"
)

// Config holds the room's end-to-end encryption keys and policy.
type Config struct {
	// Required refuses to publish unencrypted: a config that sets it with
	// no key, or with a backend that cannot encrypt (WHIP), is invalid, so
	// onaird does not start on it (exit 2, naming e2ee.required) and a
	// reload to it is rejected. Default: false (but any configured key is
	// always used).
	Required bool `yaml:"required" json:"required"`
	// Passphrase is the shared room passphrase, from which the AES key is
	// derived as LiveKit's SDKs do (PBKDF2-SHA256). Mutually exclusive
	// with Key.
	Passphrase conf.Secret `yaml:"passphrase" json:"passphrase"`
	// Key is a raw 16-byte AES-128 key, base64 (LiveKit frame encryption uses
	// AES-128-GCM). Mutually exclusive with
	// Passphrase.
	Key conf.Secret `yaml:"key" json:"key"`
	// KeyIndex is the index of the current key, 0..255. Default: 0.
	KeyIndex int `yaml:"key_index" json:"key_index"`
}

// Enabled reports whether a key is configured.
func (c Config) Enabled() bool { return c.Passphrase.IsSet() || c.Key.IsSet() }

// Validate reports every problem with c. Secret values never appear in the
// messages.
func (c Config) Validate() error {
	var errs []error
	if c.Passphrase.IsSet() && c.Key.IsSet() {
		errs = append(errs, conf.Errorf("key", "set either passphrase or key, not both"))
	}
	if c.Key.IsSet() {
		b, err := base64.StdEncoding.DecodeString(c.Key.Reveal())
		if err != nil {
			errs = append(errs, conf.Errorf("key", "is not valid base64 (value redacted)"))
		} else if len(b) != 16 {
			errs = append(errs, conf.Errorf("key", "decodes to %d bytes; want 16 (AES-128) (value redacted)", len(b)))
		}
	}
	if c.Passphrase.IsSet() && len(c.Passphrase.Reveal()) < 8 {
		errs = append(errs, conf.Errorf("passphrase", "is shorter than 8 characters (value redacted)"))
	}
	if c.KeyIndex < 0 || c.KeyIndex > 255 {
		errs = append(errs, conf.Errorf("key_index", "%d is out of range 0..255", c.KeyIndex))
	}
	if c.Required && !c.Enabled() {
		errs = append(errs, conf.Errorf("required", "is true but neither passphrase nor key is set"))
	}
	return errors.Join(errs...)
}
