package rx

import (
	"math"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
)

// TestMeters: two tracks of one participant (a reconnect) add up; the
// window starts afresh after a windowed snapshot while the total keeps
// the whole run; End marks the participant gone.
func TestMeters(t *testing.T) {
	pkts := encodeTone(t, 100)
	m := NewMeters(audio.Rate48k)
	now := time.Now()
	var mixed int
	out := func(c *Chunk) { mixed += c.N }
	for k := range 2 {
		tr, err := m.NewTrack(Config{Channels: 1, Rate: audio.Rate48k})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 50 {
			if k == 1 && i == 20 {
				continue // one loss on the second track
			}
			tr.Push(Packet{Seq: uint16(i), Timestamp: uint32(i * 960), Payload: pkts[k*50+i]}, now, out)
		}
		if s := m.Snapshot(false); !s.Active {
			t.Errorf("track %d: not active while being read", k)
		}
		tr.End(now)
	}
	s := m.Snapshot(true)
	if s.Packets != 99 || s.Lost != 1 || s.Concealed != 1 || s.Active || !s.GoneAt.Equal(now) {
		t.Errorf("snapshot %+v", s)
	}
	// The concealed packet's crossings may not all count (PLC fades under
	// the crossing hysteresis): within 1%. Across the reconnect alone the
	// estimate is exact (the second track's positions continue the
	// first's); a seam thrown back in time read 1987.5 Hz here.
	if math.Abs(s.LossPct-1) > 0.01 || math.Abs(s.Freq-1000) > 10 || math.Abs(s.LevelDB+23) > 0.5 {
		t.Errorf("loss %.2f%%, %.1f Hz, %.2f dBFS: want 1%%, 1000 Hz, -23 dBFS", s.LossPct, s.Freq, s.LevelDB)
	}
	if mixed != 100*960 {
		t.Errorf("%d samples handed out, want 96000 (the loss concealed)", mixed)
	}
	if w := m.Snapshot(true); w.LevelDB != -120 {
		t.Errorf("a new window with nothing in it reads %v dBFS", w.LevelDB)
	}
	if tot := m.Snapshot(false); math.Abs(tot.LevelDB+23) > 0.5 {
		t.Errorf("the total lost its level: %v dBFS", tot.LevelDB)
	}
	if _, err := m.NewTrack(Config{Channels: 3, Rate: audio.Rate48k}); err == nil {
		t.Error("3 channels accepted")
	}
}
