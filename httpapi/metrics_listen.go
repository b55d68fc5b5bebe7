package httpapi

import (
	"github.com/prometheus/client_golang/prometheus"
)

// listenCollector exports the listen path from the gateway's status on
// each scrape: the output's frames and underruns, and per remote
// participant its jitter buffer's delay and target, underruns and
// concealment.
type listenCollector struct {
	src Source

	playing, frames, xruns                     *prometheus.Desc
	delay, target, underruns, concealed, fecOK *prometheus.Desc
	lost, late                                 *prometheus.Desc
}

var _ prometheus.Collector = (*listenCollector)(nil)

func newListenCollector(src Source) *listenCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	const who = "participant"
	return &listenCollector{
		src:       src,
		playing:   d("onair_listen_playing", "1 while the room is being played on the output."),
		frames:    d("onair_listen_frames_total", "Frames played on the output."),
		xruns:     d("onair_listen_xruns_total", "Underruns the output device reported."),
		delay:     d("onair_listen_jitter_delay_seconds", "Current jitter buffer delay of a remote participant.", who),
		target:    d("onair_listen_jitter_target_seconds", "Jitter buffer target delay (95th percentile of arrival delays, within bounds).", who),
		underruns: d("onair_listen_underruns_total", "Times a participant's jitter buffer ran dry mid-stream.", who),
		concealed: d("onair_listen_concealed_frames_total", "Packet lengths of a participant's audio played by loss concealment (PLC).", who),
		fecOK:     d("onair_listen_fec_recovered_total", "Lost packets of a participant recovered by Opus in-band FEC.", who),
		lost:      d("onair_listen_lost_total", "Packets of a participant never received in time.", who),
		late:      d("onair_listen_late_total", "Packets of a participant that came after their time was played.", who),
	}
}

// Describe implements prometheus.Collector.
func (c *listenCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.playing, c.frames, c.xruns, c.delay, c.target, c.underruns, c.concealed, c.fecOK, c.lost, c.late} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *listenCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Status().Listen
	ch <- prometheus.MustNewConstMetric(c.playing, prometheus.GaugeValue, b2f(s.Playing))
	ch <- prometheus.MustNewConstMetric(c.frames, prometheus.CounterValue, float64(s.Frames))
	ch <- prometheus.MustNewConstMetric(c.xruns, prometheus.CounterValue, float64(s.Xruns))
	for _, p := range s.Participants {
		id := p.Identity
		ch <- prometheus.MustNewConstMetric(c.delay, prometheus.GaugeValue, p.DelayMs/1000, id)
		ch <- prometheus.MustNewConstMetric(c.target, prometheus.GaugeValue, p.TargetMs/1000, id)
		ch <- prometheus.MustNewConstMetric(c.underruns, prometheus.CounterValue, float64(p.Underruns), id)
		ch <- prometheus.MustNewConstMetric(c.concealed, prometheus.CounterValue, float64(p.Concealed), id)
		ch <- prometheus.MustNewConstMetric(c.fecOK, prometheus.CounterValue, float64(p.Recovered), id)
		ch <- prometheus.MustNewConstMetric(c.lost, prometheus.CounterValue, float64(p.Lost), id)
		ch <- prometheus.MustNewConstMetric(c.late, prometheus.CounterValue, float64(p.Late), id)
	}
}
