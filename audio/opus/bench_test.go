//go:build cgo

package opus

import (
	"testing"

	"github.com/onair-gateway/onair/audio"
)

// benchEncode encodes 2 s of speech-like signal in a loop, one frame per op.
func benchEncode(b *testing.B, cfg Config) {
	enc, err := NewEncoder(cfg, audio.Rate48k)
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	sig := speechLike(2*int(audio.Rate48k), audio.Rate48k)
	if enc.Channels() == 2 {
		sig = interleave(sig, sine(len(sig), audio.Rate48k, 330, 0.4))
	}
	flen := enc.FrameSamples() * enc.Channels()
	frames := len(sig) / flen
	out := make([]byte, MaxPacket)
	bytes := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		off := (i % frames) * flen
		n, err := enc.Encode(sig[off:off+flen], out)
		if err != nil {
			b.Fatal(err)
		}
		bytes += n
	}
	b.ReportMetric(float64(bytes)/float64(b.N), "B/packet")
}

// BenchmarkEncode is the speak path's default: mono 48 kHz, 20 ms frames,
// complexity 10, voip, 32 kbit/s, FEC on.
func BenchmarkEncode(b *testing.B) {
	benchEncode(b, Config{Application: AppVoIP, Complexity: intp(10)})
}

// BenchmarkEncodeStereoAudio128k is the studio profile: stereo music mode.
func BenchmarkEncodeStereoAudio128k(b *testing.B) {
	benchEncode(b, Config{Application: AppAudio, Channels: 2, Bitrate: 128000})
}

// BenchmarkDecode decodes 20 ms mono voip packets, one per op.
func BenchmarkDecode(b *testing.B) {
	enc, err := NewEncoder(Config{}, audio.Rate48k)
	if err != nil {
		b.Fatal(err)
	}
	_, pkts := roundTrip(b, enc, speechLike(2*int(audio.Rate48k), audio.Rate48k))
	dec, err := NewDecoder(audio.Rate48k, 1)
	if err != nil {
		b.Fatal(err)
	}
	pcm := make([]float32, dec.MaxFrameLen())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := dec.Decode(pkts[i%len(pkts)], pcm); err != nil {
			b.Fatal(err)
		}
	}
}
