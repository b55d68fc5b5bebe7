package httpapi

import (
	"testing"

	"github.com/onair-gateway/onair/net/room"
)

// TestAdaptMetrics: the encoder's adapted settings from the status are in
// /metrics.
func TestAdaptMetrics(t *testing.T) {
	src := &fixed{}
	src.s.RoomStats.Adapt = room.AdaptStats{TargetBitrate: 28800, FEC: true, PacketLossPct: 12, Changes: 3}
	s := start(t, Config{}, src)
	fams := scrape(t, s)
	want := map[string]float64{
		"onair_encoder_target_bitrate_bps":  28800,
		"onair_encoder_fec":                 1,
		"onair_encoder_packet_loss_percent": 12,
		"onair_encoder_adaptations_total":   3,
	}
	for name, v := range want {
		f := fams[name]
		if f == nil || len(f.Metric) != 1 {
			t.Errorf("%s missing", name)
			continue
		}
		m := f.Metric[0]
		got := m.GetGauge().GetValue()
		if m.Counter != nil {
			got = m.GetCounter().GetValue()
		}
		if got != v {
			t.Errorf("%s = %v, want %v", name, got, v)
		}
	}
}
