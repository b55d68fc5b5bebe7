package wav

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cases are the encodings a Reader must read; the fuzz target starts from
// them.
var cases = []struct {
	name string
	f    Format
	ext  bool // written as WAVE_FORMAT_EXTENSIBLE
}{
	{"pcm8-mono", Format{PCM, 1, 8000, 8}, false},
	{"pcm16-stereo", Format{PCM, 2, 44100, 16}, false},
	{"pcm24-mono", Format{PCM, 1, 48000, 24}, false},
	{"pcm32-3ch", Format{PCM, 3, 96000, 32}, false},
	{"float32-mono", Format{Float, 1, 48000, 32}, false},
	{"float64-stereo", Format{Float, 2, 22050, 64}, false},
	{"ext-pcm24-stereo", Format{PCM, 2, 48000, 24}, true},
	{"ext-float32-8ch", Format{Float, 8, 16000, 32}, true},
}

// testSamples are values every format represents exactly.
var testSamples = []float32{0, 0.5, -0.5, 0.25, -1, 0.75, -0.125, 0.0625}

// interleaved returns testSamples on each of nc channels, scaled per
// channel so that channels differ.
func interleaved(nc int) []float32 {
	x := make([]float32, 0, nc*len(testSamples))
	for _, v := range testSamples {
		for c := range nc {
			x = append(x, v*float32(c+1)/float32(nc))
		}
	}
	return x
}

// encodeFile is Encode with a LIST chunk before the data (odd size, so
// padded) to exercise chunk skipping, and optionally as
// WAVE_FORMAT_EXTENSIBLE.
func encodeFile(t testing.TB, f Format, pcm []float32, ext bool) []byte {
	t.Helper()
	b, err := Encode(f, pcm)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	fmtChunk := append([]byte(nil), b[12:36]...)
	if ext {
		le.PutUint32(fmtChunk[4:], 40)
		le.PutUint16(fmtChunk[8:], uint16(extensible))
		fmtChunk = le.AppendUint16(fmtChunk, 22)
		fmtChunk = le.AppendUint16(fmtChunk, uint16(f.Bits))
		fmtChunk = le.AppendUint32(fmtChunk, 0)
		fmtChunk = le.AppendUint16(fmtChunk, uint16(f.Encoding))
		fmtChunk = append(fmtChunk, ksSubtypeSuffix...)
	}
	out := append([]byte(nil), b[:12]...)
	out = append(out, fmtChunk...)
	out = append(out, "LIST\x05\x00\x00\x00INFOx\x00"...)
	out = append(out, b[36:]...)
	le.PutUint32(out[4:], uint32(len(out)-8))
	return out
}

func TestParse(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := interleaved(c.f.Channels)
			a, err := Parse(encodeFile(t, c.f, want, c.ext))
			if err != nil {
				t.Fatal(err)
			}
			if a.Rate != c.f.Rate || len(a.Channels) != c.f.Channels || a.Len() != len(testSamples) || a.Truncated {
				t.Fatalf("rate %d channels %d len %d truncated %v", a.Rate, len(a.Channels), a.Len(), a.Truncated)
			}
			tol := max(math.Ldexp(1, 1-c.f.Bits), 1e-7)
			for i := range testSamples {
				for k := range c.f.Channels {
					if got, w := a.Channels[k][i], want[i*c.f.Channels+k]; math.Abs(float64(got-w)) > tol {
						t.Errorf("channel %d sample %d: %v, want %v", k, i, got, w)
					}
				}
			}
		})
	}
}

// TestParseTruncated reads a file whose data chunk claims more than it
// holds, as `espeak-ng --stdout` leaves it.
func TestParseTruncated(t *testing.T) {
	b := encodeFile(t, Format{PCM, 1, 48000, 16}, testSamples, false)
	i := strings.Index(string(b), "data")
	binary.LittleEndian.PutUint32(b[i+4:], 0x7ffff000)
	b = b[:len(b)-1] // and half a sample is missing
	a, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Truncated || a.Len() != len(testSamples)-1 {
		t.Fatalf("Truncated %v, %d samples: want true, %d", a.Truncated, a.Len(), len(testSamples)-1)
	}
}

// badFiles are broken files and what the error must say.
func badFiles(t testing.TB) []struct {
	name string
	data []byte
	want string
} {
	good := func() []byte { return encodeFile(t, Format{PCM, 1, 48000, 16}, testSamples, false) }
	patch := func(off int, v ...byte) []byte { b := good(); copy(b[off:], v); return b }
	le16 := func(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
	le32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	noFmt := good()
	copy(noFmt[12:], "junk")
	noData := good()
	copy(noData[strings.Index(string(noData), "data"):], "dat!")
	twoData := append(good(), "data\x02\x00\x00\x00\x00\x00"...)
	ext := encodeFile(t, Format{PCM, 1, 48000, 16}, testSamples, true)
	ext[20+26] ^= 0xff // the GUID's tail
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
		{"rifx", patch(0, []byte("RIFX")...), "RIFX"},
		{"no fmt", noFmt, `no "fmt " chunk`},
		{"no data", noData, "no data chunk"},
		{"two data", twoData, "second data chunk"},
		{"bad guid", ext, "GUID"},
		{"adpcm", patch(20, le16(2)...), "format code 0x0002"},
		{"12-bit", patch(34, le16(12)...), "12-bit PCM"},
		{"float16", patch(20, le16(3)...), "16-bit float"},
		{"zero channels", patch(22, le16(0)...), "0 channels"},
		{"rate", patch(24, le32(100)...), "sample rate 100"},
		{"block align", patch(32, le16(3)...), "block align is 3"},
		{"short fmt", patch(16, le32(8)...), "fmt chunk is 8 bytes"},
		{"chunk overruns", patch(16, le32(1000)...), `chunk "fmt " claims 1000 bytes`},
		{"no whole frame", func() []byte {
			b := encodeFile(t, Format{PCM, 2, 48000, 24}, []float32{0, 0}, false)
			return b[:len(b)-1]
		}(), "no complete sample frame"},
	}
}

// TestBadFile checks that each broken file gives an error that names the
// file and says what is wrong.
func TestBadFile(t *testing.T) {
	for _, c := range badFiles(t) {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "broken.wav")
			if err := os.WriteFile(p, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Open(p)
			if !errors.Is(err, ErrBad) {
				t.Fatalf("err = %v, want ErrBad", err)
			}
			var we *Error
			if !errors.As(err, &we) || we.File != p {
				t.Fatalf("err = %#v, want an *Error naming %s", err, p)
			}
			if msg := err.Error(); !strings.Contains(msg, p) || !strings.Contains(msg, c.want) {
				t.Fatalf("error %q does not name the file and %q", msg, c.want)
			}
		})
	}
	if _, err := Open(t.TempDir()); !errors.Is(err, ErrBad) || !strings.Contains(err.Error(), "directory") {
		t.Errorf("Open(dir) = %v", err)
	}
	if _, err := Open("/nonexistent.wav"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want ErrNotExist", err)
	}
}

// TestOpenSpecialFiles: a device reads forever and a FIFO blocks; both are
// refused at once, by name, before anything is read.
func TestOpenSpecialFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "talk.wav")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/dev/zero", fifo} {
		done := make(chan error, 1)
		go func() { _, err := Open(path); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, ErrBad) || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("Open(%s) = %v", path, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Open(%s) did not return", path)
		}
	}
}

// TestWriterRoundTrip writes every encoding through a file and reads it
// back; integer encodings clip what is beyond full scale.
func TestWriterRoundTrip(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "out.wav")
			w, err := Create(p, c.f)
			if err != nil {
				t.Fatal(err)
			}
			want := interleaved(c.f.Channels)
			// In two writes, the second with a sample beyond full scale.
			half := len(want) / 2 / c.f.Channels * c.f.Channels
			if err := w.Write(want[:half]); err != nil {
				t.Fatal(err)
			}
			rest := append([]float32(nil), want[half:]...)
			rest[0] = 1.5
			if err := w.Write(rest); err != nil {
				t.Fatal(err)
			}
			if c.f.Channels > 1 {
				if err := w.Write(make([]float32, c.f.Channels+1)); err == nil {
					t.Error("a partial frame was accepted")
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			f, err := Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Format() != c.f || f.Frames() != int64(len(testSamples)) {
				t.Fatalf("read back %+v, %d frames", f.Format(), f.Frames())
			}
			got := make([]float32, len(want)+8)
			n, err := f.Read(got)
			if err != nil || n != len(testSamples) {
				t.Fatalf("Read = %d, %v", n, err)
			}
			if _, err := f.Read(got); err != io.EOF {
				t.Fatalf("Read at the end = %v, want io.EOF", err)
			}
			wantClip := float32(1.5)
			if c.f.Encoding == PCM {
				wantClip = 1 - float32(math.Ldexp(1, 1-c.f.Bits))
			}
			tol := max(math.Ldexp(1, 1-c.f.Bits), 1e-7)
			for i := range want {
				w := want[i]
				if i == half {
					w = wantClip
				}
				if math.Abs(float64(got[i]-w)) > tol {
					t.Errorf("sample %d: %v, want %v", i, got[i], w)
				}
			}
		})
	}
	if _, err := Create(filepath.Join(t.TempDir(), "x.wav"), Format{PCM, 1, 48000, 12}); err == nil {
		t.Error("Create accepted 12-bit PCM")
	}
}

// TestReaderChunks reads a file larger than a chunk in small and large
// buffers, seeks back, and finds a file cut short after its header.
func TestReaderChunks(t *testing.T) {
	const frames = 3*ReadChunk/4 + 17 // stereo 16-bit: 3 chunks and a bit
	pcm := make([]float32, 2*frames)
	for i := range pcm {
		pcm[i] = float32(i%2000-1000) / 1024
	}
	f := Format{PCM, 2, 48000, 16}
	data := encodeFile(t, f, pcm, false)
	p := filepath.Join(t.TempDir(), "big.wav")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, size := range []int{2, 6, 4096, 3 * ReadChunk} {
		if err := r.SeekFrame(0); err != nil {
			t.Fatal(err)
		}
		buf := make([]float32, size)
		var at int
		for {
			n, err := r.Read(buf)
			for i := range n * 2 {
				if buf[i] != pcm[at+i] {
					t.Fatalf("buffer %d: sample %d is %v, want %v", size, at+i, buf[i], pcm[at+i])
				}
			}
			at += 2 * n
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if at != len(pcm) {
			t.Fatalf("buffer %d: read %d samples, want %d", size, at, len(pcm))
		}
	}
	if err := r.SeekFrame(frames + 1); err == nil {
		t.Error("SeekFrame past the end accepted")
	}
	buf := make([]float32, 4096)
	if allocs := testing.AllocsPerRun(20, func() {
		_ = r.SeekFrame(0)
		_, _ = r.Read(buf)
	}); allocs != 0 {
		t.Errorf("Read allocates %v times", allocs)
	}
	// The file shrinks after its header was read.
	if err := os.Truncate(p, int64(len(data)/2)); err != nil {
		t.Fatal(err)
	}
	_ = r.SeekFrame(0)
	var rerr error
	for rerr == nil {
		_, rerr = r.Read(buf)
	}
	if !errors.Is(rerr, io.ErrUnexpectedEOF) {
		t.Errorf("reading a file cut short: %v, want io.ErrUnexpectedEOF", rerr)
	}
}

// FuzzParse feeds arbitrary bytes to the parser: it must not panic, and
// what it accepts must be well formed.
func FuzzParse(f *testing.F) {
	for _, c := range cases {
		f.Add(encodeFile(f, c.f, interleaved(c.f.Channels), c.ext))
	}
	for _, c := range badFiles(f) {
		f.Add(c.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrBad) {
				t.Fatalf("error %v is not ErrBad", err)
			}
			return
		}
		if a.Rate < 1000 || len(a.Channels) < 1 || a.Len() < 1 {
			t.Fatalf("accepted rate %d, %d channels, %d samples", a.Rate, len(a.Channels), a.Len())
		}
		for _, ch := range a.Channels {
			if len(ch) != a.Len() {
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
