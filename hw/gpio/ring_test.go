package gpio

import (
	"errors"
	"image/color"
	"math"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"go.uber.org/goleak"
	"periph.io/x/conn/v3/conntest"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/spi/spitest"
)

// rgb is one pixel as drawn: red, green, blue.
type rgb [3]byte

// apa102Stream is the byte stream the APA102 datasheet defines for pixels,
// written out by hand:
//   - start frame: 32 bits of 0;
//   - one 32-bit LED frame per pixel: 0b111 then the 5-bit global
//     brightness (31 here, as the Ring always sends full global brightness
//     and dims with the colour channels), then blue, green, red;
//   - end frame: 1-bits to push the data through the chain, which delays it
//     half a clock per pixel, so at least n/2 extra clocks; periph sends
//     n/2/8+1 bytes of 0xFF.
func apa102Stream(px ...rgb) []byte {
	b := []byte{0x00, 0x00, 0x00, 0x00}
	for _, p := range px {
		b = append(b, 0xE0|31, p[2], p[1], p[0])
	}
	for range len(px)/2/8 + 1 {
		b = append(b, 0xFF)
	}
	return b
}

// ring12 returns 12 dark pixels with the given ones set.
func ring12(set map[int]rgb) []rgb {
	px := make([]rgb, 12)
	for i, c := range set {
		px[i] = c
	}
	return px
}

func all12(c rgb) []rgb {
	px := make([]rgb, 12)
	for i := range px {
		px[i] = c
	}
	return px
}

type ringRig struct {
	clk   *clockwork.FakeClock
	port  *spitest.Playback
	power *gpiotest.Pin
	r     *Ring
}

// newRingRig makes a 12-pixel ReSpeaker-style ring that expects exactly
// frames, in order, on its SPI port.
func newRingRig(t *testing.T, cfg RingConfig, frames ...[]rgb) *ringRig {
	t.Helper()
	ops := make([]conntest.IO, len(frames))
	for i, f := range frames {
		ops[i] = conntest.IO{W: apa102Stream(f...)}
	}
	rig := &ringRig{
		clk:   clockwork.NewFakeClockAt(epoch()),
		port:  &spitest.Playback{Playback: conntest.Playback{Ops: ops, DontPanic: true}},
		power: &gpiotest.Pin{N: "GPIO5"},
	}
	r, err := NewRing(cfg, rig.port, rig.power, rig.clk, discard())
	if err != nil {
		t.Fatal(err)
	}
	rig.r = r
	return rig
}

func respeaker(brightness int) RingConfig {
	return RingConfig{SPI: "SPI0.1", LEDs: 12, PowerPin: "GPIO5", Brightness: brightness}
}

// TestRingFrames checks the bytes on the wire for all off, a solid colour
// and one red pixel pointing at a direction, and that Close clears the
// ring and powers it down.
func TestRingFrames(t *testing.T) {
	// Brightness 30 %: 255 → (255·30+50)/100 = 77; 128 → 38; 64 → 19.
	const full, half, quarter = 77, 38, 19
	rig := newRingRig(t, respeaker(30),
		all12(rgb{}),                    // NewRing: all off
		all12(rgb{quarter, half, full}), // Show solid (64, 128, 255)
		ring12(map[int]rgb{3: {full}}),  // Show point at 90°: pixel 3 of 12 (30° each)
		ring12(map[int]rgb{11: {full}}), // point at -30°
		all12(rgb{}),                    // Close: all off
	)
	if rig.power.Read() != gpio.High {
		t.Fatal("power pin not driven high by NewRing")
	}
	must(t, rig.r.Show(RingPattern{Kind: RingSolid, Color: color.RGBA{R: 64, G: 128, B: 255}}))
	must(t, rig.r.Show(RingPattern{Kind: RingPoint, Color: color.RGBA{R: 255}, Azimuth: math.Pi / 2}))
	// The same frame again is not re-sent.
	must(t, rig.r.Show(RingPattern{Kind: RingPoint, Color: color.RGBA{R: 255}, Azimuth: math.Pi/2 + 0.1}))
	must(t, rig.r.Show(RingPattern{Kind: RingPoint, Color: color.RGBA{R: 255}, Azimuth: -math.Pi / 6}))
	must(t, rig.r.Close()) // Playback.Close fails unless every frame was sent
	if rig.power.Read() != gpio.Low {
		t.Error("power pin not driven low by Close")
	}
	goleak.VerifyNone(t)
	if err := rig.r.Show(RingPattern{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Show after Close = %v, want ErrClosed", err)
	}
	must(t, rig.r.Close())
}

// TestRingFrameMismatch: a frame other than the expected one is an error
// from Show, so TestRingFrames really compares bytes.
func TestRingFrameMismatch(t *testing.T) {
	rig := newRingRig(t, respeaker(30), all12(rgb{}), all12(rgb{77, 0, 0}))
	err := rig.r.Show(RingPattern{Kind: RingSolid, Color: color.RGBA{G: 255}})
	if err == nil {
		t.Fatal("Show sent green where red was expected, without error")
	}
	if err := rig.r.Close(); err == nil {
		t.Error("Close sent its frame to a spent playback without error")
	}
}

// TestRingAnimations follows the spinning and flashing patterns frame by
// frame as the fake clock advances.
func TestRingAnimations(t *testing.T) {
	const full, quarter = 77, 19 // 255 and 255/4=63 at 30 %
	blue := func(i int) rgb { return rgb{0, 0, byte(i)} }
	white := rgb{full, full, full}
	rig := newRingRig(t, respeaker(30),
		all12(rgb{}),
		ring12(map[int]rgb{0: blue(full), 11: blue(quarter)}), // joining at 0
		ring12(map[int]rgb{1: blue(full), 0: blue(quarter)}),  // 100 ms: one pixel on (1.2 s / 12)
		ring12(map[int]rgb{3: blue(full), 2: blue(quarter)}),  // 350 ms
		all12(white), // identify at 350 ms: flash on
		all12(rgb{}), // 600 ms: off
		all12(white), // 850 ms: on
		all12(rgb{}), // Close
	)
	advance := func(d time.Duration) { rig.clk.Advance(d); settle(t, rig.clk) }
	must(t, rig.r.SetStatus(StatusJoining))
	advance(99 * ms) // nothing new yet
	advance(1 * ms)
	advance(250 * ms) // two steps at once: the frame for now, not the missed one
	// Not live, so a direction changes nothing: the spin keeps its phase
	// and no frame is sent.
	must(t, rig.r.SetDirection(1, true))
	must(t, rig.r.SetStatus(StatusIdentify))
	advance(250 * ms)
	advance(250 * ms)
	must(t, rig.r.Close())
}

// TestRingIndicator: the Indicator mapping, frame by frame.
func TestRingIndicator(t *testing.T) {
	const red, dimRed = 77, 14 // 255 and 48 at 30 %
	glow := rgb{0, 14, 7}      // (0, 48, 24) at 30 %
	muted := rgb{19, 5, 0}     // (64, 16, 0) at 30 %
	rig := newRingRig(t, respeaker(30),
		all12(rgb{}),
		all12(glow),             // live
		all12(rgb{red}),         // live, on air
		pointAt(6, red, dimRed), // talker at 180°
		all12(muted),            // muted
		all12(rgb{}),            // Close
	)
	must(t, rig.r.SetStatus(StatusLive))
	must(t, rig.r.SetOnAir(true))
	must(t, rig.r.SetDirection(math.Pi, true))
	must(t, rig.r.SetMuted(true))
	must(t, rig.r.SetDirection(0, true)) // not live: no change, nothing sent
	must(t, rig.r.Close())
}

func pointAt(i int, c, base byte) []rgb {
	px := all12(rgb{base})
	px[i] = rgb{c}
	return px
}

func TestRingIndex(t *testing.T) {
	deg := math.Pi / 180
	cases := []struct {
		az        float64
		n         int
		offset    float64
		clockwise bool
		want      int
	}{
		{0, 12, 0, false, 0},
		{90 * deg, 12, 0, false, 3},
		{180 * deg, 12, 0, false, 6},
		{-90 * deg, 12, 0, false, 9},
		{270 * deg, 12, 0, false, 9},
		{14.9 * deg, 12, 0, false, 0},
		{15 * deg, 12, 0, false, 1}, // exactly between 0 and 1: the next one
		{345.1 * deg, 12, 0, false, 0},
		{344.9 * deg, 12, 0, false, 11},
		{720 * deg, 12, 0, false, 0},
		{90 * deg, 12, 90, false, 0},
		{0, 12, 90, false, 9},
		{90 * deg, 12, 0, true, 9},
		{30 * deg, 12, -30, true, 10},
		{120 * deg, 3, 0, false, 1},
		{-120 * deg, 3, 0, false, 2},
		{math.NaN(), 12, 0, false, 0},
		{math.Inf(1), 12, 0, false, 0},
	}
	for _, c := range cases {
		if got := RingIndex(c.az, c.n, c.offset, c.clockwise); got != c.want {
			t.Errorf("RingIndex(%.1f°, %d, %v, %v) = %d, want %d", c.az/deg, c.n, c.offset, c.clockwise, got, c.want)
		}
	}
}

func TestRingDrawAllocs(t *testing.T) {
	cfg := respeaker(30)
	dst := make([]byte, 36)
	p := RingPattern{Kind: RingSpin, Color: color.RGBA{B: 255}}
	if n := testing.AllocsPerRun(100, func() { cfg.draw(dst, p, 250*ms) }); n != 0 {
		t.Errorf("draw allocates %v times", n)
	}
}

func BenchmarkRingDraw(b *testing.B) {
	cfg := respeaker(30)
	dst := make([]byte, 36)
	p := RingPattern{Kind: RingPoint, Color: color.RGBA{R: 255}, Base: color.RGBA{R: 48}, Azimuth: 1}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p.Azimuth = float64(i%628) / 100
		cfg.draw(dst, p, 0)
	}
}

func TestNewRingFailures(t *testing.T) {
	clk := clockwork.NewFakeClockAt(epoch())
	// Nothing scripted: the first frame fails; the power pin goes back low
	// and the port is closed.
	port := &spitest.Playback{Playback: conntest.Playback{DontPanic: true}}
	power := &gpiotest.Pin{N: "GPIO5"}
	if _, err := NewRing(respeaker(30), port, power, clk, discard()); err == nil {
		t.Fatal("NewRing succeeded though the first frame failed")
	}
	if power.Read() != gpio.Low {
		t.Error("power left high after a failed NewRing")
	}
	if _, err := NewRing(RingConfig{SPI: "SPI0.1", LEDs: 0}, &spitest.Playback{}, nil, clk, discard()); err == nil {
		t.Error("NewRing accepted 0 pixels")
	}
}
