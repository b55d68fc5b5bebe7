package provisioning

import (
	"os"
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
	if r.MQTT.Broker != "" {
		w = append(w, "mqtt.broker is set, but this onaird has no MQTT client yet: the broker is not contacted; status is on http.listen and the systemd status line")
	}
	if !r.E2EE.Enabled() {
		w = append(w, "e2ee: no key is set, so the room server can hear this device's audio; set e2ee.passphrase")
	}
	return w
}
