package gpio

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/devices/v3/apa102"
)

// RingKind is what a ring pattern draws.
type RingKind uint8

// Ring pattern kinds.
const (
	// RingOff: every pixel dark (the zero value).
	RingOff RingKind = iota
	// RingSolid: every pixel Color.
	RingSolid
	// RingSpin: one pixel of Color going round once per 1.2 s in
	// increasing pixel order, the pixel behind it at a quarter.
	RingSpin
	// RingFlash: every pixel Color for 250 ms, dark for 250 ms.
	RingFlash
	// RingPoint: the pixel nearest Azimuth in Color, the others Base.
	RingPoint
)

// Ring timings.
const (
	spinTurn  = 1200 * time.Millisecond // RingSpin: one turn
	flashHalf = 250 * time.Millisecond  // RingFlash: on, then off
)

// RingPattern is what the ring shows. Colours are at full scale; the ring's
// brightness scales them, and their alpha is ignored.
type RingPattern struct {
	Kind  RingKind
	Color color.RGBA
	// Base colours the pixels RingPoint does not point with.
	Base color.RGBA
	// Azimuth is RingPoint's direction in radians, in the frame of
	// audio.Geometry (see RingIndex).
	Azimuth float64
}

// Ring is an APA102 pixel ring on SPI, as on the ReSpeaker arrays (12
// pixels) and 2-mic HAT (3 pixels). Frames go through periph's apa102
// driver with colour-temperature correction and the global 5-bit PWM off,
// so each pixel is sent as 0xFF (0xE0 | global brightness 31) then blue,
// green, red exactly as drawn; brightness scales the 8-bit channels. Its
// one goroutine animates spinning and flashing patterns on the injected
// clock and sends a frame only when it differs from the last one sent.
//
// *Ring implements Indicator and DirectionIndicator; Show overrides the
// mapping until the next Indicator call.
type Ring struct {
	log    *slog.Logger
	cfg    RingConfig
	port   spi.PortCloser
	power  gpio.PinOut
	dev    *apa102.Dev
	anim   *animator
	closed sync.Once

	// Owned by the animator goroutine (and by Close after it stops).
	pat     RingPattern
	start   time.Time
	state   indicatorState
	frame   []byte // R, G, B per pixel: what should show
	sent    []byte // what was last sent successfully
	sentOK  bool
	failing bool
}

// NewRing drives power high (when not nil: GPIO5 on the ReSpeaker 4-mic
// array), connects the ring on port, sends an all-dark frame, and starts
// the ring's goroutine on clock. The Ring owns port and power: Close sends
// a dark frame, drives power low and closes port, also when NewRing fails.
// cfg gets defaults filled on a copy and is validated.
func NewRing(cfg RingConfig, port spi.PortCloser, power gpio.PinOut, clock clockwork.Clock, log *slog.Logger) (*Ring, error) {
	c := Config{Ring: &cfg}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		return nil, errors.Join(err, port.Close())
	}
	r := &Ring{
		log:   log.With("component", "hw.gpio.ring"),
		cfg:   cfg,
		port:  port,
		power: power,
		frame: make([]byte, 3*cfg.LEDs),
		sent:  make([]byte, 3*cfg.LEDs),
	}
	// On failure release what was taken: power low, port closed.
	cleanup := func(err error) (*Ring, error) {
		if power != nil {
			err = errors.Join(err, power.Out(gpio.Low))
		}
		return nil, errors.Join(err, port.Close())
	}
	if power != nil {
		if err := power.Out(gpio.High); err != nil {
			return cleanup(&PinError{Name: "ring power", Pin: cfg.PowerPin, Op: "drive high", Err: err})
		}
	}
	dev, err := apa102.New(port, &apa102.Opts{
		NumPixels:        cfg.LEDs,
		Intensity:        255,                // brightness is applied by draw
		Temperature:      apa102.NeutralTemp, // colours as given
		DisableGlobalPWM: true,               // 8-bit channels only: no 580 Hz flicker
	})
	if err != nil {
		return cleanup(fmt.Errorf("gpio: ring on %s: connect: %w", cfg.SPI, err))
	}
	r.dev = dev
	if err := r.send(); err != nil {
		return cleanup(err)
	}
	r.anim = newAnimator(clock, r.render)
	return r, nil
}

// Show draws p from now until the next Show or Indicator call.
func (r *Ring) Show(p RingPattern) error {
	if p.Kind > RingPoint {
		return fmt.Errorf("gpio: ring pattern kind %d is not defined", p.Kind)
	}
	return r.anim.do(func(now time.Time) error {
		r.pat, r.start = p, now
		return nil
	})
}

// Close stops the animation, sends an all-dark frame, drives the power pin
// low and closes the SPI port. Closing again does nothing; other methods
// return ErrClosed afterwards.
func (r *Ring) Close() error {
	var err error
	r.closed.Do(func() { err = r.close() })
	return err
}

func (r *Ring) close() error {
	r.anim.stop()
	r.pat = RingPattern{}
	clear(r.frame)
	r.sentOK = false
	err := r.send()
	if r.power != nil {
		err = errors.Join(err, r.power.Out(gpio.Low))
	}
	return errors.Join(err, r.port.Close())
}

// SetOnAir implements Indicator: red while the mic is live.
func (r *Ring) SetOnAir(on bool) error {
	return r.update(func(s *indicatorState) { s.onAir = on })
}

// SetMuted implements Indicator: a dim amber while muted.
func (r *Ring) SetMuted(muted bool) error {
	return r.update(func(s *indicatorState) { s.muted = muted })
}

// SetStatus implements Indicator: idle dark, joining a blue spin, live a dim
// green glow, degraded an amber spin, error flashing red, identify flashing
// white, confirm-forget flashing amber.
func (r *Ring) SetStatus(st Status) error {
	return r.update(func(s *indicatorState) { s.status = st })
}

// SetDirection implements DirectionIndicator: while the mic is live the
// ring is a dim red with the pixel nearest azimuth bright red.
func (r *Ring) SetDirection(azimuth float64, known bool) error {
	if math.IsNaN(azimuth) || math.IsInf(azimuth, 0) {
		known = false
	}
	return r.update(func(s *indicatorState) { s.azimuth, s.dirKnown = azimuth, known })
}

func (r *Ring) update(f func(*indicatorState)) error {
	return r.anim.do(func(now time.Time) error {
		f(&r.state)
		if p := ringLook(r.state); p != r.pat {
			r.pat, r.start = p, now
		}
		return nil
	})
}

// ringLook is the ring pattern for an indicator state (colours at full
// scale).
func ringLook(s indicatorState) RingPattern {
	var (
		red   = color.RGBA{R: 255}
		amber = color.RGBA{R: 255, G: 96}
	)
	switch {
	case s.status == StatusIdentify:
		return RingPattern{Kind: RingFlash, Color: color.RGBA{R: 255, G: 255, B: 255}}
	case s.status == StatusConfirmForget:
		return RingPattern{Kind: RingFlash, Color: amber}
	case s.status == StatusError:
		return RingPattern{Kind: RingFlash, Color: red}
	case s.live() && s.dirKnown:
		return RingPattern{Kind: RingPoint, Color: red, Base: color.RGBA{R: 48}, Azimuth: s.azimuth}
	case s.live():
		return RingPattern{Kind: RingSolid, Color: red}
	case s.muted:
		return RingPattern{Kind: RingSolid, Color: color.RGBA{R: 64, G: 16}}
	case s.status == StatusJoining:
		return RingPattern{Kind: RingSpin, Color: color.RGBA{B: 255}}
	case s.status == StatusDegraded:
		return RingPattern{Kind: RingSpin, Color: amber}
	case s.status == StatusLive:
		return RingPattern{Kind: RingSolid, Color: color.RGBA{G: 48, B: 24}} // the "live" dim glow
	}
	return RingPattern{}
}

// render draws the pattern at now and sends it if it changed. It runs in
// the animator goroutine.
func (r *Ring) render(now time.Time) (time.Time, error) {
	var next time.Time
	if d := r.cfg.draw(r.frame, r.pat, now.Sub(r.start)); d > 0 {
		next = now.Add(d)
	}
	return next, r.send()
}

// send writes frame to the ring unless it is what was last sent.
func (r *Ring) send() error {
	if r.sentOK && bytes.Equal(r.frame, r.sent) {
		return nil
	}
	_, err := r.dev.Write(r.frame)
	if err != nil {
		r.sentOK = false
		if !r.failing {
			r.failing = true
			r.log.Warn("ring write failed", "spi", r.cfg.SPI, "err", err)
		}
		return fmt.Errorf("gpio: ring on %s: write: %w", r.cfg.SPI, err)
	}
	if r.failing {
		r.failing = false
		r.log.Info("ring write recovered", "spi", r.cfg.SPI)
	}
	copy(r.sent, r.frame)
	r.sentOK = true
	return nil
}

// draw fills dst (3 bytes per pixel, R G B) with p as it looks elapsed
// after it started, at the ring's brightness, and returns how long until
// that changes (0: never). It does not allocate.
func (c RingConfig) draw(dst []byte, p RingPattern, elapsed time.Duration) time.Duration {
	n := len(dst) / 3
	elapsed = max(elapsed, 0)
	set := func(i int, col color.RGBA) {
		dst[3*i] = scale(col.R, c.Brightness)
		dst[3*i+1] = scale(col.G, c.Brightness)
		dst[3*i+2] = scale(col.B, c.Brightness)
	}
	fill := func(col color.RGBA) {
		for i := range n {
			set(i, col)
		}
	}
	switch p.Kind {
	case RingSolid:
		fill(p.Color)
	case RingSpin:
		step := spinTurn / time.Duration(n)
		k := elapsed / step
		head := int(k % time.Duration(n))
		fill(color.RGBA{})
		if n > 1 {
			set((head+n-1)%n, color.RGBA{R: p.Color.R / 4, G: p.Color.G / 4, B: p.Color.B / 4})
		}
		set(head, p.Color)
		return (k+1)*step - elapsed
	case RingFlash:
		k := elapsed / flashHalf
		if k%2 == 0 {
			fill(p.Color)
		} else {
			fill(color.RGBA{})
		}
		return (k+1)*flashHalf - elapsed
	case RingPoint:
		fill(p.Base)
		set(RingIndex(p.Azimuth, n, c.AzimuthOffset, c.Clockwise), p.Color)
	default:
		fill(color.RGBA{})
	}
	return 0
}

// scale applies a 0..100 % brightness to an 8-bit channel, rounding.
func scale(v uint8, pct int) uint8 {
	return uint8((int(v)*pct + 50) / 100)
}

// RingIndex returns the pixel of an n-pixel ring nearest azimuth (radians,
// audio.Geometry's frame: 0 along mic 0, counter-clockwise seen from above).
//
// Pixel i sits at offsetDeg + i·360°/n degrees, counting counter-clockwise,
// or clockwise when clockwise is set. On the ReSpeaker 4-mic and 6-mic
// arrays the 12 pixels are 30° apart, and Seeed's pixel_ring code lights
// pixel int((d+15)/30) mod 12 for a direction of d degrees, i.e. pixel i is
// centred on i·30° of Seeed's DOA frame. How that frame lines up with mic 0
// differs between boards and mountings: set ring.azimuth_offset and
// ring.clockwise once by placing a talker at mic 0 and at mic 1.
//
// A direction exactly between two pixels goes to the next one
// counter-clockwise in pixel order. NaN or infinite azimuths give pixel 0.
func RingIndex(azimuth float64, n int, offsetDeg float64, clockwise bool) int {
	if n <= 0 || math.IsNaN(azimuth) || math.IsInf(azimuth, 0) {
		return 0
	}
	rel := azimuth - offsetDeg*math.Pi/180
	if clockwise {
		rel = -rel
	}
	k := math.Floor(rel/(2*math.Pi/float64(n)) + 0.5)
	i := int(math.Mod(k, float64(n)))
	if i < 0 {
		i += n
	}
	return i
}

var (
	_ Indicator          = (*Ring)(nil)
	_ DirectionIndicator = (*Ring)(nil)
)
