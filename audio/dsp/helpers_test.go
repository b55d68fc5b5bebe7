package dsp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
)

// speechPath is the shared test recording; testdata/README.md says how it
// was made.
var speechPath = filepath.Join("..", "..", "testdata", "speech48k.wav")

// readWAV decodes a 16-bit PCM WAV file into float32 samples of its first
// channel (full scale ±1) and returns them with the sample rate.
func readWAV(b []byte) ([]float32, int, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, 0, errors.New("wav: not a RIFF/WAVE file")
	}
	var channels, rate, bits int
	var data []byte
	for p := 12; p+8 <= len(b); {
		id, size := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:p+8]))
		p += 8
		if size < 0 || size > len(b)-p {
			size = len(b) - p // a truncated or streaming header
		}
		body := b[p : p+size]
		switch id {
		case "fmt ":
			if len(body) < 16 {
				return nil, 0, errors.New("wav: short fmt chunk")
			}
			if f := binary.LittleEndian.Uint16(body[0:2]); f != 1 {
				return nil, 0, fmt.Errorf("wav: format %d is not PCM", f)
			}
			channels = int(binary.LittleEndian.Uint16(body[2:4]))
			rate = int(binary.LittleEndian.Uint32(body[4:8]))
			bits = int(binary.LittleEndian.Uint16(body[14:16]))
		case "data":
			data = body
		}
		p += size + size&1
	}
	if bits != 16 || channels < 1 || rate <= 0 {
		return nil, 0, fmt.Errorf("wav: %d-bit %d-channel %d Hz is not 16-bit PCM", bits, channels, rate)
	}
	if data == nil {
		return nil, 0, errors.New("wav: no data chunk")
	}
	n := len(data) / (2 * channels)
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(int16(binary.LittleEndian.Uint16(data[i*2*channels:]))) / 32768
	}
	return out, rate, nil
}

func TestReadWAV(t *testing.T) {
	hdr := func(channels, bits int, data []byte) []byte {
		b := []byte("RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00")
		b = binary.LittleEndian.AppendUint16(b, 1)
		b = binary.LittleEndian.AppendUint16(b, uint16(channels))
		b = binary.LittleEndian.AppendUint32(b, 48000)
		b = binary.LittleEndian.AppendUint32(b, uint32(48000*channels*bits/8))
		b = binary.LittleEndian.AppendUint16(b, uint16(channels*bits/8))
		b = binary.LittleEndian.AppendUint16(b, uint16(bits))
		b = append(b, "data"...)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
		return append(b, data...)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want []float32
		ok   bool
	}{
		{"mono", hdr(1, 16, []byte{0, 0x40, 0, 0xc0}), []float32{0.5, -0.5}, true},
		{"stereo takes channel 0", hdr(2, 16, []byte{0, 0x40, 0, 0x80}), []float32{0.5}, true},
		{"8-bit", hdr(1, 8, []byte{1, 2}), nil, false},
		{"not riff", []byte("RIFX...."), nil, false},
		{"empty", nil, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := readWAV(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// loadSpeech returns the test recording at 48 kHz.
func loadSpeech(tb testing.TB) []float32 {
	tb.Helper()
	b, err := os.ReadFile(speechPath)
	if err != nil {
		tb.Fatalf("read %s: %v (see testdata/README.md for the espeak-ng and sox commands that make it)", speechPath, err)
	}
	x, rate, err := readWAV(b)
	if err != nil || rate != 48000 {
		tb.Fatalf("decode %s: rate %d, %v", speechPath, rate, err)
	}
	return x
}

// renderArray renders a far-field source s arriving from azDeg into each mic
// of geom, using 32-tap fractional-delay filters (more accurate than the
// beamformer's 8, so the test measures the beamformer and not the render).
func renderArray(s []float32, geom audio.Geometry, rate float64, azDeg float64) [][]float32 {
	const taps = 32
	tau := geom.Delays(azDeg * math.Pi / 180)
	out := make([][]float32, len(tau))
	for m, d := range tau {
		h := FracDelayTaps(d*rate, taps)
		out[m] = convolve(s, h)
	}
	return out
}

// convolve returns x filtered by the FIR h (y[n] = Σ h[k]·x[n-k]), as long
// as x.
func convolve(x, h []float32) []float32 {
	y := make([]float32, len(x))
	for n := range y {
		lo := max(0, n-len(h)+1)
		w := x[lo : n+1]
		var acc float32
		for j, v := range w { // h index n-(lo+j)
			acc += h[n-lo-j] * v
		}
		y[n] = acc
	}
	return y
}

// whiteNoise returns n samples of Gaussian noise with RMS rms.
func whiteNoise(r *rand.Rand, n int, rms float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * rms)
	}
	return x
}

// bandPass designs a linear-phase band-pass FIR (Blackman-windowed
// difference of two sincs) and applies it to x.
func bandPass(x []float32, rate, lo, hi float64) []float32 {
	const n = 255
	h := make([]float32, n)
	for i := range h {
		t := float64(i - n/2)
		lp := func(fc float64) float64 {
			w := 2 * fc / rate
			if t == 0 {
				return w
			}
			return math.Sin(math.Pi*w*t) / (math.Pi * t)
		}
		win := 0.42 - 0.5*math.Cos(2*math.Pi*float64(i)/(n-1)) + 0.08*math.Cos(4*math.Pi*float64(i)/(n-1))
		h[i] = float32((lp(hi) - lp(lo)) * win)
	}
	return convolve(x, h)
}

// decimate48 resamples 48 kHz speech to rate (16 kHz): low-pass, then keep
// every 48000/rate-th sample.
func decimate48(x []float32, rate audio.SampleRate) []float32 {
	if rate == audio.Rate48k {
		return x
	}
	lp := bandPass(x, 48000, 50, 0.45*float64(rate))
	d := int(audio.Rate48k / rate)
	y := make([]float32, len(lp)/d)
	for i := range y {
		y[i] = lp[i*d]
	}
	return y
}

// power returns the mean square of x.
func power(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return s / float64(len(x))
}

// interleave builds an interleaved capture from per-channel signals (all of
// the same length).
func interleave(chans [][]float32) []float32 {
	n, ch := len(chans[0]), len(chans)
	out := make([]float32, n*ch)
	for c, x := range chans {
		for i, v := range x {
			out[i*ch+c] = v
		}
	}
	return out
}

// channel extracts channel c of an interleaved signal.
func channel(x []float32, c, ch int) []float32 {
	out := make([]float32, len(x)/ch)
	for i := range out {
		out[i] = x[i*ch+c]
	}
	return out
}

// runStage feeds the interleaved signal in (inCh channels) through st in
// frames of format f and returns the interleaved output (outCh channels).
// A trailing partial frame is dropped.
func runStage(st audio.Stage, f audio.Format, outCh int, in []float32) []float32 {
	l := f.FrameLen()
	src := &audio.Frame{Channels: f.Channels, Rate: f.Rate, Samples: make([]float32, l*f.Channels)}
	dst := &audio.Frame{Channels: outCh, Rate: f.Rate, Samples: make([]float32, l*outCh)}
	frames := len(in) / (l * f.Channels)
	out := make([]float32, 0, frames*l*outCh)
	for i := 0; i < frames; i++ {
		copy(src.Samples, in[i*l*f.Channels:])
		src.Pos = int64(i * l)
		st.Process(dst, src)
		out = append(out, dst.Samples...)
	}
	return out
}

// frameLevels returns the RMS level in dBFS of consecutive 10 ms frames of a
// mono signal.
func frameLevels(x []float32, rate int) []float64 {
	l := rate / 100
	var lv []float64
	for i := 0; i+l <= len(x); i += l {
		lv = append(lv, 10*math.Log10(power(x[i:i+l])+1e-20))
	}
	return lv
}

// activeLevel returns the speech level of x in dBFS: the power mean of its
// 10 ms frames that lie within 30 dB of the loudest one (pauses excluded).
func activeLevel(x []float32, rate int) float64 {
	lv := frameLevels(x, rate)
	top := math.Inf(-1)
	for _, v := range lv {
		top = math.Max(top, v)
	}
	var sum float64
	var n int
	for _, v := range lv {
		if v > top-30 {
			sum += math.Pow(10, v/10)
			n++
		}
	}
	return 10 * math.Log10(sum/float64(n))
}

// scale multiplies x by g in place and returns it.
func scale(x []float32, g float64) []float32 {
	for i := range x {
		x[i] = float32(float64(x[i]) * g)
	}
	return x
}

// fmt48 is a 48 kHz format of ch channels and period p.
func fmt48(ch int, p time.Duration) audio.Format {
	return audio.Format{Channels: ch, Rate: audio.Rate48k, Period: p}
}

// angleDiff returns the absolute difference of two azimuths in degrees,
// 0..180.
func angleDiff(a, b float64) float64 {
	return math.Abs(math.Mod(a-b+540, 360) - 180)
}

// defaultConfig returns a defaulted Config for a capture of ch channels.
func defaultConfig(ch int, circular bool) Config {
	var c Config
	c.SetDefaults(ch, circular)
	return c
}

var (
	geom4 = audio.Geometry{Shape: audio.ShapeCircular, Mics: 4, Radius: 0.0325}
	geom6 = audio.Geometry{Shape: audio.ShapeCircular, Mics: 6, Radius: 0.0463}
)
