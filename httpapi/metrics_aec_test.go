package httpapi

import (
	"strings"
	"testing"

	"github.com/onair-gateway/onair/gateway"
)

// TestAECMetrics: status aec reaches /metrics as gauges while the
// canceller runs, and no onair_aec_ family appears while it does not.
func TestAECMetrics(t *testing.T) {
	scrape := func(st gateway.Status) map[string]float64 {
		t.Helper()
		s := start(t, Config{}, &fixed{s: st})
		fams := scrape(t, s)
		got := map[string]float64{}
		for name, f := range fams {
			if !strings.HasPrefix(name, "onair_aec_") {
				continue
			}
			if len(f.Metric) != 1 || f.Metric[0].Gauge == nil {
				t.Fatalf("%s: %v, want one gauge", name, f)
			}
			got[name] = f.Metric[0].Gauge.GetValue()
		}
		return got
	}
	got := scrape(gateway.Status{AEC: &gateway.AECStatus{DelayMs: 62.5, Measured: true, SkewPPM: -12.5, ERLEdB: 19.25}})
	want := map[string]float64{"onair_aec_delay_seconds": 0.0625, "onair_aec_measured": 1,
		"onair_aec_skew_ppm": -12.5, "onair_aec_erle_db": 19.25}
	if len(got) != len(want) {
		t.Errorf("onair_aec_ families %v, want %v", got, want)
	}
	for name, w := range want {
		if v, ok := got[name]; !ok || v != w {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, w)
		}
	}
	if got := scrape(gateway.Status{}); len(got) != 0 {
		t.Errorf("canceller off, yet %v", got)
	}
}
