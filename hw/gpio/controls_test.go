package gpio

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"go.uber.org/goleak"
	"periph.io/x/conn/v3/conntest"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spitest"

	"github.com/onair-gateway/onair/conf"
)

func boardConfig() Config {
	return Config{
		Buttons: []ButtonConfig{{Name: "ptt", Pin: "GPIO17"}},
		LEDs:    []LEDConfig{{Pin: "GPIO27", Role: RoleOnAir}, {Pin: "GPIO22", Role: RoleTally}},
		Ring:    &RingConfig{SPI: "SPI0.1", LEDs: 12, PowerPin: "GPIO5"},
	}
}

// TestNewControlsMissingPins: every missing pin is reported at once, by
// config path, before any output is touched.
func TestNewControlsMissingPins(t *testing.T) {
	present := &gpiotest.Pin{N: "GPIO27", L: gpio.High}
	hw := Hardware{
		Pin: func(n string) (gpio.PinIO, error) {
			if n == "GPIO27" {
				return present, nil
			}
			return nil, ErrNoPin
		},
		SPI: func(string) (spi.PortCloser, error) { t.Fatal("SPI opened despite missing pins"); return nil, nil },
	}
	_, err := NewControls(boardConfig(), hw, clockwork.NewFakeClockAt(epoch()), discard())
	if err == nil {
		t.Fatal("NewControls succeeded with missing pins")
	}
	var paths []string
	for _, e := range conf.Flatten(err) {
		var fe *conf.FieldError
		if !errors.As(e, &fe) || !errors.Is(e, ErrNoPin) {
			t.Errorf("%v is not a FieldError wrapping ErrNoPin", e)
			continue
		}
		paths = append(paths, fe.Path)
	}
	if got, want := strings.Join(paths, " "), "buttons[0].pin leds[1].pin ring.power_pin"; got != want {
		t.Errorf("paths %q, want %q (error: %v)", got, want, err)
	}
	if present.Read() != gpio.High {
		t.Error("an output was written although the config could not be opened")
	}
}

func TestNewControlsInvalidConfig(t *testing.T) {
	cfg := boardConfig()
	cfg.LEDs[1].Pin = "GPIO17" // also the button's
	_, err := NewControls(cfg, Hardware{}, clockwork.NewFakeClockAt(epoch()), discard())
	if err == nil || !strings.Contains(err.Error(), "leds[1].pin: GPIO17 is already used by buttons[0].pin") {
		t.Errorf("NewControls = %v", err)
	}
}

// TestControls opens a whole board on fakes: a button press comes through,
// Indicators drives both the LEDs and the ring, Close leaves everything
// dark and unpowered with no goroutine left.
func TestControls(t *testing.T) {
	clk := clockwork.NewFakeClockAt(epoch())
	pins := map[string]*gpiotest.Pin{}
	for _, n := range []string{"GPIO17", "GPIO27", "GPIO22", "GPIO5"} {
		pins[n] = &gpiotest.Pin{N: n, EdgesChan: make(chan gpio.Level), Clock: clk}
	}
	red := all12(rgb{77})
	port := &spitest.Playback{Playback: conntest.Playback{DontPanic: true, Ops: []conntest.IO{
		{W: apa102Stream(all12(rgb{})...)}, // open
		{W: apa102Stream(red...)},          // on air
		{W: apa102Stream(all12(rgb{})...)}, // close
	}}}
	cfg := boardConfig()
	c, err := NewControls(cfg, Hardware{
		Pin: func(n string) (gpio.PinIO, error) { return pins[n], nil },
		SPI: func(n string) (spi.PortCloser, error) {
			if n != "SPI0.1" {
				return nil, errors.New("no such port")
			}
			return port, nil
		},
	}, clk, discard())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Buttons[0].Debounce != 0 {
		t.Error("NewControls filled defaults into the caller's config")
	}

	r := &buttonRig{t: t, clk: clk, pins: map[string]*gpiotest.Pin{"GPIO17": pins["GPIO17"]}, b: c.Buttons}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- c.Buttons.Run(ctx) }()
	r.set("GPIO17", gpio.Low)
	r.advance(20 * time.Millisecond)
	if got := r.events(); len(got) != 1 || got[0].Kind != Press || got[0].Name != "ptt" {
		t.Fatalf("events %v, want a ptt press", got)
	}
	must(t, r.stop())

	must(t, c.Indicators.SetOnAir(true))
	if pins["GPIO27"].Read() != gpio.High || pins["GPIO22"].Read() != gpio.High {
		t.Error("on air: onair LED or tally not lit")
	}
	if pins["GPIO5"].Read() != gpio.High {
		t.Error("ring power not on")
	}
	must(t, c.Close())
	for _, n := range []string{"GPIO27", "GPIO22", "GPIO5"} {
		if pins[n].Read() != gpio.Low {
			t.Errorf("%s still high after Close", n)
		}
	}
	goleak.VerifyNone(t)
}

func TestRingConfigAzimuthOffset(t *testing.T) {
	for _, v := range []float64{-361, 361} {
		c := Config{Ring: &RingConfig{SPI: "SPI0.0", LEDs: 3, AzimuthOffset: v}}
		c.SetDefaults()
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "ring.azimuth_offset") {
			t.Errorf("azimuth_offset %v: %v", v, err)
		}
	}
	c := Config{Ring: &RingConfig{SPI: "SPI0.0", LEDs: 3, AzimuthOffset: -135, Clockwise: true}}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
}
