package gateway

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/marks"
	"github.com/onair-gateway/onair/audio/wav"
	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/hw/alsa"
	"github.com/onair-gateway/onair/net/e2ee"
	"github.com/onair-gateway/onair/net/livekit"
	"github.com/onair-gateway/onair/net/livekit/livekittest"
	"github.com/onair-gateway/onair/net/livekit/lkpeer"
	"github.com/onair-gateway/onair/provisioning"
)

// tap records what the listen unit hands to the output (the WrapSink
// hook): every sample, and when the first frame was written (the
// simulated speaker, in real time, plays sample q at first + q/rate).
type tap struct {
	audio.Sink
	mu      sync.Mutex
	first   time.Time
	samples []float32
}

func (p *tap) WriteFrame(f *audio.Frame) error {
	p.mu.Lock()
	if p.first.IsZero() {
		p.first = time.Now()
	}
	for i := 0; i < f.Len(); i++ {
		p.samples = append(p.samples, f.Samples[i*f.Channels])
	}
	p.mu.Unlock()
	return p.Sink.WriteFrame(f)
}

// envelope is x's RMS in 10 ms blocks.
func envelope(x []float32) []float64 {
	e := make([]float64, len(x)/480)
	for i := range e {
		var s float64
		for _, v := range x[i*480 : (i+1)*480] {
			s += float64(v) * float64(v)
		}
		e[i] = math.Sqrt(s / 480)
	}
	return e
}

// bestEnvelopeCorr returns the highest Pearson correlation of a with b
// shifted by a lag of 0..len(b), over at least minOverlap blocks, and the
// lag.
func bestEnvelopeCorr(a, b []float64, minOverlap int) (float64, int) {
	best, lag := -1.0, 0
	for L := 0; L+minOverlap <= len(b); L++ {
		n := min(len(a), len(b)-L)
		if n < minOverlap {
			break
		}
		var sa, sb, saa, sbb, sab float64
		for i := range n {
			x, y := a[i], b[i+L]
			sa, sb, saa, sbb, sab = sa+x, sb+y, saa+x*x, sbb+y*y, sab+x*y
		}
		fn := float64(n)
		c := (sab - sa*sb/fn) / math.Sqrt((saa-sa*sa/fn)*(sbb-sb*sb/fn)+1e-30)
		if c > best {
			best, lag = c, L
		}
	}
	return best, lag
}

// windowedEnvelopeCorr follows a jitter buffer that moves its delay (2.5 ms
// time-scale steps): a's envelope in 2 s windows, each matched in b at its
// best lag within 150 ms of lag0; it returns the mean of the windows'
// correlations.
func windowedEnvelopeCorr(a, b []float64, lag0 int) float64 {
	const win, slack = 200, 15
	var sum float64
	var n int
	for w := 0; w+win <= len(a); w += win / 2 {
		best, ok := -1.0, false
		for L := lag0 - slack; L <= lag0+slack; L++ {
			if w+L < 0 || w+L+win > len(b) {
				continue
			}
			c, _ := bestEnvelopeCorr(a[w:w+win], b[w+L:w+L+win], win)
			best, ok = max(best, c), true
		}
		if ok {
			sum += best
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// TestListenFromRealRoom: the listen path end to end on a real
// livekit-server. Another participant speaks real speech (with a timing
// mark at every whole second) into an encrypted room; onaird's gateway on
// the simulated board decrypts, buffers, mixes and plays it; the WAV the
// simulated speaker writes matches what was sent (envelope correlation ≥
// 0.85), and the marks give the listen path's mouth-to-ear latency: from
// the talker's capture clock to the speaker's play clock.
func TestListenFromRealRoom(t *testing.T) {
	srv := livekittest.Start(t)
	const roomName, pass = "listen", "a-long-enough-passphrase"
	played := filepath.Join(t.TempDir(), "played.wav")
	doc := deviceDoc(srv, "gw-listen", roomName, fmt.Sprintf("signal: silence, playback_file: %q", played),
		// A floor of 80 ms under the jitter buffer: a loaded 2-core machine
		// running -race delays packets by more than loopback ever does.
		fmt.Sprintf("e2ee: {passphrase: %s}\naudio: {playback: {jitter_min: 80ms}}", pass))
	r := resolve(t, doc)
	if !r.Audio.Playback.On() {
		t.Fatal("playback is off on a sim board with a playback_file")
	}
	tp := &tap{}
	g, err := New(r, Options{Hardware: &SimHardware{log: testLogger(t)}, Log: testLogger(t),
		WrapSink: func(s audio.Sink) (audio.Sink, error) { tp.Sink = s; return tp, nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(stop)
	waitFor(t, "live", func() bool { return g.Status().State == StateLive })
	waitFor(t, "playing", func() bool { return g.Status().Listen.Playing })

	// What the talker says: speech, and a mark at every whole second.
	b, err := os.ReadFile(filepath.Join("..", "testdata", "speech48k.wav"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := wav.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	speech, chirp := a.Channels[0], marks.Chirp(audio.Rate48k)
	var sentMu sync.Mutex
	var sent []float32
	keys, err := e2ee.New(e2ee.Config{Passphrase: conf.Secret(pass)})
	if err != nil {
		t.Fatal(err)
	}
	start := marks.Start(time.Now())
	lkpeer.Talk(t, srv, roomName, "talker", start, livekit.Options{Encryptor: keys}, testLogger(t), func(pos int64, frame []float32) {
		for i := range frame {
			n := pos + int64(i)
			v := 0.7 * speech[n%int64(len(speech))]
			if off := marks.Offset(n, audio.Rate48k); off < len(chirp) {
				v += 0.3 * chirp[off]
			}
			frame[i] = v
		}
		sentMu.Lock()
		sent = append(sent, frame...)
		sentMu.Unlock()
	})
	waitFor(t, "the talker played", func() bool {
		for _, p := range g.Status().Listen.Participants {
			if p.Identity == "talker" && p.Playing && p.DelayMs > 0 {
				return true
			}
		}
		return false
	})
	time.Sleep(7 * time.Second) // real speech through a real server
	st := g.Status().Listen
	stop() // closes the board: the playback file is complete

	t.Logf("listen status: %+v", st)
	if len(st.Participants) != 1 || st.Participants[0].Identity != "talker" {
		t.Fatalf("participants %+v, want the talker alone (not the device itself)", st.Participants)
	}
	if p := st.Participants[0]; p.TargetMs < 40 || p.TargetMs > 200 || p.DelayMs <= 0 {
		t.Errorf("jitter buffer: %+v", p)
	}

	// The played WAV against what was sent.
	pb, err := os.ReadFile(played)
	if err != nil {
		t.Fatal(err)
	}
	pa, err := wav.Parse(pb)
	if err != nil {
		t.Fatal(err)
	}
	sentMu.Lock()
	sentCopy := slices.Clone(sent)
	sentMu.Unlock()
	es, ep := envelope(sentCopy), envelope(pa.Channels[0])
	whole, lag := bestEnvelopeCorr(es, ep, 400)
	c := windowedEnvelopeCorr(es, ep, lag)
	t.Logf("played %.2f s; envelope correlation with what was sent %.3f (%.3f at one lag for the whole, %d ms)", float64(pa.Len())/48000, c, whole, lag*10)
	if c < 0.85 {
		t.Errorf("envelope correlation %.3f, want >= 0.85", c)
	}

	// Mouth-to-ear, by the marks.
	tp.mu.Lock()
	first, out := tp.first, slices.Clone(tp.samples)
	tp.mu.Unlock()
	det := marks.NewDetector(audio.Rate48k)
	var lats []time.Duration
	for _, on := range det.Process(out, nil) {
		lats = append(lats, marks.Latency(first.Add(audio.Rate48k.Duration(int(on)))))
	}
	if len(lats) < 4 {
		t.Fatalf("%d marks heard in %.1f s played", len(lats), float64(len(out))/48000)
	}
	slices.Sort(lats)
	med := lats[len(lats)/2]
	t.Logf("mouth-to-ear latency of the listen path over %d marks: median %v (min %v, max %v)", len(lats), med, lats[0], lats[len(lats)-1])
	if med < 20*time.Millisecond || med > 400*time.Millisecond {
		t.Errorf("mouth-to-ear latency %v", med)
	}
}

// flakySink is an output that plays in real time until its board
// unplugs it.
type flakySink struct {
	h      *flakyHW
	closed atomic.Bool
}

func (s *flakySink) Format() audio.Format {
	return audio.Format{Channels: 1, Rate: audio.Rate48k, Period: 10 * time.Millisecond}
}

func (s *flakySink) WriteFrame(*audio.Frame) error {
	if s.closed.Load() {
		return audio.ErrClosed
	}
	time.Sleep(10 * time.Millisecond)
	if s.h.unplugged.Load() {
		return &alsa.DeviceError{Device: "flaky", Op: "write", Err: syscall.ENODEV}
	}
	return nil
}

func (s *flakySink) Close() error { s.closed.Store(true); return nil }

// flakyHW is the simulated board with an output the test unplugs.
type flakyHW struct {
	*SimHardware
	opens     atomic.Int32
	unplugged atomic.Bool
}

func (h *flakyHW) OpenSink(*provisioning.Resolved) (audio.Sink, error) {
	h.opens.Add(1)
	if h.unplugged.Load() {
		return nil, &alsa.DeviceError{Device: "flaky", Op: "open", Err: syscall.ENOENT}
	}
	return &flakySink{h: h}, nil
}

// TestListenOutputComesBack: the output vanishes while playing; the listen
// unit says why in the status, retries with backoff while it is absent,
// and plays again when it is back.
func TestListenOutputComesBack(t *testing.T) {
	hw := &flakyHW{SimHardware: &SimHardware{log: testLogger(t)}}
	g := runDeviceOn(t, simDoc+"audio: {playback: {enabled: true, device: flaky}}\n", hw)
	waitFor(t, "playing", func() bool { return g.Status().Listen.Playing })
	hw.unplugged.Store(true)
	var failed ListenStatus
	waitFor(t, "the output's failure in the status", func() bool { failed = g.Status().Listen; return failed.Error != "" })
	waitFor(t, "a reopen while it is absent", func() bool { return hw.opens.Load() >= 2 })
	t.Logf("failed: %+v", failed)
	if failed.Playing || !strings.Contains(failed.Error, `"flaky"`) {
		t.Errorf("status while the output is gone: %+v", failed)
	}
	hw.unplugged.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for s := g.Status().Listen; !(s.Playing && s.Error == "" && s.Frames > failed.Frames+10); s = g.Status().Listen {
		if time.Now().After(deadline) {
			t.Fatalf("the output did not come back: %+v after %d opens", s, hw.opens.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("back after %d opens", hw.opens.Load())
}
