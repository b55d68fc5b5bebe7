//go:build cgo

package opus

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/onair-gateway/onair/audio"
)

// sine returns n samples of a sine of freq Hz and amplitude amp at rate.
func sine(n int, rate audio.SampleRate, freq, amp float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return s
}

// speechLike returns n samples of a voiced, speech-shaped signal: a glottal
// pulse train whose pitch glides between about 100 and 220 Hz, shaped by
// three formant resonators that move from syllable to syllable, under a
// syllable envelope (about 4 per second) with short pauses. It is
// deterministic, needs no files, and exercises SILK the way speech does.
func speechLike(n int, rate audio.SampleRate) []float32 {
	fs := float64(rate)
	out := make([]float32, n)
	// Formant sets (Hz) for a few vowels: a, e, i, o, u.
	vowels := [][3]float64{{730, 1090, 2440}, {530, 1840, 2480}, {270, 2290, 3010}, {570, 840, 2410}, {300, 870, 2240}}
	type res struct{ a1, a2, g, y1, y2 float64 }
	var rs [3]res
	setVowel := func(v int) {
		for k := range rs {
			f := vowels[v][k]
			bw := 80.0 + 40*float64(k)
			r := math.Exp(-math.Pi * bw / fs)
			rs[k].a1 = 2 * r * math.Cos(2*math.Pi*f/fs)
			rs[k].a2 = -r * r
			rs[k].g = 1 - r
		}
	}
	phase := 0.0
	syl := int(0.25 * fs) // samples per syllable
	for i := range out {
		if i%syl == 0 {
			setVowel((i / syl) % len(vowels))
		}
		t := float64(i) / fs
		f0 := 160 + 60*math.Sin(2*math.Pi*0.7*t)
		phase += f0 / fs
		var src float64
		if phase >= 1 {
			phase--
			src = 1
		}
		// Syllable envelope: rise, hold, fall, then a short pause.
		p := float64(i%syl) / float64(syl)
		env := 0.0
		switch {
		case p < 0.1:
			env = p / 0.1
		case p < 0.7:
			env = 1
		case p < 0.85:
			env = (0.85 - p) / 0.15
		}
		x := src * env
		y := 0.0
		for k := range rs {
			v := rs[k].g*x + rs[k].a1*rs[k].y1 + rs[k].a2*rs[k].y2
			rs[k].y2, rs[k].y1 = rs[k].y1, v
			y += v
		}
		out[i] = float32(y)
	}
	normalize(out, 0.5)
	return out
}

// normalize scales s so that its peak is peak.
func normalize(s []float32, peak float64) {
	m := 0.0
	for _, v := range s {
		m = math.Max(m, math.Abs(float64(v)))
	}
	if m == 0 {
		return
	}
	for i := range s {
		s[i] = float32(float64(s[i]) * peak / m)
	}
}

// loadSpeech reads the repository's eSpeak NG recording (48 kHz mono 16-bit
// WAV, see testdata/README.md). It skips the test when the file is missing,
// unless CI=true.
func loadSpeech(t testing.TB) []float32 {
	t.Helper()
	path := filepath.Join("..", "..", "testdata", "speech48k.wav")
	b, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("speech sample: %v", err)
		}
		t.Skipf("speech sample missing (%v); it is made with espeak-ng and sox, see testdata/README.md", err)
	}
	s, err := parseWAV16(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

// parseWAV16 returns the samples of a mono 16-bit PCM WAV file.
func parseWAV16(b []byte) ([]float32, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, errors.New("not a RIFF WAVE file")
	}
	var fmtOK bool
	for p := 12; p+8 <= len(b); {
		id, size := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:]))
		body := b[p+8 : min(len(b), p+8+size)]
		switch id {
		case "fmt ":
			if len(body) < 16 || binary.LittleEndian.Uint16(body[0:]) != 1 || binary.LittleEndian.Uint16(body[2:]) != 1 ||
				binary.LittleEndian.Uint32(body[4:]) != 48000 || binary.LittleEndian.Uint16(body[14:]) != 16 {
				return nil, errors.New("want PCM, mono, 48000 Hz, 16 bit")
			}
			fmtOK = true
		case "data":
			if !fmtOK {
				return nil, errors.New("data before fmt")
			}
			s := make([]float32, len(body)/2)
			for i := range s {
				s[i] = float32(int16(binary.LittleEndian.Uint16(body[2*i:]))) / 32768
			}
			return s, nil
		}
		p += 8 + size + size%2
	}
	return nil, errors.New("no data chunk")
}

// interleave makes a stereo signal from two mono ones of equal length.
func interleave(l, r []float32) []float32 {
	s := make([]float32, 2*len(l))
	for i := range l {
		s[2*i], s[2*i+1] = l[i], r[i]
	}
	return s
}

// channel extracts channel c of an interleaved signal.
func channel(s []float32, channels, c int) []float32 {
	out := make([]float32, len(s)/channels)
	for i := range out {
		out[i] = s[i*channels+c]
	}
	return out
}

// corr is the normalised cross-correlation of x[i] and y[i+lag] over
// i in [from, to).
func corr(x, y []float32, lag, from, to int) float64 {
	var sxy, sxx, syy float64
	for i := from; i < to; i++ {
		j := i + lag
		if j < 0 || j >= len(y) || i >= len(x) {
			continue
		}
		a, b := float64(x[i]), float64(y[j])
		sxy += a * b
		sxx += a * a
		syy += b * b
	}
	if sxx == 0 || syy == 0 {
		return 0
	}
	return sxy / math.Sqrt(sxx*syy)
}

// bestLag returns the lag in [lo, hi] with the highest corr.
func bestLag(x, y []float32, lo, hi, from, to int) (int, float64) {
	best, bc := lo, math.Inf(-1)
	for lag := lo; lag <= hi; lag++ {
		if c := corr(x, y, lag, from, to); c > bc {
			best, bc = lag, c
		}
	}
	return best, bc
}

// energy returns the sum of squares of s.
func energy(s []float32) float64 {
	e := 0.0
	for _, v := range s {
		e += float64(v) * float64(v)
	}
	return e
}

// roundTrip encodes sig (interleaved, enc.Channels() wide) frame by frame,
// decodes each packet at the encoder's rate, and returns the decoded signal
// and the packets. A trailing partial frame is dropped.
func roundTrip(t testing.TB, enc *Encoder, sig []float32) ([]float32, [][]byte) {
	t.Helper()
	ch := enc.Channels()
	flen := enc.FrameSamples() * ch
	dec, err := NewDecoder(enc.Rate(), ch)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, 0, len(sig))
	pcm := make([]float32, dec.MaxFrameLen()*ch)
	buf := make([]byte, MaxPacket)
	var pkts [][]byte
	for off := 0; off+flen <= len(sig); off += flen {
		n, err := enc.Encode(sig[off:off+flen], buf)
		if err != nil {
			t.Fatalf("encode at %d: %v", off, err)
		}
		pkts = append(pkts, append([]byte(nil), buf[:n]...))
		got, err := dec.Decode(buf[:n], pcm)
		if err != nil {
			t.Fatalf("decode at %d: %v", off, err)
		}
		out = append(out, pcm[:got*ch]...)
	}
	return out, pkts
}

// mustEncoder builds an encoder from a defaulted cfg.
func mustEncoder(t testing.TB, cfg Config, rate audio.SampleRate) *Encoder {
	t.Helper()
	enc, err := NewEncoder(cfg, rate)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { enc.Close() })
	return enc
}

func intp(v int) *int    { return &v }
func boolp(v bool) *bool { return &v }
