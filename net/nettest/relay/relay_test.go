package relay

import (
	"encoding/binary"
	"math"
	"net"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pion/turn/v5"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// client is a TURN client allocation on r and a UDP peer it sends to.
type client struct {
	t     *testing.T
	r     *Relay
	relay net.PacketConn // the allocation: WriteTo goes through the relay
	peer  *net.UDPConn
	start time.Time
	recv  chan arrival          // what the peer read, as it read it
	at    map[int]time.Duration // when each packet arrived, since start
}

type arrival struct {
	i         int
	delay, at time.Duration // one-way delay; arrival time since start
}

// newClient allocates on r over UDP, or over TCP when tcp is set.
func newClient(t *testing.T, r *Relay, tcp bool) *client {
	t.Helper()
	var conn net.PacketConn
	addr := r.UDPAddr()
	if tcp {
		c, err := net.Dial("tcp4", r.TCPAddr())
		if err != nil {
			t.Fatal(err)
		}
		conn = turn.NewSTUNConn(c)
		addr = r.TCPAddr()
	} else {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		conn = c
	}
	cl, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: addr, TURNServerAddr: addr, Conn: conn,
		Username: r.cfg.Username, Password: r.cfg.Password.Reveal(), Realm: r.cfg.Realm,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Listen(); err != nil {
		t.Fatal(err)
	}
	rc, err := cl.Allocate()
	if err != nil {
		t.Fatalf("allocate: %v", err)
	}
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, r: r, relay: rc, peer: peer, start: time.Now(), recv: make(chan arrival, 4096), at: map[int]time.Duration{}}
	read := make(chan struct{})
	go func() {
		defer close(read)
		buf := make([]byte, 2048)
		for {
			k, _, err := peer.ReadFrom(buf)
			if err != nil {
				return
			}
			if k >= 16 {
				sent := time.Duration(binary.BigEndian.Uint64(buf[8:]))
				now := time.Since(c.start)
				c.recv <- arrival{int(binary.BigEndian.Uint64(buf)), now - sent, now}
			}
		}
	}()
	t.Cleanup(func() {
		rc.Close()
		cl.Close()
		conn.Close()
		peer.Close()
		<-read
	})
	return c
}

// packet i carries its number and the time it was sent.
func (c *client) packet(i int, size int) []byte {
	b := make([]byte, max(size, 16))
	binary.BigEndian.PutUint64(b, uint64(i))
	binary.BigEndian.PutUint64(b[8:], uint64(time.Since(c.start)))
	return b
}

// send sends packets from..to-1 to the peer through the relay and waits
// until the relay has dealt with each (sent on or dropped) and the peer
// has read every one sent on. It returns what the peer received: packet
// number → one-way delay.
func (c *client) send(from, to, size int) map[int]time.Duration {
	c.t.Helper()
	got := map[int]time.Duration{}
	const batch = 200 // well inside a socket buffer, so the kernel drops nothing
	for lo := from; lo < to; lo += batch {
		base := c.r.Stats().ToPeer
		hi := min(lo+batch, to)
		for i := lo; i < hi; i++ {
			if _, err := c.relay.WriteTo(c.packet(i, size), c.peer.LocalAddr()); err != nil {
				c.t.Fatal(err)
			}
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			s := c.r.Stats().ToPeer
			if s.Out+s.Dropped()-base.Out-base.Dropped() == uint64(hi-lo) {
				break
			}
			if time.Now().After(deadline) {
				c.t.Fatalf("relay dealt with %d of %d packets", s.Out+s.Dropped()-base.Out-base.Dropped(), hi-lo)
			}
			time.Sleep(time.Millisecond)
		}
		want := int(c.r.Stats().ToPeer.Out - base.Out)
		for n := 0; n < want; n++ {
			select {
			case a := <-c.recv:
				got[a.i] = a.delay
				c.at[a.i] = a.at
			case <-time.After(10 * time.Second):
				c.t.Fatalf("peer read %d of %d packets", n, want)
			}
		}
	}
	return got
}

func start(t *testing.T, cfg Config) *Relay {
	t.Helper()
	r, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// warm sends one packet with no faults so the permission and channel exist
// before a measured run.
func warm(t *testing.T, r *Relay, c *client) {
	t.Helper()
	f := r.Faults()
	if err := r.SetFaults(Faults{}); err != nil {
		t.Fatal(err)
	}
	c.send(-1, 0, 16)
	if err := r.SetFaults(f); err != nil {
		t.Fatal(err)
	}
}

// TestRelayLoss: the loss configured is the loss measured at the peer,
// within 1% absolute, over UDP and over TCP from the client, and the
// relay's counters account for every packet.
func TestRelayLoss(t *testing.T) {
	for _, tcp := range []bool{false, true} {
		name := "udp"
		if tcp {
			name = "tcp"
		}
		t.Run(name, func(t *testing.T) {
			r := start(t, Config{Faults: Faults{Loss: 0.1}, Seed: 1})
			c := newClient(t, r, tcp)
			warm(t, r, c)
			base := r.Stats().ToPeer
			const n = 20_000
			got := c.send(0, n, 100)
			loss := 1 - float64(len(got))/n
			t.Logf("configured 10%% loss, measured %.2f%% over %d packets", 100*loss, n)
			if math.Abs(loss-0.1) > 0.01 {
				t.Errorf("measured loss %.4f, want 0.1 ± 0.01", loss)
			}
			s := r.Stats().ToPeer
			if s.Lost-base.Lost != uint64(n-len(got)) || s.In-base.In != n {
				t.Errorf("stats %+v (before %+v): want %d in, %d lost", s, base, n, n-len(got))
			}
		})
	}
}

// TestRelayFromPeer: packets from the peer back to the client are faulted
// too.
func TestRelayFromPeer(t *testing.T) {
	r := start(t, Config{Faults: Faults{Loss: 0.2}, Seed: 5})
	c := newClient(t, r, false)
	warm(t, r, c)
	relayAddr := c.relay.LocalAddr()
	const n = 5000
	received := 0
	buf := make([]byte, 2048)
	for lo := 0; lo < n; lo += 200 {
		base := r.Stats().FromPeer
		for i := lo; i < lo+200; i++ {
			if _, err := c.peer.WriteTo(c.packet(i, 100), relayAddr); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(30 * time.Second)
		for s := r.Stats().FromPeer; s.Out+s.Dropped()-base.Out-base.Dropped() < 200; s = r.Stats().FromPeer {
			if time.Now().After(deadline) {
				t.Fatalf("relay dealt with %d of 200 packets from the peer", s.Out+s.Dropped()-base.Out-base.Dropped())
			}
			time.Sleep(time.Millisecond)
		}
		for range r.Stats().FromPeer.Out - base.Out {
			if err := c.relay.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.relay.ReadFrom(buf); err != nil {
				t.Fatal(err)
			}
			received++
		}
	}
	loss := 1 - float64(received)/n
	if math.Abs(loss-0.2) > 0.015 { // 5000 packets: σ = 0.57%
		t.Errorf("measured loss from the peer %.4f, want 0.2", loss)
	}
}

// TestRelaySeed: two relays with one seed drop the same packets; another
// seed drops others.
func TestRelaySeed(t *testing.T) {
	lostSet := func(seed uint64) []int {
		r := start(t, Config{Faults: Faults{Loss: 0.1, BurstLoss: 0.05}, Seed: seed})
		c := newClient(t, r, false)
		got := c.send(0, 2000, 64)
		var lost []int
		for i := range 2000 {
			if _, ok := got[i]; !ok {
				lost = append(lost, i)
			}
		}
		return lost
	}
	a, b, other := lostSet(9), lostSet(9), lostSet(10)
	if len(a) == 0 || !slices.Equal(a, b) {
		t.Errorf("seed 9 lost %d then %d packets, not the same ones", len(a), len(b))
	}
	if slices.Equal(a, other) {
		t.Error("seeds 9 and 10 lost the same packets")
	}
}

// TestRelayDelay: no packet arrives before Delay, and the arrival spread
// reflects the jitter. (Only bounds a loaded machine cannot break: load adds
// delay and spread, never removes them. TestShaperDelay checks the
// distribution exactly.)
func TestRelayDelay(t *testing.T) {
	const d, j = 30 * time.Millisecond, 40 * time.Millisecond
	r := start(t, Config{Faults: Faults{Delay: d, Jitter: j}, Seed: 2})
	c := newClient(t, r, false)
	warm(t, r, c)
	got := map[int]time.Duration{}
	for i := 0; i < 1000; i += 10 { // 10 packets at once, then wait for them
		for k, v := range c.send(i, i+10, 100) {
			got[k] = v
		}
	}
	ds := make([]time.Duration, 0, len(got))
	for _, x := range got {
		ds = append(ds, x)
	}
	sort.Slice(ds, func(a, b int) bool { return ds[a] < ds[b] })
	if len(ds) != 1000 {
		t.Fatalf("%d of 1000 packets arrived with no loss configured", len(ds))
	}
	p10, p50, p90 := ds[100], ds[500], ds[900]
	t.Logf("one-way delay: min %v p10 %v median %v p90 %v (configured %v + U[0, %v))", ds[0], p10, p50, p90, d, j)
	if ds[0] < d {
		t.Errorf("a packet arrived after %v, before the %v delay", ds[0], d)
	}
	if p90-p10 < j/2 {
		t.Errorf("p90-p10 spread %v, want about %v for %v of uniform jitter", p90-p10, 4*j/5, j)
	}
	if s := r.Stats().ToPeer; s.Delayed < 1000 {
		t.Errorf("%d packets counted as delayed, want 1000", s.Delayed)
	}
}

// TestRelayRate: a burst sent at once leaves at the capped rate.
func TestRelayRate(t *testing.T) {
	r := start(t, Config{Faults: Faults{RateBps: 80_000, QueueLimit: 2 * time.Second}})
	c := newClient(t, r, false)
	warm(t, r, c)
	got := c.send(0, 40, 100) // 100 bytes at 80 kbit/s: 10 ms each
	if len(got) != 40 {
		t.Fatalf("%d of 40 packets arrived", len(got))
	}
	// The queue lets one packet out every 10 ms, however fast they came.
	if d := c.at[39] - c.at[0]; d < 390*time.Millisecond-time.Millisecond {
		t.Errorf("40 packets arrived over %v, want ≥ 390ms at 80 kbit/s", d)
	}
}

// TestRelaySetFaults: faults change while packets flow.
func TestRelaySetFaults(t *testing.T) {
	r := start(t, Config{})
	c := newClient(t, r, false)
	if got := c.send(0, 300, 64); len(got) != 300 {
		t.Fatalf("no faults: %d of 300 arrived", len(got))
	}
	if err := r.SetFaults(Faults{Loss: 1}); err != nil {
		t.Fatal(err)
	}
	if got := c.send(300, 600, 64); len(got) != 0 {
		t.Fatalf("loss 1: %d of 300 arrived", len(got))
	}
	if err := r.SetFaults(Faults{}); err != nil {
		t.Fatal(err)
	}
	if got := c.send(600, 900, 64); len(got) != 300 {
		t.Fatalf("faults cleared: %d of 300 arrived", len(got))
	}
	if err := r.SetFaults(Faults{Loss: 2}); err == nil || !strings.Contains(err.Error(), "faults.loss") {
		t.Errorf("SetFaults(loss 2) = %v, want an error naming faults.loss", err)
	}
	if s := r.Stats(); s.Allocations != 1 || s.ToPeer.Lost != 300 {
		t.Errorf("stats %+v, want 1 allocation, 300 lost", s)
	}
}

func TestConfigValidate(t *testing.T) {
	_, err := Start(Config{IP: "localhost", Port: 70000, Faults: Faults{Loss: -1}})
	for _, w := range []string{"ip:", "port:", "faults.loss:"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Start: %v, want an error naming %s", err, w)
		}
	}
	_, err = Start(Config{IP: "0.0.0.0"})
	for _, w := range []string{"relay_ip:"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Start: %v, want an error naming %s", err, w)
		}
	}
}

// TestICEServer: the entry for room.ice_servers names both transports and
// carries the credential, redacted when printed.
func TestICEServer(t *testing.T) {
	r := start(t, Config{Username: "u", Password: "secret"})
	s := r.ICEServer()
	if len(s.URLs) != 2 || !strings.HasPrefix(s.URLs[0], "turn:127.0.0.1:") || !strings.HasSuffix(s.URLs[1], "?transport=tcp") {
		t.Errorf("urls %v", s.URLs)
	}
	if s.Username != "u" || s.Credential.Reveal() != "secret" || strings.Contains(s.Credential.String(), "secret") {
		t.Errorf("credential %q / %q", s.Username, s.Credential)
	}
}
