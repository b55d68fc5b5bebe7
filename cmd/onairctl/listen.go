package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"sort"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/net/e2ee"
	"github.com/onair-gateway/onair/net/livekit"
	"github.com/onair-gateway/onair/net/room"
)

// listenOptions are the flags of onairctl listen.
type listenOptions struct {
	cfg         room.Config
	e2ee        e2ee.Config
	wav         string
	wavChannels int
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
	fs.IntVar(&o.wavChannels, "wav-channels", 1, "channels of the WAV file: 1 or 2")
	fs.DurationVar(&o.duration, "duration", 0, "stop after this long (default: until interrupted)")
	fs.BoolVar(&o.onceJSON, "once-json", false, "print nothing live; print a JSON summary at the end")
	fs.BoolVar(&o.verbose, "v", false, "log debug messages to stderr")
	fs.StringVar(&passphrase, "e2ee-passphrase", "", "decrypt with this room passphrase (default: $ONAIR_E2EE_PASSPHRASE; the environment keeps it out of ps)")
	fs.StringVar(&key, "e2ee-key", "", "decrypt with this raw 16-byte key, base64 (default: $ONAIR_E2EE_KEY)")
	fs.IntVar(&o.e2ee.KeyIndex, "e2ee-key-index", 0, "key index of -e2ee-passphrase or -e2ee-key")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: onairctl listen -url ws://host:7880 -room ROOM (-token T | -api-key K -api-secret S) [flags]\n\n"+
			"Joins a LiveKit room as a listener and shows, per participant, level, packets, loss, jitter,\n"+
			"dominant frequency and mouth-to-ear latency (from the marks of a sender using audio/marks).\n\nFlags:\n")
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
	if passphrase == "" {
		passphrase = os.Getenv("ONAIR_E2EE_PASSPHRASE")
	}
	if key == "" {
		key = os.Getenv("ONAIR_E2EE_KEY")
	}
	o.e2ee.Passphrase, o.e2ee.Key = conf.Secret(passphrase), conf.Secret(key)
	if err := o.e2ee.Validate(); err != nil {
		return o, &usageError{conf.Prefix("e2ee", err).Error()}
	}
	o.cfg.SetDefaults("listener")
	if err := o.cfg.Validate(); err != nil {
		return o, &usageError{err.Error()}
	}
	if o.wavChannels != 1 && o.wavChannels != 2 {
		return o, &usageError{fmt.Sprintf("-wav-channels %d: want 1 or 2", o.wavChannels)}
	}
	if o.duration < 0 {
		return o, &usageError{"-duration must not be negative"}
	}
	return o, nil
}

// listener is the state of one onairctl listen run.
type listener struct {
	opts  listenOptions
	keys  *e2ee.Keys // nil without a key
	log   *slog.Logger
	start time.Time
	wav   *wavWriter
	wg    sync.WaitGroup

	mu     sync.Mutex // guards people, state, wasUp
	people map[string]*participant
	state  room.StateChange
	wasUp  bool
	failed chan room.StateChange // a permanent error, for a prompt exit
}

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
	l := &listener{opts: opts, log: log, keys: keys, start: time.Now(), people: map[string]*participant{}, failed: make(chan room.StateChange, 1)}
	if opts.wav != "" {
		if l.wav, err = createWAV(opts.wav, opts.wavChannels, l.start); err != nil {
			return err
		}
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
	sc.OnEvent = l.onEvent
	sup := room.NewSupervisor(r, sc, log)
	supDone := make(chan error, 1)
	go func() { supDone <- sup.Run(runCtx) }()

	var failure error
	if opts.onceJSON {
		failure = l.wait(runCtx)
	} else {
		failure = l.show(runCtx, stdout)
	}
	// The recording ends when listening ends, not after leaving the room
	// (which can take seconds): no trailing silence for the teardown.
	end := time.Now()
	stop()
	if err := <-supDone; err != nil && failure == nil {
		failure = err
	}
	l.wg.Wait()
	if l.wav != nil {
		if err := l.wav.close(l.wav.position(end)); err != nil && failure == nil {
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

// wait waits for the end without drawing, flushing the WAV file.
func (l *listener) wait(ctx context.Context) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case c := <-l.failed:
			return fmt.Errorf("cannot join: %s", c.Reason)
		case <-tick.C:
			l.flushWAV()
			l.checkKeys()
		}
	}
}

// flushWAV writes what is more than a second old: late packets of one
// track still mix with the others.
func (l *listener) flushWAV() {
	if l.wav == nil {
		return
	}
	if err := l.wav.flush(l.wav.position(time.Now()) - wavRate); err != nil {
		l.log.Error("write wav", "err", err)
	}
}

func (l *listener) onState(c room.StateChange) {
	l.mu.Lock()
	if c.State != room.StateStopped { // the summary tells how it went, not that it ended
		l.state = c
	}
	if c.State == room.StateConnected {
		l.wasUp = true
	}
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

// onEvent starts a reader for every remote track (on the Supervisor's
// goroutine, so it only starts one).
func (l *listener) onEvent(ev room.Event) {
	if ev.Kind != room.EventTrackAdded {
		return
	}
	l.mu.Lock()
	p := l.people[ev.Participant]
	if p == nil {
		p = &participant{identity: ev.Participant}
		l.people[ev.Participant] = p
	}
	l.mu.Unlock()
	tr, err := newTrackReader(p, ev.Track, l.opts.wavChannels, l.wav, time.Now)
	if err != nil {
		l.log.Error("decoder", "err", err)
		return
	}
	ct, _ := ev.Track.(room.CryptoTrack)
	tr.sealed = ct != nil && ct.Encrypted() && l.keys == nil
	if tr.sealed {
		l.log.Warn("this participant's audio is end-to-end encrypted and this listener has no key: not decoding it; pass the room's passphrase in $ONAIR_E2EE_PASSPHRASE or -e2ee-passphrase",
			"participant", ev.Participant)
	}
	p.mu.Lock()
	p.tracks++
	p.active++
	p.goneAt = time.Time{}
	if ct != nil {
		p.crypto = append(p.crypto, ct)
	}
	p.noKey = p.noKey || tr.sealed
	p.mu.Unlock()
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		if err := tr.run(); err != nil {
			l.log.Warn("track read", "participant", ev.Participant, "track", ev.Track.ID(), "err", err)
		}
		p.mu.Lock()
		p.active--
		if p.active == 0 {
			p.goneAt = time.Now()
		}
		p.mu.Unlock()
	}()
}

// badKeyFrames is how many frames in a row must fail to decrypt, with none
// opened, before the listener says its key is wrong.
const badKeyFrames = 25

// checkKeys warns, once per participant, when encrypted frames arrive and
// none decrypts: a wrong passphrase or key index shows as silence
// otherwise.
func (l *listener) checkKeys() {
	if l.keys == nil {
		return
	}
	for _, p := range l.participants() {
		p.mu.Lock()
		_, failed := p.e2eeState()
		warn := !p.warnedKey && p.packets == 0 && failed >= badKeyFrames
		p.warnedKey = p.warnedKey || warn
		p.mu.Unlock()
		if warn {
			l.log.Warn("none of this participant's frames decrypts with the key given: wrong passphrase or key index?",
				"participant", p.identity, "frames", failed)
		}
	}
}

// participants returns the participants sorted by identity.
func (l *listener) participants() []*participant {
	l.mu.Lock()
	defer l.mu.Unlock()
	ps := make([]*participant, 0, len(l.people))
	for _, p := range l.people {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].identity < ps[j].identity })
	return ps
}

func (l *listener) currentState() room.StateChange {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state
}

// show draws the live view until ctx ends: redrawn in place five times a
// second on a terminal, else one line per participant per second.
func (l *listener) show(ctx context.Context, stdout io.Writer) error {
	f, ok := stdout.(*os.File)
	tty := ok && term.IsTerminal(int(f.Fd()))
	every := time.Second
	if tty {
		every = 200 * time.Millisecond
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	v := &view{w: stdout, tty: tty}
	for {
		select {
		case <-ctx.Done():
			if tty {
				v.draw(l.frame(false)) // the whole run's figures stay on screen
			}
			return nil
		case c := <-l.failed:
			return fmt.Errorf("cannot join: %s", c.Reason)
		case <-tick.C:
			l.flushWAV()
			l.checkKeys()
			v.draw(l.frame(true))
		}
	}
}

// goneFor is how long the live view keeps showing a participant whose
// tracks all ended; the summary keeps everyone.
const goneFor = 5 * time.Second

// frame gathers what one refresh shows: window selects the live view.
func (l *listener) frame(window bool) viewFrame {
	fr := viewFrame{room: l.opts.cfg.Room, state: l.currentState(), elapsed: time.Since(l.start)}
	for _, p := range l.participants() {
		p.mu.Lock()
		gone := !p.goneAt.IsZero() && time.Since(p.goneAt) > goneFor
		p.mu.Unlock()
		if window && gone {
			continue
		}
		fr.people = append(fr.people, p.snap(window, audio.Rate48k))
	}
	return fr
}

// summary is the JSON that -once-json prints.
type summary struct {
	Room         string               `json:"room"`
	DurationS    float64              `json:"duration_s"`
	State        string               `json:"state"`
	Reason       string               `json:"reason,omitempty"`
	Participants []participantSummary `json:"participants"`
	// E2EE counts frames decrypted and frames that failed to decrypt
	// (counted, concealed, never played); absent without a key.
	E2EE *e2ee.Stats `json:"e2ee,omitempty"`
}

type participantSummary struct {
	Identity        string   `json:"identity"`
	Packets         int64    `json:"packets"`
	Lost            int64    `json:"lost"`
	LossPct         float64  `json:"loss_pct"`
	Late            int64    `json:"late"`
	Concealed       int64    `json:"concealed"`
	Corrupt         int64    `json:"corrupt"`
	LevelDBFS       float64  `json:"level_dbfs"`
	PeakDBFS        float64  `json:"peak_dbfs"`
	FrequencyHz     float64  `json:"frequency_hz"`
	JitterMs        float64  `json:"jitter_ms"`
	LatencyMsMedian *float64 `json:"latency_ms_median"`
	LatencyMarks    int      `json:"latency_marks"`
	// E2EE is off, on (encrypted and decrypted here) or no-key
	// (encrypted, not decoded: the meters stay at -120 dBFS).
	E2EE          string `json:"e2ee"`
	Undecryptable uint64 `json:"undecryptable"`
}

func (l *listener) writeSummary(w io.Writer) error {
	fr := l.frame(false)
	s := summary{Room: fr.room, DurationS: round(fr.elapsed.Seconds(), 3), State: fr.state.State.String(), Participants: []participantSummary{}}
	if fr.state.State != room.StateConnected {
		s.Reason = fr.state.Reason
	}
	for _, p := range fr.people {
		ps := participantSummary{
			Identity: p.Identity, Packets: p.Packets, Lost: p.Lost, LossPct: round(p.LossPct, 2),
			Late: p.Late, Concealed: p.Concealed, Corrupt: p.Corrupt,
			LevelDBFS: round(p.LevelDB, 2), PeakDBFS: round(p.PeakDB, 2), FrequencyHz: round(p.Freq, 1),
			JitterMs: round(ms(p.Jitter), 3), LatencyMarks: p.Marks, E2EE: p.E2EE, Undecryptable: p.Undecryptable,
		}
		if p.Marks > 0 {
			m := round(ms(p.LatMedian), 2)
			ps.LatencyMsMedian = &m
		}
		s.Participants = append(s.Participants, ps)
	}
	if l.keys != nil {
		st := l.keys.Stats()
		s.E2EE = &st
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}
