package alsa

import (
	"encoding/binary"
	"math"

	"github.com/onair-gateway/onair/hw/alsa/alsaconf"
)

// Full scale: a sample of n significant bits maps to ±1.0 through 2^(n-1).
// Capture multiplies by the reciprocal, a power of two and so exact: the
// same result as dividing, three times faster.
const (
	scale16 = 1 << 15
	scale24 = 1 << 23
	scale32 = 1 << 31
)

// sampleBytes returns the bytes one sample of f occupies.
func sampleBytes(f alsaconf.SampleFormat) int {
	if f == alsaconf.S16LE {
		return 2
	}
	return 4 // S24_LE sits in the low three bytes of four
}

// decode converts interleaved little-endian samples in src to float32 in
// dst (full scale ±1.0), len(dst) samples: S16 over 2^15, S32 over 2^31,
// S24 sign-extended from its low three bytes (the top byte is ignored, as
// the hardware does) over 2^23.
func decode(f alsaconf.SampleFormat, dst []float32, src []byte) {
	switch f {
	case alsaconf.S16LE:
		src = src[:2*len(dst)]
		for i := range dst {
			dst[i] = float32(int16(binary.LittleEndian.Uint16(src[2*i:]))) * (1.0 / scale16)
		}
	case alsaconf.S24LE:
		src = src[:4*len(dst)]
		for i := range dst {
			v := int32(binary.LittleEndian.Uint32(src[4*i:])<<8) >> 8
			dst[i] = float32(v) * (1.0 / scale24)
		}
	default:
		src = src[:4*len(dst)]
		for i := range dst {
			dst[i] = float32(int32(binary.LittleEndian.Uint32(src[4*i:]))) * (1.0 / scale32)
		}
	}
}

// encode converts float32 samples to interleaved little-endian samples of
// format f in dst, rounding to nearest (halves up) and clipping to the
// format's range (NaN becomes 0). S24 is written sign-extended into all four
// bytes.
func encode(f alsaconf.SampleFormat, dst []byte, src []float32) {
	switch f {
	case alsaconf.S16LE:
		dst = dst[:2*len(src)]
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], uint16(int16(quantize(v, scale16))))
		}
	case alsaconf.S24LE:
		dst = dst[:4*len(src)]
		for i, v := range src {
			binary.LittleEndian.PutUint32(dst[4*i:], uint32(int32(quantize(v, scale24))))
		}
	default:
		dst = dst[:4*len(src)]
		for i, v := range src {
			binary.LittleEndian.PutUint32(dst[4*i:], uint32(int32(quantize(v, scale32))))
		}
	}
}

// quantize scales v by full and rounds it (halves up) into
// [-full, full-1]; NaN gives 0.
func quantize(v float32, full float64) int64 {
	x := float64(v) * full
	switch {
	case x >= full-0.5: // also +Inf
		return int64(full) - 1
	case x <= -full: // also -Inf
		return -int64(full)
	case x != x: // NaN
		return 0
	}
	return int64(math.Floor(x + 0.5))
}
