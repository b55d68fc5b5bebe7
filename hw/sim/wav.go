package sim

import (
	"errors"
	"fmt"
	"io"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/wav"
)

// MaxTalker bounds the samples per channel a WAV talker keeps, at the
// file's rate and again at the board's: 2^22 samples (16 MiB of float32,
// 87 s at 48 kHz). A longer file loops its first part, so a board costs
// memory bounded by this, not by the file: a 256 MiB file needs no more
// than a short one (a Pi Zero 2 W has 512 MB).
const MaxTalker = 1 << 22

// talkerWAV is the part of a WAV file a talker plays, as read.
type talkerWAV struct {
	rate     int
	channels int       // in the file
	frames   int64     // in the file
	mono     []float32 // the played part mixed to mono
	// left and right are the file's first two channels, when asked for
	// and the file has two or more; else nil.
	left, right []float32
	truncated   bool
}

// loadTalker reads the part of the WAV file at path a board at rate plays
// (at most MaxTalker samples per channel at the file's rate and at rate),
// streaming it in chunks, with its mono mix and the mix's active RMS level.
// stereo keeps the first two channels too. A silent file is an error.
func loadTalker(path string, rate audio.SampleRate, stereo bool) (*talkerWAV, float64, error) {
	f, err := wav.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fm := f.Format()
	n := min(f.Frames(), MaxTalker, MaxTalker*int64(fm.Rate)/int64(max(rate, 1)))
	n = max(n, 1)
	t := &talkerWAV{rate: fm.Rate, channels: fm.Channels, frames: f.Frames(), mono: make([]float32, n), truncated: f.Truncated()}
	nc := fm.Channels
	if stereo && nc >= 2 {
		t.left, t.right = make([]float32, n), make([]float32, n)
	}
	buf := make([]float32, max(8192/nc, 1)*nc)
	for at := 0; at < int(n); {
		k, err := f.Read(buf[:min(len(buf), (int(n)-at)*nc)])
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF // the file shrank after its header was read
			}
			return nil, 0, fmt.Errorf("sim: wav file %q: %w", path, err)
		}
		for i := range k {
			fr := buf[i*nc : (i+1)*nc]
			var m float32
			for _, v := range fr {
				m += v / float32(nc)
			}
			t.mono[at+i] = m
			if t.left != nil {
				t.left[at+i], t.right[at+i] = fr[0], fr[1]
			}
		}
		at += k
	}
	active := activeRMS(t.mono, audio.SampleRate(fm.Rate))
	if active == 0 {
		return nil, 0, &wav.Error{File: path, Offset: -1, Reason: "is silent"}
	}
	return t, active, nil
}

// looped reports whether the talker plays only the first part of the file.
func (t *talkerWAV) looped() bool { return int64(len(t.mono)) < t.frames }

// CheckFile reads the WAV file a wav signal names, as a 48 kHz board will
// (its header, then at most MaxTalker samples per channel, in chunks), and
// says why it cannot be used (missing, not a WAV it can decode, silent).
// Other signals read no file: nil. c must be defaulted.
func (c Config) CheckFile() error {
	if c.Signal != SignalWAV {
		return nil
	}
	_, _, err := loadTalker(c.File, audio.Rate48k, false)
	return err
}
