package hardnet

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/dsp"
	"github.com/onair-gateway/onair/audio/opus"
	"github.com/onair-gateway/onair/audio/pipeline"
	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/hw/sim"
	"github.com/onair-gateway/onair/net/livekit"
	"github.com/onair-gateway/onair/net/livekit/livekittest"
	"github.com/onair-gateway/onair/net/livekit/lkpeer"
	"github.com/onair-gateway/onair/net/room"
	"github.com/onair-gateway/onair/net/whip"
)

const speechWAV = "../../testdata/speech48k.wav"

// logger is the tests' log: discarded unless ONAIR_TEST_LOG is set.
func logger(t testing.TB) *slog.Logger {
	if os.Getenv("ONAIR_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// tap records the chain's output: what the encoder is given.
type tap struct {
	*dsp.Chain
	mu  sync.Mutex
	pcm []float32
}

func (c *tap) Process(dst, src *audio.Frame) {
	c.Chain.Process(dst, src)
	c.mu.Lock()
	c.pcm = append(c.pcm, dst.Samples...)
	c.mu.Unlock()
}

func (c *tap) samples() []float32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]float32(nil), c.pcm...)
}

// deviceConfig says what the simulated device sends and how.
type deviceConfig struct {
	Frame  time.Duration // opus.frame
	FEC    bool          // opus.fec
	Signal sim.SignalKind
	// Room is applied to the device's room config (ICE servers, policy).
	Room func(*room.Config)
	// OnUp, if set, is called once the device has joined, before capture
	// starts (to turn a relay's faults on).
	OnUp func()
	// WHIP publishes over livekit-server's WHIP endpoint (net/whip)
	// instead of the LiveKit protocol.
	WHIP bool
}

// device is the speak path of one simulated 1-mic board, as onaird builds
// it: sim board → voice chain → Opus → supervisor (with rate adaptation)
// → LiveKit.
type device struct {
	sup  *room.Supervisor
	pipe *pipeline.Pipeline
	enc  *opus.Encoder
	tap  *tap
	stop func()
}

// startDevice joins the room and, once connected, starts capture.
func startDevice(t *testing.T, srv *livekittest.Server, name string, dc deviceConfig) *device {
	t.Helper()
	log := logger(t).With("side", "device")
	f := audio.Format{Channels: 1, Rate: audio.Rate48k, Period: 10 * time.Millisecond}
	geom := audio.Geometry{Shape: audio.ShapeLinear, Mics: 1}
	sc := sim.Config{Signal: dc.Signal, SNR: conf.Ptr(60.0), Keyboard: conf.Ptr(false)}
	if dc.Signal == sim.SignalWAV {
		sc.File = speechWAV
	}
	sc.SetDefaults()
	board, err := sim.New(sc, geom, f, sim.Options{AlignMarks: dc.Signal == sim.SignalChirp}, log)
	if err != nil {
		t.Fatal(err)
	}
	var proc dsp.Config
	proc.SetDefaults(1, false)
	oc := opus.Config{Frame: conf.Duration(dc.Frame), FEC: conf.Ptr(dc.FEC)}
	oc.SetDefaults()
	sp, err := pipeline.NewSpeak(proc, geom, f, oc)
	if err != nil {
		t.Fatal(err)
	}
	sp.Chain.SetOnAir(true)
	tp := &tap{Chain: sp.Chain}
	// The largest ring: a loaded test machine stalls the process for
	// hundreds of ms, and a dropped capture frame is a slip, not a loss.
	pipe, err := pipeline.New(pipeline.Config{Ring: 64}, board, tp, sp.Encoder, log)
	if err != nil {
		t.Fatal(err)
	}

	rc := room.Config{URL: srv.URL, Room: name, APIKey: srv.APIKey, APISecret: conf.Secret(srv.APISecret)}
	if dc.WHIP {
		rc = room.Config{URL: srv.HTTPURL + "/whip/v1", Token: conf.Secret(srv.Token("device", name, true)), Identity: "device"}
	}
	if dc.Room != nil {
		dc.Room(&rc)
	}
	rc.SetDefaults("device")
	var r room.Room
	if dc.WHIP {
		r, err = whip.New(rc, whip.Options{Loopback: true}, log)
	} else {
		r, err = livekit.New(rc, livekit.Options{}, log)
	}
	if err != nil {
		t.Fatal(err)
	}
	connected := make(chan struct{})
	var once sync.Once
	supCfg := rc.SupervisorConfig()
	supCfg.Encoder = sp.Encoder
	supCfg.OnState = func(c room.StateChange) {
		if c.State == room.StateConnected {
			once.Do(func() { close(connected) })
		}
	}
	sup := room.NewSupervisor(r, supCfg, log)
	// As onaird's sink (gateway.sinkTo): a gap in the capture count (a
	// frame dropped under load) skips the RTP clock.
	var next int64
	pipe.SetSink(pipeline.SinkFunc(func(p pipeline.Packet) error {
		if p.Pos > next && next > 0 {
			sup.Skip(f.Rate.Duration(int(p.Pos - next)))
		}
		next = p.Pos + int64(f.Rate.Samples(p.Duration))
		return sup.WriteOpus(p.Data, p.Duration)
	}))

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = sup.Run(ctx) }()
	select {
	case <-connected:
	case <-time.After(30 * time.Second):
		cancel()
		wg.Wait()
		t.Fatalf("device never joined: %v", sup.State())
	}
	if dc.OnUp != nil {
		dc.OnUp()
	}
	wg.Add(1)
	go func() { defer wg.Done(); _ = pipe.Run(ctx) }()
	d := &device{sup: sup, pipe: pipe, enc: sp.Encoder, tap: tp}
	var stopOnce sync.Once
	d.stop = func() {
		stopOnce.Do(func() {
			cancel()
			_ = board.Close()
			wg.Wait()
			_ = sp.Encoder.Close()
		})
	}
	t.Cleanup(d.stop)
	return d
}

// startListener joins name as the ideal listener of the measurements
// (lkpeer.Recorder: every remote track decoded with FEC and PLC onto one
// timeline by RTP time, with none of a playout buffer's delay changes).
func startListener(t *testing.T, srv *livekittest.Server, name string) *lkpeer.Recorder {
	t.Helper()
	return lkpeer.Record(t, srv, name, "listener", "", logger(t).With("side", "listener"))
}
