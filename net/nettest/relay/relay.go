package relay

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/pion/turn/v5"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/net/room"
)

// Config says where the relay listens, who may use it and what it does to
// packets.
type Config struct {
	// IP is the address the relay listens on (UDP and TCP) and relays
	// from. Default: 127.0.0.1.
	IP string `json:"ip"`
	// Port is the UDP and TCP port clients reach the relay on. Default: 0,
	// any free port (the same number for both when it is free for both).
	Port int `json:"port"`
	// RelayIP is the address given to clients as their relayed address and
	// to peers as the relay candidate's. Default: IP. On loopback another
	// 127/8 address lets a peer tell relayed traffic from direct traffic.
	RelayIP string `json:"relay_ip"`
	// Username and Password are the one long-term credential the relay
	// accepts (RFC 8489 §9.2). Defaults: "onair" and "onair-relay".
	Username string      `json:"username"`
	Password conf.Secret `json:"password"`
	// Realm is the TURN realm. Default: "onair.relay".
	Realm string `json:"realm"`
	// Faults are applied to relayed packets from the start; SetFaults
	// changes them while the relay runs.
	Faults Faults `json:"faults"`
	// Seed fixes every random choice of the fault injector.
	Seed uint64 `json:"seed"`
	// Log receives the TURN server's warnings. Default: discarded.
	Log *slog.Logger `json:"-"`
}

// SetDefaults fills zero fields with their defaults.
func (c *Config) SetDefaults() {
	if c.IP == "" {
		c.IP = "127.0.0.1"
	}
	if c.RelayIP == "" {
		c.RelayIP = c.IP
	}
	if c.Username == "" {
		c.Username = "onair"
	}
	if c.Password == "" {
		c.Password = "onair-relay"
	}
	if c.Realm == "" {
		c.Realm = "onair.relay"
	}
	c.Faults.SetDefaults()
}

// Validate reports every problem, naming the field.
func (c Config) Validate() error {
	var errs []error
	for _, f := range []struct{ path, v string }{{"ip", c.IP}, {"relay_ip", c.RelayIP}} {
		if ip := net.ParseIP(f.v); ip == nil || ip.To4() == nil {
			errs = append(errs, conf.Errorf(f.path, "%q is not an IPv4 address", f.v))
		}
	}
	if ip := net.ParseIP(c.RelayIP); ip != nil && ip.IsUnspecified() {
		errs = append(errs, conf.Errorf("relay_ip", "%s cannot be given to peers as an address; set relay_ip to the address they reach", c.RelayIP))
	}
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, conf.Errorf("port", "%d is out of range 0..65535", c.Port))
	}
	for _, f := range []struct{ path, v string }{{"username", c.Username}, {"realm", c.Realm}} {
		if err := conf.CheckText(f.path, f.v); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.Faults.Validate(); err != nil {
		errs = append(errs, conf.Prefix("faults", err))
	}
	return errors.Join(errs...)
}

// LinkStats counts one direction's packets since Start.
type LinkStats struct {
	// In counts packets offered to the injector.
	In uint64 `json:"in"`
	// Out counts packets sent on (to the peer, or to the client).
	Out uint64 `json:"out"`
	// Lost counts random losses, BurstLost losses in Gilbert-Elliott bursts,
	// Overflow drops at the bandwidth cap's full queue.
	Lost      uint64 `json:"lost"`
	BurstLost uint64 `json:"burst_lost"`
	Overflow  uint64 `json:"overflow"`
	// Delayed counts packets held for any time before release, Reordered
	// packets held back behind the next one.
	Delayed   uint64 `json:"delayed"`
	Reordered uint64 `json:"reordered"`
}

// Dropped is every packet that will never come out.
func (s LinkStats) Dropped() uint64 { return s.Lost + s.BurstLost + s.Overflow }

// Stats is a snapshot of the relay's counters.
type Stats struct {
	// ToPeer is what clients sent through their allocations (the device's
	// uplink when the device is the client), FromPeer what peers sent back.
	ToPeer   LinkStats `json:"to_peer"`
	FromPeer LinkStats `json:"from_peer"`
	// Allocations counts allocations made since Start.
	Allocations uint64 `json:"allocations"`
}

// Relay is a running TURN server with a fault injector.
type Relay struct {
	cfg    Config
	srv    *turn.Server
	udp    net.PacketConn
	tcp    net.Listener
	seed   uint64
	faults atomic.Pointer[Faults]

	toPeer, fromPeer counters
	allocs           atomic.Uint64

	mu    sync.Mutex
	conns map[*faultConn]struct{}
}

// Start validates cfg, listens on UDP and TCP and serves until Close.
func Start(cfg Config) (*Relay, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("relay config: %w", err)
	}
	r := &Relay{cfg: cfg, seed: cfg.Seed, conns: map[*faultConn]struct{}{}}
	f := cfg.Faults
	r.faults.Store(&f)

	udp, err := net.ListenPacket("udp4", net.JoinHostPort(cfg.IP, strconv.Itoa(cfg.Port)))
	if err != nil {
		return nil, fmt.Errorf("relay listen udp: %w", err)
	}
	port := udp.LocalAddr().(*net.UDPAddr).Port
	tcp, err := net.Listen("tcp4", net.JoinHostPort(cfg.IP, strconv.Itoa(port)))
	if err != nil && cfg.Port == 0 {
		tcp, err = net.Listen("tcp4", net.JoinHostPort(cfg.IP, "0"))
	}
	if err != nil {
		udp.Close()
		return nil, fmt.Errorf("relay listen tcp: %w", err)
	}
	r.udp, r.tcp = udp, tcp

	key := turn.GenerateAuthKey(cfg.Username, cfg.Realm, cfg.Password.Reveal())
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	gen := &generator{r: r, static: turn.RelayAddressGeneratorStatic{RelayAddress: net.ParseIP(cfg.RelayIP), Address: cfg.IP}}
	r.srv, err = turn.NewServer(turn.ServerConfig{
		Realm:         cfg.Realm,
		LoggerFactory: room.PionLogs(log.With("component", "relay")),
		AuthHandler: func(ra *turn.RequestAttributes) (string, []byte, bool) {
			return ra.Username, key, ra.Username == cfg.Username
		},
		PacketConnConfigs: []turn.PacketConnConfig{{PacketConn: udp, RelayAddressGenerator: gen}},
		ListenerConfigs:   []turn.ListenerConfig{{Listener: tcp, RelayAddressGenerator: gen}},
	})
	if err != nil {
		udp.Close()
		tcp.Close()
		return nil, fmt.Errorf("relay start: %w", err)
	}
	return r, nil
}

func (r *Relay) currentFaults() *Faults { return r.faults.Load() }

// SetFaults replaces the faults on every link, current and future; a link's
// random streams and queues carry on.
func (r *Relay) SetFaults(f Faults) error {
	f.SetDefaults()
	if err := f.Validate(); err != nil {
		return fmt.Errorf("relay faults: %w", conf.Prefix("faults", err))
	}
	r.faults.Store(&f)
	return nil
}

// Faults returns the faults in force.
func (r *Relay) Faults() Faults { return *r.faults.Load() }

// UDPAddr and TCPAddr are where clients reach the relay.
func (r *Relay) UDPAddr() string { return r.udp.LocalAddr().String() }

// TCPAddr is where clients reach the relay over TCP (RFC 8656 §3.1).
func (r *Relay) TCPAddr() string { return r.tcp.Addr().String() }

// URL is the relay's TURN URL (RFC 7065) over UDP.
func (r *Relay) URL() string { return "turn:" + r.UDPAddr() + "?transport=udp" }

// TCPURL is the relay's TURN URL over TCP: a client that cannot send UDP
// reaches the relay this way, and the relay talks UDP to the peer for it.
func (r *Relay) TCPURL() string { return "turn:" + r.TCPAddr() + "?transport=tcp" }

// ICEServer returns the entry for room.ice_servers with urls (default: the
// UDP and the TCP URL) and the relay's credential.
func (r *Relay) ICEServer(urls ...string) room.ICEServer {
	if len(urls) == 0 {
		urls = []string{r.URL(), r.TCPURL()}
	}
	return room.ICEServer{URLs: urls, Username: r.cfg.Username, Credential: r.cfg.Password}
}

// Stats returns the counters so far.
func (r *Relay) Stats() Stats {
	return Stats{ToPeer: r.toPeer.snapshot(), FromPeer: r.fromPeer.snapshot(), Allocations: r.allocs.Load()}
}

// Close stops the server, closes every allocation and waits for their
// goroutines.
func (r *Relay) Close() error {
	err := r.srv.Close()
	r.mu.Lock()
	conns := make([]*faultConn, 0, len(r.conns))
	for c := range r.conns {
		conns = append(conns, c)
	}
	r.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	return err
}

// generator makes UDP relay sockets on the relay's IP and wraps each in a
// fault injector; TCP allocations (RFC 6062) are passed through unfaulted.
type generator struct {
	r      *Relay
	static turn.RelayAddressGeneratorStatic
}

var _ turn.RelayAddressGenerator = (*generator)(nil)

func (g *generator) Validate() error { return g.static.Validate() }

func (g *generator) AllocatePacketConn(c turn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	pc, addr, err := g.static.AllocatePacketConn(c)
	if err != nil {
		return nil, nil, err
	}
	r := g.r
	n := r.allocs.Add(1) - 1
	var fc *faultConn
	fc = newFaultConn(pc, r, n, func() {
		r.mu.Lock()
		delete(r.conns, fc)
		r.mu.Unlock()
	})
	r.mu.Lock()
	r.conns[fc] = struct{}{}
	r.mu.Unlock()
	return fc, addr, nil
}

func (g *generator) AllocateListener(c turn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return g.static.AllocateListener(c)
}

func (g *generator) AllocateConn(c turn.AllocateConnConfig) (net.Conn, error) {
	return g.static.AllocateConn(c)
}
