package gateway

import (
	"github.com/onair-gateway/onair/net/e2ee"
	"github.com/onair-gateway/onair/provisioning"
)

// newEncryptor returns the key ring for the config's e2ee keys, or nil when
// no key is set.
func newEncryptor(r *provisioning.Resolved) (*e2ee.Keys, error) {
	if !r.E2EE.Enabled() {
		return nil, nil
	}
	return e2ee.New(r.E2EE)
}
