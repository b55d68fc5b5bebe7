package alsa

import (
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/hw/alsa/alsaconf"
)

// le packs little-endian words of size bytes.
func le(size int, words ...uint32) []byte {
	b := make([]byte, size*len(words))
	for i, w := range words {
		if size == 2 {
			binary.LittleEndian.PutUint16(b[2*i:], uint16(w))
		} else {
			binary.LittleEndian.PutUint32(b[4*i:], w)
		}
	}
	return b
}

// codecCases are shared by decode and encode: raw device words and the
// float32 they stand for. Encoding the float gives back raw (with S24's top
// byte as the sign extension).
var codecCases = []struct {
	name   string
	format alsaconf.SampleFormat
	raw    []byte
	pcm    []float32
}{
	{"S16 extremes", alsaconf.S16LE, le(2, 0x8000, 0x7FFF, 0, 1, 0xFFFF), []float32{-1, 32767.0 / 32768, 0, 1.0 / 32768, -1.0 / 32768}},
	{"S24 extremes", alsaconf.S24LE, le(4, 0xFF800000, 0x007FFFFF, 0, 1, 0xFFFFFFFF), []float32{-1, 8388607.0 / 8388608, 0, 1.0 / 8388608, -1.0 / 8388608}},
	{"S32 extremes", alsaconf.S32LE, le(4, 0x80000000, 0x7FFFFF80, 0, 0x100, 0xFFFFFF00), []float32{-1, float32(0x7FFFFF80) / scale32, 0, 256.0 / scale32, -256.0 / scale32}},
	{"S32 half", alsaconf.S32LE, le(4, 0x40000000, 0xC0000000), []float32{0.5, -0.5}},
}

func TestDecode(t *testing.T) {
	for _, tc := range codecCases {
		t.Run(tc.name, func(t *testing.T) {
			got := make([]float32, len(tc.pcm))
			decode(tc.format, got, tc.raw)
			for i := range got {
				if got[i] != tc.pcm[i] {
					t.Errorf("sample %d = %v, want %v", i, got[i], tc.pcm[i])
				}
			}
		})
	}
	// S24 ignores the unused top byte, whatever it holds.
	got := make([]float32, 2)
	decode(alsaconf.S24LE, got, le(4, 0xAB800000, 0x12000001))
	if got[0] != -1 || got[1] != 1.0/8388608 {
		t.Errorf("S24 with junk in the top byte = %v", got)
	}
}

func TestEncode(t *testing.T) {
	for _, tc := range codecCases {
		t.Run(tc.name, func(t *testing.T) {
			got := make([]byte, len(tc.raw))
			encode(tc.format, got, tc.pcm)
			for i := range got {
				if got[i] != tc.raw[i] {
					t.Fatalf("% x, want % x", got, tc.raw)
				}
			}
		})
	}
	// Clipping, rounding and NaN.
	for _, tc := range []struct {
		format alsaconf.SampleFormat
		in     []float32
		want   []int64
	}{
		{alsaconf.S16LE, []float32{1, 2, -1, -2, float32(math.NaN()), 0.4 / 32768, 0.6 / 32768, -0.6 / 32768}, []int64{32767, 32767, -32768, -32768, 0, 0, 1, -1}},
		{alsaconf.S24LE, []float32{1, -1.5, float32(math.Inf(1)), float32(math.Inf(-1))}, []int64{8388607, -8388608, 8388607, -8388608}},
		{alsaconf.S32LE, []float32{1, -1, 3}, []int64{math.MaxInt32, math.MinInt32, math.MaxInt32}},
	} {
		raw := make([]byte, len(tc.in)*sampleBytes(tc.format))
		encode(tc.format, raw, tc.in)
		for i, want := range tc.want {
			var got int64
			if tc.format == alsaconf.S16LE {
				got = int64(int16(binary.LittleEndian.Uint16(raw[2*i:])))
			} else {
				got = int64(int32(binary.LittleEndian.Uint32(raw[4*i:])))
			}
			if got != want {
				t.Errorf("%s %v = %d, want %d", tc.format, tc.in[i], got, want)
			}
		}
	}
}

// BenchmarkDecodeS32x8 converts one 10 ms period of an 8-channel S32_LE
// capture (480 x 8 samples) to float32.
func BenchmarkDecodeS32x8(b *testing.B) {
	benchDecode(b, alsaconf.S32LE, 8)
}

// BenchmarkDecodeS16x2 converts one 10 ms period of stereo S16_LE.
func BenchmarkDecodeS16x2(b *testing.B) {
	benchDecode(b, alsaconf.S16LE, 2)
}

func benchDecode(b *testing.B, f alsaconf.SampleFormat, channels int) {
	n := audio.Rate48k.Samples(10*time.Millisecond) * channels
	raw := make([]byte, n*sampleBytes(f))
	for i := range raw {
		raw[i] = byte(i * 7)
	}
	dst := make([]float32, n)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		decode(f, dst, raw)
	}
}

// BenchmarkEncodeS32x2 converts one 10 ms stereo period to S32_LE for
// playback.
func BenchmarkEncodeS32x2(b *testing.B) {
	n := audio.Rate48k.Samples(10*time.Millisecond) * 2
	src := make([]float32, n)
	for i := range src {
		src[i] = float32(math.Sin(float64(i) * 0.01))
	}
	dst := make([]byte, n*4)
	b.SetBytes(int64(len(dst)))
	b.ReportAllocs()
	for b.Loop() {
		encode(alsaconf.S32LE, dst, src)
	}
}
