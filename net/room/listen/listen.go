// Package listen follows the remote audio of a room: it starts a reader for
// every remote track a room.Supervisor reports, feeds each through an
// audio/rx Track into its participant's rx.Meters (unless NoMeters), and,
// with Playout, into an rx.Jitter per track that a Player pulls on the
// playback device's clock, mixes on an audio/mix Bus and writes to an
// audio.Sink. It is the receive half of `onairctl listen` and of a
// device's listen unit (gateway).
//
// Mix-minus: a track of the identity in Config.Skip (the device's own) is
// never read, so what the device plays never holds its own voice; its own
// capture is never routed to the listen path at all.
//
// A Listener owns one goroutine per remote track, started by OnEvent and
// ended when the track ends; Wait waits for them after the session closed.
// A Player's Run runs on its caller's goroutine. The Listener's methods are
// safe for concurrent use.
package listen

import (
	"errors"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/mix"
	"github.com/onair-gateway/onair/audio/rx"
	"github.com/onair-gateway/onair/net/room"
)

// Config says how to decode and where the audio goes.
type Config struct {
	// Channels is how many channels to decode, 1 or 2 (the mix's).
	Channels int
	// Mix, if not nil, takes every track's audio as it arrives, placed by
	// RTP time with no jitter buffer: a track starts on its timeline where
	// its first packet arrived, at Start plus the frame position (48 kHz).
	// It is the ideal listener of measurements (test/hardnet): what was
	// received and concealed, without a playout's delay changes.
	Mix   *mix.Timeline
	Start time.Time
	// HaveKey says the room's E2EE key is held (the session decrypts);
	// without one an encrypted track is counted and never decoded.
	HaveKey bool
	// GoneFor is how long Participants(true) keeps showing a participant
	// whose tracks all ended. Default 0: not at all.
	GoneFor time.Duration
	// Playout gives every track a jitter buffer (rx.Jitter of Jitter's
	// bounds, Channels at Jitter.Rate) for a Player. Default: off.
	Playout bool
	Jitter  rx.JitterConfig
	// NoMeters skips the per-track meters (a second decoder per track):
	// a device that only plays. Default: false.
	NoMeters bool
	// Skip is an identity whose tracks are never read: the device's own
	// (mix-minus). Default: none.
	Skip string
	// Now is the clock packets are timed by. Default: time.Now.
	Now func() time.Time
}

// BadKeyFrames is how many frames must fail to decrypt, with none opened,
// before CheckKeys says the key is wrong.
const BadKeyFrames = 25

// Listener follows the remote tracks of one room session.
type Listener struct {
	cfg     Config
	log     *slog.Logger
	wg      sync.WaitGroup
	mu      sync.Mutex // guards people, playing
	people  map[string]*participant
	playing []*playTrack
}

// New returns a Listener; log may not be nil.
func New(cfg Config, log *slog.Logger) *Listener {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Jitter.Channels = cfg.Channels
	if cfg.Jitter.Rate == 0 {
		cfg.Jitter.Rate = audio.Rate48k
	}
	return &Listener{cfg: cfg, log: log.With("component", "net.room.listen"), people: map[string]*participant{}}
}

// participant is one remote identity, across its tracks and reconnects:
// its figures in m, the rest guarded by mu.
type participant struct {
	identity  string
	m         *rx.Meters
	mu        sync.Mutex
	crypto    []room.CryptoTrack // tracks that know about encryption
	noKey     bool               // an encrypted track arrived and no key is held
	warnedKey bool               // the wrong-key warning was given
	plays     []*playTrack       // its tracks' jitter buffers, latest last
}

// Participant is the figures of one remote identity.
type Participant struct {
	Identity string `json:"identity"`
	rx.Snapshot
	// E2EE is off, on (encrypted and decrypted here) or no-key
	// (encrypted, not decoded: the meters stay at -120 dBFS).
	E2EE string `json:"e2ee"`
	// Undecryptable counts frames that did not decrypt.
	Undecryptable uint64 `json:"undecryptable"`
	// Playout is its jitter buffers' figures (nil without Playout).
	Playout *Playout `json:"playout,omitempty"`
}

// OnEvent starts a reader for every remote track added; it is a
// room.SupervisorConfig.OnEvent.
func (l *Listener) OnEvent(ev room.Event) {
	if ev.Kind != room.EventTrackAdded {
		return
	}
	if l.cfg.Skip != "" && ev.Participant == l.cfg.Skip {
		l.log.Info("not playing a track of this device's own identity (mix-minus)", "participant", ev.Participant)
		return
	}
	l.mu.Lock()
	p := l.people[ev.Participant]
	if p == nil {
		p = &participant{identity: ev.Participant, m: rx.NewMeters(audio.Rate48k)}
		l.people[ev.Participant] = p
	}
	l.mu.Unlock()
	ct, _ := ev.Track.(room.CryptoTrack)
	sealed := ct != nil && ct.Encrypted() && !l.cfg.HaveKey
	if sealed {
		l.log.Warn("this participant's audio is end-to-end encrypted and this listener has no key: not decoding it; pass the room's passphrase in $ONAIR_E2EE_PASSPHRASE or -e2ee-passphrase",
			"participant", ev.Participant)
	}
	// Ciphertext decoded as Opus is loud noise: counted, never decoded.
	var t *rx.Track
	if !l.cfg.NoMeters {
		var err error
		if t, err = p.m.NewTrack(rx.Config{Channels: l.cfg.Channels, Rate: audio.Rate48k, CountOnly: sealed}); err != nil {
			l.log.Error("decoder", "err", err)
			return
		}
	}
	var pt *playTrack
	if l.cfg.Playout && !sealed {
		l.mu.Lock()
		jc := l.cfg.Jitter
		l.mu.Unlock()
		j, err := rx.NewJitter(jc)
		if err != nil {
			l.log.Error("jitter buffer", "err", err)
			return
		}
		pt = &playTrack{j: j}
	}
	p.mu.Lock()
	if ct != nil {
		p.crypto = append(p.crypto, ct)
	}
	p.noKey = p.noKey || sealed
	if pt != nil {
		p.plays = append(p.plays, pt)
	}
	p.mu.Unlock()
	if pt != nil {
		l.mu.Lock()
		l.playing = append(l.playing, pt)
		l.mu.Unlock()
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		if err := l.read(ev.Track, t, pt); err != nil {
			l.log.Warn("track read", "participant", ev.Participant, "track", ev.Track.ID(), "err", err)
		}
		if t != nil {
			t.End(l.cfg.Now())
		}
		if pt != nil {
			pt.ended.Store(true)
		}
	}()
}

// read feeds one track's packets to t's meters (if not nil) and to pt's
// jitter buffer (if not nil), until the track ends. Its buffers are allocated once.
func (l *Listener) read(tr room.RemoteTrack, t *rx.Track, pt *playTrack) error {
	buf := make([]byte, rx.MaxPayload)
	origin := int64(-1)
	var toMix func(*rx.Chunk)
	if l.cfg.Mix != nil && t != nil {
		toMix = func(c *rx.Chunk) {
			if origin < 0 {
				origin = Position(l.cfg.Start, c.Arrival)
			}
			l.cfg.Mix.Add(origin+c.Pos, c.Samples)
		}
	}
	for {
		pkt, err := tr.ReadPacket(buf)
		if errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		rp, now := rx.Packet{Seq: pkt.Seq, Timestamp: pkt.Timestamp, Payload: pkt.Payload}, l.cfg.Now()
		if pt != nil {
			pt.push(rp, now)
		}
		if t != nil {
			t.Push(rp, now, toMix)
		}
	}
}

// Position returns the 48 kHz timeline frame of time t on a timeline that
// starts at start.
func Position(start, t time.Time) int64 {
	return int64(t.Sub(start)) * 48000 / int64(time.Second)
}

// SetJitter sets the jitter buffers' rate and bounds (the decoded channel
// count stays Config.Channels), for the tracks to come and those playing:
// a new rate gives them new buffers, new bounds take effect at once.
func (l *Listener) SetJitter(cfg rx.JitterConfig) error {
	cfg.Channels = l.cfg.Channels
	if _, err := rx.NewJitter(cfg); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	cfg.SetDefaults()
	old := l.cfg.Jitter
	l.cfg.Jitter = cfg
	for _, t := range l.playing {
		t.mu.Lock()
		if cfg.Rate != old.Rate || cfg.Window != old.Window {
			if j, err := rx.NewJitter(cfg); err == nil {
				t.j = j
			}
		} else {
			t.j.SetBounds(cfg.Min, cfg.Max)
		}
		t.mu.Unlock()
	}
	return nil
}

// Wait waits for every track reader to end (after the session closed).
func (l *Listener) Wait() { l.wg.Wait() }

// CheckKeys warns, once per participant, when a key is held, encrypted
// frames arrive and none decrypts: a wrong passphrase or key index shows
// as silence otherwise.
func (l *Listener) CheckKeys() {
	if !l.cfg.HaveKey {
		return
	}
	for _, p := range l.sorted() {
		s := p.snap(false)
		p.mu.Lock()
		warn := !p.warnedKey && s.Packets == 0 && s.Undecryptable >= BadKeyFrames
		p.warnedKey = p.warnedKey || warn
		p.mu.Unlock()
		if warn {
			l.log.Warn("none of this participant's frames decrypts with the key given: wrong passphrase or key index?",
				"participant", p.identity, "frames", s.Undecryptable)
		}
	}
}

// Participants returns everyone's figures sorted by identity. window
// selects the level meters since the last windowed call and leaves out
// who left more than GoneFor ago (a live view); else the whole run's, for
// everyone (a summary).
func (l *Listener) Participants(window bool, now time.Time) []Participant {
	var out []Participant
	for _, p := range l.sorted() {
		s := p.snap(window)
		if !window || s.Active || s.GoneAt.IsZero() || now.Sub(s.GoneAt) <= l.cfg.GoneFor {
			out = append(out, s)
		}
	}
	return out
}

func (l *Listener) sorted() []*participant {
	l.mu.Lock()
	defer l.mu.Unlock()
	ps := make([]*participant, 0, len(l.people))
	for _, p := range l.people {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].identity < ps[j].identity })
	return ps
}

func (p *participant) snap(window bool) Participant {
	s := Participant{Identity: p.identity, Snapshot: p.m.Snapshot(window), E2EE: "off"}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.plays) > 0 {
		s.Playout = playoutOf(p.plays)
	}
	for _, c := range p.crypto {
		if c.Encrypted() {
			s.E2EE = "on"
		}
		s.Undecryptable += c.Undecryptable()
	}
	if p.noKey {
		s.E2EE = "no-key"
	}
	return s
}
