package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/wav"
	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/hw/alsa"
	"github.com/onair-gateway/onair/hw/alsa/alsaconf"
	"github.com/onair-gateway/onair/net/e2ee"
	"github.com/onair-gateway/onair/net/livekit"
	"github.com/onair-gateway/onair/net/room"
	"github.com/onair-gateway/onair/net/room/listen"
)

// listenOptions are the flags of onairctl listen.
type listenOptions struct {
	cfg         room.Config
	e2ee        e2ee.Config
	wav         string
	wavChannels int
	play        string
	volume      float64
	duration    time.Duration
	onceJSON    bool
	verbose     bool
}

func parseListen(args []string, stderr io.Writer) (listenOptions, error) {
	var o listenOptions
	var token, secret, passphrase, key string
	fs := newFlags("listen", stderr)
	fs.StringVar(&o.cfg.URL, "url", "ws://127.0.0.1:7880", "LiveKit server URL")
	fs.StringVar(&o.cfg.Room, "room", "onair", "room name")
	fs.StringVar(&token, "token", "", "join token (or -api-key and -api-secret; default: $ONAIR_TOKEN)")
	fs.StringVar(&o.cfg.APIKey, "api-key", "", "API key to mint a listen-only token with")
	fs.StringVar(&secret, "api-secret", "", "API secret for -api-key (default: $ONAIR_API_SECRET)")
	fs.StringVar(&o.cfg.Identity, "identity", "listener", "this listener's participant identity")
	fs.StringVar(&o.wav, "wav", "", "record what is heard to this WAV file (16-bit, 48 kHz)")
	fs.IntVar(&o.wavChannels, "wav-channels", 1, "channels decoded, played and written to the WAV file: 1 or 2")
	fs.StringVar(&o.play, "play", "", "play what is heard on this ALSA device (\"default\", \"plughw:1,0\", ...)")
	fs.Float64Var(&o.volume, "volume", 0, "volume of what is played and recorded, in dB (-60..20)")
	fs.DurationVar(&o.duration, "duration", 0, "stop after this long (default: until interrupted)")
	fs.BoolVar(&o.onceJSON, "once-json", false, "print nothing live; print a JSON summary at the end")
	fs.BoolVar(&o.verbose, "v", false, "log debug messages to stderr")
	fs.StringVar(&passphrase, "e2ee-passphrase", "", "decrypt with this room passphrase (default: $ONAIR_E2EE_PASSPHRASE; the environment keeps it out of ps)")
	fs.StringVar(&key, "e2ee-key", "", "decrypt with this raw 16-byte key, base64 (default: $ONAIR_E2EE_KEY)")
	fs.IntVar(&o.e2ee.KeyIndex, "e2ee-key-index", 0, "key index of -e2ee-passphrase or -e2ee-key")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: onairctl listen -url ws://host:7880 -room ROOM (-token T | -api-key K -api-secret S) [flags]\n\n"+
			"Joins a LiveKit room as a listener and shows, per participant, level, packets, loss, jitter,\n"+
			"dominant frequency and mouth-to-ear latency (from the marks of a sender using audio/marks).\n"+
			"With -play or -wav it plays the room as a device does: a jitter buffer per participant\n"+
			"(concealment, FEC), mixed with headroom, on the sound card's clock (or the wall clock).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return o, err
	}
	// The environment keeps credentials out of ps, as for the passphrase.
	if token == "" && o.cfg.APIKey == "" {
		token = os.Getenv("ONAIR_TOKEN")
	}
	if secret == "" && o.cfg.APIKey != "" {
		secret = os.Getenv("ONAIR_API_SECRET")
	}
	o.cfg.Token, o.cfg.APISecret = conf.Secret(token), conf.Secret(secret)
	passphrase, key = cmp.Or(passphrase, os.Getenv("ONAIR_E2EE_PASSPHRASE")), cmp.Or(key, os.Getenv("ONAIR_E2EE_KEY"))
	o.e2ee.Passphrase, o.e2ee.Key = conf.Secret(passphrase), conf.Secret(key)
	if err := o.e2ee.Validate(); err != nil {
		return o, &usageError{conf.Prefix("e2ee", err).Error()}
	}
	o.cfg.SetDefaults("listener")
	if err := livekit.CheckConfig(&o.cfg); err != nil {
		return o, &usageError{err.Error()}
	}
	if o.wavChannels != 1 && o.wavChannels != 2 {
		return o, &usageError{fmt.Sprintf("-wav-channels %d: want 1 or 2", o.wavChannels)}
	}
	if o.duration < 0 {
		return o, &usageError{"-duration must not be negative"}
	}
	if o.volume < -60 || o.volume > 20 || math.IsNaN(o.volume) {
		return o, &usageError{fmt.Sprintf("-volume %v: want -60..20 dB", o.volume)}
	}
	return o, nil
}

// listener is the state of one onairctl listen run.
type listener struct {
	opts  listenOptions
	keys  *e2ee.Keys // nil without a key
	log   *slog.Logger
	start time.Time
	wav   *wav.Writer // nil without -wav
	sink  audio.Sink  // -play's sound card, or the WAV file on the wall clock; nil without either
	rx    *listen.Listener

	mu     sync.Mutex // guards state, wasUp
	state  room.StateChange
	wasUp  bool
	failed chan room.StateChange // a permanent error, for a prompt exit
}

// playPeriod is the period of what is played and recorded: 10 ms, as the
// device's own output.
const playPeriod = 10 * time.Millisecond

// goneFor is how long the live view keeps showing a participant whose
// tracks all ended; the summary keeps everyone.
const goneFor = 5 * time.Second

// runListen implements `onairctl listen`.
func runListen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, err := parseListen(args, stderr)
	if err != nil {
		return err
	}
	lvl := slog.LevelWarn
	if opts.verbose {
		lvl = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	livekit.SetSDKLogger(log)

	lkOpts := livekit.Options{ListenOnly: true, Subscribe: true}
	var keys *e2ee.Keys
	if opts.e2ee.Enabled() {
		if keys, err = e2ee.New(opts.e2ee); err != nil {
			return &usageError{err.Error()}
		}
		lkOpts.Encryptor = keys
	}
	r, err := livekit.New(opts.cfg, lkOpts, log)
	if err != nil {
		return &usageError{err.Error()}
	}
	l := &listener{opts: opts, log: log, keys: keys, start: time.Now(), failed: make(chan room.StateChange, 1)}
	format := audio.Format{Channels: opts.wavChannels, Rate: audio.Rate48k, Period: playPeriod}
	if opts.play != "" {
		p, err := alsa.OpenPlayback(alsaconf.Config{Device: opts.play, Channels: format.Channels, Rate: format.Rate, Period: conf.Duration(playPeriod)}, log)
		if err != nil {
			return err
		}
		l.sink = p
	}
	if opts.wav != "" {
		if l.wav, err = wav.Create(opts.wav, wav.Format{Encoding: wav.PCM, Channels: opts.wavChannels, Rate: 48000, Bits: 16}); err != nil {
			if l.sink != nil {
				l.sink.Close()
			}
			return err
		}
		if l.sink == nil {
			l.sink = newClockSink(format, l.start)
		}
		l.sink = &teeSink{Sink: l.sink, w: l.wav}
	}
	l.rx = listen.New(listen.Config{Channels: opts.wavChannels, HaveKey: keys != nil, GoneFor: goneFor, Playout: l.sink != nil}, log)
	playErr := make(chan error, 1)
	if l.sink != nil {
		player, err := listen.NewPlayer(l.sink.Format(), opts.wavChannels, opts.volume)
		if err != nil {
			l.sink.Close()
			return err
		}
		go func() { playErr <- player.Run(l.rx, l.sink, time.Now) }()
	}
	if opts.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.duration)
		defer cancel()
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()

	sc := opts.cfg.SupervisorConfig()
	sc.OnState = l.onState
	sc.OnEvent = l.rx.OnEvent
	sup := room.NewSupervisor(r, sc, log)
	supDone := make(chan error, 1)
	go func() { supDone <- sup.Run(runCtx) }()

	failure := l.loop(runCtx, stdout, playErr)
	// The recording ends when listening ends, not after leaving the room
	// (which can take seconds): no trailing silence for the teardown.
	if l.sink != nil {
		l.sink.Close()
		if err := <-playErr; !errors.Is(err, audio.ErrClosed) && failure == nil {
			failure = fmt.Errorf("play: %w", err)
		}
	}
	stop()
	if err := <-supDone; err != nil && failure == nil {
		failure = err
	}
	l.rx.Wait()
	if l.wav != nil {
		if err := l.wav.Close(); err != nil && failure == nil {
			failure = fmt.Errorf("write %s: %w", opts.wav, err)
		}
	}
	if opts.onceJSON {
		if err := l.writeSummary(stdout); err != nil && failure == nil {
			failure = err
		}
	}
	l.mu.Lock()
	wasUp, last := l.wasUp, l.state
	l.mu.Unlock()
	if failure == nil && !wasUp {
		// A script must not read "heard nothing" as success.
		failure = fmt.Errorf("never joined room %s: %s", opts.cfg.Room, cmp.Or(last.Reason, last.State.String()))
	}
	return failure
}

// loop runs until ctx ends or playing fails, checking keys; unless
// -once-json, it draws the live view: redrawn in place five times a second
// on a terminal, else one line per participant per second.
func (l *listener) loop(ctx context.Context, stdout io.Writer, playErr <-chan error) error {
	f, ok := stdout.(*os.File)
	v := &view{w: stdout, tty: ok && term.IsTerminal(int(f.Fd()))}
	live, every := v.tty && !l.opts.onceJSON, time.Second
	if live {
		every = 200 * time.Millisecond
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if live {
				v.draw(l.frame(false)) // the whole run's figures stay on screen
			}
			return nil
		case c := <-l.failed:
			return fmt.Errorf("cannot join: %s", c.Reason)
		case err := <-playErr:
			l.sink.Close()
			l.sink = nil // Run has returned
			return fmt.Errorf("play: %w", err)
		case <-tick.C:
			l.rx.CheckKeys()
			if !l.opts.onceJSON {
				v.draw(l.frame(true))
			}
		}
	}
}

func (l *listener) onState(c room.StateChange) {
	l.mu.Lock()
	if c.State != room.StateStopped { // the summary tells how it went, not that it ended
		l.state = c
	}
	l.wasUp = l.wasUp || c.State == room.StateConnected
	wasUp := l.wasUp
	l.mu.Unlock()
	// A refused token will not get better: say so and stop, unless a
	// session was up before (then keep trying, as a device would).
	if c.State == room.StateError && !wasUp {
		select {
		case l.failed <- c:
		default:
		}
	}
}

// frame gathers what one refresh shows: window selects the live view.
func (l *listener) frame(window bool) viewFrame {
	now := time.Now()
	fr := viewFrame{room: l.opts.cfg.Room, elapsed: now.Sub(l.start), people: l.rx.Participants(window, now)}
	l.mu.Lock()
	defer l.mu.Unlock()
	fr.state = l.state
	return fr
}

// summary is the JSON that -once-json prints.
type summary struct {
	Room         string               `json:"room"`
	DurationS    float64              `json:"duration_s"`
	State        string               `json:"state"`
	Reason       string               `json:"reason,omitempty"`
	Participants []listen.Participant `json:"participants"`
	// E2EE counts frames decrypted and frames that failed to decrypt
	// (counted, concealed, never played); absent without a key.
	E2EE *e2ee.Stats `json:"e2ee,omitempty"`
}

func (l *listener) writeSummary(w io.Writer) error {
	fr := l.frame(false)
	s := summary{Room: fr.room, DurationS: math.Round(fr.elapsed.Seconds()*1000) / 1000, State: fr.state.State.String(), Participants: append([]listen.Participant{}, fr.people...)}
	if fr.state.State != room.StateConnected {
		s.Reason = fr.state.Reason
	}
	if l.keys != nil {
		st := l.keys.Stats()
		s.E2EE = &st
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// clockSink is an output with no sound card: it takes frames on the wall
// clock, frame k at start + k periods, as a card's blocking write would,
// and plays them nowhere (a teeSink records them).
type clockSink struct {
	f     audio.Format
	start time.Time
	n     int64 // frames taken
	timer *time.Timer
	done  chan struct{}
	once  sync.Once
}

func newClockSink(f audio.Format, start time.Time) *clockSink {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &clockSink{f: f, start: start, timer: t, done: make(chan struct{})}
}

func (s *clockSink) Format() audio.Format { return s.f }

func (s *clockSink) WriteFrame(*audio.Frame) error {
	s.timer.Reset(time.Until(s.start.Add(time.Duration(s.n) * s.f.Period)))
	select {
	case <-s.done:
		return audio.ErrClosed
	case <-s.timer.C:
	}
	s.n++
	return nil
}

func (s *clockSink) Close() error {
	s.once.Do(func() { close(s.done) })
	return nil
}

// teeSink writes every frame it plays to a WAV file too.
type teeSink struct {
	audio.Sink
	w *wav.Writer
}

func (t *teeSink) WriteFrame(f *audio.Frame) error {
	if err := t.Sink.WriteFrame(f); err != nil {
		return err
	}
	return t.w.Write(f.Samples)
}
