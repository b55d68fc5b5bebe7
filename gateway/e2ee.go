package gateway

import (
	"github.com/onair-gateway/onair/net/livekit"
	"github.com/onair-gateway/onair/provisioning"
)

// newEncryptor returns the frame encryptor for the config's e2ee keys, or
// nil when no key is set.
func newEncryptor(r *provisioning.Resolved) (livekit.Encryptor, error) {
	if !r.E2EE.Enabled() {
		return nil, nil
	}
	return nil, errE2EENotBuilt
}
