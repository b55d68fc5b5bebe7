package httpapi

import (
	"strings"
	"testing"

	"github.com/onair-gateway/onair/net/room"
)

// TestNetMetrics: the session's path is one 1 among 0/1 series per
// transport, relay protocol and candidate type; the counters follow the
// session's.
func TestNetMetrics(t *testing.T) {
	src := &fixed{}
	src.s.RoomStats.Session = room.Stats{PacketsSent: 500, NACKs: 7,
		Path: room.Path{Transport: room.TransportRelay, RelayProtocol: "tcp", LocalCandidate: "relay", RemoteCandidate: "host"}}
	s := start(t, Config{}, src)
	fams := scrape(t, s)
	ones := func(name string) []string {
		f := fams[name]
		if f == nil {
			t.Fatalf("no %s", name)
		}
		var on []string
		for _, m := range f.Metric {
			if m.GetGauge().GetValue() == 1 {
				var l []string
				for _, lp := range m.Label {
					l = append(l, lp.GetValue())
				}
				on = append(on, strings.Join(l, "/"))
			}
		}
		return on
	}
	for name, want := range map[string]string{
		"onair_room_transport":      "relay",
		"onair_room_relay_protocol": "tcp",
		"onair_room_ice_candidate":  "local/relay,remote/host",
	} {
		if got := strings.Join(ones(name), ","); got != want {
			t.Errorf("%s is 1 for %q, want %q", name, got, want)
		}
	}
	if n := len(fams["onair_room_transport"].Metric); n != 3 {
		t.Errorf("%d transport series, want 3", n)
	}
	if v := fams["onair_room_nacks_total"].Metric[0].GetCounter().GetValue(); v != 7 {
		t.Errorf("nacks %v", v)
	}
	if v := fams["onair_room_packets_sent_total"].Metric[0].GetCounter().GetValue(); v != 500 {
		t.Errorf("packets sent %v", v)
	}

	src.mu.Lock()
	src.s.RoomStats.Session = room.Stats{}
	src.mu.Unlock()
	fams = scrape(t, s)
	if on := ones("onair_room_transport"); len(on) != 0 {
		t.Errorf("not connected, yet transport %v is 1", on)
	}
}

// TestStatusPath: /status carries the session's path and NACKs.
func TestStatusPath(t *testing.T) {
	src := &fixed{}
	src.s.RoomStats.Session = room.Stats{NACKs: 3, Path: room.Path{Transport: room.TransportTCP, LocalCandidate: "host", RemoteCandidate: "host"}}
	s := start(t, Config{}, src)
	_, body := get(t, s, "/status")
	for _, want := range []string{`"path":{"transport":"tcp","local_candidate":"host","remote_candidate":"host"}`, `"nacks_received":3`} {
		if !strings.Contains(body, want) {
			t.Errorf("/status lacks %s:\n%s", want, body)
		}
	}
}
