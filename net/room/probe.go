package room

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Prober is implemented by a Room that can tell cheaply whether its server
// answers at all. While a backoff wait follows a failure that was not
// permanent, the Supervisor probes at once and then every ProbeInterval;
// once the server has been seen down (by a failed probe, or by a join that
// could not reach it: JoinError.Unreachable) and a probe succeeds, the
// Supervisor joins at once instead of sleeping out the rest of the wait. A
// device is so back within about a second of its server, however long the
// outage and however far the backoff had grown.
//
// A probe proves only that the server answers: a failure that leaves the
// server answering (ICE, a refused room) still waits out its backoff.
type Prober interface {
	// Probe returns nil if the server answered, whatever it answered, and
	// an error if it could not be reached. It must return promptly when
	// ctx ends.
	Probe(ctx context.Context) error
}

// probeTimeout bounds one probe, so a server that accepts connections but
// never answers cannot hold the Supervisor past its backoff.
const probeTimeout = 2 * time.Second

// ProbeHTTP is a Probe for HTTP servers: it sends a HEAD request for url
// with client and returns nil for any HTTP response, an error only if none
// came. It reads no body and follows no redirect of its own accord beyond
// what client does.
func ProbeHTTP(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, url, nil)
	if err != nil {
		return fmt.Errorf("probe %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	return resp.Body.Close()
}
