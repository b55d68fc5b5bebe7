// Package quality scores received audio against the audio that was sent:
// how much of a talker a listener still hears after a lossy network. Two
// scores, both Pearson correlations in -1..1 (1: the same):
//
//   - Envelope: the RMS envelope (20 ms windows, 10 ms hop). Gaps, bursts
//     of concealment and level pumping lower it; it is deaf to spectral
//     damage.
//   - LogMel: the log-mel spectrogram (25 ms Hann windows, 10 ms hop, 40
//     bands from 50 Hz to 8 kHz, in dB), over the frames where the sent
//     audio is active (within 50 dB of its loudest frame). Concealed and
//     smeared syllables lower it; it is deaf to a level change.
//
// Score finds the delay of the received audio first, then lines up each
// second on its own within ±20 ms of it (as speech-quality tools align
// each utterance): a sender that skipped a frame under load, or a receiver
// that slipped, shifts what follows by a few ms, which says nothing of how
// it sounds but would otherwise smear every later frame. Concealment of a
// loss shifts nothing, so the scores still see every loss. Everything here is offline analysis (a
// test's or a tool's), not the hot audio path: it allocates freely.
package quality

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/dsp"
)

// Scores are a received signal's correlations with the sent one.
type Scores struct {
	Envelope float64 `json:"envelope"`
	LogMel   float64 `json:"log_mel"`
	// Lag is the delay of the received signal, in samples.
	Lag int `json:"lag"`
}

// ErrTooShort is returned when the overlap of the two signals at the found
// delay holds less than a second.
var ErrTooShort = errors.New("quality: less than a second of overlap")

// Score aligns got to ref (got lags ref by 0..maxLag samples) and scores
// the overlap. Both are mono at rate.
func Score(ref, got []float32, rate audio.SampleRate, maxLag int) (Scores, error) {
	lag := Align(ref, got, rate, maxLag)
	n := min(len(ref), len(got)-lag)
	if n < int(rate) {
		return Scores{Lag: lag}, fmt.Errorf("%w (%d samples at lag %d)", ErrTooShort, max(n, 0), lag)
	}
	r, g := ref[:n], realign(ref[:n], got, lag, rate)
	lm, err := LogMel(r, g, rate)
	if err != nil {
		return Scores{Lag: lag}, err
	}
	return Scores{Envelope: Envelope(r, g, rate), LogMel: lm, Lag: lag}, nil
}

// realign returns len(ref) samples of got, each second of them taken at
// the lag within ±20 ms of lag that best lines it up with ref.
func realign(ref, got []float32, lag int, rate audio.SampleRate) []float32 {
	seg, slack := int(rate), rate.Samples(20*time.Millisecond)
	out := make([]float32, len(ref))
	for at := 0; at < len(ref); at += seg {
		end := min(at+seg, len(ref))
		lo := max(lag+at-slack, 0)
		hi := min(lag+at+slack+(end-at), len(got))
		best := lag
		if hi-lo >= end-at {
			best = lo + Align(ref[at:end], got[lo:hi], rate, min(2*slack, hi-lo-(end-at))) - at
		}
		copy(out[at:end], got[min(best+at, len(got)):min(best+end, len(got))])
	}
	return out
}

// alignWaveform returns the lag in lo..hi at which got best matches ref
// by cross-correlation.
func alignWaveform(ref, got []float32, lo, hi int) int {
	lag, bestX := lo, math.Inf(-1)
	for l := lo; l <= hi; l++ {
		n := min(len(ref), len(got)-l)
		if n <= 0 {
			break
		}
		var x float64
		for i := 0; i < n; i++ {
			x += float64(ref[i]) * float64(got[i+l])
		}
		if x > bestX {
			lag, bestX = l, x
		}
	}
	return lag
}

// Align returns the delay of got behind ref, 0..maxLag samples, that best
// lines up their envelopes (1 ms hop), refined to the sample by the
// waveforms' cross-correlation within ±1 ms.
func Align(ref, got []float32, rate audio.SampleRate, maxLag int) int {
	hop := rate.Samples(time.Millisecond)
	win := rate.Samples(10 * time.Millisecond)
	er, eg := envelope(ref, win, hop), envelope(got, win, hop)
	best, bestC := 0, math.Inf(-1)
	for l := 0; l*hop <= maxLag && l < len(eg); l++ {
		n := min(len(er), len(eg)-l)
		if n < 10 {
			break
		}
		if c := pearson(er[:n], eg[l:l+n]); c > bestC {
			best, bestC = l, c
		}
	}
	coarse := best * hop
	return alignWaveform(ref, got, max(0, coarse-hop), min(maxLag, coarse+hop))
}

// Envelope returns the Pearson correlation of the RMS envelopes of ref and
// got (same length, aligned): 20 ms windows, 10 ms hop.
func Envelope(ref, got []float32, rate audio.SampleRate) float64 {
	win, hop := rate.Samples(20*time.Millisecond), rate.Samples(10*time.Millisecond)
	return pearson(envelope(ref, win, hop), envelope(got, win, hop))
}

// Log-mel analysis: 25 ms Hann windows every 10 ms, 40 mel bands over
// 50 Hz..8 kHz (wideband speech), a floor 80 dB under full scale so
// digital silence has a finite log, frames where ref is within 50 dB of
// its loudest.
const (
	melBands   = 40
	melLo      = 50.0
	melHi      = 8000.0
	melFloorDB = -80.0
	activeDB   = 50.0
)

// LogMel returns the Pearson correlation of the log-mel spectrograms of ref
// and got (same length, aligned), over the frames where ref is active.
func LogMel(ref, got []float32, rate audio.SampleRate) (float64, error) {
	mr, err := logMel(ref, rate)
	if err != nil {
		return 0, err
	}
	mg, err := logMel(got, rate)
	if err != nil {
		return 0, err
	}
	frames := min(len(mr), len(mg))
	loud := math.Inf(-1)
	energy := make([]float64, frames)
	for i := 0; i < frames; i++ {
		var e float64
		for _, v := range mr[i] {
			e += math.Pow(10, v/10)
		}
		energy[i] = 10 * math.Log10(e)
		loud = max(loud, energy[i])
	}
	var x, y []float64
	for i := 0; i < frames; i++ {
		if energy[i] < loud-activeDB {
			continue
		}
		x = append(x, mr[i]...)
		y = append(y, mg[i]...)
	}
	return pearson(x, y), nil
}

// logMel returns one row of melBands log energies (dB) per frame.
func logMel(x []float32, rate audio.SampleRate) ([][]float64, error) {
	win, hop := rate.Samples(25*time.Millisecond), rate.Samples(10*time.Millisecond)
	size := 1
	for size < win {
		size <<= 1
	}
	fft, err := dsp.NewFFT(size)
	if err != nil {
		return nil, err
	}
	hann := make([]float32, win)
	for i := range hann {
		hann[i] = float32(0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(win)))
	}
	bank := melBank(size, float64(rate))
	re, im := make([]float32, size), make([]float32, size)
	power := make([]float64, size/2+1)
	var out [][]float64
	for at := 0; at+win <= len(x); at += hop {
		for i := range re {
			re[i], im[i] = 0, 0
		}
		for i := 0; i < win; i++ {
			re[i] = x[at+i] * hann[i]
		}
		fft.Transform(re, im)
		for k := range power {
			power[k] = float64(re[k])*float64(re[k]) + float64(im[k])*float64(im[k])
		}
		row := make([]float64, melBands)
		// Full scale: a unit sine through the window peaks at (win/4)².
		norm := float64(win) * float64(win) / 16
		for b, f := range bank {
			var e float64
			for k, w := range f.w {
				e += w * power[f.lo+k]
			}
			row[b] = max(10*math.Log10(e/norm+1e-30), melFloorDB)
		}
		out = append(out, row)
	}
	return out, nil
}

// band is one triangular mel filter: weights from FFT bin lo on.
type band struct {
	lo int
	w  []float64
}

func mel(f float64) float64    { return 2595 * math.Log10(1+f/700) }
func melInv(m float64) float64 { return 700 * (math.Pow(10, m/2595) - 1) }

// melBank returns melBands triangular filters, equally spaced on the mel
// scale from melLo to melHi, for an FFT of size points at rate.
func melBank(size int, rate float64) []band {
	lo, hi := mel(melLo), mel(min(melHi, rate/2))
	edges := make([]float64, melBands+2) // in FFT bins, fractional
	for i := range edges {
		edges[i] = melInv(lo+(hi-lo)*float64(i)/float64(melBands+1)) * float64(size) / rate
	}
	bank := make([]band, melBands)
	for b := range bank {
		l, c, r := edges[b], edges[b+1], edges[b+2]
		first := int(math.Ceil(l))
		var w []float64
		for k := first; float64(k) < r; k++ {
			var v float64
			if float64(k) <= c {
				v = (float64(k) - l) / (c - l)
			} else {
				v = (r - float64(k)) / (r - c)
			}
			w = append(w, max(v, 0))
		}
		if len(w) == 0 { // narrower than a bin: take the nearest one
			first, w = int(math.Round(c)), []float64{1}
		}
		bank[b] = band{lo: first, w: w}
	}
	return bank
}

// envelope returns the RMS of windows of win samples every hop.
func envelope(x []float32, win, hop int) []float64 {
	var out []float64
	for at := 0; at+win <= len(x); at += hop {
		var e float64
		for _, v := range x[at : at+win] {
			e += float64(v) * float64(v)
		}
		out = append(out, math.Sqrt(e/float64(win)))
	}
	return out
}

// pearson is the correlation coefficient of x and y (same length); 0 when
// either is constant.
func pearson(x, y []float64) float64 {
	n := min(len(x), len(y))
	if n == 0 {
		return 0
	}
	var mx, my float64
	for i := 0; i < n; i++ {
		mx += x[i]
		my += y[i]
	}
	mx /= float64(n)
	my /= float64(n)
	var sxy, sxx, syy float64
	for i := 0; i < n; i++ {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return 0
	}
	return sxy / math.Sqrt(sxx*syy)
}
