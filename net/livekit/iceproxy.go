package livekit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/onair-gateway/onair/net/room"
)

// signalProxy adds room.ice_servers to the ICE servers LiveKit hands out.
//
// server-sdk-go builds its peer connections from the ICE servers of the
// server's JoinResponse and ReconnectResponse only, and offers no option to
// add any (nor a pion SettingEngine to set). So a session with ice_servers
// signals through this proxy on 127.0.0.1: it forwards the SDK's signal
// WebSocket to the server message by message, appends the configured
// servers to those two responses, and forwards every other request (the
// SDK's validate call) unchanged. The device's own loopback is the only
// thing that sees the proxy; the server sees the device as before.
type signalProxy struct {
	upstream *url.URL
	servers  []*livekit.ICEServer
	log      *slog.Logger
	ln       net.Listener
	srv      *http.Server
	rp       *httputil.ReverseProxy
	dialer   websocket.Dialer

	mu     sync.Mutex
	conns  map[*websocket.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// protoICEServers turns room.ice_servers into LiveKit's form.
func protoICEServers(in []room.ICEServer) []*livekit.ICEServer {
	out := make([]*livekit.ICEServer, 0, len(in))
	for _, s := range in {
		out = append(out, &livekit.ICEServer{Urls: append([]string(nil), s.URLs...), Username: s.Username, Credential: s.Credential.Reveal()})
	}
	return out
}

// startSignalProxy listens on 127.0.0.1 for the SDK and forwards to
// serverURL (ws, wss, http or https).
func startSignalProxy(serverURL string, servers []room.ICEServer, log *slog.Logger) (*signalProxy, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return nil, fmt.Errorf("signal proxy: %w", err)
	}
	up := *u
	switch u.Scheme {
	case "ws":
		up.Scheme = "http"
	case "wss":
		up.Scheme = "https"
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("signal proxy: %w", err)
	}
	p := &signalProxy{
		upstream: &up,
		servers:  protoICEServers(servers),
		log:      log,
		ln:       ln,
		conns:    map[*websocket.Conn]struct{}{},
		dialer:   websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: 10 * time.Second},
	}
	p.rp = &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(&url.URL{Scheme: up.Scheme, Host: up.Host})
		r.Out.URL.Path, r.Out.URL.RawPath = r.In.URL.Path, r.In.URL.RawPath
		r.Out.Host = up.Host
	}}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		_ = p.srv.Serve(ln) // ends with ErrServerClosed on Close
	}()
	return p, nil
}

// URL is what the SDK dials instead of the server: same path, on loopback.
func (p *signalProxy) URL() string {
	return "ws://" + p.ln.Addr().String() + strings.TrimSuffix(p.upstream.Path, "/")
}

// Close stops the proxy, closes the WebSocket pairs it forwards and waits
// for their goroutines.
func (p *signalProxy) Close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = p.srv.Shutdown(ctx)
	p.srv.Close()
	p.wg.Wait()
}

func (p *signalProxy) track(cs ...*websocket.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	p.wg.Add(1) // Close waits for the pumps too
	return true
}

// hopHeaders are the WebSocket handshake's own headers, which the dialer
// sets for the upstream connection.
var hopHeaders = map[string]bool{
	"Connection": true, "Upgrade": true, "Sec-Websocket-Key": true, "Sec-Websocket-Version": true,
	"Sec-Websocket-Extensions": true, "Sec-Websocket-Protocol": true, "Host": true,
}

func (p *signalProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		p.rp.ServeHTTP(w, r)
		return
	}
	target := *p.upstream
	target.Scheme = map[string]string{"http": "ws", "https": "wss"}[p.upstream.Scheme]
	target.Path, target.RawPath, target.RawQuery = r.URL.Path, r.URL.RawPath, r.URL.RawQuery
	h := http.Header{}
	for k, v := range r.Header {
		if !hopHeaders[http.CanonicalHeaderKey(k)] {
			h[k] = v
		}
	}
	up, resp, err := p.dialer.DialContext(r.Context(), target.String(), h)
	if err != nil {
		// Pass the server's refusal (401, 404 ...) on, so the SDK and
		// classify see what they would without the proxy.
		if resp != nil {
			for k, v := range resp.Header {
				w.Header()[k] = v
			}
			w.WriteHeader(resp.StatusCode)
			_, _ = io.Copy(w, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			return
		}
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	upgrader := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	down, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		up.Close()
		return
	}
	if !p.track(up, down) {
		up.Close()
		down.Close()
		return
	}
	defer p.wg.Done()
	done := make(chan struct{})
	go func() { p.pump(down, up, nil); close(done) }()
	p.pump(up, down, p.rewrite)
	<-done
}

// pump copies messages from src to dst, through edit when set, until
// either side fails; then it closes both.
func (p *signalProxy) pump(src, dst *websocket.Conn, edit func(int, []byte) []byte) {
	defer func() {
		src.Close()
		dst.Close()
		p.mu.Lock()
		delete(p.conns, src)
		delete(p.conns, dst)
		p.mu.Unlock()
	}()
	for {
		typ, msg, err := src.ReadMessage()
		if err != nil {
			if ce := (*websocket.CloseError)(nil); errors.As(err, &ce) {
				_ = dst.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(ce.Code, ce.Text))
			}
			return
		}
		if edit != nil {
			msg = edit(typ, msg)
		}
		if err := dst.WriteMessage(typ, msg); err != nil {
			return
		}
	}
}

// rewrite appends the configured ICE servers to a JoinResponse or a
// ReconnectResponse (binary protobuf, or JSON from a text message); every
// other message passes unchanged.
func (p *signalProxy) rewrite(typ int, msg []byte) []byte {
	var res livekit.SignalResponse
	var err error
	if typ == websocket.BinaryMessage {
		err = proto.Unmarshal(msg, &res)
	} else {
		err = protojson.Unmarshal(msg, &res)
	}
	if err != nil {
		return msg
	}
	switch m := res.Message.(type) {
	case *livekit.SignalResponse_Join:
		m.Join.IceServers = append(m.Join.IceServers, p.servers...)
	case *livekit.SignalResponse_Reconnect:
		m.Reconnect.IceServers = append(m.Reconnect.IceServers, p.servers...)
	default:
		return msg
	}
	var out []byte
	if typ == websocket.BinaryMessage {
		out, err = proto.Marshal(&res)
	} else {
		out, err = protojson.Marshal(&res)
	}
	if err != nil {
		p.log.Warn("cannot add ice servers to the join response", "err", err)
		return msg
	}
	p.log.Debug("added ice servers to the server's", "count", len(p.servers))
	return out
}
