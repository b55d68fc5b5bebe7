package alsa_test

import (
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/hw/alsa"
	"github.com/onair-gateway/onair/hw/alsa/alsaconf"
)

// Capture from a ReSpeaker 4-mic array and reopen with backoff when the
// device goes away. (Not run: it needs the card.)
func ExampleOpenCapture() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg := alsaconf.Config{
		Device:   "hw:CARD=seeed4micvoicec,DEV=0",
		Channels: 4,
		Format:   alsaconf.S32LE,
		Period:   conf.Duration(10 * time.Millisecond),
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		log.Error("bad capture config", "err", err)
		return
	}
	backoff := 100 * time.Millisecond
	for attempt := 0; attempt < 5; attempt++ {
		c, err := alsa.OpenCapture(cfg, log)
		if err != nil {
			var pe *alsa.ParamError
			if errors.As(err, &pe) {
				log.Error("device cannot do this", "param", pe.Param, "err", err)
				return // retrying will not help
			}
			log.Warn("open failed, retrying", "err", err, "in", backoff)
			time.Sleep(backoff)
			backoff *= 2
			continue
		}
		f := c.Format()
		frame := audio.NewFrame(f.Channels, f.Rate, f.Period)
		for {
			err = c.ReadFrame(frame)
			if err != nil {
				break
			}
			// ... hand frame to the pipeline ...
		}
		c.Close()
		if !errors.Is(err, alsa.ErrDeviceGone) {
			return
		}
		log.Warn("capture device gone, reopening", "err", err, "stats", c.Stats())
	}
}

// Play one second of silence on the default device. (Not run: it needs a
// card.)
func ExampleOpenPlayback() {
	cfg := alsaconf.Config{Device: "default", Channels: 2, Format: alsaconf.S16LE}
	cfg.SetDefaults()
	p, err := alsa.OpenPlayback(cfg, nil)
	if err != nil {
		slog.Error("open playback", "err", err)
		return
	}
	defer p.Close()
	f := p.Format()
	frame := audio.NewFrame(f.Channels, f.Rate, f.Period)
	for range time.Second / f.Period {
		if err := p.WriteFrame(frame); err != nil {
			slog.Error("playback", "err", err)
			return
		}
	}
}
