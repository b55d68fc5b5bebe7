package httpapi

import (
	"github.com/prometheus/client_golang/prometheus"
)

// aecCollector exports the echo canceller from the gateway's status on
// each scrape: the measured playback-to-capture delay, whether it has
// been measured, the playback clock's skew and the ERLE. It exports
// nothing while the canceller does not run (status aec absent).
type aecCollector struct {
	src Source

	delay, erle, skew, measured *prometheus.Desc
}

var _ prometheus.Collector = (*aecCollector)(nil)

func newAECCollector(src Source) *aecCollector {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	return &aecCollector{
		src:      src,
		delay:    d("onair_aec_delay_seconds", "Measured delay from handing a frame to the playback device to hearing it in the capture."),
		erle:     d("onair_aec_erle_db", "Echo return loss enhancement of the echo canceller while the far end plays, dB (smoothed over 2 s)."),
		skew:     d("onair_aec_skew_ppm", "Measured drift of the playback clock against the capture clock, parts per million."),
		measured: d("onair_aec_measured", "1 once the echo path's delay has been measured (always with hardware loopback channels)."),
	}
}

// Describe implements prometheus.Collector.
func (c *aecCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.delay, c.erle, c.skew, c.measured} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *aecCollector) Collect(ch chan<- prometheus.Metric) {
	a := c.src.Status().AEC
	if a == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.delay, prometheus.GaugeValue, a.DelayMs/1000)
	ch <- prometheus.MustNewConstMetric(c.erle, prometheus.GaugeValue, a.ERLEdB)
	ch <- prometheus.MustNewConstMetric(c.skew, prometheus.GaugeValue, a.SkewPPM)
	ch <- prometheus.MustNewConstMetric(c.measured, prometheus.GaugeValue, b2f(a.Measured))
}
