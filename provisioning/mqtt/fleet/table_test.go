package fleet

import (
	"strings"
	"testing"
	"time"
)

var applyCases = []struct {
	name    string
	topic   string
	payload string
	changed bool
}{
	{"status", "onair/d1/status", "online", true},
	{"same status again", "onair/d1/status", "online", false},
	{"offline", "onair/d1/status", "offline", true},
	{"state", "onair/d1/state", `{"name":"A","state":"on_air","on_air":true,"room":"r","out_level":{"rms_dbfs":-18},"room_stats":{"session":{"rtt_ns":5000000,"fraction_lost":0.5}},"version":"v","config_version":3}`, true},
	{"bad state", "onair/d1/state", `{"on_air":"yes"}`, true},
	{"cleared retained", "onair/d1/state", ``, false},
	{"other prefix", "other/d1/status", "online", false},
	{"other topic", "onair/d1/config", `{}`, false},
	{"no id", "onair//status", "online", false},
	{"foreign status", "onair/d2/status", "maybe", true},
	{"too big", "onair/d3/state", "{" + strings.Repeat(" ", 64<<10) + "}", false},
}

func TestTableApply(t *testing.T) {
	tab := NewTable("onair")
	now := time.Unix(1000, 0)
	for _, tc := range applyCases {
		now = now.Add(time.Second)
		if got := tab.Apply(tc.topic, []byte(tc.payload), now); got != tc.changed {
			t.Errorf("%s: changed %v, want %v", tc.name, got, tc.changed)
		}
	}
	d, ok := tab.Device("d1")
	if !ok {
		t.Fatal("no row d1")
	}
	want := Device{ID: "d1", Name: "A", Status: "offline", State: "on_air", Room: "r", OnAir: true, LevelDBFS: -18,
		Loss: 0.5, RTT: 5 * time.Millisecond, Version: "v", ConfigVersion: 3, BadState: 1, LastSeen: time.Unix(1005, 0)}
	if d != want {
		t.Errorf("row\n got %+v\nwant %+v", d, want)
	}
	if d2, _ := tab.Device("d2"); d2.Status != "?" {
		t.Errorf("a status outside the contract shows as %q, want ?", d2.Status)
	}
	if got := len(tab.Devices()); got != 2 {
		t.Errorf("%d rows, want 2", got)
	}
	if got := tab.Ignored(); got != 5 {
		t.Errorf("ignored %d, want 5", got)
	}
}

func FuzzTableApply(f *testing.F) {
	for _, tc := range applyCases {
		f.Add(tc.topic, []byte(tc.payload))
	}
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		tab := NewTable("onair")
		tab.Apply(topic, payload, time.Unix(1, 0))
		for _, d := range tab.Devices() {
			if d.ID == "" || strings.Contains(d.ID, "/") {
				t.Fatalf("row with id %q from topic %q", d.ID, topic)
			}
			if d.Status != "" && d.Status != "online" && d.Status != "offline" && d.Status != "?" {
				t.Fatalf("status %q echoed", d.Status)
			}
		}
	})
}
