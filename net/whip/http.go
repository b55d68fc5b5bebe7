package whip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/net/room"
)

// Media types of WHIP bodies.
const (
	contentTypeSDP     = "application/sdp"                 // RFC 9725 §4.2
	contentTypeSDPFrag = "application/trickle-ice-sdpfrag" // RFC 8840 §9.1
)

// Bounds on what is read from the endpoint.
const (
	// maxRedirects is how many 307/308 responses are followed in a row
	// before giving up, so a redirect loop ends.
	maxRedirects = 5
	// maxAnswerBytes bounds an SDP answer or sdpfrag. A one-track answer is
	// 1–3 KiB; 64 KiB leaves room for many candidates and still stops a
	// misbehaving server from filling memory.
	maxAnswerBytes = 64 << 10
	// maxErrorBody bounds how much of an error response is read; only the
	// start of it ends up in the error message (room.ServerText).
	maxErrorBody = 4 << 10
)

// httpResult is one final (non-redirect) response, its body read.
type httpResult struct {
	status int
	header http.Header
	body   []byte
	// url is the URL of the request that got this response, after
	// redirects: relative Locations resolve against it.
	url *url.URL
	// truncated: the body was longer than the limit and was cut.
	truncated bool
}

// tooLarge is the error for a success response whose body was cut.
func tooLarge(res *httpResult) error {
	return fmt.Errorf("%w: body larger than %d bytes", ErrBadAnswer, len(res.body))
}

// send makes one WHIP request and follows 307/308 redirects itself (at
// most maxRedirects), re-sending the same method, body and Authorization
// header: Go's client would drop Authorization on a cross-host redirect
// (RFC 9725 §4.5 lets an endpoint redirect to another host). A redirect
// from https to http is refused. The body is read up to limit bytes (up to
// maxErrorBody for errors) and marked truncated beyond. Transport failures
// and unreadable bodies come back as *room.JoinError with Op "http".
func (r *Room) send(ctx context.Context, method string, u *url.URL, contentType string, body []byte, ifMatch string, limit int64) (*httpResult, error) {
	cur := u
	for hops := 0; ; hops++ {
		req, err := http.NewRequestWithContext(ctx, method, cur.String(), bytes.NewReader(body))
		if err != nil {
			return nil, &room.JoinError{Op: "http", Err: fmt.Errorf("%s %s: %v", method, conf.RedactURL(cur.String()), err)}
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if r.token.IsSet() {
			req.Header.Set("Authorization", "Bearer "+r.token.Reveal())
		}
		if ifMatch != "" {
			req.Header.Set("If-Match", ifMatch)
		}
		resp, err := r.client.Do(req)
		if err != nil {
			return nil, &room.JoinError{Op: "http", Unreachable: ctx.Err() == nil, Err: r.transportError(method, cur, err)}
		}
		if resp.StatusCode == http.StatusTemporaryRedirect || resp.StatusCode == http.StatusPermanentRedirect {
			loc := resp.Header.Get("Location")
			drain(resp.Body)
			next, err := r.redirect(cur, loc, hops, resp.StatusCode)
			if err != nil {
				return nil, &room.JoinError{Op: "http", Status: resp.StatusCode, Err: err}
			}
			r.log.Debug("following redirect", "status", resp.StatusCode, "to", conf.RedactURL(next.String()))
			cur = next
			continue
		}
		ok := resp.StatusCode >= 200 && resp.StatusCode < 300
		if !ok {
			limit = maxErrorBody
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
		resp.Body.Close()
		if err != nil {
			return nil, &room.JoinError{Op: "http", Status: resp.StatusCode,
				Err: fmt.Errorf("%s %s: read body: %w", method, conf.RedactURL(cur.String()), err)}
		}
		res := &httpResult{status: resp.StatusCode, header: resp.Header, body: b, url: cur}
		if int64(len(b)) > limit {
			res.body, res.truncated = b[:limit], true
		}
		return res, nil
	}
}

// redirect resolves a 307/308 Location against the request URL.
func (r *Room) redirect(cur *url.URL, loc string, hops, status int) (*url.URL, error) {
	if hops >= maxRedirects {
		return nil, fmt.Errorf("%w: stopped after %d", ErrTooManyRedirects, maxRedirects)
	}
	if loc == "" {
		return nil, fmt.Errorf("%d redirect without a Location header", status)
	}
	next, err := cur.Parse(loc)
	if err != nil || (next.Scheme != "http" && next.Scheme != "https") || next.Host == "" {
		return nil, fmt.Errorf("%d redirect to an unusable Location %q", status, room.Printable(loc, r.token.Reveal()))
	}
	if cur.Scheme == "https" && next.Scheme == "http" {
		return nil, fmt.Errorf("%w (to %s)", ErrInsecureRedirect, conf.RedactURL(next.String()))
	}
	return next, nil
}

// transportError turns a client error into one that names the method and
// the URL without its query (which may carry credentials), keeping the
// cause for errors.Is (context.Canceled, net errors).
func (r *Room) transportError(method string, u *url.URL, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("%s %s: %w", method, conf.RedactURL(u.String()), err)
}

func drain(b io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(b, maxErrorBody))
	b.Close()
}

// statusError maps a 4xx/5xx (or any unexpected status) to a
// *room.JoinError: the server's text (room.ServerText, at most room.MaxServerText
// bytes) in the message, Permanent for statuses that will not change on
// retry, and RetryAfter from a 429 or 503 Retry-After.
func (r *Room) statusError(res *httpResult, what string) *room.JoinError {
	msg := what + ": " + strconv.Itoa(res.status) + " " + http.StatusText(res.status)
	if t := room.ServerText(res.body, r.token.Reveal()); t != "" {
		msg += ": " + t
	}
	je := &room.JoinError{Op: "http", Status: res.status, Err: errors.New(msg)}
	switch res.status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
		http.StatusMethodNotAllowed, http.StatusUnsupportedMediaType:
		je.Permanent = true
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		je.RetryAfter = room.RetryAfter(res.header.Get("Retry-After"), r.opts.Clock.Now())
	}
	return je
}
