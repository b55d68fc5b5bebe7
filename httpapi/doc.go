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
// The server is hardened for a device on a shared network: read-header,
// read, write and idle timeouts, a request body limit and a cap on
// concurrent connections (Config). Start owns one goroutine, the accept
// loop, which Close stops and waits for.
package httpapi
