package gpio

import (
	"errors"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"go.uber.org/goleak"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/physic"
)

type ledRig struct {
	clk  *clockwork.FakeClock
	pins map[string]*gpiotest.Pin
	g    *LEDs
}

// newLEDRig makes an LED group over gpiotest pins. wrap, when set, wraps
// each pin (e.g. to take PWM away).
func newLEDRig(t *testing.T, cfgs []LEDConfig, wrap func(*gpiotest.Pin) gpio.PinIO) *ledRig {
	t.Helper()
	r := &ledRig{clk: clockwork.NewFakeClockAt(epoch()), pins: map[string]*gpiotest.Pin{}}
	for _, c := range cfgs {
		// Start lit, so that NewLEDs darkening them is visible.
		r.pins[c.Pin] = &gpiotest.Pin{N: c.Pin, L: gpio.Level(!c.ActiveLow)}
	}
	g, err := NewLEDs(cfgs, func(name string) (gpio.PinIO, error) {
		p, ok := r.pins[name]
		if !ok {
			return nil, ErrNoPin
		}
		if wrap != nil {
			return wrap(p), nil
		}
		return p, nil
	}, r.clk, discard())
	if err != nil {
		t.Fatal(err)
	}
	r.g = g
	t.Cleanup(func() {
		if err := g.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

// lit reports whether the LED on pin shows light, from the pin's level.
func (r *ledRig) lit(pin string, activeLow bool) bool {
	return bool(r.pins[pin].Read()) != activeLow
}

func TestLEDOnOff(t *testing.T) {
	for _, activeLow := range []bool{false, true} {
		r := newLEDRig(t, []LEDConfig{{Pin: "GPIO27", Role: RoleOnAir, ActiveLow: activeLow}}, nil)
		if r.lit("GPIO27", activeLow) {
			t.Fatalf("activeLow=%v: lit after NewLEDs, want dark", activeLow)
		}
		led := r.g.ByName("onair")
		steps := []struct {
			do   func() error
			want bool
		}{
			{led.On, true},
			{led.Off, false},
			{func() error { return led.Set(true) }, true},
			{func() error { return led.Set(false) }, false},
		}
		for i, s := range steps {
			if err := s.do(); err != nil {
				t.Fatal(err)
			}
			if got := r.lit("GPIO27", activeLow); got != s.want {
				t.Errorf("activeLow=%v step %d: lit=%v, want %v (pin %v)", activeLow, i, got, s.want, r.pins["GPIO27"].Read())
			}
		}
	}
}

// TestLEDPatterns walks each pattern over two periods on the fake clock and
// checks the pin just before and at every step boundary. The boundaries come
// from the pattern's documented timings.
func TestLEDPatterns(t *testing.T) {
	type at struct {
		t  time.Duration
		on bool
	}
	// Each table is one period starting at 0: (time, level from then on).
	cases := []struct {
		name   string
		p      Pattern
		period time.Duration
		edges  []at
	}{
		{"slow blink", SlowBlink(), time.Second, []at{{0, true}, {500 * ms, false}}},
		{"fast blink", FastBlink(), 250 * ms, []at{{0, true}, {125 * ms, false}}},
		{"heartbeat", Heartbeat(), 1200 * ms, []at{{0, true}, {100 * ms, false}, {250 * ms, true}, {350 * ms, false}}},
		{"identify: 3 blinks", Blinks(3), 1900 * ms, []at{{0, true}, {150 * ms, false}, {300 * ms, true}, {450 * ms, false}, {600 * ms, true}, {750 * ms, false}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Period(); got != tc.period {
				t.Fatalf("period %v, want %v", got, tc.period)
			}
			r := newLEDRig(t, []LEDConfig{{Pin: "GPIO22", Role: RoleStatus}}, nil)
			if err := r.g.ByName("status").Blink(tc.p); err != nil {
				t.Fatal(err)
			}
			now := time.Duration(0)
			to := func(t2 time.Duration) {
				r.clk.Advance(t2 - now)
				now = t2
				settle(t, r.clk)
			}
			for cycle := range 2 {
				base := time.Duration(cycle) * tc.period
				for i, e := range tc.edges {
					if base+e.t > 0 {
						to(base + e.t - ms)
						prev := tc.edges[(i+len(tc.edges)-1)%len(tc.edges)].on
						if got := r.lit("GPIO22", false); got != prev {
							t.Errorf("at %v: lit=%v, want %v", now, got, prev)
						}
					}
					to(base + e.t)
					if got := r.lit("GPIO22", false); got != e.on {
						t.Errorf("at %v: lit=%v, want %v", now, got, e.on)
					}
				}
			}
		})
	}
}

func TestLEDBlinkRejectsBadPattern(t *testing.T) {
	r := newLEDRig(t, []LEDConfig{{Pin: "GPIO22", Role: RoleStatus}}, nil)
	for _, p := range []Pattern{{}, {Steps: []Step{{true, 0}}}, {Steps: []Step{{true, ms}, {false, -ms}}}} {
		if err := r.g.ByName("status").Blink(p); !errors.Is(err, ErrBadPattern) {
			t.Errorf("Blink(%v) = %v, want ErrBadPattern", p, err)
		}
	}
}

// TestLEDBrightness: below 100 % a lit LED is PWM at that duty (inverted
// when active-low); without PWM on the pin it falls back to on/off.
func TestLEDBrightness(t *testing.T) {
	for _, activeLow := range []bool{false, true} {
		r := newLEDRig(t, []LEDConfig{{Pin: "GPIO18", Role: RoleOnAir, Brightness: 30, ActiveLow: activeLow}}, nil)
		if err := r.g.ByName("onair").On(); err != nil {
			t.Fatal(err)
		}
		p := r.pins["GPIO18"]
		want := gpio.DutyMax * 30 / 100
		if activeLow {
			want = gpio.DutyMax - want
		}
		if p.D != want || p.F != 500*physic.Hertz {
			t.Errorf("activeLow=%v: PWM(%v, %v), want PWM(%v, 500Hz)", activeLow, p.D, p.F, want)
		}
		if err := r.g.ByName("onair").Off(); err != nil {
			t.Fatal(err)
		}
		if r.lit("GPIO18", activeLow) {
			t.Errorf("activeLow=%v: lit after Off", activeLow)
		}
	}

	// gpioioctl lines have no PWM: their PWM returns an error.
	noPWM := func(p *gpiotest.Pin) gpio.PinIO { return noPWMPin{p} }
	r := newLEDRig(t, []LEDConfig{{Pin: "GPIO17", Role: RoleOnAir, Brightness: 30}}, noPWM)
	led := r.g.ByName("onair")
	for i, on := range []bool{true, false, true} {
		if err := led.Set(on); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := r.lit("GPIO17", false); got != on {
			t.Errorf("no PWM, step %d: lit=%v, want %v", i, got, on)
		}
	}
}

type noPWMPin struct{ *gpiotest.Pin }

func (noPWMPin) PWM(gpio.Duty, physic.Frequency) error { return errors.New("PWM() not implemented") }

// TestLEDsIndicator checks the role mapping through a sequence of gateway
// calls, by the pins' levels.
func TestLEDsIndicator(t *testing.T) {
	cfgs := []LEDConfig{
		{Pin: "GPIO5", Role: RoleStatus},
		{Pin: "GPIO6", Role: RoleOnAir},
		{Pin: "GPIO13", Role: RoleMute},
		{Pin: "GPIO19", Role: RoleTally, ActiveLow: true}, // a relay board
	}
	r := newLEDRig(t, cfgs, nil)
	type want struct{ status, onair, mute, tally bool }
	check := func(step string, w want) {
		t.Helper()
		got := want{r.lit("GPIO5", false), r.lit("GPIO6", false), r.lit("GPIO13", false), r.lit("GPIO19", true)}
		if got != w {
			t.Errorf("%s: got %+v, want %+v", step, got, w)
		}
	}
	advance := func(d time.Duration) { r.clk.Advance(d); settle(t, r.clk) }
	g := r.g

	must(t, g.SetStatus(StatusLive))
	check("live", want{status: true})
	must(t, g.SetOnAir(true))
	check("live, on air", want{status: true, onair: true, tally: true})
	must(t, g.SetMuted(true))
	check("live, on air, muted", want{status: true, mute: true})

	// Identify takes over every LED but the tally with Blinks(3), in phase.
	must(t, g.SetStatus(StatusIdentify))
	check("identify at 0", want{status: true, onair: true, mute: true})
	advance(150 * ms)
	check("identify at 150ms", want{})
	advance(150 * ms)
	check("identify at 300ms", want{status: true, onair: true, mute: true})
	must(t, g.SetMuted(false)) // the tally follows the live mic even now
	check("identify, unmuted", want{status: true, onair: true, mute: true, tally: true})

	must(t, g.SetStatus(StatusLive))
	check("back to live", want{status: true, onair: true, tally: true})

	// Joining blinks slowly; a change of another input keeps its phase.
	must(t, g.SetOnAir(false))
	must(t, g.SetStatus(StatusJoining))
	check("joining at 0", want{status: true})
	advance(300 * ms)
	must(t, g.SetMuted(true))
	check("joining at 300ms, muted", want{status: true, mute: true})
	advance(200 * ms)
	check("joining at 500ms", want{mute: true})

	must(t, g.SetStatus(StatusIdle))
	check("idle: heartbeat starts lit", want{status: true, mute: true})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestLEDsClose: Close darkens every output, including a blinking one,
// stops the goroutine, and later calls fail with ErrClosed.
func TestLEDsClose(t *testing.T) {
	clk := clockwork.NewFakeClockAt(epoch())
	a := &gpiotest.Pin{N: "GPIO5"}
	b := &gpiotest.Pin{N: "GPIO6"}
	pins := map[string]*gpiotest.Pin{"GPIO5": a, "GPIO6": b}
	g, err := NewLEDs([]LEDConfig{{Pin: "GPIO5", Role: RoleStatus}, {Pin: "GPIO6", Role: RoleTally, ActiveLow: true}},
		func(n string) (gpio.PinIO, error) { return pins[n], nil }, clk, discard())
	if err != nil {
		t.Fatal(err)
	}
	must(t, g.ByName("status").Blink(FastBlink()))
	must(t, g.ByName("tally").On())
	if a.Read() != gpio.High || b.Read() != gpio.Low {
		t.Fatalf("before Close: %v %v, want High Low", a.Read(), b.Read())
	}
	must(t, g.Close())
	if a.Read() != gpio.Low || b.Read() != gpio.High {
		t.Errorf("after Close: %v %v, want both dark (Low, High)", a.Read(), b.Read())
	}
	goleak.VerifyNone(t)
	if err := g.ByName("status").On(); !errors.Is(err, ErrClosed) {
		t.Errorf("On after Close = %v, want ErrClosed", err)
	}
	if err := g.SetStatus(StatusLive); !errors.Is(err, ErrClosed) {
		t.Errorf("SetStatus after Close = %v, want ErrClosed", err)
	}
	must(t, g.Close())
}

func TestNewLEDsMissingPin(t *testing.T) {
	_, err := NewLEDs([]LEDConfig{{Pin: "GPIO5", Role: RoleStatus}, {Pin: "GPIO99", Role: RoleOnAir}},
		func(n string) (gpio.PinIO, error) {
			if n == "GPIO5" {
				return &gpiotest.Pin{N: n}, nil
			}
			return nil, ErrNoPin
		}, clockwork.NewFakeClockAt(epoch()), discard())
	if err == nil || err.Error() != "leds[1].pin: GPIO99: no such pin" || !errors.Is(err, ErrNoPin) {
		t.Errorf("NewLEDs = %v, want leds[1].pin: GPIO99: no such pin", err)
	}
}
