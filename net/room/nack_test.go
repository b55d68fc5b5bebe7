package room

import (
	"testing"

	"github.com/pion/rtcp"
)

func TestNACKedPackets(t *testing.T) {
	n := &rtcp.TransportLayerNack{MediaSSRC: 7, Nacks: []rtcp.NackPair{{PacketID: 10, LostPackets: 0b101}, {PacketID: 40}}}
	if got := NACKedPackets(n, 7); got != uint64(len(n.Nacks[0].PacketList())+len(n.Nacks[1].PacketList())) || got != 4 {
		t.Errorf("NACKedPackets = %d, want 4", got)
	}
	if got := NACKedPackets(n, 8); got != 0 {
		t.Errorf("NACK for another SSRC counted %d", got)
	}
	if a := testing.AllocsPerRun(100, func() { NACKedPackets(n, 7) }); a != 0 {
		t.Errorf("%v allocations", a)
	}
}
