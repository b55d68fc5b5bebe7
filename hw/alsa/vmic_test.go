//go:build linux && cgo

package alsa

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/hw/alsa/alsaconf"
)

// systemALSAConf is libasound's top-level configuration, which defines hw,
// plughw, default and the plugin types.
const systemALSAConf = "/usr/share/alsa/alsa.conf"

// useALSAConf writes an asound.conf holding pcms into a temp dir and points
// libasound at it, after the system configuration. libasound re-reads its
// configuration on the next snd_pcm_open whenever the list of files in
// ALSA_CONFIG_PATH (or their mtimes) changes, so each test gets its own
// without a subprocess; t.Setenv keeps such tests sequential.
func useALSAConf(t *testing.T, pcms string) string {
	t.Helper()
	if _, err := os.Stat(systemALSAConf); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("libasound configuration: %v", err)
		}
		t.Skipf("libasound configuration missing (%v): apt-get install libasound2-data", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "asound.conf")
	if err := os.WriteFile(path, []byte(pcms), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ALSA_CONFIG_PATH", systemALSAConf+":"+path)
	return dir
}

// vmic is a virtual microphone: libasound's file plugin over a null slave,
// reading its samples from a FIFO that a feeder goroutine writes one period
// per tick, so that capture runs at real-time pace.
type vmic struct {
	name   string
	fifo   string
	cfg    alsaconf.Config
	feeder *feeder
}

// newVMic defines PCM "vmic" reading a FIFO fed with the counting pattern
// for cfg's format and channels, and starts the feeder. Close the capture
// before the feeder stops (cleanup order does this when the capture is
// opened after newVMic).
func newVMic(t *testing.T, cfg alsaconf.Config) *vmic {
	t.Helper()
	cfg.Device = "vmic"
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fifo := filepath.Join(dir, "mic.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	useALSAConf(t, fmt.Sprintf(`pcm.vmic {
	type file
	slave.pcm { type null }
	file "/dev/null"
	infile %q
	format "raw"
}
`, fifo))
	v := &vmic{name: "vmic", fifo: fifo, cfg: cfg}
	v.feeder = startFeeder(t, fifo, cfg)
	return v
}

// open opens the vmic for capture and closes it at cleanup.
func (v *vmic) open(t *testing.T) *Capture {
	t.Helper()
	c, err := OpenCapture(v.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// feeder writes the counting pattern into a FIFO, one period per tick.
type feeder struct {
	fifo    string
	cfg     alsaconf.Config
	paused  atomic.Bool
	periods atomic.Int64 // periods written
	stop    chan struct{}
	done    chan struct{}
	mu      sync.Mutex
	f       *os.File // nil until the reader connects
	err     error    // why writing stopped, if not stop
}

func startFeeder(t *testing.T, fifo string, cfg alsaconf.Config) *feeder {
	fd := &feeder{fifo: fifo, cfg: cfg, stop: make(chan struct{}), done: make(chan struct{})}
	go fd.run()
	t.Cleanup(fd.close)
	return fd
}

func (fd *feeder) run() {
	defer close(fd.done)
	// Opening a FIFO for writing blocks until a reader (the file plugin)
	// opens it.
	f, err := os.OpenFile(fd.fifo, os.O_WRONLY, 0)
	if err != nil {
		fd.setErr(err)
		return
	}
	fd.mu.Lock()
	fd.f = f
	fd.mu.Unlock()
	frameLen := fd.cfg.Rate.Samples(fd.cfg.Period.D())
	buf := make([]byte, frameLen*fd.cfg.Channels*sampleBytes(fd.cfg.Format))
	tick := time.NewTicker(fd.cfg.Period.D())
	defer tick.Stop()
	for n := int64(0); ; {
		if !fd.paused.Load() {
			fillPattern(fd.cfg, buf, n*int64(frameLen))
			if _, err := f.Write(buf); err != nil {
				fd.setErr(err)
				return
			}
			n++
			fd.periods.Store(n)
		}
		select {
		case <-fd.stop:
			return
		case <-tick.C:
		}
	}
}

func (fd *feeder) setErr(err error) {
	fd.mu.Lock()
	fd.err = err
	fd.mu.Unlock()
}

// closeWriter closes the write end: the FIFO then has no writer.
func (fd *feeder) closeWriter() {
	close(fd.stop)
	<-fd.done
	fd.mu.Lock()
	if fd.f != nil {
		fd.f.Close()
	}
	fd.mu.Unlock()
}

// close stops the feeder, unblocking it wherever it waits.
func (fd *feeder) close() {
	select {
	case <-fd.stop:
	default:
		close(fd.stop)
	}
	fd.mu.Lock()
	if fd.f != nil {
		fd.f.Close() // unblocks a Write waiting for room
	}
	fd.mu.Unlock()
	select {
	case <-fd.done:
	case <-time.After(100 * time.Millisecond):
		// Still in open(2), waiting for a reader: become one.
		if r, err := os.OpenFile(fd.fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			<-fd.done
			r.Close()
		}
	}
	fd.mu.Lock()
	if fd.f != nil {
		fd.f.Close()
	}
	fd.mu.Unlock()
}

// writeErr returns why the feeder stopped writing, if it did.
func (fd *feeder) writeErr() error {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	return fd.err
}

// patternS32 and friends give sample s of channel c: the channel in the high
// bits, a 16-bit (S16: 11-bit) counter below, negated on odd channels. Every
// value is exact in float32.
func patternS32(c int, s int64) int32 {
	v := int32(c+1)<<24 | int32(s&0xFFFF)<<8
	if c%2 == 1 {
		v = -v
	}
	return v
}

func patternS24(c int, s int64) int32 {
	v := int32(c+1)<<19 | int32(s&0xFFFF)
	if c%2 == 1 {
		v = -v
	}
	return v
}

func patternS16(c int, s int64) int16 {
	v := int16(c+1)<<11 | int16(s&0x7FF)
	if c%2 == 1 {
		v = -v
	}
	return v
}

// fillPattern writes one period starting at sample s0. S24 samples carry
// 0xAB in their unused top byte, which capture must ignore.
func fillPattern(cfg alsaconf.Config, buf []byte, s0 int64) {
	bs := sampleBytes(cfg.Format)
	n := len(buf) / bs / cfg.Channels
	for i := 0; i < n; i++ {
		for c := 0; c < cfg.Channels; c++ {
			b := buf[(i*cfg.Channels+c)*bs:]
			s := s0 + int64(i)
			switch cfg.Format {
			case alsaconf.S16LE:
				binary.LittleEndian.PutUint16(b, uint16(patternS16(c, s)))
			case alsaconf.S24LE:
				binary.LittleEndian.PutUint32(b, uint32(patternS24(c, s))&0xFFFFFF|0xAB<<24)
			default:
				binary.LittleEndian.PutUint32(b, uint32(patternS32(c, s)))
			}
		}
	}
}

// wantSample is the float32 capture must produce for sample s of channel c.
func wantSample(f alsaconf.SampleFormat, c int, s int64) float32 {
	switch f {
	case alsaconf.S16LE:
		return float32(patternS16(c, s)) / scale16
	case alsaconf.S24LE:
		return float32(patternS24(c, s)) / scale24
	}
	return float32(patternS32(c, s)) / scale32
}

// checkFrame compares a captured frame with the pattern at its position.
func checkFrame(t *testing.T, f alsaconf.SampleFormat, fr *audio.Frame) {
	t.Helper()
	for i := 0; i < fr.Len(); i++ {
		for c := 0; c < fr.Channels; c++ {
			want := wantSample(f, c, fr.Pos+int64(i))
			if got := fr.Samples[i*fr.Channels+c]; got != want {
				t.Fatalf("frame at %d: sample %d channel %d = %v (%#x), want %v", fr.Pos, i, c, got, int64(got*scale32), want)
			}
		}
	}
}

// captureGoroutines counts the Capture goroutines among stacks.
func captureGoroutines(stacks []string) int {
	n := 0
	for _, s := range stacks {
		if strings.Contains(s, "alsa.(*Capture).run") {
			n++
		}
	}
	return n
}

func cfgOf(format alsaconf.SampleFormat, channels int, rate audio.SampleRate, period time.Duration) alsaconf.Config {
	return alsaconf.Config{Format: format, Channels: channels, Rate: rate, Period: conf.Duration(period)}
}
