package relay

import (
	"net"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestLinkReorder: a held packet leaves right after the next one, and a
// packet that releases a held one is not held itself.
func TestLinkReorder(t *testing.T) {
	f := &Faults{Reorder: 1}
	var c counters
	var mu sync.Mutex
	var got []byte
	sent := make(chan struct{}, 16)
	l := newLink(newShaper(1, 0), func() *Faults { return f }, &c, func(b []byte, _ net.Addr) {
		mu.Lock()
		got = append(got, b[0])
		mu.Unlock()
		sent <- struct{}{}
	})
	l.holdMax = time.Hour // release only behind a next packet, however slow the machine
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() { l.run(done); close(stopped) }()
	defer func() { close(done); <-stopped }()

	for i := range byte(6) {
		l.push([]byte{i}, nil)
	}
	for range 6 {
		<-sent
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []byte{1, 0, 3, 2, 5, 4}; !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
	if s := c.snapshot(); s.Reordered != 3 || s.In != 6 {
		t.Errorf("stats %+v, want 6 in, 3 reordered", s)
	}
}

// TestLinkHoldTimeout: a held packet with no packet behind it goes after
// holdMax instead of waiting for ever.
func TestLinkHoldTimeout(t *testing.T) {
	f := &Faults{Reorder: 1}
	var c counters
	sent := make(chan time.Time, 1)
	l := newLink(newShaper(1, 0), func() *Faults { return f }, &c, func([]byte, net.Addr) { sent <- time.Now() })
	l.holdMax = 30 * time.Millisecond
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() { l.run(done); close(stopped) }()
	defer func() { close(done); <-stopped }()
	start := time.Now()
	l.push([]byte{0}, nil)
	select {
	case at := <-sent:
		if d := at.Sub(start); d < l.holdMax {
			t.Errorf("held packet left after %v, before holdMax %v", d, l.holdMax)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("held packet never left")
	}
}
