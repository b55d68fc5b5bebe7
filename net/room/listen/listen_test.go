package listen

import (
	"io"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/opus"
	"github.com/onair-gateway/onair/net/room"
)

// track plays a fixed list of packets, then ends.
type track struct {
	id        string
	pkts      []room.Packet
	encrypted bool
}

func (t *track) Participant() string { return t.id }
func (t *track) ID() string          { return "TR_" + t.id }
func (t *track) ReadPacket(buf []byte) (room.Packet, error) {
	if len(t.pkts) == 0 {
		return room.Packet{}, io.EOF
	}
	p := t.pkts[0]
	t.pkts = t.pkts[1:]
	p.Payload = buf[:copy(buf, p.Payload)]
	return p, nil
}
func (t *track) Encrypted() bool       { return t.encrypted }
func (t *track) Undecryptable() uint64 { return 0 }

// tone returns n 20 ms packets of a 1 kHz tone at -20 dBFS peak.
func tone(t *testing.T, n int) []room.Packet {
	t.Helper()
	cfg := opus.Config{Application: opus.AppAudio}
	cfg.SetDefaults()
	enc, err := opus.NewEncoder(cfg, audio.Rate48k)
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]float32, 960)
	out := make([]byte, 1500)
	pkts := make([]room.Packet, n)
	for k := range pkts {
		for i := range frame {
			frame[i] = float32(0.1 * math.Sin(2*math.Pi*1000*float64(k*960+i)/48000))
		}
		m, err := enc.Encode(frame, out)
		if err != nil {
			t.Fatal(err)
		}
		pkts[k] = room.Packet{Seq: uint16(k), Timestamp: uint32(k * 960), Payload: append([]byte(nil), out[:m]...)}
	}
	return pkts
}

// TestListener: each track's packets reach its participant's figures; an encrypted track without a key is counted and not decoded;
// the live view drops who left more than GoneFor ago, the summary keeps
// everyone.
func TestListener(t *testing.T) {
	l := New(Config{Channels: 1, GoneFor: time.Minute}, slog.New(slog.DiscardHandler))
	l.OnEvent(room.Event{Kind: room.EventTrackAdded, Participant: "tone", Track: &track{id: "tone", pkts: tone(t, 100)}})
	l.OnEvent(room.Event{Kind: room.EventTrackAdded, Participant: "sealed", Track: &track{id: "sealed", pkts: tone(t, 30), encrypted: true}})
	l.OnEvent(room.Event{Kind: room.EventTrackRemoved, Participant: "tone"})
	l.Wait()
	ps := l.Participants(false, time.Now())
	if len(ps) != 2 || ps[0].Identity != "sealed" || ps[1].Identity != "tone" {
		t.Fatalf("participants %+v", ps)
	}
	sealed, tn := ps[0], ps[1]
	if sealed.E2EE != "no-key" || sealed.Packets != 30 || sealed.LevelDB != -120 {
		t.Errorf("sealed: %+v", sealed)
	}
	if tn.E2EE != "off" || tn.Packets != 100 || tn.Lost != 0 || math.Abs(tn.Freq-1000) > 1 || math.Abs(tn.LevelDB+23) > 0.5 || tn.Active {
		t.Errorf("tone: %+v", tn)
	}
	if got := l.Participants(true, time.Now()); len(got) != 2 {
		t.Errorf("live view right after they left: %d participants, want 2", len(got))
	}
	if got := l.Participants(true, time.Now().Add(2*time.Minute)); len(got) != 0 {
		t.Errorf("live view long after they left: %d participants, want 0", len(got))
	}
}
