package sim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/dsp"
	"github.com/onair-gateway/onair/conf"
)

// wavCases are the encodings ParseWAV must read; the fuzz target starts
// from them.
var wavCases = []struct {
	name string
	spec wavSpec
	ch   int
}{
	{"pcm8-mono", wavSpec{wavPCM, 8, 8000, false}, 1},
	{"pcm16-stereo", wavSpec{wavPCM, 16, 44100, false}, 2},
	{"pcm24-mono", wavSpec{wavPCM, 24, 48000, false}, 1},
	{"pcm32-3ch", wavSpec{wavPCM, 32, 96000, false}, 3},
	{"float32-mono", wavSpec{wavFloat, 32, 48000, false}, 1},
	{"float64-stereo", wavSpec{wavFloat, 64, 22050, false}, 2},
	{"ext-pcm24-stereo", wavSpec{wavPCM, 24, 48000, true}, 2},
	{"ext-float32-8ch", wavSpec{wavFloat, 32, 16000, true}, 8},
}

// testSamples are values every format represents exactly.
var testSamples = []float64{0, 0.5, -0.5, 0.25, -1, 0.75, -0.125, 0.0625}

func TestParseWAV(t *testing.T) {
	for _, c := range wavCases {
		t.Run(c.name, func(t *testing.T) {
			ch := make([][]float64, c.ch)
			for k := range ch {
				ch[k] = make([]float64, len(testSamples))
				for i, v := range testSamples {
					ch[k][i] = v * float64(k+1) / float64(c.ch) // channels differ
				}
			}
			w, err := ParseWAV(encodeWAV(c.spec, ch))
			if err != nil {
				t.Fatal(err)
			}
			if w.Rate != c.spec.rate || len(w.Channels) != c.ch || w.Len() != len(testSamples) || w.Truncated {
				t.Fatalf("rate %d channels %d len %d truncated %v", w.Rate, len(w.Channels), w.Len(), w.Truncated)
			}
			tol := max(math.Ldexp(1, 1-c.spec.bits), 1e-7)
			for k := range ch {
				for i, want := range ch[k] {
					if got := float64(w.Channels[k][i]); math.Abs(got-want) > tol {
						t.Errorf("channel %d sample %d: %v, want %v", k, i, got, want)
					}
				}
			}
		})
	}
}

// TestParseWAVTruncated reads a file whose data chunk claims more than it
// holds, as `espeak-ng --stdout` leaves it.
func TestParseWAVTruncated(t *testing.T) {
	b := encodeWAV(wavSpec{wavPCM, 16, 48000, false}, [][]float64{testSamples})
	i := strings.Index(string(b), "data")
	binary.LittleEndian.PutUint32(b[i+4:], 0x7ffff000)
	b = b[:len(b)-1] // and half a sample is missing
	w, err := ParseWAV(b)
	if err != nil {
		t.Fatal(err)
	}
	if !w.Truncated || w.Len() != len(testSamples)-1 {
		t.Fatalf("Truncated %v, %d samples: want true, %d", w.Truncated, w.Len(), len(testSamples)-1)
	}
}

// badWAVs are broken files and what the error must say.
func badWAVs() []struct {
	name string
	data []byte
	want string
} {
	good := func() []byte {
		return encodeWAV(wavSpec{wavPCM, 16, 48000, false}, [][]float64{testSamples})
	}
	patch := func(off int, v ...byte) []byte { b := good(); copy(b[off:], v); return b }
	le16 := func(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
	le32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	noFmt := good()
	copy(noFmt[12:], "junk")
	noData := good()
	copy(noData[strings.Index(string(noData), "data"):], "dat!")
	// fmt chunk starts at 12; its body at 20.
	return []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"not riff", []byte("ID3\x04\x00\x00\x00\x00\x00\x00\x00\x00mp3 data"), "not a RIFF file"},
		{"not wave", patch(8, []byte("AVI ")...), "not WAVE"},
		{"rf64", patch(0, []byte("RF64")...), "RF64"},
		{"no fmt", noFmt, `no "fmt " chunk`},
		{"no data", noData, "no data chunk"},
		{"adpcm", patch(20, le16(2)...), "format code 0x0002"},
		{"12-bit", patch(34, le16(12)...), "12-bit PCM"},
		{"float16", patch(20, le16(3)...), "16-bit float"},
		{"zero channels", patch(22, le16(0)...), "0 channels"},
		{"rate", patch(24, le32(100)...), "sample rate 100"},
		{"block align", patch(32, le16(3)...), "block align is 3"},
		{"short fmt", patch(16, le32(8)...), "fmt chunk is 8 bytes"},
		{"chunk overruns", patch(16, le32(1000)...), `chunk "fmt " claims 1000 bytes`},
		{"no whole frame", func() []byte {
			b := encodeWAV(wavSpec{wavPCM, 24, 48000, false}, [][]float64{{0}, {0}})
			return b[:len(b)-1]
		}(), "no complete sample frame"},
	}
}

// TestBadWAV checks that each broken file gives an error that names the
// file and says what is wrong.
func TestBadWAV(t *testing.T) {
	for _, c := range badWAVs() {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, "broken.wav", c.data)
			_, err := LoadWAV(p)
			if !errors.Is(err, ErrBadWAV) {
				t.Fatalf("err = %v, want ErrBadWAV", err)
			}
			var we *WAVError
			if !errors.As(err, &we) || we.File != p {
				t.Fatalf("err = %#v, want a *WAVError naming %s", err, p)
			}
			if msg := err.Error(); !strings.Contains(msg, p) || !strings.Contains(msg, c.want) {
				t.Fatalf("error %q does not name the file and %q", msg, c.want)
			}
			// And the board refuses to start with it.
			cfg := fastCfg()
			cfg.File = p
			if _, err := New(cfg, geom4, fmt4, Options{}, nil); !errors.Is(err, ErrBadWAV) {
				t.Fatalf("New with a broken wav: %v", err)
			}
		})
	}
	if _, err := LoadWAV(t.TempDir()); !errors.Is(err, ErrBadWAV) || !strings.Contains(err.Error(), "directory") {
		t.Errorf("LoadWAV(dir) = %v", err)
	}
	if _, err := LoadWAV("/nonexistent.wav"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadWAV(missing) = %v, want ErrNotExist", err)
	}
}

// TestWAVSilent checks that a file that mixes to silence (L = -R) is
// refused: its level cannot be set.
func TestWAVSilent(t *testing.T) {
	l := tone(4800, 1000, 48000, 0.5)
	r := make([]float64, len(l))
	for i, v := range l {
		r[i] = -v
	}
	cfg := fastCfg()
	cfg.File = writeFile(t, "cancel.wav", encodeWAV(wavSpec{wavFloat, 32, 48000, false}, [][]float64{l, r}))
	_, err := New(cfg, geom4, fmt4, Options{}, nil)
	if !errors.Is(err, ErrBadWAV) || !strings.Contains(err.Error(), "silent") {
		t.Fatalf("err = %v, want a silent-file error", err)
	}
}

// TestWAVStereo44k plays a 16-bit stereo 44.1 kHz file (1 kHz left, 3 kHz
// right) through a 4-mic array: it is mixed to mono, resampled (the tones
// keep their pitch within 1 Hz), looped and set to Level.
func TestWAVStereo44k(t *testing.T) {
	const n = 22050 // 0.5 s at 44.1 kHz → 24000 samples at 48 kHz
	path := writeFile(t, "stereo.wav", encodeWAV(wavSpec{wavPCM, 16, 44100, false},
		[][]float64{tone(n, 1000, 44100, 0.5), tone(n, 3000, 44100, 0.5)}))
	cfg := fastCfg()
	cfg.File = path
	cfg.Level = conf.Ptr(-20.0)
	cfg.SNR = conf.Ptr(120.0)
	b := newBoard(t, cfg, geom4, fmt4, Options{})
	x := readChannels(t, b, 0, 150) // 1.5 s: three loops
	for m := range 4 {
		for _, f := range []float64{1000, 3000} {
			for loop := range 3 {
				// Fit inside one loop, clear of the 5 ms fades at its ends.
				a := loop*24000 + 1000
				p1 := fitSine(x[m][a:a+2000], f, 48000, a)
				p2 := fitSine(x[m][a+19200:a+21200], f, 48000, a+19200)
				got := f + wrapPi(p2.phase-p1.phase)/(2*math.Pi*0.4)
				if math.Abs(got-f) > 1 {
					t.Errorf("mic %d loop %d: %v Hz tone plays at %.2f Hz", m, loop, f, got)
				}
				// Each channel mixes to half of the mono signal whose active
				// RMS is set to -20 dBFS: both tones peak at -20 dBFS.
				if lvl := dsp.DBFS(p1.amp); math.Abs(lvl+20) > 0.5 {
					t.Errorf("mic %d loop %d: %v Hz at %.2f dBFS, want -20", m, loop, f, lvl)
				}
			}
		}
	}
	// Looped: the talker repeats every 24000 samples.
	for i := 1000; i < 23000; i += 97 {
		if d := math.Abs(x[0][i] - x[0][i+24000]); d > 1e-5 {
			t.Fatalf("sample %d differs from the next loop by %v", i, d)
		}
	}
}

// TestWAVLineIn plays a stereo file on a line input: each channel keeps its
// own content, and the signal repeats exactly across the wrap.
func TestWAVLineIn(t *testing.T) {
	const n = 22050
	path := writeFile(t, "stereo.wav", encodeWAV(wavSpec{wavPCM, 24, 44100, true},
		[][]float64{tone(n, 1000, 44100, 0.5), tone(n, 3000, 44100, 0.25)}))
	cfg := fastCfg()
	cfg.File = path
	cfg.SNR = conf.Ptr(120.0)
	b := newBoard(t, cfg, audio.Geometry{}, fmt2, Options{LineIn: true})
	x := readChannels(t, b, 0, 150)
	// 19200 samples hold whole cycles of both tones, so the fits do not
	// leak into each other.
	seg := func(c int) []float64 { return x[c][1200:20400] }
	l1, l3 := fitSine(seg(0), 1000, 48000, 1200), fitSine(seg(0), 3000, 48000, 1200)
	r1, r3 := fitSine(seg(1), 1000, 48000, 1200), fitSine(seg(1), 3000, 48000, 1200)
	if ll, rl := dsp.DBFS(l3.amp/l1.amp), dsp.DBFS(r1.amp/r3.amp); ll > -60 || rl > -60 {
		t.Errorf("channels leak: L has 3 kHz at %.1f dB, R has 1 kHz at %.1f dB", ll, rl)
	}
	if got := 20 * math.Log10(r3.amp/l1.amp); math.Abs(got+6.02) > 0.1 {
		t.Errorf("R/L = %.2f dB, want -6.02 as in the file", got)
	}
	// Across the loop point at 24000 the signal repeats exactly.
	for i := 23900; i < 24100; i++ {
		if d := math.Abs(x[0][i] - x[0][i+24000]); d > 1e-5 {
			t.Fatalf("sample %d: loop differs by %v", i, d)
		}
	}
}

// TestWAVFloatLevel plays a float32 mono 48 kHz file of half a second of tone
// and half a second of silence: no resampling (the output is the file times
// one gain) and the active part, not the average, is at Level.
func TestWAVFloatLevel(t *testing.T) {
	src := append(tone(24000, 440, 48000, 0.3), make([]float64, 24000)...)
	cfg := fastCfg()
	cfg.File = writeFile(t, "float.wav", encodeWAV(wavSpec{wavFloat, 32, 48000, false}, [][]float64{src}))
	cfg.Level = conf.Ptr(-26.0)
	cfg.SNR = conf.Ptr(120.0)
	b := newBoard(t, cfg, audio.Geometry{}, fmt2, Options{LineIn: true})
	x := readChannels(t, b, 0, 100)
	gain := dsp.FromDB(-26) / (0.3 / math.Sqrt2)
	for i := 240; i < 47760; i++ { // clear of the fades
		if d := math.Abs(x[0][i] - gain*float64(float32(src[i]))); d > 1e-5 {
			t.Fatalf("sample %d: %v, want %v (file × %v)", i, x[0][i], gain*src[i], gain)
		}
	}
	if got := dsp.DBFS(rms(x[0][1000:23000])); math.Abs(got+26) > 0.5 {
		t.Errorf("active part at %.2f dBFS, want -26", got)
	}
}

// TestSpeechLevel plays the repository's speech sample through the 4-mic
// array and checks its active level at a mic.
func TestSpeechLevel(t *testing.T) {
	const path = "../../testdata/speech48k.wav"
	if _, err := os.Stat(path); err != nil {
		t.Skipf("no %s (see testdata/README.md to make it): %v", path, err)
	}
	cfg := Config{File: path, Level: conf.Ptr(-26.0), SNR: conf.Ptr(60.0), Realtime: conf.Ptr(false)}
	b := newBoard(t, cfg, geom4, fmt4, Options{})
	if cfg.Signal != "" {
		t.Fatal("New changed the caller's config")
	}
	w, err := LoadWAV(path)
	if err != nil {
		t.Fatal(err)
	}
	frames := (w.Len() + 479) / 480
	x := readChannels(t, b, 0, frames)
	for m := range 4 {
		y := make([]float32, w.Len())
		for i := range y {
			y[i] = float32(x[m][i])
		}
		if got := dsp.DBFS(activeRMS(y, audio.Rate48k)); math.Abs(got+26) > 0.5 {
			t.Errorf("mic %d: speech at %.2f dBFS active, want -26", m, got)
		}
	}
}

// TestResample checks the resampler on its own: pitch, level and length for
// up- and down-sampling, and rejection of what the new rate cannot hold.
func TestResample(t *testing.T) {
	cases := []struct {
		in, out int
		f       float64
	}{
		{44100, 48000, 1000},
		{22050, 48000, 5000},
		{96000, 48000, 7000},
		{8000, 48000, 440},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%d-%d", c.in, c.out), func(t *testing.T) {
			x := make([]float32, c.in) // one second
			for i := range x {
				x[i] = float32(0.5 * math.Sin(2*math.Pi*c.f*float64(i)/float64(c.in)))
			}
			y := resampleLoop(x, c.in, c.out)
			if len(y) != c.out {
				t.Fatalf("%d samples, want %d", len(y), c.out)
			}
			yy := make([]float64, len(y))
			for i, v := range y {
				yy[i] = float64(v)
			}
			fit := fitSine(yy, c.f, float64(c.out), 0)
			if math.Abs(dsp.DBFS(fit.amp)-dsp.DBFS(0.5)) > 0.1 {
				t.Errorf("amplitude %.4f, want 0.5", fit.amp)
			}
			if snr := db(fit.amp * fit.amp / 2 / fit.residual); snr < 60 {
				t.Errorf("only %.1f dB above the resampling error", snr)
			}
		})
	}
	// 20 kHz at 96 kHz cannot exist at 16 kHz: it must be filtered out, not
	// folded down to 4 kHz.
	x := make([]float32, 96000)
	for i := range x {
		x[i] = float32(0.5 * math.Sin(2*math.Pi*20000*float64(i)/96000))
	}
	y := resampleLoop(x, 96000, 16000)
	var s float64
	for _, v := range y {
		s += float64(v) * float64(v)
	}
	if lvl := db(s / float64(len(y))); lvl > -70 {
		t.Errorf("aliased 20 kHz tone at %.1f dB after downsampling, want below -70", lvl)
	}
}

// FuzzParseWAV feeds arbitrary bytes to the parser: it must not panic, and
// what it accepts must be well formed.
func FuzzParseWAV(f *testing.F) {
	for _, c := range wavCases {
		ch := make([][]float64, c.ch)
		for k := range ch {
			ch[k] = testSamples
		}
		f.Add(encodeWAV(c.spec, ch))
	}
	for _, c := range badWAVs() {
		f.Add(c.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := ParseWAV(data)
		if err != nil {
			if !errors.Is(err, ErrBadWAV) {
				t.Fatalf("error %v is not ErrBadWAV", err)
			}
			return
		}
		if w.Rate < 1000 || len(w.Channels) < 1 || w.Len() < 1 {
			t.Fatalf("accepted rate %d, %d channels, %d samples", w.Rate, len(w.Channels), w.Len())
		}
		for _, ch := range w.Channels {
			if len(ch) != w.Len() {
				t.Fatal("channels of different lengths")
			}
			for _, v := range ch {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatal("non-finite sample")
				}
			}
		}
	})
}

// TestLoadWAVSpecialFiles: a device reads forever and a FIFO blocks; both
// are refused at once, by name, before anything is read.
func TestLoadWAVSpecialFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "talk.wav")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/dev/zero", fifo} {
		done := make(chan error, 1)
		go func() { _, err := LoadWAV(path); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, ErrBadWAV) || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("LoadWAV(%s) = %v", path, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("LoadWAV(%s) did not return", path)
		}
	}
}
