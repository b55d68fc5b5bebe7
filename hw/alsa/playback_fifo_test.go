//go:build linux && cgo

package alsa

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/hw/alsa/alsaconf"
)

// vcard is a virtual playback card: the file plugin writing into a FIFO of
// one page that a drain goroutine empties at real-time pace (paused on
// demand), so WriteFrame blocks as on a sound card.
type vcard struct {
	paused atomic.Bool
	taken  atomic.Int64
	stop   chan struct{}
	done   chan struct{}
}

func newVCard(t *testing.T, cfg alsaconf.Config) *vcard {
	t.Helper()
	fifo := filepath.Join(t.TempDir(), "card.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	useALSAConf(t, fmt.Sprintf("pcm.vcard {\n\ttype file\n\tslave.pcm { type null }\n\tfile %q\n\tformat \"raw\"\n}\n", fifo))
	r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	const fSetPipeSz = 1031 // F_SETPIPE_SZ: one page, 21 ms of stereo S16
	if _, _, errno := syscall.Syscall(syscall.SYS_FCNTL, r.Fd(), fSetPipeSz, 4096); errno != 0 {
		t.Fatalf("F_SETPIPE_SZ: %v", errno)
	}
	v := &vcard{stop: make(chan struct{}), done: make(chan struct{})}
	per := cfg.Rate.Samples(cfg.Period.D()) * cfg.Channels * sampleBytes(cfg.Format)
	go func() {
		defer close(v.done)
		defer r.Close()
		buf := make([]byte, per)
		tick := time.NewTicker(cfg.Period.D())
		defer tick.Stop()
		for {
			select {
			case <-v.stop:
				return
			case <-tick.C:
			}
			if v.paused.Load() {
				continue
			}
			n, err := io.ReadFull(r, buf)
			v.taken.Add(int64(n))
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { close(v.stop); <-v.done })
	return v
}

// TestPlaybackPacedByTheCard: on a card that takes audio in real time,
// WriteFrame blocks as long as the card needs (no ErrTooFast); when the
// card stops taking audio, Close still returns within its bound (saying
// the transfer is stuck in the plugin, as capture does) and the blocked
// WriteFrame ends with audio.ErrClosed once the card moves again.
func TestPlaybackPacedByTheCard(t *testing.T) {
	cfg := cfgOf(alsaconf.S16LE, 2, audio.Rate48k, 10*time.Millisecond)
	cfg.Device = "vcard"
	v := newVCard(t, cfg)
	p, err := OpenPlayback(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	fr := audio.NewFrame(2, audio.Rate48k, 10*time.Millisecond)
	start := time.Now()
	for range 100 {
		if err := p.WriteFrame(fr); err != nil {
			t.Fatal(err)
		}
	}
	took := time.Since(start)
	t.Logf("1 s of audio written in %v", took)
	if took < 800*time.Millisecond {
		t.Errorf("1 s of audio taken in %v: not paced by the card", took)
	}
	v.paused.Store(true)
	result := make(chan error, 1)
	go func() {
		for {
			if err := p.WriteFrame(fr); err != nil {
				result <- err
				return
			}
		}
	}()
	time.Sleep(100 * time.Millisecond)
	begin := time.Now()
	cerr := p.Close()
	t.Logf("Close while the card is stuck: %v after %v", cerr, time.Since(begin))
	if d := time.Since(begin); d > 2*time.Second || !errors.Is(cerr, ErrCloseDeferred) {
		t.Errorf("Close = %v after %v, want ErrCloseDeferred within its bound (the plugin sits in write(2))", cerr, d)
	}
	v.paused.Store(false)
	select {
	case err := <-result:
		if !errors.Is(err, audio.ErrClosed) {
			t.Errorf("blocked WriteFrame returned %v, want audio.ErrClosed", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("blocked WriteFrame did not return after Close and the card moving again")
	}
}
