package relay

import (
	"container/heap"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// counters are one direction's tallies, shared by every link in that
// direction.
type counters struct {
	in, out, lost, burst, overflow, delayed, reordered atomic.Uint64
}

func (c *counters) snapshot() LinkStats {
	return LinkStats{
		In: c.in.Load(), Out: c.out.Load(), Lost: c.lost.Load(), BurstLost: c.burst.Load(),
		Overflow: c.overflow.Load(), Delayed: c.delayed.Load(), Reordered: c.reordered.Load(),
	}
}

// packet is one accepted datagram waiting for its release time.
type packet struct {
	at   time.Time
	orig time.Time // release time before any hold
	seq  uint64    // tie-break: equal times go in arrival order
	buf  []byte
	addr net.Addr
	idx  int // position in the heap
}

type queue []*packet

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i]; q[i].idx = i; q[j].idx = j }
func (q *queue) Push(x any)   { p := x.(*packet); p.idx = len(*q); *q = append(*q, p) }
func (q *queue) Pop() any     { old := *q; p := old[len(old)-1]; *q = old[:len(old)-1]; return p }
func (q queue) head() *packet { return q[0] }
func (q queue) empty() bool   { return len(q) == 0 }

// link carries one direction of one allocation: push decides each packet's
// fate with its shaper, run releases the survivors at their time through
// send.
type link struct {
	faults func() *Faults
	send   func(b []byte, addr net.Addr)
	c      *counters

	mu   sync.Mutex
	sh   *shaper
	q    queue
	held *packet // a packet waiting behind the next one
	seq  uint64
	wake chan struct{}
	// holdMax is how long a held packet waits for a next one: reorderWait,
	// longer in tests that must not depend on the scheduler's speed.
	holdMax time.Duration
}

func newLink(sh *shaper, faults func() *Faults, c *counters, send func([]byte, net.Addr)) *link {
	return &link{sh: sh, faults: faults, c: c, send: send, wake: make(chan struct{}, 1), holdMax: reorderWait}
}

// push takes a copy of b and queues it, or drops it.
func (l *link) push(b []byte, addr net.Addr) {
	l.c.in.Add(1)
	now := time.Now()
	l.mu.Lock()
	at, v, hold := l.sh.admit(l.faults(), now, len(b))
	switch v {
	case lost:
		l.mu.Unlock()
		l.c.lost.Add(1)
		return
	case burst:
		l.mu.Unlock()
		l.c.burst.Add(1)
		return
	case overflow:
		l.mu.Unlock()
		l.c.overflow.Add(1)
		return
	}
	if at.After(now) {
		l.c.delayed.Add(1)
	}
	l.seq++
	p := &packet{at: at, orig: at, seq: l.seq, buf: append([]byte(nil), b...), addr: addr}
	heap.Push(&l.q, p)
	if h := l.held; h != nil {
		// The held packet goes right after this one, which is not held in
		// turn (a chain of holds would delay one packet indefinitely).
		l.held = nil
		hold = false
		h.at = h.orig
		if p.at.After(h.at) {
			h.at = p.at
		}
		l.seq++
		h.seq = l.seq
		heap.Fix(&l.q, h.idx)
	}
	if hold {
		l.held = p
		p.at = p.at.Add(l.holdMax)
		heap.Fix(&l.q, p.idx)
		l.c.reordered.Add(1)
	}
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// run releases packets at their time until done closes.
func (l *link) run(done <-chan struct{}) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		l.mu.Lock()
		var due *packet
		wait := time.Hour
		if !l.q.empty() {
			if d := time.Until(l.q.head().at); d <= 0 {
				due = heap.Pop(&l.q).(*packet)
				if due == l.held {
					l.held = nil
				}
			} else {
				wait = d
			}
		}
		l.mu.Unlock()
		if due != nil {
			l.send(due.buf, due.addr)
			l.c.out.Add(1)
			continue
		}
		t.Reset(wait)
		select {
		case <-done:
			return
		case <-l.wake:
		case <-t.C:
		}
	}
}

// faultConn is an allocation's relay socket with a link on each side:
// WriteTo (client → peer) goes through out, datagrams read from peers go
// through in before ReadFrom returns them to the TURN server.
type faultConn struct {
	net.PacketConn
	out, in *link
	inbox   chan *packet
	done    chan struct{}
	close   sync.Once
	wg      sync.WaitGroup
	onClose func()
}

// inboxDepth bounds what the TURN server has not yet read: ample for
// loopback, where it reads as fast as packets come.
const inboxDepth = 1024

func newFaultConn(pc net.PacketConn, r *Relay, n uint64, onClose func()) *faultConn {
	c := &faultConn{PacketConn: pc, inbox: make(chan *packet, inboxDepth), done: make(chan struct{}), onClose: onClose}
	c.out = newLink(newShaper(r.seed, 2*n), r.currentFaults, &r.toPeer, func(b []byte, a net.Addr) {
		_, _ = pc.WriteTo(b, a) // a UDP send that fails is lost, as on a real path
	})
	c.in = newLink(newShaper(r.seed, 2*n+1), r.currentFaults, &r.fromPeer, func(b []byte, a net.Addr) {
		select {
		case c.inbox <- &packet{buf: b, addr: a}:
		case <-c.done:
		}
	})
	c.wg.Add(3)
	go func() { defer c.wg.Done(); c.out.run(c.done) }()
	go func() { defer c.wg.Done(); c.in.run(c.done) }()
	go func() { defer c.wg.Done(); c.readLoop() }()
	return c
}

func (c *faultConn) readLoop() {
	buf := make([]byte, 1<<16)
	for {
		n, addr, err := c.PacketConn.ReadFrom(buf)
		if err != nil {
			return // closed
		}
		c.in.push(buf[:n], addr)
	}
}

// WriteTo queues b for the peer; it never blocks and never fails before
// Close.
func (c *faultConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	select {
	case <-c.done:
		return 0, net.ErrClosed
	default:
	}
	c.out.push(b, addr)
	return len(b), nil
}

// ReadFrom returns the next packet from a peer that survived the faults.
func (c *faultConn) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case p := <-c.inbox:
		return copy(b, p.buf), p.addr, nil
	case <-c.done:
		return 0, nil, net.ErrClosed
	}
}

// Close closes the socket and waits for the link goroutines.
func (c *faultConn) Close() error {
	err := net.ErrClosed
	c.close.Do(func() {
		close(c.done)
		err = c.PacketConn.Close()
		c.wg.Wait()
		if c.onClose != nil {
			c.onClose()
		}
	})
	return err
}
