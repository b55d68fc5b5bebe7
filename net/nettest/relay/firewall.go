package relay

import (
	"net"
	"strings"

	"github.com/pion/transport/v5"
)

// DropUDP returns a transport.Net that behaves like n behind a firewall
// that drops all UDP: UDP sockets open and bind as usual, every datagram
// sent on them is silently discarded and nothing is ever received, as with
// an iptables DROP rule for UDP in both directions. TCP is untouched. Give
// it to pion (webrtc.SettingEngine.SetNet) to model a corporate network
// that blocks UDP, on loopback and without root: ICE gathers its UDP host
// candidates, their checks go nowhere, and only a TCP path (ICE-TCP, or
// TURN over TCP or TLS) can connect.
func DropUDP(n transport.Net) transport.Net { return dropUDP{n} }

type dropUDP struct{ transport.Net }

func isUDP(network string) bool { return strings.HasPrefix(network, "udp") }

func (d dropUDP) ListenPacket(network, address string) (net.PacketConn, error) {
	c, err := d.Net.ListenPacket(network, address)
	if err != nil || !isUDP(network) {
		return c, err
	}
	return droppedPacketConn{c}, nil
}

func (d dropUDP) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := d.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return droppedUDPConn{c}, nil
}

func (d dropUDP) DialUDP(network string, laddr, raddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := d.Net.DialUDP(network, laddr, raddr)
	if err != nil {
		return nil, err
	}
	return droppedUDPConn{c}, nil
}

func (d dropUDP) Dial(network, address string) (net.Conn, error) {
	c, err := d.Net.Dial(network, address)
	if err != nil || !isUDP(network) {
		return c, err
	}
	return droppedConn{c}, nil
}

// drain reads and discards until read fails (the socket is closed or its
// deadline passes): nothing gets through the firewall.
func drain(read func([]byte) error) error {
	buf := make([]byte, 1500)
	for {
		if err := read(buf); err != nil {
			return err
		}
	}
}

type droppedPacketConn struct{ net.PacketConn }

func (c droppedPacketConn) WriteTo(b []byte, _ net.Addr) (int, error) { return len(b), nil }
func (c droppedPacketConn) ReadFrom([]byte) (int, net.Addr, error) {
	return 0, nil, drain(func(b []byte) error { _, _, err := c.PacketConn.ReadFrom(b); return err })
}

type droppedConn struct{ net.Conn }

func (c droppedConn) Write(b []byte) (int, error) { return len(b), nil }
func (c droppedConn) Read([]byte) (int, error) {
	return 0, drain(func(b []byte) error { _, err := c.Conn.Read(b); return err })
}

type droppedUDPConn struct{ transport.UDPConn }

func (c droppedUDPConn) Write(b []byte) (int, error)                      { return len(b), nil }
func (c droppedUDPConn) WriteTo(b []byte, _ net.Addr) (int, error)        { return len(b), nil }
func (c droppedUDPConn) WriteToUDP(b []byte, _ *net.UDPAddr) (int, error) { return len(b), nil }
func (c droppedUDPConn) WriteMsgUDP(b, oob []byte, _ *net.UDPAddr) (int, int, error) {
	return len(b), len(oob), nil
}
func (c droppedUDPConn) Read([]byte) (int, error) {
	return 0, drain(func(b []byte) error { _, err := c.UDPConn.Read(b); return err })
}
func (c droppedUDPConn) ReadFrom([]byte) (int, net.Addr, error) {
	return 0, nil, drain(func(b []byte) error { _, _, err := c.UDPConn.ReadFrom(b); return err })
}
func (c droppedUDPConn) ReadFromUDP([]byte) (int, *net.UDPAddr, error) {
	return 0, nil, drain(func(b []byte) error { _, _, err := c.UDPConn.ReadFromUDP(b); return err })
}
func (c droppedUDPConn) ReadMsgUDP([]byte, []byte) (int, int, int, *net.UDPAddr, error) {
	return 0, 0, 0, nil, drain(func(b []byte) error { _, _, _, _, err := c.UDPConn.ReadMsgUDP(b, nil); return err })
}
