package wav

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
)

// Writer writes interleaved float32 samples as a WAV file of one Format.
// The header's sizes are placeholders until Close fills them in.
type Writer struct {
	ws     io.WriteSeeker
	w      *bufio.Writer
	f      Format
	frames int64
	out    []byte
	file   *os.File // set by Create: closed by Close
}

// NewWriter writes a header for f to ws and returns a Writer for its
// samples. Close does not close ws.
func NewWriter(ws io.WriteSeeker, f Format) (*Writer, error) {
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("wav: %w", err)
	}
	w := &Writer{ws: ws, w: bufio.NewWriterSize(ws, 64<<10), f: f, out: make([]byte, ReadChunk-ReadChunk%f.BlockAlign())}
	if _, err := w.w.Write(w.header(0)); err != nil {
		return nil, err
	}
	return w, nil
}

// Create creates the file at path and a Writer on it; Close closes it.
func Create(path string, f Format) (*Writer, error) {
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("wav: %w", err)
	}
	file, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w, err := NewWriter(file, f)
	if err != nil {
		file.Close()
		return nil, err
	}
	w.file = file
	return w, nil
}

// header is the RIFF/WAVE header for dataBytes of samples.
func (w *Writer) header(dataBytes uint32) []byte {
	le := binary.LittleEndian
	h := make([]byte, 44)
	copy(h[0:], "RIFF")
	le.PutUint32(h[4:], 36+dataBytes)
	copy(h[8:], "WAVEfmt ")
	le.PutUint32(h[16:], 16)
	le.PutUint16(h[20:], uint16(w.f.Encoding))
	le.PutUint16(h[22:], uint16(w.f.Channels))
	le.PutUint32(h[24:], uint32(w.f.Rate))
	le.PutUint32(h[28:], uint32(w.f.Rate*w.f.BlockAlign()))
	le.PutUint16(h[32:], uint16(w.f.BlockAlign()))
	le.PutUint16(h[34:], uint16(w.f.Bits))
	copy(h[36:], "data")
	le.PutUint32(h[40:], dataBytes)
	return h
}

// Format returns the format being written.
func (w *Writer) Format() Format { return w.f }

// Frames returns the frames written so far.
func (w *Writer) Frames() int64 { return w.frames }

// Write appends interleaved samples (whole frames), full scale ±1: integer
// encodings round and clip to their range. It does not allocate.
func (w *Writer) Write(pcm []float32) error {
	nc, bps := w.f.Channels, w.f.Bits/8
	if len(pcm)%nc != 0 {
		return fmt.Errorf("wav: %d samples are not whole frames of %d channels", len(pcm), nc)
	}
	per := len(w.out) / bps
	for len(pcm) > 0 {
		k := min(len(pcm), per)
		encode(w.out[:k*bps], pcm[:k], w.f)
		if _, err := w.w.Write(w.out[:k*bps]); err != nil {
			return err
		}
		pcm = pcm[k:]
		w.frames += int64(k / nc)
	}
	return nil
}

// encode converts samples to little-endian bytes of format f.
func encode(b []byte, x []float32, f Format) {
	le := binary.LittleEndian
	switch {
	case f.Encoding == Float && f.Bits == 32:
		for i, v := range x {
			le.PutUint32(b[4*i:], math.Float32bits(v))
		}
	case f.Encoding == Float:
		for i, v := range x {
			le.PutUint64(b[8*i:], math.Float64bits(float64(v)))
		}
	case f.Bits == 8:
		for i, v := range x {
			b[i] = byte(quantise(v, 7) + 128)
		}
	case f.Bits == 16:
		for i, v := range x {
			le.PutUint16(b[2*i:], uint16(quantise(v, 15)))
		}
	case f.Bits == 24:
		for i, v := range x {
			s := uint32(quantise(v, 23))
			b[3*i], b[3*i+1], b[3*i+2] = byte(s), byte(s>>8), byte(s>>16)
		}
	default:
		for i, v := range x {
			le.PutUint32(b[4*i:], uint32(quantise(v, 31)))
		}
	}
}

// quantise returns v·2^bits rounded and clipped to a signed integer of
// bits+1 bits (full scale +1 maps to the largest value, 2^bits - 1).
func quantise(v float32, bits int) int32 {
	top := math.Ldexp(1, bits)
	s := math.Round(float64(v) * top)
	if math.IsNaN(s) {
		return 0
	}
	return int32(max(-top, min(top-1, s)))
}

// Close flushes what is buffered, fills in the header's sizes and, for a
// Writer from Create, closes the file.
func (w *Writer) Close() error {
	err := w.w.Flush()
	if err == nil {
		data := uint64(w.frames) * uint64(w.f.BlockAlign())
		if data > math.MaxUint32-36 {
			err = fmt.Errorf("wav: %d bytes of samples do not fit a WAV header", data)
		} else if _, err = w.ws.Seek(0, io.SeekStart); err == nil {
			_, err = w.ws.Write(w.header(uint32(data)))
		}
	}
	if w.file != nil {
		if cerr := w.file.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// Encode returns a whole WAV file of format f holding the interleaved
// samples pcm: the in-memory counterpart of Parse, for small files and
// tests.
func Encode(f Format, pcm []float32) ([]byte, error) {
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("wav: %w", err)
	}
	if len(pcm)%f.Channels != 0 {
		return nil, fmt.Errorf("wav: %d samples are not whole frames of %d channels", len(pcm), f.Channels)
	}
	w := &Writer{f: f}
	b := w.header(uint32(len(pcm) * f.Bits / 8))
	body := make([]byte, len(pcm)*f.Bits/8)
	encode(body, pcm, f)
	return append(b, body...), nil
}
