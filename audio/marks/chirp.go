package marks

import (
	"math"
	"time"

	"github.com/onair-gateway/onair/audio"
)

// The mark's shape and timing.
const (
	// Period is the time between two marks: one per whole Unix second.
	Period = time.Second
	// Length is how long one mark lasts.
	Length = 100 * time.Millisecond
	// StartHz and EndHz bound the sweep: inside narrowband Opus (4 kHz)
	// and above mains hum.
	StartHz = 300.0
	EndHz   = 3800.0
	// fade is the raised-cosine ramp at each end, against clicks.
	fade = 5 * time.Millisecond
)

// Chirp returns one mark at rate: an exponential sweep from StartHz to
// EndHz lasting Length, peak amplitude 1. Scale it to the level wanted. It
// allocates a new slice; call it once at construction.
func Chirp(rate audio.SampleRate) []float32 {
	n := rate.Samples(Length)
	out := make([]float32, n)
	if n == 0 {
		return out
	}
	T := Length.Seconds()
	k := math.Log(EndHz / StartHz)
	nf := rate.Samples(fade)
	for i := range out {
		t := float64(i) / float64(rate)
		// Phase of an exponential sweep: 2π·f0·T/k·(e^(k·t/T) − 1).
		phase := 2 * math.Pi * StartHz * T / k * (math.Exp(k*t/T) - 1)
		g := 1.0
		if i < nf {
			g = 0.5 - 0.5*math.Cos(math.Pi*float64(i)/float64(nf))
		} else if j := n - 1 - i; j < nf {
			g = 0.5 - 0.5*math.Cos(math.Pi*float64(j)/float64(nf))
		}
		out[i] = float32(g * math.Sin(phase))
	}
	return out
}

// Offset returns where sample pos of a sender stream falls within its mark
// period, given that sample 0 was captured at a whole second: the mark
// occupies offsets [0, len(Chirp(rate))).
func Offset(pos int64, rate audio.SampleRate) int {
	p := int64(rate.Samples(Period))
	r := pos % p
	if r < 0 {
		r += p
	}
	return int(r)
}

// Start returns the first whole Unix second after now: where a sender that
// starts at now puts its sample 0.
func Start(now time.Time) time.Time {
	return now.Truncate(Period).Add(Period)
}

// Latency returns how far heard is past the whole Unix second before it:
// the mouth-to-ear delay of a mark heard at heard, when it is shorter than
// Period.
func Latency(heard time.Time) time.Duration {
	return heard.Sub(heard.Truncate(Period))
}
