package httpapi

import (
	"testing"

	"github.com/onair-gateway/onair/gateway"
	"github.com/onair-gateway/onair/net/room/listen"
)

// TestListenMetrics: the listen path's figures in /status reach /metrics,
// per participant.
func TestListenMetrics(t *testing.T) {
	src := &fixed{s: gateway.Status{Listen: gateway.ListenStatus{Enabled: true, Playing: true, Frames: 500, Xruns: 2,
		Participants: []gateway.ListenParticipant{
			{Identity: "alice", Playout: listen.Playout{DelayMs: 62.5, TargetMs: 60, Underruns: 3, Concealed: 7, Recovered: 4, Lost: 9, Late: 1, Playing: true}},
		}}}}
	s := start(t, Config{}, src)
	fams := scrape(t, s)
	val := func(name string) float64 {
		f := fams[name]
		if f == nil || len(f.Metric) != 1 {
			t.Fatalf("%s: %v", name, f)
		}
		m := f.Metric[0]
		if len(m.Label) > 0 && m.Label[0].GetValue() != "alice" {
			t.Errorf("%s labelled %v", name, m.Label)
		}
		if m.Gauge != nil {
			return m.Gauge.GetValue()
		}
		return m.Counter.GetValue()
	}
	for name, want := range map[string]float64{
		"onair_listen_playing": 1, "onair_listen_frames_total": 500, "onair_listen_xruns_total": 2,
		"onair_listen_jitter_delay_seconds": 0.0625, "onair_listen_jitter_target_seconds": 0.06,
		"onair_listen_underruns_total": 3, "onair_listen_concealed_frames_total": 7, "onair_listen_fec_recovered_total": 4,
		"onair_listen_lost_total": 9, "onair_listen_late_total": 1,
	} {
		if got := val(name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}
