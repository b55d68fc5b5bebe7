package sim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/conf"
)

// MaxWAVBytes is the largest WAV file LoadWAV reads: 256 MiB is about 23
// minutes of 48 kHz stereo 32-bit audio, far more than a looped test talker
// needs, and keeps a mistaken path (a disk image) from exhausting memory.
const MaxWAVBytes = 256 << 20

// maxWAVChannels bounds the channel count a WAV header may claim.
const maxWAVChannels = 64

// ErrBadWAV is wrapped by every *WAVError, so callers can test for any WAV
// problem with errors.Is.
var ErrBadWAV = errors.New("bad wav")

// WAVError says what is wrong with a WAV file and where.
type WAVError struct {
	// File is the path given to LoadWAV ("" for ParseWAV).
	File string
	// Offset is the byte offset of the problem, or -1 when it concerns the
	// whole file.
	Offset int64
	// Reason says what is wrong, in words.
	Reason string
}

// Error implements error.
func (e *WAVError) Error() string {
	s := "sim: wav"
	if e.File != "" {
		s += fmt.Sprintf(" file %q", e.File)
	}
	s += ": " + e.Reason
	if e.Offset >= 0 {
		s += fmt.Sprintf(" (at byte %d)", e.Offset)
	}
	return s
}

// Unwrap returns ErrBadWAV.
func (e *WAVError) Unwrap() error { return ErrBadWAV }

func wavErr(off int64, format string, args ...any) error {
	return &WAVError{Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// WAV is decoded PCM audio: one float32 slice per channel, full scale ±1.
type WAV struct {
	// Rate is the sampling rate in Hz.
	Rate int
	// Channels holds the samples of each channel; all have the same length.
	Channels [][]float32
	// Truncated reports that the data chunk claimed more bytes than the file
	// holds (streaming writers such as `espeak-ng --stdout` leave a
	// placeholder size); the whole frames present were kept.
	Truncated bool
}

// Len returns the number of samples per channel.
func (w *WAV) Len() int {
	if len(w.Channels) == 0 {
		return 0
	}
	return len(w.Channels[0])
}

// LoadWAV reads and decodes the WAV file at path (see ParseWAV). Errors name
// the file.
func LoadWAV(path string) (*WAV, error) {
	data, err := conf.ReadFile(path, MaxWAVBytes)
	var fe *conf.FileError
	if errors.As(err, &fe) {
		return nil, &WAVError{File: path, Offset: -1, Reason: fe.Problem}
	}
	if err != nil {
		return nil, fmt.Errorf("sim: wav file: %w", err)
	}
	w, err := ParseWAV(data)
	if err != nil {
		var we *WAVError
		if errors.As(err, &we) {
			we.File = path
		}
		return nil, err
	}
	return w, nil
}

// loadTalker loads the WAV file at path for the talker: its channels, their
// mono mix, and the mix's active RMS level. A silent file is an error.
func loadTalker(path string) (w *WAV, mono []float32, active float64, err error) {
	w, err = LoadWAV(path)
	if err != nil {
		return nil, nil, 0, err
	}
	mono = make([]float32, w.Len())
	for _, ch := range w.Channels {
		for i, v := range ch {
			mono[i] += v / float32(len(w.Channels))
		}
	}
	active = activeRMS(mono, audio.SampleRate(w.Rate))
	if active == 0 {
		return nil, nil, 0, &WAVError{File: path, Offset: -1, Reason: "is silent"}
	}
	return w, mono, active, nil
}

// CheckFile reads the WAV file a wav signal names, as the board will, and
// says why it cannot be used (missing, not a WAV it can decode, silent).
// Other signals read no file: nil. c must be defaulted.
func (c Config) CheckFile() error {
	if c.Signal != SignalWAV {
		return nil
	}
	_, _, _, err := loadTalker(c.File)
	return err
}

// wavFormat codes (Microsoft WAVEFORMATEX wFormatTag).
const (
	wavPCM        = 1
	wavFloat      = 3
	wavExtensible = 0xFFFE
)

// ksdataformatSubtypeSuffix is the tail shared by the KSDATAFORMAT_SUBTYPE
// GUIDs of WAVE_FORMAT_EXTENSIBLE; the first two bytes hold the format code.
const ksdataformatSubtypeSuffix = "\x00\x00\x00\x00\x10\x00\x80\x00\x00\xAA\x00\x38\x9B\x71"

type wavFmt struct {
	format   uint16
	channels int
	rate     int
	align    int
	bits     int
}

// ParseWAV decodes a RIFF WAVE file held in data: integer PCM of 8, 16, 24
// or 32 bits, or IEEE float of 32 or 64 bits, plain or WAVE_FORMAT_EXTENSIBLE,
// any channel count up to 64. Chunks other than "fmt " and "data" are
// skipped. A data chunk that claims more bytes than remain is cut to what is
// there and Truncated is set; any other inconsistency is an error. Float
// samples that are NaN, infinite or beyond float32 become 0. Every error is a *WAVError.
func ParseWAV(data []byte) (*WAV, error) {
	le := binary.LittleEndian
	if len(data) < 12 {
		return nil, wavErr(-1, "file is %d bytes, too short for a RIFF header (12)", len(data))
	}
	switch string(data[0:4]) {
	case "RIFF":
	case "RF64":
		return nil, wavErr(0, "RF64 (64-bit RIFF) is not supported")
	case "RIFX":
		return nil, wavErr(0, "big-endian RIFX is not supported")
	default:
		return nil, wavErr(0, "not a RIFF file (starts with %q)", printable(data[0:4]))
	}
	if string(data[8:12]) != "WAVE" {
		return nil, wavErr(8, "RIFF form is %q, not WAVE", printable(data[8:12]))
	}
	var (
		f         *wavFmt
		body      []byte
		bodyOff   int64
		truncated bool
	)
	for off := 12; off+8 <= len(data); {
		id := string(data[off : off+4])
		size := int64(le.Uint32(data[off+4 : off+8]))
		start := off + 8
		remain := int64(len(data) - start)
		if id == "data" {
			if body != nil {
				return nil, wavErr(int64(off), "second data chunk")
			}
			if size > remain {
				size, truncated = remain, true
			}
			body, bodyOff = data[start:start+int(size)], int64(start)
		} else {
			if size > remain {
				return nil, wavErr(int64(off), "chunk %q claims %d bytes but only %d remain", printable(data[off:off+4]), size, remain)
			}
			if id == "fmt " {
				if f != nil {
					return nil, wavErr(int64(off), "second fmt chunk")
				}
				pf, err := parseFmt(data[start:start+int(size)], int64(start))
				if err != nil {
					return nil, err
				}
				f = pf
			}
		}
		// Chunks are padded to an even size.
		next := int64(start) + size + size&1
		if next > int64(len(data)) {
			break
		}
		off = int(next)
	}
	if f == nil {
		return nil, wavErr(-1, `no "fmt " chunk`)
	}
	if body == nil {
		return nil, wavErr(-1, "no data chunk")
	}
	frames := len(body) / f.align
	if frames == 0 {
		return nil, wavErr(bodyOff, "data chunk holds no complete sample frame (%d bytes, %d per frame)", len(body), f.align)
	}
	w := &WAV{Rate: f.rate, Channels: make([][]float32, f.channels), Truncated: truncated}
	for c := range w.Channels {
		w.Channels[c] = make([]float32, frames)
	}
	decodeSamples(w.Channels, body, f)
	return w, nil
}

func parseFmt(b []byte, off int64) (*wavFmt, error) {
	le := binary.LittleEndian
	if len(b) < 16 {
		return nil, wavErr(off, "fmt chunk is %d bytes, need at least 16", len(b))
	}
	f := &wavFmt{
		format:   le.Uint16(b[0:2]),
		channels: int(le.Uint16(b[2:4])),
		rate:     int(le.Uint32(b[4:8])),
		align:    int(le.Uint16(b[12:14])),
		bits:     int(le.Uint16(b[14:16])),
	}
	if f.format == wavExtensible {
		if len(b) < 40 {
			return nil, wavErr(off, "WAVE_FORMAT_EXTENSIBLE fmt chunk is %d bytes, need 40", len(b))
		}
		if string(b[26:40]) != ksdataformatSubtypeSuffix {
			return nil, wavErr(off+24, "WAVE_FORMAT_EXTENSIBLE sub-format GUID is not a standard KSDATAFORMAT_SUBTYPE")
		}
		f.format = le.Uint16(b[24:26])
	}
	switch {
	case f.format == wavPCM && (f.bits == 8 || f.bits == 16 || f.bits == 24 || f.bits == 32):
	case f.format == wavFloat && (f.bits == 32 || f.bits == 64):
	case f.format == wavPCM || f.format == wavFloat:
		return nil, wavErr(off+14, "%d-bit %s samples are not supported (PCM: 8, 16, 24, 32; float: 32, 64)", f.bits, fmtName(f.format))
	default:
		return nil, wavErr(off, "format code %#04x is not supported (only PCM 1 and IEEE float 3)", f.format)
	}
	if f.channels < 1 || f.channels > maxWAVChannels {
		return nil, wavErr(off+2, "%d channels is out of range 1..%d", f.channels, maxWAVChannels)
	}
	if f.rate < 1000 || f.rate > 768000 {
		return nil, wavErr(off+4, "sample rate %d Hz is out of range 1000..768000", f.rate)
	}
	if want := f.channels * f.bits / 8; f.align != want {
		return nil, wavErr(off+12, "block align is %d, want %d for %d channels of %d bits", f.align, want, f.channels, f.bits)
	}
	return f, nil
}

func fmtName(code uint16) string {
	if code == wavFloat {
		return "float"
	}
	return "PCM"
}

// decodeSamples converts interleaved little-endian samples into per-channel
// float32, full scale ±1.
func decodeSamples(dst [][]float32, body []byte, f *wavFmt) {
	le := binary.LittleEndian
	nc, bps := f.channels, f.bits/8
	frames := len(dst[0])
	for i := range frames {
		for c := range nc {
			p := body[(i*nc+c)*bps:]
			var v float32
			switch {
			case f.format == wavFloat && bps == 4:
				v = finite(float64(math.Float32frombits(le.Uint32(p))))
			case f.format == wavFloat:
				v = finite(math.Float64frombits(le.Uint64(p)))
			case bps == 1:
				v = float32(int(p[0])-128) / 128
			case bps == 2:
				v = float32(int16(le.Uint16(p))) / (1 << 15)
			case bps == 3:
				s := int32(uint32(p[0])<<8|uint32(p[1])<<16|uint32(p[2])<<24) >> 8
				v = float32(s) / (1 << 23)
			default:
				v = float32(float64(int32(le.Uint32(p))) / (1 << 31))
			}
			dst[c][i] = v
		}
	}
}

// finite returns v as float32, or 0 when it is NaN or does not fit.
func finite(v float64) float32 {
	f := float32(v)
	if math.IsNaN(v) || math.IsInf(float64(f), 0) {
		return 0
	}
	return f
}

// printable returns b as a string with non-printable bytes replaced, for
// error messages about a file's magic bytes.
func printable(b []byte) string {
	r := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		r[i] = c
	}
	return string(r)
}
