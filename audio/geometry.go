package audio

import (
	"errors"
	"math"

	"github.com/onair-gateway/onair/conf"
)

// SpeedOfSound in air at 20 °C, in metres per second.
const SpeedOfSound = 343.0

// ArrayShape is the layout of a microphone array.
type ArrayShape string

// Array shapes.
const (
	// ShapeLinear places mics on the x axis, Spacing apart, centred on 0.
	ShapeLinear ArrayShape = "linear"
	// ShapeCircular places mics evenly on a circle of Radius, mic 0 at
	// azimuth 0 and the others counter-clockwise.
	ShapeCircular ArrayShape = "circular"
)

// Geometry describes where the microphones of an array sit. Positions are in
// metres in the array's plane; azimuth 0 points along +x and grows
// counter-clockwise.
type Geometry struct {
	// Shape is linear or circular. Default: linear.
	Shape ArrayShape `yaml:"shape" json:"shape"`
	// Mics is the number of microphones. Default: the capture channel count.
	Mics int `yaml:"mics" json:"mics"`
	// Spacing between neighbouring mics of a linear array, in metres.
	// Default: 0.058 (ReSpeaker 2-mic HAT).
	Spacing float64 `yaml:"spacing" json:"spacing"`
	// Radius of a circular array, in metres. Default: 0.0463 (ReSpeaker
	// 6-mic); the 4-mic array is 0.0325.
	Radius float64 `yaml:"radius" json:"radius"`
}

// Validate reports every problem with g, each naming its field.
func (g Geometry) Validate() error {
	var errs []error
	switch g.Shape {
	case ShapeLinear:
		if g.Mics > 1 && !(g.Spacing > 0 && g.Spacing <= 1) { // NaN fails too
			errs = append(errs, conf.Errorf("spacing", "%v m is out of range (0, 1]", g.Spacing))
		}
	case ShapeCircular:
		if !(g.Radius > 0 && g.Radius <= 1) { // NaN fails too
			errs = append(errs, conf.Errorf("radius", "%v m is out of range (0, 1]", g.Radius))
		}
		if g.Mics < 3 {
			errs = append(errs, conf.Errorf("mics", "a circular array needs at least 3 mics, got %d", g.Mics))
		}
	default:
		errs = append(errs, conf.Errorf("shape", "%q is not linear or circular", g.Shape))
	}
	if g.Mics < 1 || g.Mics > 8 {
		errs = append(errs, conf.Errorf("mics", "%d is out of range 1..8", g.Mics))
	}
	return errors.Join(errs...)
}

// Positions returns the (x, y) position of each mic in metres. It allocates
// and is meant for construction time.
func (g Geometry) Positions() [][2]float64 {
	p := make([][2]float64, g.Mics)
	switch g.Shape {
	case ShapeCircular:
		for i := range p {
			a := 2 * math.Pi * float64(i) / float64(g.Mics)
			p[i] = [2]float64{g.Radius * math.Cos(a), g.Radius * math.Sin(a)}
		}
	default:
		mid := float64(g.Mics-1) / 2
		for i := range p {
			p[i] = [2]float64{(float64(i) - mid) * g.Spacing, 0}
		}
	}
	return p
}

// Delays returns, for a far-field plane wave arriving from azimuth az
// (radians), each mic's arrival time relative to the array centre, in
// seconds. A negative value means the wave reaches that mic before the centre.
// It allocates and is meant for construction time or for rendering.
func (g Geometry) Delays(az float64) []float64 {
	pos := g.Positions()
	d := make([]float64, len(pos))
	ux, uy := math.Cos(az), math.Sin(az)
	for i, p := range pos {
		d[i] = -(p[0]*ux + p[1]*uy) / SpeedOfSound
	}
	return d
}
