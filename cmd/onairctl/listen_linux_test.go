//go:build linux && cgo

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/onair-gateway/onair/net/livekit/livekittest"
)

// TestListenPlayOnSoundCard: -play drives the listen path on an ALSA
// device's clock: libasound's file plugin writing into a FIFO that the
// test drains at real-time pace, as a sound card would take it. What it
// plays holds the publisher's tone.
func TestListenPlayOnSoundCard(t *testing.T) {
	const alsaConf = "/usr/share/alsa/alsa.conf"
	if _, err := os.Stat(alsaConf); err != nil {
		t.Skipf("libasound configuration missing: %v", err)
	}
	dir := t.TempDir()
	fifo := filepath.Join(dir, "spk.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "asound.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("pcm.vspk {\n\ttype file\n\tslave.pcm { type null }\n\tfile %q\n\tformat \"raw\"\n}\n", fifo)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ALSA_CONFIG_PATH", alsaConf+":"+conf)
	// The card: 10 ms of mono S16 every 10 ms.
	r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A pipe buffer of one page (43 ms), as small as a card's.
	const fSetPipeSz = 1031 // F_SETPIPE_SZ
	if _, _, errno := syscall.Syscall(syscall.SYS_FCNTL, r.Fd(), fSetPipeSz, 4096); errno != 0 {
		t.Fatalf("F_SETPIPE_SZ: %v", errno)
	}
	var mu sync.Mutex
	var played []byte
	stop := make(chan struct{})
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		buf := make([]byte, 960)
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			n, _ := io.ReadFull(r, buf)
			mu.Lock()
			played = append(played, buf[:n]...)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() { close(stop); r.Close(); <-drained })

	srv := livekittest.Start(t)
	publisher(t, srv, "card", "tone", time.Now(), func(pos int64, frame []float32) {
		for i := range frame {
			frame[i] = float32(0.1 * math.Sin(2*math.Pi*1000*float64(pos+int64(i))/48000))
		}
	})
	var stdout, stderr bytes.Buffer
	if err := runListen(context.Background(), []string{"-url", srv.URL, "-room", "card", "-api-key", srv.APIKey, "-api-secret", srv.APISecret,
		"-play", "vspk", "-duration", "4s", "-once-json"}, &stdout, &stderr); err != nil {
		t.Fatalf("listen: %v\n%s", err, stderr.String())
	}
	mu.Lock()
	b := slices.Clone(played)
	mu.Unlock()
	x := make([]float32, len(b)/2)
	for i := range x {
		x[i] = float32(int16(uint16(b[2*i])|uint16(b[2*i+1])<<8)) / 32768
	}
	if len(x) < 48000 {
		t.Fatalf("the card took %d samples", len(x))
	}
	last := x[len(x)-48000:]
	var e float64
	for _, v := range last {
		e += float64(v) * float64(v)
	}
	lvl := 10 * math.Log10(e/float64(len(last))+1e-20)
	t.Logf("the card took %.2f s; its last second at %.1f dBFS", float64(len(x))/48000, lvl)
	if lvl < -26 || lvl > -20 {
		t.Errorf("played %.1f dBFS, want the tone's -23", lvl)
	}
}
