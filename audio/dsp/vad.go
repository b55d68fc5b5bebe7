package dsp

import (
	"math"
	"time"

	"github.com/onair-gateway/onair/audio"
)

// Voice activity detection by minimum statistics: the background level is
// the lowest the (lightly smoothed) level has been in the last
// vadSegs·vadSeg (3 s), which follows a rising noise within that time and a
// falling one at once, while speech never holds a level that long without
// a pause. A frame is active when it is vadMarginDB above that floor and
// above an absolute threshold.
const (
	vadSegs     = 6
	vadSeg      = 500 * time.Millisecond
	vadMarginDB = 9.0
	vadHang     = 150 * time.Millisecond
	// vadSmooth is the time constant of the level, in dB, whose minimum
	// is the floor: one odd quiet frame moves it a little, while a pause of
	// a few tens of milliseconds between words reaches the background.
	// vadWarmup is how long the floor ignores the level at start, while
	// filters settle.
	vadSmooth = 20 * time.Millisecond
	vadWarmup = 50 * time.Millisecond
)

// vad is a voice activity detector fed with the mean square of each frame.
// It belongs to the goroutine that calls Process.
type vad struct {
	absMin   float64 // mean square below which nothing is voice
	margin   float64 // power ratio over the floor
	segLen   int
	segFill  int
	segMin   float64
	mins     [vadSegs]float64
	nmins    int
	idx      int
	hang     int
	hangLeft int
	tau      float64 // vadSmooth in samples
	smoothDB float64 // smoothed level in dB
	seen     int     // samples seen
	warmup   int
	active   bool // the last frame was voice
	voice    bool // active, or was within the hangover
}

// newVAD builds a detector for rate whose absolute threshold is absDBFS
// (the RMS level below which nothing counts as voice).
func newVAD(rate audio.SampleRate, absDBFS float64) vad {
	a := FromDB(absDBFS)
	return vad{
		absMin: a * a,
		margin: math.Pow(10, vadMarginDB/10),
		segLen: rate.Samples(vadSeg),
		segMin: math.Inf(1),
		hang:   rate.Samples(vadHang),
		tau:    vadSmooth.Seconds() * float64(rate),
		warmup: rate.Samples(vadWarmup),
	}
}

// floor returns the tracked background mean square (+Inf before the first
// frame).
func (v *vad) floor() float64 {
	f := v.segMin
	for _, m := range v.mins[:v.nmins] {
		f = math.Min(f, m)
	}
	return f
}

// update classifies a frame of n samples per channel whose mean square is
// ms, and returns whether it is voice (without hangover).
func (v *vad) update(ms float64, n int) bool {
	if math.IsNaN(ms) {
		ms = 0
	}
	v.active = ms > v.absMin && ms > v.floor()*v.margin
	db := 10 * math.Log10(ms+1e-20)
	if v.seen == 0 {
		v.smoothDB = db
	} else {
		v.smoothDB += (1 - math.Exp(-float64(n)/v.tau)) * (db - v.smoothDB)
	}
	v.seen += n
	if v.seen > v.warmup {
		v.segMin = math.Min(v.segMin, math.Pow(10, v.smoothDB/10))
		v.segFill += n
		if v.segFill >= v.segLen {
			v.mins[v.idx] = v.segMin
			v.idx = (v.idx + 1) % vadSegs
			v.nmins = min(v.nmins+1, vadSegs)
			v.segMin, v.segFill = math.Inf(1), 0
		}
	}
	switch {
	case v.active:
		v.hangLeft = v.hang
		v.voice = true
	case v.hangLeft > 0:
		v.hangLeft -= n
		v.voice = true
	default:
		v.voice = false
	}
	return v.active
}
