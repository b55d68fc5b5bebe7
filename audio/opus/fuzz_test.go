//go:build cgo

package opus

import (
	"errors"
	"math"
	"testing"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/conf"
)

// FuzzDecode feeds arbitrary bytes to mono and stereo decoders, and to FEC
// recovery. Nothing may panic; every failure must be an *Error; every decoded
// sample must be finite and the count within the 120 ms limit.
func FuzzDecode(f *testing.F) {
	for _, tc := range corruptPackets {
		f.Add(tc.pkt)
	}
	f.Add([]byte{})
	for _, cfg := range []Config{
		{},
		{Application: AppAudio, Channels: 2, Bitrate: 128000},
		{Application: AppLowDelay, Frame: conf.Duration(10e6)},
		{Frame: conf.Duration(40e6), DTX: true},
	} {
		enc, err := NewEncoder(cfg, audio.Rate48k)
		if err != nil {
			f.Fatal(err)
		}
		sig := speechLike(enc.FrameSamples()*6, audio.Rate48k)
		if enc.Channels() == 2 {
			sig = interleave(sig, sig)[:len(sig)]
		}
		buf := make([]byte, MaxPacket)
		for off := 0; off+enc.FrameSamples()*enc.Channels() <= len(sig); off += enc.FrameSamples() * enc.Channels() {
			n, err := enc.Encode(sig[off:off+enc.FrameSamples()*enc.Channels()], buf)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(append([]byte(nil), buf[:n]...))
		}
	}
	mono, err := NewDecoder(audio.Rate48k, 1)
	if err != nil {
		f.Fatal(err)
	}
	stereo, err := NewDecoder(audio.Rate16k, 2)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		for _, dec := range []*Decoder{mono, stereo} {
			pcm := make([]float32, dec.MaxFrameLen()*dec.Channels())
			n, err := dec.Decode(pkt, pcm)
			checkFuzz(t, dec, pcm, n, err)
			frame := pcm[:dec.Rate().Samples(20e6)*dec.Channels()]
			err = dec.DecodeFEC(pkt, frame)
			checkFuzz(t, dec, frame, len(frame)/dec.Channels(), err)
		}
	})
}

func checkFuzz(t *testing.T, dec *Decoder, pcm []float32, n int, err error) {
	t.Helper()
	if err != nil {
		var oe *Error
		if !errors.As(err, &oe) {
			t.Fatalf("error %v (%T) is not an *Error", err, err)
		}
		return
	}
	if n < 0 || n > dec.MaxFrameLen() {
		t.Fatalf("decoded %d samples per channel, max %d", n, dec.MaxFrameLen())
	}
	for i, v := range pcm[:n*dec.Channels()] {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("sample %d is %v", i, v)
		}
	}
}
