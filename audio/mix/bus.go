package mix

import (
	"fmt"
	"math"
	"time"
)

// Ceiling is the highest peak a Bus lets out: -1 dBFS, so that a
// device's reconstruction filter has room and nothing reaches full scale.
const Ceiling = 0.891

// releaseDBPerSecond is how fast a Bus's gain recovers after a loud
// moment: 20 dB/s, slow enough not to pump on syllables.
const releaseDBPerSecond = 20

// Bus mixes the frames of several talkers into one frame for a playback
// device, driven by its clock: Add each talker's frame, then Mix writes
// their sum times the volume, under a gain that keeps every peak at or
// below Ceiling. The gain drops at once for the frame that needs it (the
// whole frame is seen before it is written: a frame of look-ahead) and
// recovers at 20 dB/s, so several people talking at once never clip and
// one alone plays at the volume set.
//
// A Bus is not safe for concurrent use and does not allocate after NewBus.
type Bus struct {
	acc     []float32
	volume  float32
	gain    float32
	release float32 // gain factor per frame of recovery
	stats   BusStats
}

// BusStats are a Bus's counters.
type BusStats struct {
	// Frames counts frames mixed; Limited those the gain held under 1.
	Frames  int64 `json:"frames"`
	Limited int64 `json:"limited"`
	// Gain is the limiter's gain on the last frame (1: none).
	Gain float64 `json:"gain"`
}

// NewBus returns a Bus for frames of samples interleaved values lasting
// frame each, at volumeDB (-60..+20 dB).
func NewBus(samples int, frame time.Duration, volumeDB float64) (*Bus, error) {
	if samples < 1 || frame <= 0 {
		return nil, fmt.Errorf("%w: bus of %d samples per %v frame", ErrConfig, samples, frame)
	}
	if volumeDB < -60 || volumeDB > 20 || math.IsNaN(volumeDB) {
		return nil, fmt.Errorf("%w: volume %v dB out of range -60..20", ErrConfig, volumeDB)
	}
	return &Bus{
		acc:     make([]float32, samples),
		volume:  float32(math.Pow(10, volumeDB/20)),
		gain:    1,
		release: float32(math.Pow(10, releaseDBPerSecond*frame.Seconds()/20)),
	}, nil
}

// Add sums src, one talker's frame, into the frame being mixed. src must
// have the Bus's length.
func (b *Bus) Add(src []float32) {
	for i, v := range src[:len(b.acc)] {
		b.acc[i] += v
	}
}

// Mix writes the frame of everything added since the last Mix into dst
// (the Bus's length), at the volume, limited to Ceiling, and starts the
// next frame.
func (b *Bus) Mix(dst []float32) {
	var peak float32
	for i, v := range b.acc {
		if v != v { // NaN: nothing to hear
			b.acc[i], v = 0, 0
		}
		peak = max(peak, v, -v)
	}
	peak *= b.volume
	prev := b.gain
	g := min(prev*b.release, 1)
	if peak*g > Ceiling {
		g = Ceiling / peak
	}
	b.gain = g
	b.stats.Frames++
	if g < 1 {
		b.stats.Limited++
	}
	b.stats.Gain = float64(g)
	if g <= prev {
		// Down at once: the whole frame under the new gain.
		k := g * b.volume
		for i, v := range b.acc {
			dst[i] = v * k
		}
	} else {
		// Up gently, across the frame.
		n := float32(len(b.acc))
		for i, v := range b.acc {
			dst[i] = v * b.volume * (prev + (g-prev)*float32(i+1)/n)
		}
	}
	clear(b.acc)
}

// Stats returns the counters.
func (b *Bus) Stats() BusStats { return b.stats }
