package wav

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/onair-gateway/onair/conf"
)

// ErrBad is wrapped by every *Error, so callers can test for any WAV
// problem with errors.Is.
var ErrBad = errors.New("bad wav")

// Error says what is wrong with a WAV file and where.
type Error struct {
	// File is the path given to Open ("" for a Reader on other input).
	File string
	// Offset is the byte offset of the problem, or -1 when it concerns the
	// whole file.
	Offset int64
	// Reason says what is wrong, in words.
	Reason string
}

// Error implements error.
func (e *Error) Error() string {
	s := "wav"
	if e.File != "" {
		s += fmt.Sprintf(" file %q", e.File)
	}
	s += ": " + e.Reason
	if e.Offset >= 0 {
		s += fmt.Sprintf(" (at byte %d)", e.Offset)
	}
	return s
}

// Unwrap returns ErrBad.
func (e *Error) Unwrap() error { return ErrBad }

func errAt(off int64, format string, args ...any) error {
	return &Error{Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// Encoding is a WAVE format code (Microsoft WAVEFORMATEX wFormatTag).
type Encoding uint16

// The encodings this package reads and writes.
const (
	// PCM is integer PCM: 8-bit unsigned, 16/24/32-bit signed.
	PCM Encoding = 1
	// Float is IEEE float, 32 or 64 bits.
	Float Encoding = 3
	// extensible is WAVE_FORMAT_EXTENSIBLE, whose sub-format GUID holds
	// one of the above.
	extensible Encoding = 0xFFFE
)

// MaxChannels bounds the channel count a header may claim.
const MaxChannels = 64

// ksSubtypeSuffix is the tail shared by the KSDATAFORMAT_SUBTYPE GUIDs of
// WAVE_FORMAT_EXTENSIBLE; the first two bytes hold the format code.
const ksSubtypeSuffix = "\x00\x00\x00\x00\x10\x00\x80\x00\x00\xAA\x00\x38\x9B\x71"

// Format is the sample format of a file.
type Format struct {
	// Encoding is PCM or Float.
	Encoding Encoding
	// Channels is the number of interleaved channels, 1..MaxChannels.
	Channels int
	// Rate is the sampling rate in Hz, 1000..768000.
	Rate int
	// Bits is the sample width: 8, 16, 24 or 32 for PCM, 32 or 64 for
	// Float.
	Bits int
}

// BlockAlign returns the bytes of one frame (a sample of every channel).
func (f Format) BlockAlign() int { return f.Channels * f.Bits / 8 }

// Validate says why f cannot be read or written, or nil.
func (f Format) Validate() error {
	if err := f.validateEncoding(); err != nil {
		return err
	}
	if f.Channels < 1 || f.Channels > MaxChannels {
		return fmt.Errorf("%d channels is out of range 1..%d", f.Channels, MaxChannels)
	}
	if f.Rate < 1000 || f.Rate > 768000 {
		return fmt.Errorf("sample rate %d Hz is out of range 1000..768000", f.Rate)
	}
	return nil
}

func (f Format) validateEncoding() error {
	switch {
	case f.Encoding == PCM && (f.Bits == 8 || f.Bits == 16 || f.Bits == 24 || f.Bits == 32):
	case f.Encoding == Float && (f.Bits == 32 || f.Bits == 64):
	case f.Encoding == PCM || f.Encoding == Float:
		return fmt.Errorf("%d-bit %s samples are not supported (PCM: 8, 16, 24, 32; float: 32, 64)", f.Bits, f.Encoding)
	default:
		return fmt.Errorf("format code %#04x is not supported (only PCM 1 and IEEE float 3)", uint16(f.Encoding))
	}
	return nil
}

// String names the encoding.
func (e Encoding) String() string {
	if e == Float {
		return "float"
	}
	return "PCM"
}

// ReadChunk is the size of a Reader's conversion buffer: the most bytes of
// samples it holds at once, whatever the file's size.
const ReadChunk = 32 << 10

// Reader converts the samples of one WAV file to float32, in chunks.
type Reader struct {
	r         io.ReadSeeker
	f         Format
	dataOff   int64 // byte offset of the first sample
	frames    int64 // whole frames in the data chunk
	pos       int64 // frames read
	truncated bool
	buf       []byte
}

// NewReader parses the header of the WAV file r holds and positions it on
// the first sample. Chunks other than "fmt " and "data" are skipped. A data
// chunk that claims more bytes than remain is cut to what is there and
// Truncated reports it (streaming writers such as `espeak-ng --stdout`
// leave a placeholder size); any other inconsistency is an error. Every
// error about the content is a *Error.
func NewReader(r io.ReadSeeker) (*Reader, error) {
	size, err := r.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, err
	}
	h := &header{r: r, size: size}
	rd, err := h.parse()
	if err != nil {
		return nil, err
	}
	rd.r = r
	rd.buf = make([]byte, ReadChunk-ReadChunk%rd.f.BlockAlign())
	if err := rd.SeekFrame(0); err != nil {
		return nil, err
	}
	return rd, nil
}

// header reads chunk headers at given offsets.
type header struct {
	r    io.ReadSeeker
	size int64
	tmp  [40]byte
}

// at reads n ≤ 40 bytes at off.
func (h *header) at(off int64, n int) ([]byte, error) {
	if _, err := h.r.Seek(off, io.SeekStart); err != nil {
		return nil, err
	}
	b := h.tmp[:n]
	if _, err := io.ReadFull(h.r, b); err != nil {
		return nil, err
	}
	return b, nil
}

func (h *header) parse() (*Reader, error) {
	le := binary.LittleEndian
	if h.size < 12 {
		return nil, errAt(-1, "file is %d bytes, too short for a RIFF header (12)", h.size)
	}
	b, err := h.at(0, 12)
	if err != nil {
		return nil, err
	}
	switch string(b[0:4]) {
	case "RIFF":
	case "RF64":
		return nil, errAt(0, "RF64 (64-bit RIFF) is not supported")
	case "RIFX":
		return nil, errAt(0, "big-endian RIFX is not supported")
	default:
		return nil, errAt(0, "not a RIFF file (starts with %q)", printable(b[0:4]))
	}
	if string(b[8:12]) != "WAVE" {
		return nil, errAt(8, "RIFF form is %q, not WAVE", printable(b[8:12]))
	}
	var (
		f       *Format
		rd      = &Reader{dataOff: -1}
		bodyLen int64
	)
	for off := int64(12); off+8 <= h.size; {
		b, err := h.at(off, 8)
		if err != nil {
			return nil, err
		}
		id := string(b[0:4])
		size := int64(le.Uint32(b[4:8]))
		start := off + 8
		remain := h.size - start
		if id == "data" {
			if rd.dataOff >= 0 {
				return nil, errAt(off, "second data chunk")
			}
			if size > remain {
				size, rd.truncated = remain, true
			}
			rd.dataOff, bodyLen = start, size
		} else {
			if size > remain {
				return nil, errAt(off, "chunk %q claims %d bytes but only %d remain", printable(b[0:4]), size, remain)
			}
			if id == "fmt " {
				if f != nil {
					return nil, errAt(off, "second fmt chunk")
				}
				body, err := h.at(start, int(min(size, 40)))
				if err != nil {
					return nil, err
				}
				if f, err = parseFmt(body, size, start); err != nil {
					return nil, err
				}
			}
		}
		// Chunks are padded to an even size.
		off = start + size + size&1
	}
	if f == nil {
		return nil, errAt(-1, `no "fmt " chunk`)
	}
	if rd.dataOff < 0 {
		return nil, errAt(-1, "no data chunk")
	}
	rd.f = *f
	rd.frames = bodyLen / int64(f.BlockAlign())
	if rd.frames == 0 {
		return nil, errAt(rd.dataOff, "data chunk holds no complete sample frame (%d bytes, %d per frame)", bodyLen, f.BlockAlign())
	}
	return rd, nil
}

// parseFmt reads a fmt chunk of size bytes at off whose first bytes (up to
// 40) are b.
func parseFmt(b []byte, size, off int64) (*Format, error) {
	le := binary.LittleEndian
	if size < 16 {
		return nil, errAt(off, "fmt chunk is %d bytes, need at least 16", size)
	}
	f := &Format{
		Encoding: Encoding(le.Uint16(b[0:2])),
		Channels: int(le.Uint16(b[2:4])),
		Rate:     int(le.Uint32(b[4:8])),
		Bits:     int(le.Uint16(b[14:16])),
	}
	align := int(le.Uint16(b[12:14]))
	if f.Encoding == extensible {
		if size < 40 {
			return nil, errAt(off, "WAVE_FORMAT_EXTENSIBLE fmt chunk is %d bytes, need 40", size)
		}
		if string(b[26:40]) != ksSubtypeSuffix {
			return nil, errAt(off+24, "WAVE_FORMAT_EXTENSIBLE sub-format GUID is not a standard KSDATAFORMAT_SUBTYPE")
		}
		f.Encoding = Encoding(le.Uint16(b[24:26]))
	}
	// Each problem points at its field.
	if err := f.validateEncoding(); err != nil {
		at := off + 14
		if f.Encoding != PCM && f.Encoding != Float {
			at = off
		}
		return nil, errAt(at, "%v", err)
	}
	if f.Channels < 1 || f.Channels > MaxChannels {
		return nil, errAt(off+2, "%d channels is out of range 1..%d", f.Channels, MaxChannels)
	}
	if err := f.Validate(); err != nil {
		return nil, errAt(off+4, "%v", err)
	}
	if want := f.BlockAlign(); align != want {
		return nil, errAt(off+12, "block align is %d, want %d for %d channels of %d bits", align, want, f.Channels, f.Bits)
	}
	return f, nil
}

// Format returns the file's sample format.
func (r *Reader) Format() Format { return r.f }

// Frames returns the number of whole frames in the file.
func (r *Reader) Frames() int64 { return r.frames }

// Truncated reports that the data chunk claimed more bytes than the file
// holds; the whole frames present are read.
func (r *Reader) Truncated() bool { return r.truncated }

// SeekFrame positions the reader on frame i (0 ≤ i ≤ Frames), for a loop or a
// second pass.
func (r *Reader) SeekFrame(i int64) error {
	if i < 0 || i > r.frames {
		return fmt.Errorf("wav: seek to frame %d of %d", i, r.frames)
	}
	if _, err := r.r.Seek(r.dataOff+i*int64(r.f.BlockAlign()), io.SeekStart); err != nil {
		return err
	}
	r.pos = i
	return nil
}

// Read converts the next frames into dst, interleaved (Channels samples per
// frame), at most len(dst)/Channels frames and at most a ReadChunk of bytes
// per call. It returns the frames read, and io.EOF once none is left. Float
// samples that are NaN, infinite or beyond float32 become 0. A file that
// ends before its header said is an io.ErrUnexpectedEOF. It does not
// allocate.
func (r *Reader) Read(dst []float32) (int, error) {
	nc := r.f.Channels
	align := r.f.BlockAlign()
	n := min(int64(len(dst)/nc), r.frames-r.pos, int64(len(r.buf)/align))
	if n <= 0 {
		if r.pos >= r.frames {
			return 0, io.EOF
		}
		return 0, nil
	}
	b := r.buf[:int(n)*align]
	if _, err := io.ReadFull(r.r, b); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, err
	}
	decode(dst[:int(n)*nc], b, r.f)
	r.pos += n
	return int(n), nil
}

// decode converts interleaved little-endian samples to float32, full scale
// ±1.
func decode(dst []float32, b []byte, f Format) {
	le := binary.LittleEndian
	switch {
	case f.Encoding == Float && f.Bits == 32:
		for i := range dst {
			dst[i] = finite(float64(math.Float32frombits(le.Uint32(b[4*i:]))))
		}
	case f.Encoding == Float:
		for i := range dst {
			dst[i] = finite(math.Float64frombits(le.Uint64(b[8*i:])))
		}
	case f.Bits == 8:
		for i := range dst {
			dst[i] = float32(int(b[i])-128) / 128
		}
	case f.Bits == 16:
		for i := range dst {
			dst[i] = float32(int16(le.Uint16(b[2*i:]))) / (1 << 15)
		}
	case f.Bits == 24:
		for i := range dst {
			p := b[3*i:]
			s := int32(uint32(p[0])<<8|uint32(p[1])<<16|uint32(p[2])<<24) >> 8
			dst[i] = float32(s) / (1 << 23)
		}
	default:
		for i := range dst {
			dst[i] = float32(float64(int32(le.Uint32(b[4*i:]))) / (1 << 31))
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

// File is a Reader on a file it opened.
type File struct {
	*Reader
	f *os.File
}

// Open opens the WAV file at path and parses its header (see NewReader). A
// directory, device or FIFO is refused before it is opened (a device reads
// forever, a FIFO blocks); a missing file gives the os error. Errors about
// the content are a *Error naming the file.
func Open(path string) (*File, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &Error{File: path, Offset: -1, Reason: "is " + conf.FileKind(fi.Mode()) + ", not a regular file"}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := NewReader(f)
	if err != nil {
		f.Close()
		var we *Error
		if errors.As(err, &we) {
			we.File = path
			return nil, err
		}
		return nil, fmt.Errorf("wav file %q: %w", path, err)
	}
	return &File{Reader: r, f: f}, nil
}

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

// Audio is a whole decoded file: one float32 slice per channel.
type Audio struct {
	// Rate is the sampling rate in Hz.
	Rate int
	// Channels holds the samples of each channel; all have the same length.
	Channels [][]float32
	// Truncated is Reader.Truncated.
	Truncated bool
}

// Len returns the number of samples per channel.
func (a *Audio) Len() int {
	if len(a.Channels) == 0 {
		return 0
	}
	return len(a.Channels[0])
}

// Parse decodes a whole WAV file held in data (see NewReader). It holds
// every sample in memory: for small files and tests; stream large ones with
// a Reader.
func Parse(data []byte) (*Audio, error) {
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	nc := r.f.Channels
	a := &Audio{Rate: r.f.Rate, Channels: make([][]float32, nc), Truncated: r.truncated}
	for c := range a.Channels {
		a.Channels[c] = make([]float32, r.frames)
	}
	buf := make([]float32, 4096*nc)
	at := 0
	for {
		n, err := r.Read(buf)
		for i := range n {
			for c := range nc {
				a.Channels[c][at+i] = buf[i*nc+c]
			}
		}
		at += n
		if errors.Is(err, io.EOF) {
			return a, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
