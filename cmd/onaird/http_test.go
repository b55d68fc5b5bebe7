package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/onair-gateway/onair/gateway"
	"github.com/onair-gateway/onair/net/livekit/livekittest"
)

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestHTTPStatusAndMetrics runs onaird on air with http.listen set and
// reads its three endpoints as a monitoring system would: /healthz 200
// while live, /status as JSON, /metrics parsed by Prometheus's own text
// parser with every family typed and the figures of a live device.
func TestHTTPStatusAndMetrics(t *testing.T) {
	srv := livekittest.Start(t)
	addr := freeAddr(t)
	cfg := fmt.Sprintf(`
device: {id: http-dev}
board:
  profile: sim
  sim: {signal: tone, frequency: 1000, level: -12, keyboard: false, script: [{at: 0s, action: press}]}
room: {url: %q, api_key: %s, api_secret: %s, room: http}
e2ee: {passphrase: http-test-passphrase}
http: {listen: %q}
`, srv.URL, srv.APIKey, srv.APISecret, addr)
	_, notes, errOut := startOnaird(t, cfg, 0)
	waitNotify(t, notes, "STATUS=onair", 15*time.Second)

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v\n%s", path, err, errOut.String())
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}

	if code, body := get("/healthz"); code != http.StatusOK || !strings.HasPrefix(body, "onair") {
		t.Errorf("/healthz: %d %q", code, body)
	}
	code, body := get("/status")
	var st map[string]any
	if err := json.Unmarshal([]byte(body), &st); code != http.StatusOK || err != nil {
		t.Fatalf("/status: %d %v\n%s", code, err, body)
	}
	if strings.Contains(body, "http-test-passphrase") || strings.Contains(body, srv.APISecret) {
		t.Error("/status shows a secret")
	}
	rs, _ := st["room_stats"].(map[string]any)
	pl, _ := st["pipeline"].(map[string]any)
	if st["device"] != "http-dev" || st["state"] != "onair" || st["encrypted"] != true || rs["state"] != "connected" ||
		rs["join_attempts"] == nil || pl["frames"] == nil {
		t.Errorf("/status lacks the device, its state or snake_case figures:\n%s", body)
	}

	// Let packets flow a while, so counters have something to count.
	deadline := time.Now().Add(10 * time.Second)
	var fams map[string]*dto.MetricFamily
	for {
		code, body = get("/metrics")
		if code != http.StatusOK {
			t.Fatalf("/metrics: %d", code)
		}
		p := expfmt.NewTextParser(model.LegacyValidation)
		var err error
		fams, err = p.TextToMetricFamilies(strings.NewReader(body))
		if err != nil {
			t.Fatalf("/metrics is not valid Prometheus text: %v\n%s", err, body)
		}
		if v := value(fams["onair_packets_total"]); v >= 50 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	var onair, goFams, procFams int
	for name := range fams {
		switch {
		case strings.HasPrefix(name, "onair_"):
			onair++
		case strings.HasPrefix(name, "go_"):
			goFams++
		case strings.HasPrefix(name, "process_"):
			procFams++
		}
	}
	want := map[string]dto.MetricType{
		"onair_on_air": dto.MetricType_GAUGE, "onair_encrypted": dto.MetricType_GAUGE, "onair_state": dto.MetricType_GAUGE,
		"onair_capture_frames_total": dto.MetricType_COUNTER, "onair_packets_total": dto.MetricType_COUNTER,
		"onair_capture_drops_total": dto.MetricType_COUNTER, "onair_room_joins_total": dto.MetricType_COUNTER,
		"onair_room_join_failures_total": dto.MetricType_COUNTER, "onair_room_early_joins_total": dto.MetricType_COUNTER,
		"onair_room_fraction_lost": dto.MetricType_GAUGE, "onair_output_rms_dbfs": dto.MetricType_GAUGE,
		"onair_room_rtt_seconds": dto.MetricType_GAUGE, "onair_capture_xruns_total": dto.MetricType_COUNTER,
		"onair_late_frames_total": dto.MetricType_COUNTER, "onair_packets_not_sent_total": dto.MetricType_COUNTER,
		// Session network stats (httpapi/metrics_net.go).
		"onair_room_transport": dto.MetricType_GAUGE, "onair_room_relay_protocol": dto.MetricType_GAUGE,
		"onair_room_ice_candidate": dto.MetricType_GAUGE, "onair_room_packets_sent_total": dto.MetricType_COUNTER,
		"onair_room_nacks_total": dto.MetricType_COUNTER,
		// Rate adaptation (httpapi/metrics_adapt.go).
		"onair_encoder_target_bitrate_bps": dto.MetricType_GAUGE, "onair_encoder_fec": dto.MetricType_GAUGE,
		"onair_encoder_packet_loss_percent": dto.MetricType_GAUGE, "onair_encoder_adaptations_total": dto.MetricType_COUNTER,
		// The listen path's (per-participant families appear with participants).
		"onair_listen_playing": dto.MetricType_GAUGE, "onair_listen_frames_total": dto.MetricType_COUNTER,
		"onair_listen_xruns_total": dto.MetricType_COUNTER,
	}
	if onair != len(want) || goFams == 0 || procFams == 0 {
		t.Errorf("%d onair_ families (want the %d the test knows), %d go_, %d process_", onair, len(want), goFams, procFams)
	}
	// On loopback the audio goes straight over UDP.
	for _, m := range fams["onair_room_transport"].GetMetric() {
		if want := m.Label[0].GetValue() == "udp"; (m.Gauge.GetValue() == 1) != want {
			t.Errorf("onair_room_transport{transport=%q} = %v", m.Label[0].GetValue(), m.Gauge.GetValue())
		}
	}
	for name, typ := range want {
		f := fams[name]
		if f == nil {
			t.Errorf("/metrics has no %s", name)
			continue
		}
		if f.GetType() != typ {
			t.Errorf("%s is a %v, want %v", name, f.GetType(), typ)
		}
		if f.GetHelp() == "" {
			t.Errorf("%s has no HELP", name)
		}
	}
	if value(fams["onair_on_air"]) != 1 || value(fams["onair_encrypted"]) != 1 {
		t.Errorf("on air %v, encrypted %v; want 1 and 1", value(fams["onair_on_air"]), value(fams["onair_encrypted"]))
	}
	// The encoder reports its bitrate through the gateway (no loss on
	// loopback: the configured one, 6000..510000).
	if v := value(fams["onair_encoder_target_bitrate_bps"]); v < 6000 || v > 510000 {
		t.Errorf("onair_encoder_target_bitrate_bps = %v", v)
	}
	if v := value(fams["onair_packets_total"]); v < 50 {
		t.Errorf("%v packets counted after the device was on air for seconds", v)
	}
	// Every state is its own 0/1 series; exactly one, onair, is 1.
	if s := fams["onair_state"]; s == nil || len(s.Metric) != len(gateway.States()) {
		t.Errorf("onair_state: %v, want a series per state", s)
	} else {
		ones := map[string]bool{}
		for _, m := range s.Metric {
			if v := m.Gauge.GetValue(); v != 0 && v != 1 {
				t.Errorf("onair_state{state=%q} = %v", m.Label[0].GetValue(), v)
			} else if v == 1 {
				ones[m.Label[0].GetValue()] = true
			}
		}
		if len(ones) != 1 || !ones["onair"] {
			t.Errorf("onair_state is 1 for %v, want only onair", ones)
		}
	}
	if v := value(fams["onair_room_joins_total"]); v != 1 {
		t.Errorf("%v joins, want 1", v)
	}
}

// value returns the first sample of a gauge or counter family (NaN-free: 0
// when absent).
func value(f *dto.MetricFamily) float64 {
	if f == nil || len(f.Metric) == 0 {
		return 0
	}
	m := f.Metric[0]
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}
