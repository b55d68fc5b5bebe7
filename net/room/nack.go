package room

import (
	"math/bits"

	"github.com/pion/rtcp"
)

// NACKedPackets counts the packets of media SSRC ssrc that a generic NACK
// asks for (RFC 4585 §6.2.1: each pair names one packet and a bitmask of
// the 16 after it), without allocating.
func NACKedPackets(n *rtcp.TransportLayerNack, ssrc uint32) uint64 {
	if n.MediaSSRC != ssrc {
		return 0
	}
	var c uint64
	for _, p := range n.Nacks {
		c += 1 + uint64(bits.OnesCount16(uint16(p.LostPackets)))
	}
	return c
}
