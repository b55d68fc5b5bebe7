package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"time"
)

// wavWriter records what the listener hears as 16-bit PCM WAV at 48 kHz,
// mixing every track on one timeline: sample 0 is the moment the file was
// created, and each track starts where its first packet arrived. Samples
// are mixed in memory and written once they are older than the lag the
// caller flushes with, so late packets of one track still meet the others.
// It is safe for concurrent use.
type wavWriter struct {
	mu       sync.Mutex
	f        *os.File
	w        *bufio.Writer
	channels int
	origin   time.Time
	pending  []float32 // interleaved, starting at frame flushed
	flushed  int64     // frames written
	dropped  int64     // frames that came after their place was written
	out      []byte
}

const wavRate = 48000

// createWAV creates path with a header whose sizes Close fills in.
func createWAV(path string, channels int, origin time.Time) (*wavWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w := &wavWriter{f: f, w: bufio.NewWriterSize(f, 64<<10), channels: channels, origin: origin}
	if _, err := w.w.Write(wavHeader(channels, 0)); err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

// wavHeader is the RIFF/WAVE header of 16-bit PCM at 48 kHz with dataBytes
// of samples.
func wavHeader(channels int, dataBytes uint32) []byte {
	h := make([]byte, 44)
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], 36+dataBytes)
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1) // PCM
	binary.LittleEndian.PutUint16(h[22:], uint16(channels))
	binary.LittleEndian.PutUint32(h[24:], wavRate)
	binary.LittleEndian.PutUint32(h[28:], uint32(wavRate*2*channels))
	binary.LittleEndian.PutUint16(h[32:], uint16(2*channels))
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], dataBytes)
	return h
}

// position returns the timeline frame of wall time t.
func (w *wavWriter) position(t time.Time) int64 {
	return int64(t.Sub(w.origin)) * wavRate / int64(time.Second)
}

// add mixes interleaved pcm (w.channels per frame) in at frame at.
func (w *wavWriter) add(at int64, pcm []float32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if skip := w.flushed - at; skip > 0 {
		n := int64(len(pcm) / w.channels)
		w.dropped += min(skip, n)
		if skip >= n {
			return
		}
		pcm = pcm[skip*int64(w.channels):]
		at = w.flushed
	}
	start := int(at-w.flushed) * w.channels
	if need := start + len(pcm); need > len(w.pending) {
		w.pending = append(w.pending, make([]float32, need-len(w.pending))...)
	}
	for i, v := range pcm {
		w.pending[start+i] += v
	}
}

// flush writes every frame before upTo (frames missing from every track
// are silence).
func (w *wavWriter) flush(upTo int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked(upTo)
}

func (w *wavWriter) flushLocked(upTo int64) error {
	frames := upTo - w.flushed
	if frames <= 0 {
		return nil
	}
	n := int(frames) * w.channels
	if len(w.pending) < n {
		w.pending = append(w.pending, make([]float32, n-len(w.pending))...)
	}
	if cap(w.out) < 2*n {
		w.out = make([]byte, 2*n)
	}
	out := w.out[:2*n]
	for i, v := range w.pending[:n] {
		binary.LittleEndian.PutUint16(out[2*i:], uint16(toInt16(v)))
	}
	if _, err := w.w.Write(out); err != nil {
		return err
	}
	rest := copy(w.pending, w.pending[n:])
	w.pending = w.pending[:rest]
	w.flushed = upTo
	return nil
}

func toInt16(v float32) int16 {
	s := math.Round(float64(v) * 32767)
	return int16(max(-32768, min(32767, s)))
}

// close writes what is pending up to end, fills in the header and closes
// the file.
func (w *wavWriter) close(end int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	err := w.flushLocked(max(end, w.flushed+int64(len(w.pending)/w.channels)))
	if ferr := w.w.Flush(); err == nil {
		err = ferr
	}
	if err == nil {
		data := uint64(w.flushed) * uint64(2*w.channels)
		if data > math.MaxUint32-36 {
			err = fmt.Errorf("wav: %d bytes of samples do not fit a WAV header", data)
		} else if _, err = w.f.Seek(0, io.SeekStart); err == nil {
			_, err = w.f.Write(wavHeader(w.channels, uint32(data)))
		}
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}
