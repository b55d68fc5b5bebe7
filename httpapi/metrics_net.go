package httpapi

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/onair-gateway/onair/net/room"
)

// netCollector exports the room session's network path and counters
// (issue 14, "Session stats"): which transport and candidate types the
// audio uses, each as its own 0/1 series so a change moves the 1, and the
// session's packets and NACKs. The session counters restart with each
// session, which Prometheus reads as a counter reset.
type netCollector struct {
	src                              Source
	transport, relayProto, candidate *prometheus.Desc
	sent, nacks                      *prometheus.Desc
}

var _ prometheus.Collector = (*netCollector)(nil)

// Enumerations exported as one series per value.
var (
	netTransports     = []room.Transport{room.TransportUDP, room.TransportTCP, room.TransportRelay}
	netRelayProtocols = []string{"udp", "tcp", "tls"}
	netCandidateTypes = []string{"host", "srflx", "prflx", "relay"}
)

func newNetCollector(src Source) *netCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &netCollector{
		src:        src,
		transport:  d("onair_room_transport", "How the audio reaches the room (udp, tcp, relay): 1 for the current one, all 0 while not connected.", "transport"),
		relayProto: d("onair_room_relay_protocol", "How the device reaches its TURN server when relayed (udp, tcp, tls): 1 for the current one.", "protocol"),
		candidate:  d("onair_room_ice_candidate", "Candidate types of the selected ICE pair: 1 for the local and the remote one.", "side", "type"),
		sent:       d("onair_room_packets_sent_total", "RTP packets the current session sent."),
		nacks:      d("onair_room_nacks_total", "Packets the room asked for again (RTCP NACK) in the current session."),
	}
}

// Describe implements prometheus.Collector.
func (c *netCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.transport, c.relayProto, c.candidate, c.sent, c.nacks} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *netCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Status().RoomStats.Session
	gauge := func(d *prometheus.Desc, v bool, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, b2f(v), labels...)
	}
	for _, t := range netTransports {
		gauge(c.transport, s.Path.Transport == t, string(t))
	}
	for _, p := range netRelayProtocols {
		gauge(c.relayProto, s.Path.Transport == room.TransportRelay && s.Path.RelayProtocol == p, p)
	}
	for _, typ := range netCandidateTypes {
		gauge(c.candidate, s.Path.LocalCandidate == typ, "local", typ)
		gauge(c.candidate, s.Path.RemoteCandidate == typ, "remote", typ)
	}
	ch <- prometheus.MustNewConstMetric(c.sent, prometheus.CounterValue, float64(s.PacketsSent))
	ch <- prometheus.MustNewConstMetric(c.nacks, prometheus.CounterValue, float64(s.NACKs))
}
