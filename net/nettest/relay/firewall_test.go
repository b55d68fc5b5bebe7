package relay

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/pion/transport/v5/stdnet"
)

// TestDropUDP: UDP sockets open but nothing crosses in either direction;
// TCP is untouched.
func TestDropUDP(t *testing.T) {
	std, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	fw := DropUDP(std)
	outside, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer outside.Close()

	inside, err := fw.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("a UDP socket behind the firewall does not open: %v", err)
	}
	defer inside.Close()
	pc, err := fw.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if n, err := inside.WriteTo([]byte("out"), outside.LocalAddr()); n != 3 || err != nil {
		t.Fatalf("send: %d, %v; a firewall drops silently", n, err)
	}
	if _, err := pc.WriteTo([]byte("out"), outside.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []net.PacketConn{inside, pc} {
		if _, err := outside.WriteTo([]byte("in"), c.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 16)
	for _, c := range []net.PacketConn{outside, inside, pc} {
		if err := c.SetReadDeadline(time.Now().Add(300 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if n, _, err := c.ReadFrom(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%v read %q, %v: a datagram crossed the firewall", c.LocalAddr(), buf[:n], err)
		}
	}

	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Write([]byte("tcp"))
			c.Close()
		}
	}()
	c, err := fw.Dial("tcp4", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != "tcp" {
		t.Errorf("tcp read %q, %v", buf[:n], err)
	}
}
