package gpio_test

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"time"

	"github.com/jonboulle/clockwork"
	periphgpio "periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/spi/spitest"

	"github.com/onair-gateway/onair/hw/gpio"
)

// Open the real board's controls, show the state, and react to buttons
// until interrupted. Needs /dev/gpiochip* and /dev/spidev* access.
func ExampleOpen() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg := gpio.Config{
		Buttons: []gpio.ButtonConfig{{Name: "ptt", Pin: "GPIO17", Mode: gpio.ModePTT}},
		LEDs:    []gpio.LEDConfig{{Pin: "GPIO27", Role: gpio.RoleOnAir}},
		Ring:    &gpio.RingConfig{SPI: "SPI0.1", LEDs: 12, PowerPin: "GPIO5"},
	}
	c, err := gpio.Open(cfg, clockwork.NewRealClock(), log)
	if err != nil {
		fmt.Println(err) // e.g. "buttons[0].pin: GPIO17: no such pin"
		return
	}
	defer c.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		for e := range c.Buttons.Events() {
			switch e.Kind {
			case gpio.Press:
				_ = c.Indicators.SetOnAir(true)
			case gpio.Release:
				_ = c.Indicators.SetOnAir(false)
			}
		}
	}()
	_ = c.Indicators.SetStatus(gpio.StatusLive)
	if err := c.Buttons.Run(ctx); err != nil {
		fmt.Println(err)
	}
}

// Buttons on a fake pin and a fake clock, as in tests.
func ExampleNewButtons() {
	clock := clockwork.NewFakeClockAt(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	pin := &gpiotest.Pin{N: "GPIO17", EdgesChan: make(chan periphgpio.Level), Clock: clock}
	pins := func(string) (periphgpio.PinIO, error) { return pin, nil }
	b, err := gpio.NewButtons([]gpio.ButtonConfig{{Name: "ptt", Pin: "GPIO17"}}, pins, clock, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- b.Run(ctx) }()

	// Active low by default: pressing pulls the pin low. The second,
	// unchanged level returns once the first was handled.
	pin.EdgesChan <- periphgpio.Low
	pin.EdgesChan <- periphgpio.Low
	// Let the debounce time (20 ms) pass. The fake clock moves a
	// millisecond at a time until the press arrives: a single 20 ms step
	// taken before the button goroutine has armed its timer would leave
	// that timer in the future forever.
	var ev gpio.ButtonEvent
	for got := false; !got; {
		select {
		case ev = <-b.Events():
			got = true
		case <-time.After(time.Millisecond):
			clock.Advance(time.Millisecond)
		}
	}
	fmt.Println(ev)

	// Stop: gpiotest's Halt cannot end a pending WaitForEdge, an unchanged
	// level can.
	cancel()
	for {
		select {
		case err := <-done:
			fmt.Println("run:", err)
			return
		case pin.EdgesChan <- pin.Read():
		}
	}
	// Output:
	// ptt press at 09:00:00.000
	// run: <nil>
}

// The gateway's view: LEDs follow the state through their roles.
func ExampleLEDs_SetOnAir() {
	pins := map[string]*gpiotest.Pin{"GPIO27": {N: "GPIO27"}, "GPIO22": {N: "GPIO22"}, "GPIO23": {N: "GPIO23"}}
	leds, err := gpio.NewLEDs([]gpio.LEDConfig{
		{Pin: "GPIO27", Role: gpio.RoleOnAir},
		{Pin: "GPIO22", Role: gpio.RoleTally},
		{Pin: "GPIO23", Role: gpio.RoleMute},
	}, func(n string) (periphgpio.PinIO, error) { return pins[n], nil }, clockwork.NewRealClock(), slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer leds.Close()
	show := func() {
		fmt.Println("onair", pins["GPIO27"].Read(), "tally", pins["GPIO22"].Read(), "mute", pins["GPIO23"].Read())
	}
	_ = leds.SetOnAir(true)
	show()
	_ = leds.SetMuted(true)
	show()
	// Output:
	// onair High tally High mute Low
	// onair Low tally Low mute High
}

// A ring pointing at the talker; the frame is what goes on the SPI bus.
func ExampleRing_Show() {
	port := &spitest.Record{} // records writes; no real port behind it
	ring, err := gpio.NewRing(gpio.RingConfig{SPI: "SPI0.0", LEDs: 3, Brightness: 100}, port, nil, clockwork.NewRealClock(), slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ring.Close()
	if err := ring.Show(gpio.RingPattern{Kind: gpio.RingPoint, Color: color.RGBA{R: 255}, Azimuth: 2 * math.Pi / 3}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("% x\n", port.Ops[len(port.Ops)-1].W)
	// Output:
	// 00 00 00 00 ff 00 00 00 ff 00 00 ff ff 00 00 00 ff
}

func ExampleRingIndex() {
	for _, deg := range []float64{0, 44, 46, 90, 180, 270} {
		fmt.Printf("%3.0f° → pixel %d\n", deg, gpio.RingIndex(deg*math.Pi/180, 12, 0, false))
	}
	// Output:
	//   0° → pixel 0
	//  44° → pixel 1
	//  46° → pixel 2
	//  90° → pixel 3
	// 180° → pixel 6
	// 270° → pixel 9
}

func ExamplePinError() {
	err := error(&gpio.PinError{Name: "ptt", Pin: "GPIO17", Op: "wait for edge", Err: gpio.ErrPinFailed})
	fmt.Println(err, errors.Is(err, gpio.ErrPinFailed))
	// Output: gpio: ptt on GPIO17: wait for edge: pin stopped responding true
}
