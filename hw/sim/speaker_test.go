package sim

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/wav"
	"github.com/onair-gateway/onair/conf"
)

var fmtSpk = audio.Format{Channels: 1, Rate: audio.Rate48k, Period: 10 * time.Millisecond}

// quietCfg is a non-realtime silent board whose own noise is far below
// anything the speaker plays, with echo e.
func quietCfg(e *Echo) Config {
	c := fastCfg()
	c.Signal = SignalSilence
	c.SNR = conf.Ptr(100.0)
	c.Echo = e
	return c
}

// bandPulse is a Hann-windowed sinc with a 4 kHz cutoff, centred at
// sample half: band-limited, so fractional delays keep its shape.
func bandPulse(half int) []float32 {
	p := make([]float32, 2*half+1)
	for i := range p {
		x := float64(i - half)
		s := 0.5
		if x != 0 {
			s = math.Sin(math.Pi*x/6) / (math.Pi * x)
		} else {
			s = 1.0 / 6
		}
		w := 0.5 + 0.5*math.Cos(math.Pi*x/float64(half+1))
		p[i] = float32(6 * s * w)
	}
	return p
}

// play writes signal (mono) to the speaker, then silence for extra
// frames, from its own goroutine, and returns a channel with the result.
func play(s *Speaker, signal []float32, extra int) <-chan error {
	done := make(chan error, 1)
	go func() {
		m := s.Format().FrameLen()
		fr := audio.NewFrame(1, s.Format().Rate, s.Format().Period)
		frames := (len(signal)+m-1)/m + extra
		for k := range frames {
			clear(fr.Samples)
			if k*m < len(signal) {
				copy(fr.Samples, signal[k*m:])
			}
			if err := s.WriteFrame(fr); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	return done
}

// arrival finds where pulse (centred at its middle) lies in x: the
// cross-correlation peak, refined by a parabola, and the energy ratio.
func arrival(x []float64, pulse []float32) (pos, gain float64) {
	half := len(pulse) / 2
	var ep float64
	for _, v := range pulse {
		ep += float64(v) * float64(v)
	}
	best, bi := -1.0, 0
	corr := func(at int) float64 {
		var c float64
		for j, v := range pulse {
			if k := at - half + j; k >= 0 && k < len(x) {
				c += float64(v) * x[k]
			}
		}
		return c
	}
	for i := range x {
		if c := corr(i); c > best {
			best, bi = c, i
		}
	}
	a, b, c := corr(bi-1), best, corr(bi+1)
	pos = float64(bi) + 0.5*(a-c)/(a-2*b+c)
	var ex float64
	for _, v := range x[max(0, bi-2*half):min(len(x), bi+2*half)] {
		ex += v * v
	}
	return pos, math.Sqrt(ex / ep)
}

// TestSpeakerEchoArrival plays a band-limited click and checks that each
// mic hears it at the echo delay plus that mic's geometric offset for the
// speaker's azimuth, at the configured level.
func TestSpeakerEchoArrival(t *testing.T) {
	for _, delay := range []time.Duration{0, 30 * time.Millisecond} {
		t.Run(delay.String(), func(t *testing.T) {
			e := &Echo{Delay: conf.Duration(delay), Level: conf.Ptr(-6.0), Azimuth: conf.Ptr(200.0)}
			b := newBoard(t, quietCfg(e), geom4, fmt4, Options{})
			s, err := b.Speaker(fmtSpk)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			const at = 2400
			pulse := bandPulse(64)
			sig := make([]float32, at+len(pulse))
			copy(sig[at-64:], pulse)
			done := play(s, sig, 200)
			ch := readChannels(t, b, 0, 20)
			s.Close()
			if err := <-done; err != nil && !errors.Is(err, audio.ErrClosed) {
				t.Fatal(err)
			}
			p0, ok := s.PlayedAt(at)
			if !ok {
				t.Fatal("PlayedAt: not started")
			}
			offs := geom4.Delays(200 * math.Pi / 180)
			for m := range 4 {
				want := p0 + delay.Seconds()*48000 + offs[m]*48000
				pos, gain := arrival(ch[m], pulse)
				if math.Abs(pos-want) > 0.05 {
					t.Errorf("mic %d: click at %.3f, want %.3f", m, pos, want)
				}
				if db := 20 * math.Log10(gain); math.Abs(db+6) > 0.1 {
					t.Errorf("mic %d: level %.2f dB, want -6", m, db)
				}
			}
		})
	}
}

// TestSpeakerTail checks the exponential tail: its level falls 60 dB per
// decay (T60), and it carries as much energy as the direct path.
func TestSpeakerTail(t *testing.T) {
	e := &Echo{Delay: conf.Duration(10 * time.Millisecond), Level: conf.Ptr(-6.0), Decay: conf.Duration(250 * time.Millisecond)}
	b := newBoard(t, quietCfg(e), geom4, fmt4, Options{})
	s, err := b.Speaker(fmtSpk)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sig := make([]float32, 481)
	sig[480] = 1 // a unit click: the mic records the impulse response
	done := play(s, sig, 100)
	ch := readChannels(t, b, 0, 60)
	s.Close()
	if err := <-done; err != nil && !errors.Is(err, audio.ErrClosed) {
		t.Fatal(err)
	}
	p0, _ := s.PlayedAt(480)
	d0 := int(p0) + 480 // the direct sound at the centre
	energy := func(m int, from, to time.Duration) float64 {
		var sum float64
		for _, v := range ch[m][d0+int(from.Seconds()*48000) : d0+int(to.Seconds()*48000)] {
			sum += v * v
		}
		return sum
	}
	for m := range 4 {
		direct := energy(m, -time.Millisecond, 500*time.Microsecond)
		tail := energy(m, 500*time.Microsecond, 400*time.Millisecond)
		if drr := 10 * math.Log10(direct/tail); math.Abs(drr) > 1 {
			t.Errorf("mic %d: direct-to-reverberant ratio %.2f dB, want 0", m, drr)
		}
		// 50 ms of a 250 ms T60 is 12 dB.
		drop := 10 * math.Log10(energy(m, 50*time.Millisecond, 100*time.Millisecond)/energy(m, 100*time.Millisecond, 150*time.Millisecond))
		if math.Abs(drop-12) > 2.5 {
			t.Errorf("mic %d: tail falls %.1f dB in 50 ms, want 12", m, drop)
		}
	}
}

// TestSpeakerSkew plays a click every second on a playback clock 200 ppm
// fast and measures the skew from the clicks' arrivals in a mic and in
// the 6-mic board's loopback channel.
func TestSpeakerSkew(t *testing.T) {
	for _, ppm := range []float64{200, -50} {
		cfg := quietCfg(&Echo{Delay: conf.Duration(5 * time.Millisecond)})
		cfg.SkewPPM = ppm
		b := newBoard(t, cfg, geom6, fmt8, Options{})
		s, err := b.Speaker(fmtSpk)
		if err != nil {
			t.Fatal(err)
		}
		pulse := bandPulse(64)
		const clicks = 8
		sig := make([]float32, clicks*48000)
		for k := range clicks {
			copy(sig[k*48000+1000-64:], pulse)
		}
		done := play(s, sig, 200)
		ch := readChannels(t, b, 0, clicks*100+50)
		s.Close()
		if err := <-done; err != nil && !errors.Is(err, audio.ErrClosed) {
			t.Fatal(err)
		}
		for _, c := range []int{0, 6} {
			first, _ := arrival(ch[c][:48000], pulse)
			last, _ := arrival(ch[c][(clicks-1)*48000-2000:(clicks-1)*48000+8000], pulse)
			last += float64((clicks-1)*48000 - 2000)
			// The playback clock plays 48000 samples in 48000/(1+skew)
			// capture samples.
			got := (float64((clicks-1)*48000)/(last-first) - 1) * 1e6
			if math.Abs(got-ppm) > 2 {
				t.Errorf("skew %v ppm, channel %d: measured %.2f ppm", ppm, c, got)
			}
		}
	}
}

// TestSpeakerPlaybackFile checks that the playback file holds exactly the
// frames written, stereo.
func TestSpeakerPlaybackFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "played.wav")
	cfg := quietCfg(nil)
	cfg.PlaybackFile = path
	b := newBoard(t, cfg, geom4, fmt4, Options{})
	sf := audio.Format{Channels: 2, Rate: audio.Rate48k, Period: 20 * time.Millisecond}
	s, err := b.Speaker(sf)
	if err != nil {
		t.Fatal(err)
	}
	var sent []float32
	r := rng{s: 7}
	fr := audio.NewFrame(2, audio.Rate48k, sf.Period)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		in := audio.NewFrame(4, audio.Rate48k, fmt4.Period)
		for b.ReadFrame(in) == nil {
		}
	}()
	for range 10 {
		for i := range fr.Samples {
			fr.Samples[i] = 0.1 * r.gauss()
		}
		sent = append(sent, fr.Samples...)
		if err := s.WriteFrame(fr); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	<-readDone
	f, err := wav.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Format().Channels != 2 || f.Format().Rate != 48000 || f.Frames() != int64(len(sent)/2) {
		t.Fatalf("file %+v with %d frames, want 2 channels at 48 kHz, %d frames", f.Format(), f.Frames(), len(sent)/2)
	}
	got := make([]float32, len(sent))
	for at := 0; at < len(got); {
		n, err := f.Read(got[at:])
		if err != nil {
			t.Fatalf("read at %d: %v", at, err)
		}
		at += 2 * n
	}
	for i := range sent {
		if got[i] != sent[i] {
			t.Fatalf("sample %d: %v in the file, %v written", i, got[i], sent[i])
		}
	}
}

// TestSpeakerErrors checks the speaker's format checks, one open speaker
// at a time, and Close unblocking a full buffer's write.
func TestSpeakerErrors(t *testing.T) {
	b := newBoard(t, quietCfg(nil), geom4, fmt4, Options{})
	for _, f := range []audio.Format{
		{Channels: 1, Rate: audio.Rate16k, Period: 10 * time.Millisecond},
		{Channels: 3, Rate: audio.Rate48k, Period: 10 * time.Millisecond},
		{Channels: 1, Rate: audio.Rate48k},
	} {
		if _, err := b.Speaker(f); err == nil {
			t.Errorf("Speaker(%+v) succeeded", f)
		}
	}
	s, err := b.Speaker(fmtSpk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Speaker(fmtSpk); !errors.Is(err, ErrSpeakerOpen) {
		t.Errorf("second Speaker: %v, want ErrSpeakerOpen", err)
	}
	if err := s.WriteFrame(audio.NewFrame(2, audio.Rate48k, 10*time.Millisecond)); !errors.Is(err, ErrFrameFormat) {
		t.Errorf("stereo frame to a mono speaker: %v", err)
	}
	// Nobody reads the capture: the buffer fills and a write blocks
	// until Close.
	done := play(s, make([]float32, 48000), 0)
	select {
	case err := <-done:
		t.Fatalf("writes did not block on a full buffer: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	s.Close()
	if err := <-done; !errors.Is(err, audio.ErrClosed) {
		t.Fatalf("write after Close: %v", err)
	}
	s2, err := b.Speaker(fmtSpk)
	if err != nil {
		t.Fatalf("Speaker after Close: %v", err)
	}
	done = play(s2, make([]float32, 48000), 0)
	time.Sleep(10 * time.Millisecond)
	b.Close()
	if err := <-done; !errors.Is(err, audio.ErrClosed) {
		t.Fatalf("write after the board closed: %v", err)
	}
}

// TestSpeakerRealtime checks realtime pacing on a fake clock: four periods
// fit the buffer, the fifth waits one period.
func TestSpeakerRealtime(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	clk := clockwork.NewFakeClock()
	cfg := quietCfg(nil)
	cfg.Realtime = nil
	b := newBoard(t, cfg, geom4, fmt4, Options{Clock: clk})
	s, err := b.Speaker(fmtSpk)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fr := audio.NewFrame(1, audio.Rate48k, 10*time.Millisecond)
	for k := range speakerPeriods {
		if err := s.WriteFrame(fr); err != nil {
			t.Fatalf("write %d: %v", k, err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- s.WriteFrame(fr) }()
	if err := clk.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(10*time.Millisecond - time.Microsecond)
	select {
	case err := <-done:
		t.Fatalf("fifth write returned early: %v", err)
	default:
	}
	clk.Advance(time.Microsecond)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestSpeakerAllocs checks that playing and capturing with echo, skew and
// a tail do not allocate.
func TestSpeakerAllocs(t *testing.T) {
	cfg := quietCfg(&Echo{Delay: conf.Duration(30 * time.Millisecond), Decay: conf.Duration(250 * time.Millisecond)})
	cfg.SkewPPM = 30
	cfg.PlaybackFile = filepath.Join(t.TempDir(), "p.wav")
	b := newBoard(t, cfg, geom6, fmt8, Options{})
	s, err := b.Speaker(fmtSpk)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out := audio.NewFrame(1, audio.Rate48k, 10*time.Millisecond)
	in := audio.NewFrame(8, audio.Rate48k, 10*time.Millisecond)
	for range 3 {
		if err := s.WriteFrame(out); err != nil {
			t.Fatal(err)
		}
	}
	if n := testing.AllocsPerRun(100, func() {
		if err := s.WriteFrame(out); err != nil {
			t.Fatal(err)
		}
		if err := b.ReadFrame(in); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocations per frame, want 0", n)
	}
}

// TestEchoValidate checks that bad speaker settings name their fields.
func TestEchoValidate(t *testing.T) {
	c := fastCfg()
	c.Echo = &Echo{Delay: conf.Duration(-time.Millisecond), Level: conf.Ptr(40.0), Decay: conf.Duration(3 * time.Second), Azimuth: conf.Ptr(400.0)}
	c.SkewPPM = 5000
	c.PlaybackFile = "a\x00b"
	c.SetDefaults()
	err := c.Validate()
	for _, f := range []string{"echo.delay", "echo.level", "echo.decay", "echo.azimuth", "skew_ppm", "playback_file"} {
		if err == nil || !strings.Contains(err.Error(), f+":") {
			t.Errorf("error %v does not name %s", err, f)
		}
	}
	ok := fastCfg()
	ok.Echo = &Echo{}
	ok.SetDefaults()
	if err := ok.Validate(); err != nil || *ok.Echo.Level != -6 || *ok.Echo.Azimuth != 270 {
		t.Errorf("defaults: %v, %+v", err, ok.Echo)
	}
}

// BenchmarkSpeaker measures one 10 ms capture frame of the 4-mic board
// with the speaker playing through a 250 ms room, plus its write.
func BenchmarkSpeaker(b *testing.B) {
	cfg := quietCfg(&Echo{Delay: conf.Duration(30 * time.Millisecond), Decay: conf.Duration(250 * time.Millisecond)})
	cfg.SkewPPM = 30
	bd := newBoard(b, cfg, geom4, fmt4, Options{})
	s, err := bd.Speaker(fmtSpk)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	out := audio.NewFrame(1, audio.Rate48k, 10*time.Millisecond)
	in := audio.NewFrame(4, audio.Rate48k, 10*time.Millisecond)
	for range 3 {
		if err := s.WriteFrame(out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.WriteFrame(out); err != nil {
			b.Fatal(err)
		}
		if err := bd.ReadFrame(in); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSpeakerEchoRealtime checks the echo in realtime mode on a fake
// clock: the speaker's first write and the capture's first read at the
// same instant put playback sample q at capture position q, and a click
// reaches each mic at the echo delay plus its geometric offset.
func TestSpeakerEchoRealtime(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	clk := clockwork.NewFakeClock()
	cfg := quietCfg(&Echo{Delay: conf.Duration(20 * time.Millisecond), Azimuth: conf.Ptr(0.0)})
	cfg.Realtime = nil
	b := newBoard(t, cfg, geom4, fmt4, Options{Clock: clk})
	s, err := b.Speaker(fmtSpk)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pulse := bandPulse(64)
	sig := make([]float32, 4000)
	copy(sig[2000-64:], pulse)
	done := play(s, sig, 1000)
	const frames = 12
	got := make(chan [][]float64, 1)
	go func() { got <- readChannels(t, b, 0, frames) }()
	for range frames {
		if err := clk.BlockUntilContext(ctx, 2); err != nil { // the reader and the writer
			t.Fatal(err)
		}
		clk.Advance(10 * time.Millisecond)
	}
	ch := <-got
	s.Close()
	if err := <-done; err != nil && !errors.Is(err, audio.ErrClosed) {
		t.Fatal(err)
	}
	p0, ok := s.PlayedAt(2000)
	if !ok || p0 != 2000 {
		t.Fatalf("PlayedAt(2000) = %v, %v; want 2000", p0, ok)
	}
	offs := geom4.Delays(0)
	for m := range 4 {
		want := p0 + 0.020*48000 + offs[m]*48000
		if pos, _ := arrival(ch[m], pulse); math.Abs(pos-want) > 0.05 {
			t.Errorf("mic %d: click at %.3f, want %.3f", m, pos, want)
		}
	}
	if n := s.Underruns(); n != 0 {
		t.Errorf("%d underruns with the writer ahead", n)
	}
}
