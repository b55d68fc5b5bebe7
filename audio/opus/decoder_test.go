//go:build cgo

package opus

import (
	"errors"
	"math"
	"testing"

	"github.com/onair-gateway/onair/audio"
	hopus "gopkg.in/hraban/opus.v2"
)

// TestFEC drops single packets of speech encoded with FEC at 20% expected
// loss, recovers each from the next packet with DecodeFEC, and compares the
// result with plain concealment (DecodePLC), both measured against the
// lossless decode of the same packet. With FEC off, DecodeFEC must fall back
// to exactly what PLC gives.
func TestFEC(t *testing.T) {
	signals := []struct {
		name string
		sig  func(t *testing.T) []float32
	}{
		{"speech-like", func(t *testing.T) []float32 { return speechLike(4*int(audio.Rate48k), audio.Rate48k) }},
		{"espeak", func(t *testing.T) []float32 { return loadSpeech(t) }},
	}
	for _, s := range signals {
		for _, fec := range []bool{true, false} {
			name := s.name + "/fec off"
			if fec {
				name = s.name + "/fec on"
			}
			t.Run(name, func(t *testing.T) {
				sig := s.sig(t)
				enc := mustEncoder(t, Config{FEC: boolp(fec), PacketLoss: intp(20)}, audio.Rate48k)
				ref, pkts := roundTrip(t, enc, sig)
				fl := enc.FrameSamples()
				var n, better int
				var cFEC, cPLC, eFEC, ePLC float64
				fa, fb := make([]float32, fl), make([]float32, fl)
				for k := 10; k+1 < len(pkts); k += 7 {
					r := ref[k*fl : (k+1)*fl]
					if energy(r)/float64(fl) < 1e-4 { // skip pauses: nothing to recover
						continue
					}
					withFEC, withPLC := decodeUpTo(t, pkts, k), decodeUpTo(t, pkts, k)
					if err := withFEC.DecodeFEC(pkts[k+1], fa); err != nil {
						t.Fatal(err)
					}
					if got, err := withPLC.DecodePLC(fb); err != nil || got != fl {
						t.Fatalf("DecodePLC = %d, %v; want %d", got, err, fl)
					}
					cf, cp := corr(r, fa, 0, 0, fl), corr(r, fb, 0, 0, fl)
					cFEC += cf
					cPLC += cp
					eFEC += energy(fa) / energy(r)
					ePLC += energy(fb) / energy(r)
					if cf > cp {
						better++
					}
					if !fec && cf != cp {
						t.Errorf("packet %d: without FEC, DecodeFEC (%.4f) differs from PLC (%.4f)", k, cf, cp)
					}
					n++
				}
				if n < 10 {
					t.Fatalf("only %d voiced packets to test", n)
				}
				N := float64(n)
				t.Logf("%d losses: FEC beats PLC %d times; correlation FEC %.3f PLC %.3f; energy ratio FEC %.2f PLC %.2f",
					n, better, cFEC/N, cPLC/N, eFEC/N, ePLC/N)
				if !fec {
					return
				}
				if float64(better) < 0.8*N {
					t.Errorf("FEC beat PLC in only %d of %d losses", better, n)
				}
				if cFEC/N < 0.7 || cFEC/N < cPLC/N+0.2 {
					t.Errorf("mean correlation FEC %.3f, PLC %.3f: want FEC >= 0.7 and 0.2 above PLC", cFEC/N, cPLC/N)
				}
				if r := eFEC / N; r < 0.5 || r > 2 {
					t.Errorf("FEC energy ratio %.2f, want within 0.5..2 of the lossless decode", r)
				}
			})
		}
	}
}

// decodeUpTo returns a mono 48 kHz decoder that has decoded pkts[:k].
func decodeUpTo(t *testing.T, pkts [][]byte, k int) *Decoder {
	t.Helper()
	dec, err := NewDecoder(audio.Rate48k, 1)
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]float32, dec.MaxFrameLen())
	for _, p := range pkts[:k] {
		if _, err := dec.Decode(p, pcm); err != nil {
			t.Fatal(err)
		}
	}
	return dec
}

func TestPLCFinite(t *testing.T) {
	for _, channels := range []int{1, 2} {
		sig := speechLike(int(audio.Rate48k), audio.Rate48k)
		if channels == 2 {
			sig = interleave(sig, sine(len(sig), audio.Rate48k, 300, 0.5))
		}
		enc := mustEncoder(t, Config{Channels: channels, Application: AppAudio, Bitrate: 64000}, audio.Rate48k)
		_, pkts := roundTrip(t, enc, sig)
		dec, err := NewDecoder(audio.Rate48k, channels)
		if err != nil {
			t.Fatal(err)
		}
		pcm := make([]float32, enc.FrameSamples()*channels)
		// Conceal before any packet, then after real audio, many in a row.
		for i := 0; i < 3; i++ {
			checkPLC(t, dec, pcm)
		}
		big := make([]float32, dec.MaxFrameLen()*channels)
		for _, p := range pkts[:20] {
			if _, err := dec.Decode(p, big); err != nil {
				t.Fatal(err)
			}
		}
		var first, last float64
		for i := 0; i < 25; i++ {
			checkPLC(t, dec, pcm)
			if i == 0 {
				first = energy(pcm)
			}
			last = energy(pcm)
		}
		t.Logf("%d ch: concealed energy %.3g first, %.3g after 500 ms", channels, first, last)
		if first == 0 {
			t.Errorf("%d ch: concealment right after speech is silent", channels)
		}
		if last > first {
			t.Errorf("%d ch: concealment grows (%.3g -> %.3g) instead of fading", channels, first, last)
		}
	}
}

func checkPLC(t *testing.T, dec *Decoder, pcm []float32) {
	t.Helper()
	n, err := dec.DecodePLC(pcm)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(pcm)/dec.Channels() {
		t.Fatalf("DecodePLC = %d, want %d", n, len(pcm)/dec.Channels())
	}
	for i, v := range pcm {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("sample %d is %v", i, v)
		}
	}
}

// corruptPackets violate RFC 6716 §3.
var corruptPackets = []struct {
	name string
	pkt  []byte
}{
	{"code 1 with odd payload", []byte{0x01, 0xAA}},
	{"code 2 length past end", []byte{0x02, 0xFA, 0x00}},
	{"code 3 with zero frames", []byte{0x03, 0x00}},
	{"code 3 over 120 ms", []byte{0x0B, 0x07, 0, 0, 0, 0, 0, 0, 0}}, // config 1: 7 x 20 ms
	{"code 3 padding past end", []byte{0x03, 0x41, 0xFF}},
}

func TestInvalidPacket(t *testing.T) {
	dec, err := NewDecoder(audio.Rate48k, 1)
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]float32, dec.MaxFrameLen())
	for _, tc := range append(corruptPackets, struct {
		name string
		pkt  []byte
	}{"empty", nil}) {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dec.Decode(tc.pkt, pcm)
			if !errors.Is(err, ErrInvalidPacket) {
				t.Fatalf("Decode(% x) = %v, want ErrInvalidPacket", tc.pkt, err)
			}
			var oe *Error
			if !errors.As(err, &oe) || oe.Name() != "OPUS_INVALID_PACKET" || oe.Op != "decode" {
				t.Fatalf("error %v: want *Error OPUS_INVALID_PACKET from decode", err)
			}
			if errors.Is(err, ErrBadArg) {
				t.Fatalf("%v matches ErrBadArg", err)
			}
		})
	}
	// The decoder keeps working after corrupt input.
	enc := mustEncoder(t, Config{}, audio.Rate48k)
	out, _ := roundTrip(t, enc, speechLike(48000, audio.Rate48k))
	if len(out) != 48000 {
		t.Fatalf("decoded %d samples", len(out))
	}
}

func TestDecoderErrors(t *testing.T) {
	enc := mustEncoder(t, Config{}, audio.Rate48k)
	pkt := make([]byte, MaxPacket)
	n, err := enc.Encode(speechLike(enc.FrameSamples(), audio.Rate48k), pkt)
	if err != nil {
		t.Fatal(err)
	}
	pkt = pkt[:n]
	dec, err := NewDecoder(audio.Rate48k, 2)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"20 ms into 10 ms", func() error { _, err := dec.Decode(pkt, make([]float32, 480*2)); return err }, ErrBufferTooSmall},
		{"no room at all", func() error { _, err := dec.Decode(pkt, make([]float32, 1)); return err }, ErrBufferTooSmall},
		{"plc not 2.5 ms", func() error { _, err := dec.DecodePLC(make([]float32, 100*2)); return err }, ErrBadArg},
		{"plc odd channels", func() error { _, err := dec.DecodePLC(make([]float32, 961)); return err }, ErrBadArg},
		{"plc over 120 ms", func() error { _, err := dec.DecodePLC(make([]float32, 6000*2)); return err }, ErrBadArg},
		{"fec empty packet", func() error { return dec.DecodeFEC(nil, make([]float32, 960*2)) }, ErrInvalidPacket},
		{"fec bad length", func() error { return dec.DecodeFEC(pkt, make([]float32, 7)) }, ErrBadArg},
		{"rate 44100", func() error { _, err := NewDecoder(44100, 1); return err }, ErrBadArg},
		{"3 channels", func() error { _, err := NewDecoder(audio.Rate48k, 3); return err }, ErrBadArg},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	// A mono packet decodes into a stereo decoder, and the decoder still works
	// after the errors above.
	pcm := make([]float32, dec.MaxFrameLen()*2)
	if got, err := dec.Decode(pkt, pcm); err != nil || got != 960 {
		t.Fatalf("Decode = %d, %v; want 960", got, err)
	}
}

func TestErrorType(t *testing.T) {
	for _, tc := range []struct {
		code     hopus.Error
		sentinel *Error
		name     string
	}{
		{hopus.ErrBadArg, ErrBadArg, "OPUS_BAD_ARG"},
		{hopus.ErrBufferTooSmall, ErrBufferTooSmall, "OPUS_BUFFER_TOO_SMALL"},
		{hopus.ErrInternalError, ErrInternal, "OPUS_INTERNAL_ERROR"},
		{hopus.ErrInvalidPacket, ErrInvalidPacket, "OPUS_INVALID_PACKET"},
		{hopus.ErrUnimplemented, ErrUnimplemented, "OPUS_UNIMPLEMENTED"},
		{hopus.ErrInvalidState, ErrInvalidState, "OPUS_INVALID_STATE"},
		{hopus.ErrAllocFail, ErrAllocFail, "OPUS_ALLOC_FAIL"},
	} {
		err := translate("decode", tc.code)
		if !errors.Is(err, tc.sentinel) {
			t.Errorf("translate(%d) = %v, does not match %s", tc.code, err, tc.name)
		}
		var oe *Error
		if !errors.As(err, &oe) || oe.Name() != tc.name || oe.Code != int(tc.code) {
			t.Errorf("translate(%d) = %#v, want code %d named %s", tc.code, err, tc.code, tc.name)
		}
		if want := "opus decode: " + tc.name + " ("; len(err.Error()) <= len(want) || err.Error()[:len(want)] != want {
			t.Errorf("Error() = %q, want prefix %q", err.Error(), want)
		}
		for _, other := range []*Error{ErrBadArg, ErrInvalidPacket} {
			if other != tc.sentinel && errors.Is(err, other) {
				t.Errorf("%s matches %s", tc.name, other.Name())
			}
		}
	}
	if name := (&Error{Code: -42}).Name(); name != "OPUS_ERROR(-42)" {
		t.Errorf("unknown code name %q", name)
	}
	// A refusal by the bindings themselves is reported as a bad argument.
	if err := translate("encode", errors.New("opus: no data supplied")); !errors.Is(err, ErrBadArg) {
		t.Errorf("plain binding error became %v", err)
	}
}

func TestDecodeAllocs(t *testing.T) {
	enc := mustEncoder(t, Config{}, audio.Rate48k)
	_, pkts := roundTrip(t, enc, speechLike(int(audio.Rate48k), audio.Rate48k))
	dec, err := NewDecoder(audio.Rate48k, 1)
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]float32, dec.MaxFrameLen())
	frame := pcm[:enc.FrameSamples()]
	i := 0
	for name, f := range map[string]func(){
		"Decode": func() {
			if _, err := dec.Decode(pkts[i%len(pkts)], pcm); err != nil {
				t.Fatal(err)
			}
			i++
		},
		"DecodeFEC": func() {
			if err := dec.DecodeFEC(pkts[i%len(pkts)], frame); err != nil {
				t.Fatal(err)
			}
			i++
		},
		"DecodePLC": func() {
			if _, err := dec.DecodePLC(frame); err != nil {
				t.Fatal(err)
			}
		},
	} {
		f()
		if a := testing.AllocsPerRun(100, f); a != 0 {
			t.Errorf("%s: %v allocs per packet, want 0", name, a)
		}
	}
}
