package livekit

import (
	"bytes"
	"testing"

	"github.com/pion/rtp"
)

func marshalRTP(t testing.TB, p *rtp.Packet) []byte {
	t.Helper()
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseRTP(t *testing.T) {
	ext := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: 7, Timestamp: 960, SSRC: 1, CSRC: []uint32{5, 6}}, Payload: []byte{0xfc, 1, 2}}
	if err := ext.SetExtension(1, []byte{0x30}); err != nil {
		t.Fatal(err)
	}
	padded := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: 65535, Timestamp: 1 << 31, Padding: true, PaddingSize: 4}, Payload: []byte{0xf8, 9}}
	cases := []struct {
		name    string
		in      []byte
		seq     uint16
		ts      uint32
		payload []byte
		wantErr bool
	}{
		{"plain", marshalRTP(t, &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: 1, Timestamp: 2}, Payload: []byte{0xf8, 0xff}}), 1, 2, []byte{0xf8, 0xff}, false},
		{"csrc and extension", marshalRTP(t, ext), 7, 960, []byte{0xfc, 1, 2}, false},
		{"padding", marshalRTP(t, padded), 65535, 1 << 31, []byte{0xf8, 9}, false},
		{"too short", []byte{0x80, 0, 0}, 0, 0, nil, true},
		{"version 1", append([]byte{0x40}, make([]byte, 12)...), 0, 0, nil, true},
		{"extension past end", []byte{0x90, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde, 0, 9}, 0, 0, nil, true},
		{"padding past header", []byte{0xa0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 200}, 0, 0, nil, true},
		{"csrc count past end", []byte{0x8f, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}, 0, 0, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := parseRTP(c.in)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			if err != nil {
				return
			}
			if p.Seq != c.seq || p.Timestamp != c.ts || !bytes.Equal(p.Payload, c.payload) {
				t.Errorf("got seq %d ts %d payload %x; want %d %d %x", p.Seq, p.Timestamp, p.Payload, c.seq, c.ts, c.payload)
			}
		})
	}
}

func FuzzParseRTP(f *testing.F) {
	f.Add(marshalRTP(f, &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: 1, Timestamp: 2}, Payload: []byte{0xf8, 0xff}}))
	f.Add([]byte{0x90, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde, 0, 0})
	f.Add([]byte{0xa0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseRTP(b)
		if err != nil {
			return
		}
		// Agree with pion on what it accepts.
		var ref rtp.Packet
		if rerr := ref.Unmarshal(b); rerr == nil {
			if ref.SequenceNumber != p.Seq || ref.Timestamp != p.Timestamp || !bytes.Equal(ref.Payload, p.Payload) {
				t.Errorf("parseRTP %+v, pion %+v", p, ref)
			}
		}
	})
}

func TestParseRTPAllocs(t *testing.T) {
	b := marshalRTP(t, &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: 1, Timestamp: 2}, Payload: make([]byte, 100)})
	if n := testing.AllocsPerRun(100, func() { _, _ = parseRTP(b) }); n != 0 {
		t.Errorf("parseRTP allocates %v times", n)
	}
}
