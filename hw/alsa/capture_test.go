//go:build linux && cgo

package alsa

import (
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/audiotest"
	"github.com/onair-gateway/onair/hw/alsa/alsaconf"
)

// TestCaptureData reads periods from a paced virtual microphone and checks
// every sample against the pattern written, the channel order, positions,
// counters and the pace.
func TestCaptureData(t *testing.T) {
	tests := []struct {
		name string
		cfg  alsaconf.Config
	}{
		{"S32_LE 4ch 48k 10ms", cfgOf(alsaconf.S32LE, 4, audio.Rate48k, 10*time.Millisecond)},
		{"S32_LE 8ch 48k 10ms", cfgOf(alsaconf.S32LE, 8, audio.Rate48k, 10*time.Millisecond)},
		{"S16_LE 2ch 48k 10ms", cfgOf(alsaconf.S16LE, 2, audio.Rate48k, 10*time.Millisecond)},
		{"S24_LE 2ch 16k 20ms", cfgOf(alsaconf.S24LE, 2, audio.Rate16k, 20*time.Millisecond)},
		{"S16_LE 1ch 48k 5ms", cfgOf(alsaconf.S16LE, 1, audio.Rate48k, 5*time.Millisecond)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newVMic(t, tc.cfg)
			c := v.open(t)
			f := c.Format()
			if f.Channels != tc.cfg.Channels || f.Rate != tc.cfg.Rate || f.Period != tc.cfg.Period.D() {
				t.Fatalf("Format() = %+v", f)
			}
			n := c.Negotiated()
			if n.Type != "FILE" || n.Format != tc.cfg.Format || n.Channels != tc.cfg.Channels || n.Rate != tc.cfg.Rate ||
				n.PeriodFrames != f.FrameLen() || n.BufferFrames != 4*f.FrameLen() {
				t.Errorf("Negotiated() = %+v", n)
			}

			const frames = 50
			dst := audio.NewFrame(f.Channels, f.Rate, f.Period)
			var start time.Time
			var first, last int64
			for k := 0; k < frames; k++ {
				if err := c.ReadFrame(dst); err != nil {
					t.Fatalf("ReadFrame %d: %v", k, err)
				}
				switch {
				case k == 0:
					start, first = time.Now(), dst.Pos
					// 0, unless the test goroutine was descheduled for longer
					// than the ring before its first read (a busy CI machine):
					// then whole periods were dropped, and counted.
					if dst.Pos%int64(f.FrameLen()) != 0 {
						t.Fatalf("first frame at Pos %d, want a whole number of periods", dst.Pos)
					}
				case dst.Pos <= last || (dst.Pos-last)%int64(f.FrameLen()) != 0:
					// A reader descheduled for longer than the ring loses
					// whole periods; positions must still say so exactly.
					t.Fatalf("frame %d: Pos %d after %d: want a step of whole periods", k, dst.Pos, last)
				}
				last = dst.Pos
				if dst.Rate != f.Rate {
					t.Fatalf("frame %d: Rate %d", k, dst.Rate)
				}
				checkFrame(t, tc.cfg.Format, dst)
			}
			elapsed, nominal := time.Since(start), time.Duration(frames-1)*f.Period
			t.Logf("%d periods in %v (nominal %v)", frames-1, elapsed, nominal)
			if elapsed < nominal*7/10 {
				t.Errorf("%d periods took %v, under 70%% of the nominal %v: capture is not paced by the device", frames-1, elapsed, nominal)
			}
			st := c.Stats()
			skipped := uint64(last/int64(f.FrameLen())) - (frames - 1) // from Pos 0: drops before the first read count
			if st.Frames != frames || st.Periods < frames || st.Dropped < skipped || st.Xruns != 0 || st.LostSamples != 0 {
				t.Errorf("Stats() = %+v after %d frames spanning %d periods", st, frames, (last-first)/int64(f.FrameLen())+1)
			}
			if skipped > 0 {
				t.Logf("the test goroutine fell a whole ring behind: %d periods dropped (machine busy)", skipped)
			}
			if err := c.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
		})
	}
}

// TestCaptureContract runs the audio.Source contract against a paced
// virtual microphone.
func TestCaptureContract(t *testing.T) {
	audiotest.TestSource(t, func(t *testing.T) audio.Source {
		return newVMic(t, cfgOf(alsaconf.S32LE, 4, audio.Rate48k, 10*time.Millisecond)).open(t)
	})
}

// TestCloseStalledWriter blocks a read inside the file plugin's read(2) on a
// FIFO whose writer stops writing. Neither the eventfd nor snd_pcm_drop can
// wake that read: ReadFrame must still return audio.ErrClosed at once,
// Close must report the deferred release, and the PCM must be closed (the
// FIFO's read end goes away) as soon as the writer writes again.
func TestCloseStalledWriter(t *testing.T) {
	before := audiotest.Goroutines()
	cfg := cfgOf(alsaconf.S16LE, 2, audio.Rate48k, 10*time.Millisecond)
	v := newVMic(t, cfg)
	c := v.open(t)
	f := c.Format()
	dst := audio.NewFrame(f.Channels, f.Rate, f.Period)
	for k := 0; k < 5; k++ {
		if err := c.ReadFrame(dst); err != nil {
			t.Fatal(err)
		}
	}
	v.feeder.paused.Store(true)
	time.Sleep(10 * f.Period) // the ring drains; the goroutine blocks in read(2)
	result := make(chan error, 1)
	go func() {
		for {
			if err := c.ReadFrame(dst); err != nil {
				result <- err
				return
			}
		}
	}()
	time.Sleep(5 * f.Period)
	select {
	case err := <-result:
		t.Fatalf("ReadFrame returned %v while the writer stalls", err)
	default:
	}

	begin := time.Now()
	err := c.Close()
	took := time.Since(begin)
	select {
	case rerr := <-result:
		if !errors.Is(rerr, audio.ErrClosed) {
			t.Fatalf("pending ReadFrame returned %v, want audio.ErrClosed", rerr)
		}
	case <-time.After(time.Second):
		t.Fatal("pending ReadFrame did not return after Close")
	}
	var de *DeviceError
	if !errors.Is(err, ErrCloseDeferred) || !errors.As(err, &de) || de.Op != "close" || de.Device != "vmic" {
		t.Fatalf("Close = %v after %v, want a close *DeviceError wrapping ErrCloseDeferred", err, took)
	}
	t.Logf("Close gave up after %v: %v", took, err)
	// The goroutine is still inside libasound, and the leak check sees it
	// although it sits in a cgo call.
	if n := captureGoroutines(audiotest.LeftBehind(before, 0)); n != 1 {
		t.Fatalf("%d capture goroutines while the read is stuck, want 1", n)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := c.ReadFrame(dst); !errors.Is(err, audio.ErrClosed) {
		t.Fatalf("ReadFrame after Close: %v", err)
	}

	// The writer resumes: the blocked read returns, the goroutine closes the
	// PCM, and the writer soon finds no reader.
	v.feeder.paused.Store(false)
	deadline := time.Now().Add(2 * time.Second)
	for v.feeder.writeErr() == nil && time.Now().Before(deadline) {
		time.Sleep(f.Period)
	}
	if err := v.feeder.writeErr(); !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("writer error %v, want EPIPE once the PCM is closed", err)
	}
	if left := audiotest.LeftBehind(before, 2*time.Second); len(left) > 0 {
		t.Fatalf("goroutines left behind:\n%s", strings.Join(left, "\n\n"))
	}
}

// TestCloseAfterWriterLeft: once the FIFO has no writer, the file plugin
// returns at once with stale data (libasound ignores end of file), faster
// than real time. The capture must keep returning, then fail with
// ErrTooFast rather than pass stale audio on forever, and Close must still
// release everything.
func TestCloseAfterWriterLeft(t *testing.T) {
	before := audiotest.Goroutines()
	cfg := cfgOf(alsaconf.S32LE, 2, audio.Rate48k, 10*time.Millisecond)
	v := newVMic(t, cfg)
	c := v.open(t)
	f := c.Format()
	dst := audio.NewFrame(f.Channels, f.Rate, f.Period)
	for k := 0; k < 3; k++ {
		if err := c.ReadFrame(dst); err != nil {
			t.Fatal(err)
		}
		checkFrame(t, cfg.Format, dst)
	}
	v.feeder.closeWriter()
	begin := time.Now()
	reads := 0
	for ; ; reads++ {
		err := c.ReadFrame(dst)
		if errors.Is(err, ErrTooFast) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if reads > 10000 || time.Since(begin) > 5*time.Second {
			t.Fatalf("%d stale reads in %v and no ErrTooFast", reads, time.Since(begin))
		}
	}
	t.Logf("%d reads after the writer left, then ErrTooFast, in %v", reads, time.Since(begin))
	begin = time.Now()
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	t.Logf("Close took %v", time.Since(begin))
	if left := audiotest.LeftBehind(before, 2*time.Second); len(left) > 0 {
		t.Fatalf("goroutines left behind:\n%s", strings.Join(left, "\n\n"))
	}
}

func TestReadFrameGeometry(t *testing.T) {
	v := newVMic(t, cfgOf(alsaconf.S16LE, 2, audio.Rate48k, 10*time.Millisecond))
	c := v.open(t)
	for _, fr := range []*audio.Frame{
		audio.NewFrame(1, audio.Rate48k, 10*time.Millisecond),
		audio.NewFrame(2, audio.Rate48k, 20*time.Millisecond),
		{Channels: 2},
	} {
		if err := c.ReadFrame(fr); err == nil || errors.Is(err, audio.ErrClosed) {
			t.Errorf("ReadFrame into %d x %d: %v, want a geometry error", fr.Channels, fr.Len(), err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	dir := useALSAConf(t, `
pcm.mulaw_only { type mulaw slave { pcm { type null } format S16_LE } }
pcm.two_channels {
	type multi
	slaves.a { pcm { type null } channels 2 }
	bindings.0 { slave a channel 0 }
	bindings.1 { slave a channel 1 }
}
pcm.rate16k { type plug slave { pcm { type null } rate 16000 } }
pcm.missing_file { type file slave.pcm { type null } file "/dev/null" infile "/nonexistent/in.raw" }
`)
	_ = dir
	s32 := cfgOf(alsaconf.S32LE, 4, audio.Rate48k, 10*time.Millisecond)
	tests := []struct {
		name   string
		device string
		cfg    alsaconf.Config
		param  string
		want   string // the whole message, or a part for libasound errors
		errno  syscall.Errno
	}{
		{"format", "mulaw_only", s32, "format", `open pcm "mulaw_only": format S32_LE not supported (device offers MU_LAW)`, 0},
		{"channels", "two_channels", s32, "channels", `open pcm "two_channels": channels 4 not supported (device offers 2)`, 0},
		{"rate", "rate16k", cfgOf(alsaconf.S16LE, 2, audio.Rate48k, 10*time.Millisecond), "rate", `open pcm "rate16k": rate 48000 Hz not supported (device offers 16000)`, 0},
		{"unknown device", "nosuchpcm", s32, "", `open pcm "nosuchpcm": Unknown PCM nosuchpcm: no such file or directory`, syscall.ENOENT},
		{"missing infile", "missing_file", s32, "", `open pcm "missing_file": `, syscall.ENOENT},
		{"no card", "hw:CARD=nosuchcard", s32, "", `open pcm "hw:CARD=nosuchcard": `, 0},
	}
	for _, tc := range tests {
		for _, stream := range []string{"capture", "playback"} {
			if tc.name == "missing infile" && stream == "playback" {
				continue // the file plugin reads infile only for capture
			}
			t.Run(tc.name+"/"+stream, func(t *testing.T) {
				cfg := tc.cfg
				cfg.Device = tc.device
				var err error
				if stream == "capture" {
					var c *Capture
					c, err = OpenCapture(cfg, nil)
					if c != nil {
						c.Close()
					}
				} else {
					var p *Playback
					p, err = OpenPlayback(cfg, nil)
					if p != nil {
						p.Close()
					}
				}
				if err == nil {
					t.Fatal("open succeeded")
				}
				t.Log(err)
				var de *DeviceError
				if !errors.As(err, &de) || de.Op != "open" || de.Device != tc.device {
					t.Fatalf("%v is not an open *DeviceError for %q", err, tc.device)
				}
				if tc.param != "" {
					if err.Error() != tc.want {
						t.Errorf("message\n got %s\nwant %s", err, tc.want)
					}
					var pe *ParamError
					if !errors.As(err, &pe) || pe.Param != tc.param {
						t.Errorf("%v does not carry a *ParamError for %s", err, tc.param)
					}
					if !errors.Is(err, errors.ErrUnsupported) {
						t.Errorf("%v does not match errors.ErrUnsupported", err)
					}
				} else if !strings.HasPrefix(err.Error(), tc.want) {
					t.Errorf("message\n got %s\nwant prefix %s", err, tc.want)
				}
				if tc.errno != 0 && !errors.Is(err, tc.errno) {
					t.Errorf("%v does not match %v", err, tc.errno)
				}
				if errors.Is(err, ErrDeviceGone) && tc.param != "" {
					t.Errorf("a refused parameter matches ErrDeviceGone")
				}
			})
		}
	}

	// The same device opens when asked for what it offers.
	ok := cfgOf(alsaconf.S16LE, 2, audio.Rate16k, 10*time.Millisecond)
	ok.Device = "rate16k"
	c, err := OpenCapture(ok, nil)
	if err != nil {
		t.Fatalf("rate16k at 16000 Hz: %v", err)
	}
	defer c.Close()
	if n := c.Negotiated(); n.Rate != audio.Rate16k || n.Type != "PLUG" {
		t.Errorf("Negotiated() = %+v", n)
	}
	bad := ok
	bad.Channels = 9
	if _, err := OpenCapture(bad, nil); err == nil || !strings.Contains(err.Error(), "channels: 9 is out of range") {
		t.Errorf("invalid config: %v", err)
	}
}

func TestCaptureAllocs(t *testing.T) {
	v := newVMic(t, cfgOf(alsaconf.S32LE, 8, audio.Rate48k, 10*time.Millisecond))
	c := v.open(t)
	f := c.Format()
	dst := audio.NewFrame(f.Channels, f.Rate, f.Period)
	for k := 0; k < 5; k++ {
		if err := c.ReadFrame(dst); err != nil {
			t.Fatal(err)
		}
	}
	// AllocsPerRun counts every allocation in the process: this covers the
	// capture goroutine's cgo read as well as ReadFrame.
	if a := testing.AllocsPerRun(20, func() {
		if err := c.ReadFrame(dst); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("ReadFrame: %v allocs per frame, want 0", a)
	}
}

// TestCaptureFasterThanRealTime: the null plugin hands out silence as fast
// as it is asked; capture must fail with ErrTooFast (a *DeviceError, so the
// gateway reports it and reopens with backoff) instead of flooding the
// pipeline at many times the real rate.
func TestCaptureFasterThanRealTime(t *testing.T) {
	useALSAConf(t, `pcm.nullcap { type null }`)
	cfg := cfgOf(alsaconf.S16LE, 2, audio.Rate48k, 10*time.Millisecond)
	cfg.Device = "nullcap"
	c, err := OpenCapture(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fr := audio.NewFrame(2, audio.Rate48k, 10*time.Millisecond)
	start := time.Now()
	var n int
	for {
		err = c.ReadFrame(fr)
		if err != nil {
			break
		}
		n++
		if time.Since(start) > 5*time.Second {
			t.Fatalf("still reading after 5 s (%d frames)", n)
		}
	}
	var de *DeviceError
	if !errors.As(err, &de) || !errors.Is(err, ErrTooFast) {
		t.Fatalf("err = %v, want a DeviceError for ErrTooFast", err)
	}
	t.Logf("refused after %d frames (%v of audio) in %v: %v", n, time.Duration(n)*10*time.Millisecond, time.Since(start).Round(time.Millisecond), err)
}
