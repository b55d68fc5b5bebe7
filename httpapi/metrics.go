package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/onair-gateway/onair/gateway"
)

// collector exports the gateway's status on each scrape: one snapshot per
// scrape, nothing per audio frame. The names, types and help texts are the
// ones onaird has always served (README, "Status and metrics").
type collector struct {
	src    Source
	states []gateway.State

	onAir, encrypted, state                 *prometheus.Desc
	frames, packets, drops, xruns, late     *prometheus.Desc
	notSent, joins, joinFailures, earlyJoin *prometheus.Desc
	fractionLost, rtt, rms                  *prometheus.Desc
}

var _ prometheus.Collector = (*collector)(nil)

func newCollector(src Source) *collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &collector{
		src:          src,
		states:       gateway.States(),
		onAir:        d("onair_on_air", "1 while the device is on air (the gate is open)."),
		encrypted:    d("onair_encrypted", "1 when the room audio is end-to-end encrypted."),
		state:        d("onair_state", "The device state: 1 for the current state, 0 for every other.", "state"),
		frames:       d("onair_capture_frames_total", "Capture frames read."),
		packets:      d("onair_packets_total", "Opus packets encoded."),
		drops:        d("onair_capture_drops_total", "Capture frames dropped because processing fell behind."),
		xruns:        d("onair_capture_xruns_total", "Capture overruns reported by the sound card."),
		late:         d("onair_late_frames_total", "Times processing found more than one frame waiting."),
		notSent:      d("onair_packets_not_sent_total", "Packets not sent: no session, or not allowed to publish."),
		joins:        d("onair_room_joins_total", "Attempts to join the room."),
		joinFailures: d("onair_room_join_failures_total", "Joins that failed."),
		earlyJoin:    d("onair_room_early_joins_total", "Rejoins started as soon as a server that was down answered again."),
		fractionLost: d("onair_room_fraction_lost", "Loss the room's receiver reports, 0..1."),
		rtt:          d("onair_room_rtt_seconds", "Round-trip time from RTCP, 0 until known."),
		rms:          d("onair_output_rms_dbfs", "RMS level of the processed audio, dBFS."),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.onAir, c.encrypted, c.state, c.frames, c.packets, c.drops, c.xruns, c.late,
		c.notSent, c.joins, c.joinFailures, c.earlyJoin, c.fractionLost, c.rtt, c.rms} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Status()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	gauge(c.onAir, b2f(s.OnAir))
	gauge(c.encrypted, b2f(s.Encrypted))
	for _, st := range c.states {
		gauge(c.state, b2f(st == s.State), string(st))
	}
	counter(c.frames, s.Pipeline.Frames)
	counter(c.packets, s.Pipeline.Packets)
	counter(c.drops, s.Pipeline.Drops)
	counter(c.xruns, s.Pipeline.Xruns)
	counter(c.late, s.Pipeline.Late)
	counter(c.notSent, s.RoomStats.Dropped)
	counter(c.joins, s.RoomStats.JoinAttempts)
	counter(c.joinFailures, s.RoomStats.JoinFailures)
	counter(c.earlyJoin, s.RoomStats.EarlyJoins)
	gauge(c.fractionLost, s.RoomStats.Session.FractionLost)
	gauge(c.rtt, s.RoomStats.Session.RTT.Seconds())
	gauge(c.rms, s.OutLevel.RMSDBFS)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// writeJSON writes v as the response; an encoding error can only be the
// client going away, which the server notices itself.
func writeJSON(w http.ResponseWriter, v any) {
	_ = json.NewEncoder(w).Encode(v)
}
