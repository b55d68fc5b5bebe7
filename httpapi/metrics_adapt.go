package httpapi

import (
	"github.com/prometheus/client_golang/prometheus"
)

// adaptCollector exports where the room's rate adaptation has taken the
// Opus encoder (room.AdaptStats in the status): the bitrate it runs at,
// whether it codes in-band FEC, the expected loss it was given and how many
// times the settings changed. One snapshot per scrape.
type adaptCollector struct {
	src                            Source
	bitrate, fec, lossPct, changes *prometheus.Desc
}

var _ prometheus.Collector = (*adaptCollector)(nil)

func newAdaptCollector(src Source) *adaptCollector {
	return &adaptCollector{
		src:     src,
		bitrate: prometheus.NewDesc("onair_encoder_target_bitrate_bps", "Bitrate the Opus encoder runs at: the configured opus.bitrate, lowered by the room's loss-based estimate.", nil, nil),
		fec:     prometheus.NewDesc("onair_encoder_fec", "1 while the Opus encoder codes in-band FEC (enabled and an expected loss above 0%).", nil, nil),
		lossPct: prometheus.NewDesc("onair_encoder_packet_loss_percent", "Expected packet loss given to the Opus encoder from the room's receiver reports; -1 before the first report.", nil, nil),
		changes: prometheus.NewDesc("onair_encoder_adaptations_total", "Encoder settings changed by rate adaptation.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *adaptCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.bitrate
	ch <- c.fec
	ch <- c.lossPct
	ch <- c.changes
}

// Collect implements prometheus.Collector.
func (c *adaptCollector) Collect(ch chan<- prometheus.Metric) {
	a := c.src.Status().RoomStats.Adapt
	ch <- prometheus.MustNewConstMetric(c.bitrate, prometheus.GaugeValue, float64(a.TargetBitrate))
	ch <- prometheus.MustNewConstMetric(c.fec, prometheus.GaugeValue, b2f(a.FEC))
	ch <- prometheus.MustNewConstMetric(c.lossPct, prometheus.GaugeValue, float64(a.PacketLossPct))
	ch <- prometheus.MustNewConstMetric(c.changes, prometheus.CounterValue, float64(a.Changes))
}
