package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/aec"
	"github.com/onair-gateway/onair/audio/dsp"
	"github.com/onair-gateway/onair/audio/pipeline"
	"github.com/onair-gateway/onair/hw/gpio"
	"github.com/onair-gateway/onair/net/e2ee"
	"github.com/onair-gateway/onair/net/room"
	"github.com/onair-gateway/onair/net/room/listen"
	"github.com/onair-gateway/onair/provisioning"
)

// RoomFactory makes the Room a config names, and says whether every frame
// the room carries will be end-to-end encrypted.
// keys, when not nil, are the room's end-to-end encryption keys.
type RoomFactory func(r *provisioning.Resolved, keys *e2ee.Keys, log *slog.Logger) (rm room.Room, encrypted bool, err error)

// Options are the gateway's dependencies. Zero fields take defaults.
type Options struct {
	// Hardware opens the board. Default: NewHardware for the config.
	Hardware Hardware
	// Rooms makes rooms. Default: DefaultRooms (LiveKit and WHIP).
	Rooms RoomFactory
	// Notifier talks to systemd. Default: NewNotifier().
	Notifier *Notifier
	// Clock is the one clock of the gateway and its units: identify and
	// forget windows, the capture reopen backoff, stop deadlines, the room
	// supervisor's backoff and rate adaptation, the buttons and LEDs.
	// Default: the real clock.
	Clock clockwork.Clock
	// Log is the logger. Default: discard.
	Log *slog.Logger
	// StatsEvery is how often counters are logged. Default: 60s.
	StatsEvery time.Duration
	// Forget is called, on a goroutine of its own, when a person confirms
	// "forget provisioning" on the device (a long hold, then a press
	// within ForgetWindow). onaird deletes the stored provisioned patch
	// and runs the config file alone (gateway/provision). nil: the device
	// says there is nothing to forget.
	Forget func() error
	// WrapSink, if not nil, wraps every playback sink the listen unit
	// opens, before the first frame is written. An error fails that open
	// (retried with backoff). Default: the echo canceller's reference tap
	// (aec.Reference.Wrap: it records exactly what is handed to the
	// device, and passes Format, WriteFrame and Close through), shared
	// with the speak unit's canceller.
	WrapSink func(audio.Sink) (audio.Sink, error)
}

// ForgetWindow is how long after the Forget hold a second press confirms.
const ForgetWindow = 5 * time.Second

// IdentifyTime is how long the device shows itself after Identify.
const IdentifyTime = 5 * time.Second

// Status is a snapshot of the device for status pages, MQTT and systemd.
type Status struct {
	// Device and Name are the config's device.id and device.name.
	Device string    `json:"device"`
	Name   string    `json:"name"`
	State  State     `json:"state"`
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
	OnAir  bool      `json:"on_air"`
	Muted  bool      `json:"muted"`
	// Encrypted says whether the room audio is end-to-end encrypted.
	Encrypted bool                 `json:"encrypted"`
	Room      string               `json:"room"`
	Backend   string               `json:"backend"`
	RoomStats room.SupervisorStats `json:"room_stats"`
	Pipeline  pipeline.Stats       `json:"pipeline"`
	OutLevel  dsp.Level            `json:"out_level"`
	Voice     bool                 `json:"voice"`
	DOA       float64              `json:"doa_deg"`
	DOAConf   float64              `json:"doa_confidence"`
	Capture   string               `json:"capture"`
	// Listen is the listen path: playback and each remote participant's
	// jitter buffer.
	Listen ListenStatus `json:"listen"`
	// AEC is the echo canceller's state, when it runs.
	AEC *AECStatus `json:"aec,omitempty"`
}

// AECStatus is the echo canceller's part of Status.
type AECStatus struct {
	// DelayMs is the measured delay from handing a frame to the playback
	// device to hearing it in the capture; Measured says whether it has
	// been measured yet (always true with hardware loopback channels).
	DelayMs  float64 `json:"delay_ms"`
	Measured bool    `json:"measured"`
	// SkewPPM is the playback clock's measured drift against the capture's.
	SkewPPM float64 `json:"skew_ppm"`
	// ERLEdB is the echo return loss enhancement while the far end plays.
	ERLEdB float64 `json:"erle_db"`
}

// Gateway is the state machine that ties hardware, audio, room and status
// together. Run owns every goroutine it starts; inputs arrive on channels
// and are handled on Run's goroutine only, so the state needs no lock
// (Status copies a snapshot under a mutex).
type Gateway struct {
	log    *slog.Logger // component=gateway
	base   *slog.Logger // for the parts, which add their own component
	clock  clockwork.Clock
	hw     Hardware
	rooms  RoomFactory
	notify *Notifier
	opts   Options

	cfg      *provisioning.Resolved
	sink     *sinkTo
	encRef   encoderRef
	room     roomRef
	speak    *speakUnit
	listen   *listenUnit // nil while audio.playback is off
	controls *controlsUnit
	gestures *gestures

	// inputs from other goroutines
	roomState chan struct{} // the current room unit has a new state
	captureCh chan captureReport
	buttons   chan gpio.ButtonEvent
	cmds      chan request

	// loop state
	in           inputs
	state        State
	reason       string
	since        time.Time
	gateOpen     bool
	ptt          map[string]bool // PTT buttons held
	toggleOn     bool
	cmdOnAir     bool
	left         bool // out of the room by CmdLeave
	forgetFn     func() error
	transient    gpio.Status
	transientEnd time.Time

	statusMu sync.Mutex
	status   Status
	running  atomic.Bool
	loopDone chan struct{} // closed when Run's loop has returned

	refMu sync.Mutex
	ref   *aec.Reference // what the listen unit plays, for the echo canceller
}

// New builds a gateway for a validated config. It opens nothing: Run does.
func New(r *provisioning.Resolved, opts Options) (*Gateway, error) {
	if r == nil {
		return nil, errors.New("gateway: nil config")
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = clockwork.NewRealClock()
	}
	if opts.Hardware == nil {
		opts.Hardware = NewHardware(r, opts.Log)
	}
	if opts.Rooms == nil {
		opts.Rooms = DefaultRooms
	}
	if opts.Notifier == nil {
		opts.Notifier = NewNotifier()
	}
	if opts.StatsEvery <= 0 {
		opts.StatsEvery = time.Minute
	}
	g := &Gateway{
		log:       opts.Log.With("component", "gateway"),
		base:      opts.Log,
		clock:     opts.Clock,
		forgetFn:  opts.Forget,
		hw:        opts.Hardware,
		rooms:     opts.Rooms,
		notify:    opts.Notifier,
		opts:      opts,
		cfg:       r,
		roomState: make(chan struct{}, 1),
		captureCh: make(chan captureReport, 8),
		buttons:   make(chan gpio.ButtonEvent, 32),
		cmds:      make(chan request),
		ptt:       map[string]bool{},
		state:     StateIdle,
	}
	g.sink = &sinkTo{clock: opts.Clock, room: &g.room, rate: r.Audio.Capture.Rate}
	return g, nil
}

// The units' dependencies: each unit gets these and its view of the
// config, never the *Gateway.

func (g *Gateway) speakDeps() speakDeps {
	return speakDeps{open: g.hw.OpenSource, ref: g.reference, clock: g.clock, sink: g.sink, report: g.reportCapture, log: g.base}
}

func (g *Gateway) roomDeps() roomDeps {
	return roomDeps{rooms: g.rooms, encoder: &g.encRef, clock: g.clock, onState: g.onRoomState, onEvent: g.onRoomEvent, log: g.base}
}

func (g *Gateway) listenDeps() listenDeps {
	wrap := g.opts.WrapSink
	if wrap == nil {
		wrap = func(s audio.Sink) (audio.Sink, error) { return g.reference(s.Format().Rate).Wrap(s) }
	}
	return listenDeps{open: g.hw.OpenSink, wrap: wrap, listener: g.listener, clock: g.clock, log: g.base}
}

// reference returns the playback reference at rate, shared by the listen
// unit (which records what it plays) and the speak unit's echo canceller
// (which reads it by the two clocks' sample counters). Config validation
// makes the playback and capture rates equal when the canceller is on; a
// new rate gets a new Reference.
func (g *Gateway) reference(rate audio.SampleRate) *aec.Reference {
	g.refMu.Lock()
	defer g.refMu.Unlock()
	if g.ref == nil || g.ref.Rate() != rate {
		g.ref = aec.NewReference(rate)
	}
	return g.ref
}

// listener returns the current room unit's Listener (nil without one).
// Safe from any goroutine.
func (g *Gateway) listener() *listen.Listener {
	if u := g.room.load(); u != nil {
		return u.listener
	}
	return nil
}

func (g *Gateway) controlsDeps() controlsDeps {
	return controlsDeps{hw: g.hw, clock: g.clock, events: g.buttons, log: g.base}
}

// Run opens the board, joins the room and runs the state machine until ctx
// is cancelled (it returns nil after stopping everything in reverse order)
// or the start fails (it returns why, with nothing left running).
func (g *Gateway) Run(ctx context.Context) error {
	if !g.running.CompareAndSwap(false, true) {
		return errors.New("gateway: already running")
	}
	defer g.running.Store(false)
	g.loopDone = make(chan struct{})
	r := g.cfg
	// Start: release stale state (controls open dark) → open hardware →
	// connect → READY.
	ctl, err := openControls(g.controlsDeps(), controlsViewOf(r))
	if err != nil {
		return fmt.Errorf("open controls: %w", err)
	}
	ctl.start()
	g.controls = ctl
	g.gestures = newGestures(g.clock, ctl.buttons())
	sp, err := newSpeakUnit(g.speakDeps(), speakViewOf(r))
	if err != nil {
		g.controls.stop(g.clock.Now().Add(shutdownBudget))
		return err
	}
	ru, err := newRoomUnit(g.roomDeps(), roomViewOf(r))
	if err != nil {
		sp.stop(g.clock.Now().Add(shutdownBudget))
		g.controls.stop(g.clock.Now().Add(shutdownBudget))
		return fmt.Errorf("room: %w", err)
	}
	g.speak = sp
	g.encRef.p.Store(sp.enc)
	sp.start()
	g.room.store(ru)
	ru.start()
	if r.Audio.Playback.On() {
		// The output opens on the unit's goroutine: the simulated board's
		// speaker needs the board the speak unit opens there.
		lu, err := newListenUnit(g.listenDeps(), listenViewOf(r))
		if err != nil {
			g.log.Error("listen path not started", "err", err)
		} else {
			g.listen = lu
			lu.start()
		}
	}
	g.in.started = true
	g.in.policyErr = policyError(r, ru.encrypted)
	g.since = g.clock.Now()
	g.update("started")
	g.notify.Ready(g.statusLine())
	g.log.Info("onair started", "device", r.Device.ID, "board", r.Board.Profile, "room", r.Room.Room,
		"backend", r.Room.Backend, "encrypted", ru.encrypted)

	g.loop(ctx)
	close(g.loopDone)

	// Stop in reverse order against one deadline: the room and the speak
	// path in parallel, then the controls.
	g.notify.Stopping()
	deadline := g.clock.Now().Add(shutdownBudget)
	var roomErr, speakErr, listenErr error
	var wg sync.WaitGroup
	if u := g.room.swap(nil); u != nil {
		wg.Add(1)
		go func() { defer wg.Done(); roomErr = u.stop(deadline) }()
	}
	if lu := g.listen; lu != nil {
		wg.Add(1)
		go func() { defer wg.Done(); listenErr = lu.stop(deadline) }()
		g.listen = nil
	}
	speakErr = g.speak.stop(deadline)
	wg.Wait()
	errs := []error{roomErr, speakErr, listenErr}
	g.gateOpen = false
	errs = append(errs, g.controls.stop(deadline))
	g.controls = nil // closed: nothing left to show state on
	g.in.started = false
	g.update("stopped")
	if err := errors.Join(errs...); err != nil {
		g.log.Warn("unclean stop", "err", err)
	}
	g.log.Info("onair stopped")
	return nil
}

func (g *Gateway) loop(ctx context.Context) {
	statsT := g.clock.NewTicker(g.opts.StatsEvery)
	defer statsT.Stop()
	wdEvery := g.notify.WatchdogInterval()
	var wd <-chan time.Time
	if wdEvery > 0 {
		t := g.clock.NewTicker(wdEvery)
		defer t.Stop()
		wd = t.Chan()
	}
	tick := g.clock.NewTicker(250 * time.Millisecond) // transient statuses, status snapshot
	defer tick.Stop()
	var lastFrames uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-g.roomState:
			u := g.room.load()
			if u == nil || u.sup == nil {
				continue
			}
			sc := u.last()
			if sc.State == room.StateIdle && sc.Reason == "" {
				continue // no report from this unit yet
			}
			g.in.room, g.in.roomReason = sc.State, sc.Reason
			g.update("room " + sc.State.String())
		case rep := <-g.captureCh:
			g.onCapture(rep)
		case ev := <-g.buttons:
			g.onButton(ev)
		case req := <-g.cmds:
			req.reply <- g.do(req)
		case <-tick.Chan():
			g.onTick()
		case <-wd:
			// Pet only while frames flow: a capture that stopped is what
			// the watchdog is for.
			if f := g.speak.stats().Frames; f != lastFrames {
				lastFrames = f
				g.notify.Watchdog()
			}
		case <-statsT.Chan():
			g.logStats()
		}
	}
}

// onRoomState is called on a room unit's supervisor goroutine; it must not
// block. The report goes into that unit's own slot; the loop reads only the
// current unit's.
func (g *Gateway) onRoomState(u *roomUnit, sc room.StateChange) {
	u.record(sc)
	if g.room.load() != u {
		return // a unit being replaced
	}
	select {
	case g.roomState <- struct{}{}:
	default:
	}
}

// onRoomEvent is called on the supervisor's goroutine. The speak path does
// not play the room back yet, so remote tracks are only logged; permission
// changes arrive as supervisor states.
func (g *Gateway) onRoomEvent(ev room.Event) {
	switch ev.Kind {
	case room.EventTrackAdded:
		g.log.Info("remote track", "participant", ev.Participant)
	case room.EventTrackRemoved:
		g.log.Info("remote track ended", "participant", ev.Participant)
	}
}

func (g *Gateway) reportCapture(rep captureReport) {
	select {
	case g.captureCh <- rep:
	default: // the loop is behind; the next report carries the news
	}
}

func (g *Gateway) onCapture(rep captureReport) {
	if rep.err == nil {
		if g.in.captureErr != "" {
			g.log.Info("capture running again")
		}
		g.in.captureErr = ""
		g.update("capture running")
		return
	}
	msg := rep.err.Error()
	if !strings.HasPrefix(msg, "capture: ") {
		msg = "capture: " + msg
	}
	if msg != g.in.captureErr {
		g.log.Error("capture failed", "err", rep.err, "retry_in", rep.retryIn.Round(time.Millisecond))
	}
	g.in.captureErr = msg
	g.update("capture failed")
}

// onButton turns a debounced button event into intent. The button's mode
// acts on Press and Release; gestures (identify, forget) are the gestures
// type's to recognise.
func (g *Gateway) onButton(ev gpio.ButtonEvent) {
	switch ev.Kind {
	case gpio.Press:
		if g.gestures.press(ev, g.inRoom()) == gestureForget {
			g.forget()
			return
		}
		switch ev.Mode {
		case gpio.ModePTT:
			g.ptt[ev.Name] = true
		case gpio.ModeToggle:
			g.toggleOn = !g.toggleOn
		case gpio.ModeMute:
			g.in.muted = !g.in.muted
		}
	case gpio.Release:
		g.gestures.release(ev)
		if ev.Mode == gpio.ModePTT {
			delete(g.ptt, ev.Name)
		}
	case gpio.LongPress:
		switch g.gestures.longPress(ev, g.gateOpen) {
		case gestureIdentify:
			g.identify("button " + ev.Name)
		case gestureAskForget:
			g.setTransient(gpio.StatusConfirmForget, ForgetWindow)
			g.log.Warn("forget provisioning? press the button again to confirm", "button", ev.Name, "window", ForgetWindow)
		}
		return
	}
	g.update(fmt.Sprintf("button %s %s", ev.Name, ev.Kind))
}

// inRoom reports whether the device is in a room, where a PTT or toggle
// press puts it on air.
func (g *Gateway) inRoom() bool {
	switch g.state {
	case StateLive, StateOnAir, StateMuted, StateDegraded:
		return true
	}
	return false
}

func (g *Gateway) identify(cause string) {
	g.setTransient(gpio.StatusIdentify, IdentifyTime)
	g.log.Info("identify", "device", g.cfg.Device.ID, "name", g.cfg.Device.Name, "cause", cause)
}

// forget answers a confirmed "forget provisioning" gesture. Options.Forget
// applies the config file again, through Apply: it must not run on the
// loop.
func (g *Gateway) forget() {
	g.transient = 0
	g.applyIndicators()
	if g.forgetFn == nil {
		g.log.Warn("forget provisioning confirmed, but nothing is provisioned beyond the config file")
		return
	}
	g.log.Warn("forget provisioning confirmed: dropping the provisioned config")
	go func() {
		if err := g.forgetFn(); err != nil {
			g.log.Error("forget provisioning failed", "err", err)
		}
	}()
}

func (g *Gateway) setTransient(s gpio.Status, d time.Duration) {
	g.transient, g.transientEnd = s, g.clock.Now().Add(d)
	g.applyIndicators()
}

func (g *Gateway) onTick() {
	if g.transient != 0 && !g.clock.Now().Before(g.transientEnd) {
		g.transient = 0
		g.applyIndicators()
	}
	if g.gestures.tick() == gestureForgetLapsed {
		g.log.Info("forget provisioning not confirmed; nothing changed")
	}
	g.snapshot()
}

// update re-derives the state after an input changed, applies the outputs
// and logs a transition once, with its cause.
func (g *Gateway) update(cause string) {
	g.in.wantOnAir = len(g.ptt) > 0 || g.toggleOn || g.cmdOnAir
	st, reason, open := derive(g.in)
	if g.speak != nil {
		g.speak.sp.Chain.SetOnAir(open)
	}
	g.gateOpen = open
	if st != g.state || reason != g.reason {
		if st != g.state {
			g.log.Info("state", "from", string(g.state), "to", string(st), "reason", reason, "cause", cause)
			g.since = g.clock.Now()
		}
		g.state, g.reason = st, reason
		g.notify.Status(g.statusLine())
	}
	g.applyIndicators()
	g.snapshot()
}

func (g *Gateway) applyIndicators() {
	ind := g.controls.indicators()
	if ind == nil {
		return
	}
	st := indicatorStatus(g.state)
	if g.transient != 0 {
		st = g.transient
	}
	// Errors from indicators are hardware trouble: log, never stop.
	if err := errors.Join(ind.SetOnAir(g.gateOpen), ind.SetMuted(g.in.muted || g.in.room == room.StatePermissionDenied), ind.SetStatus(st)); err != nil {
		g.log.Warn("indicators", "err", err)
	}
	if g.speak != nil && g.cfg.Audio.Processing.Beam == dsp.BeamDOA {
		az, c := g.speak.sp.Chain.DOA()
		_ = ind.SetDirection(az, c > 0.3)
	}
}

func (g *Gateway) statusLine() string {
	s := fmt.Sprintf("%s: %s", g.state, g.reason)
	if u := g.room.load(); u != nil {
		enc := "NOT encrypted"
		if u.encrypted {
			enc = "encrypted"
		}
		s += fmt.Sprintf("; room %s via %s, %s", g.cfg.Room.Room, g.cfg.Room.Backend, enc)
	}
	return s
}

func (g *Gateway) snapshot() {
	s := Status{
		Device: g.cfg.Device.ID, Name: g.cfg.Device.Name,
		State: g.state, Reason: g.reason, Since: g.since, OnAir: g.gateOpen, Muted: g.in.muted,
		Room: g.cfg.Room.Room, Backend: string(g.cfg.Room.Backend), Capture: g.in.captureErr,
	}
	if u := g.room.load(); u != nil {
		s.Encrypted = u.encrypted
		if u.sup != nil {
			s.RoomStats = u.sup.Stats()
		}
	}
	if g.speak != nil {
		s.Pipeline = g.speak.stats()
		m := g.speak.sp.Chain.Meters()
		if len(m.Out) > 0 {
			s.OutLevel = m.Out[0]
		}
		s.Voice = m.Voice
		s.DOA, s.DOAConf = g.speak.sp.Chain.DOA()
		if c := g.speak.sp.AEC; c != nil {
			st := c.Stats()
			s.AEC = &AECStatus{DelayMs: float64(st.Delay.Microseconds()) / 1000, Measured: st.Measured,
				SkewPPM: st.SkewPPM, ERLEdB: st.ERLE}
		}
	}
	if s.Capture == "" {
		s.Capture = "ok"
	}
	s.Listen = g.listen.status()
	s.Listen.Participants = participantsOf(g.listener())
	g.statusMu.Lock()
	g.status = s
	g.statusMu.Unlock()
}

// Status returns the latest snapshot. Safe from any goroutine.
func (g *Gateway) Status() Status {
	g.statusMu.Lock()
	defer g.statusMu.Unlock()
	return g.status
}

func (g *Gateway) logStats() {
	s := g.Status()
	g.log.Info("stats", "state", string(s.State), "frames", s.Pipeline.Frames, "packets", s.Pipeline.Packets,
		"drops", s.Pipeline.Drops, "late", s.Pipeline.Late, "xruns", s.Pipeline.Xruns,
		"not_sent", s.RoomStats.Dropped, "loss", s.RoomStats.Session.FractionLost,
		"rtt", s.RoomStats.Session.RTT, "encrypted", s.Encrypted)
}

// policyError returns why the config's encryption policy cannot be met.
func policyError(r *provisioning.Resolved, encrypted bool) string {
	if r.E2EE.Required && !encrypted {
		return "e2ee.required is set but this room cannot be end-to-end encrypted; refusing to publish"
	}
	return ""
}
