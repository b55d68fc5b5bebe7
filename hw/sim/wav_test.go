package sim

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/dsp"
	"github.com/onair-gateway/onair/audio/wav"
	"github.com/onair-gateway/onair/conf"
)

// TestWAVSilent checks that a file that mixes to silence (L = -R) is
// refused: its level cannot be set.
func TestWAVSilent(t *testing.T) {
	l := tone(4800, 1000, 48000, 0.5)
	r := make([]float64, len(l))
	for i, v := range l {
		r[i] = -v
	}
	cfg := fastCfg()
	cfg.File = writeFile(t, "cancel.wav", encodeWAV(wavSpec{wavFloat, 32, 48000}, [][]float64{l, r}))
	_, err := New(cfg, geom4, fmt4, Options{}, nil)
	if !errors.Is(err, wav.ErrBad) || !strings.Contains(err.Error(), "silent") {
		t.Fatalf("err = %v, want a silent-file error", err)
	}
}

// TestWAVStereo44k plays a 16-bit stereo 44.1 kHz file (1 kHz left, 3 kHz
// right) through a 4-mic array: it is mixed to mono, resampled (the tones
// keep their pitch within 1 Hz), looped and set to Level.
func TestWAVStereo44k(t *testing.T) {
	const n = 22050 // 0.5 s at 44.1 kHz → 24000 samples at 48 kHz
	path := writeFile(t, "stereo.wav", encodeWAV(wavSpec{wavPCM, 16, 44100},
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
	path := writeFile(t, "stereo.wav", encodeWAV(wavSpec{wavPCM, 24, 44100},
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
	cfg.File = writeFile(t, "float.wav", encodeWAV(wavSpec{wavFloat, 32, 48000}, [][]float64{src}))
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
	w, err := wav.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	n := int(w.Frames())
	frames := (n + 479) / 480
	x := readChannels(t, b, 0, frames)
	for m := range 4 {
		y := make([]float32, n)
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

// TestBrokenWAVRefused: a board refuses a file audio/wav cannot read, with
// an error naming it.
func TestBrokenWAVRefused(t *testing.T) {
	good := encodeWAV(wavSpec{wavPCM, 16, 48000}, [][]float64{tone(4800, 440, 48000, 0.5)})
	for name, data := range map[string][]byte{
		"not riff":  []byte("ID3\x04\x00\x00\x00\x00\x00\x00\x00\x00mp3 data"),
		"truncated": good[:44],
	} {
		cfg := fastCfg()
		cfg.File = writeFile(t, "broken.wav", data)
		_, err := New(cfg, geom4, fmt4, Options{}, nil)
		if !errors.Is(err, wav.ErrBad) || !strings.Contains(err.Error(), cfg.File) {
			t.Errorf("%s: New = %v, want a wav.ErrBad naming the file", name, err)
		}
		cfg.SetDefaults()
		if err := cfg.CheckFile(); !errors.Is(err, wav.ErrBad) {
			t.Errorf("%s: CheckFile = %v, want wav.ErrBad", name, err)
		}
	}
}

// TestWAVMemoryBounded: checking and loading a large WAV (96 MiB, 8-bit
// mono at 48 kHz: 35 minutes) allocates a bounded amount, not a multiple
// of the file (the whole-file parser allocated about 9 times its size:
// the bytes, a float32 per sample and a mono mix). The talker loops the
// file's first MaxTalker samples.
func TestWAVMemoryBounded(t *testing.T) {
	const frames = 96 << 20
	path := filepath.Join(t.TempDir(), "long.wav")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := wav.NewWriter(f, wav.Format{Encoding: wav.PCM, Channels: 1, Rate: 48000, Bits: 8})
	if err != nil {
		t.Fatal(err)
	}
	block := make([]float32, 48000)
	for i := range block {
		block[i] = float32(0.5 * math.Sin(2*math.Pi*440*float64(i)/48000))
	}
	for n := 0; n < frames; n += len(block) {
		if err := w.Write(block[:min(len(block), frames-n)]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	cfg := fastCfg()
	cfg.File = path
	cfg.SetDefaults()
	// The talker's samples at the file's rate and at the board's, plus
	// buffers of a few KiB: far below the file's 96 MiB.
	const bound = 2*4*MaxTalker + 4<<20
	allocated := func(f func()) uint64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	if got := allocated(func() {
		if err := cfg.CheckFile(); err != nil {
			t.Fatal(err)
		}
	}); got > bound {
		t.Errorf("CheckFile of a %d MiB WAV allocated %d MiB, want under %d MiB", frames>>20, got>>20, bound>>20)
	}
	var b *Board
	if got := allocated(func() {
		if b, err = New(cfg, geom4, fmt4, Options{}, nil); err != nil {
			t.Fatal(err)
		}
	}); got > bound {
		t.Errorf("New with a %d MiB WAV allocated %d MiB, want under %d MiB", frames>>20, got>>20, bound>>20)
	}
	defer b.Close()
	if n := len(b.talk.loop); n != MaxTalker {
		t.Errorf("talker loops %d samples, want the first %d", n, MaxTalker)
	}
}
