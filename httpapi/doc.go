// Package httpapi is the device's status server: GET /healthz, /status and
// /metrics over HTTP, shared by onaird and by anything else that shows the
// device's state (an MQTT agent, a web page).
//
// It depends only on a Source, which returns the gateway's status snapshot;
// every request reads one snapshot, so nothing is computed per audio frame.
// /metrics is a Prometheus registry with a collector over that snapshot
// (every gateway state as its own 0/1 series, as node_exporter's systemd
// collector exports unit states) plus the Go and process collectors.
//
// With Config.Device set the server also serves the device's web page
// (web.go, assets embedded from web/): GET / with its script and style,
// the state pushed as Server-Sent Events on /api/events every
// EventInterval, the buttons on POST /api/command/{onair,mute,identify}
// and the config on /api/config (redacted), /api/config/check and
// /api/config/apply, all through the Device (provision.Device: the same
// commands and config path as the MQTT agent). Changes need a login with
// the password whose bcrypt hash is http.password_hash; sessions are
// HMAC-signed HttpOnly SameSite=Strict cookies keyed by the hash; every
// state-changing request passes http.CrossOriginProtection first; failed
// logins are limited (LoginFailures per LoginWindow). http.open_metrics
// decides whether /healthz, /status and /metrics need the login.
// TLSCert/TLSKey serve it all over HTTPS.
//
// The server is hardened for a device on a shared network: read-header,
// read, write and idle timeouts, a request body limit and a cap on
// concurrent connections (Config). Start owns one goroutine, the accept
// loop, which Close stops and waits for.
package httpapi
