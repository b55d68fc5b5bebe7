package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"syscall"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4/pkg/media/oggwriter"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/dsp"
	"github.com/onair-gateway/onair/audio/pipeline"
	"github.com/onair-gateway/onair/audio/wav"
	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/hw/sim"
	"github.com/onair-gateway/onair/provisioning"
)

// runEncode runs a board's speak path on a WAV file and writes Ogg Opus, so
// anyone can hear what the device will send.
//
// A file with as many channels as the board captures is fed to the chain as
// the capture itself; any other file (mono speech, say) is mixed to mono and
// rendered into the board's mic array from -azimuth with -snr of noise, as
// the simulated board does.
func runEncode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("encode", stderr)
	in := fs.String("in", "", "input WAV file (required; any channel count)")
	out := fs.String("out", "", "output Ogg Opus file (required)")
	board := fs.String("board", "sim", "board profile whose speak path to run")
	cfgPath := fs.String("config", "", "take board, audio and opus settings from this config file instead of -board")
	azimuth := fs.Float64("azimuth", 90, "talker azimuth in degrees, when the file is rendered into the array")
	snr := fs.Float64("snr", 60, "per-mic SNR in dB, when the file is rendered into the array")
	bitrate := fs.Int("bitrate", 0, "override opus.bitrate (bit/s)")
	complexity := fs.Int("complexity", -1, "override opus.complexity (0..10)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *in == "" || *out == "" {
		return &usageError{"-in and -out are required"}
	}
	var r *provisioning.Resolved
	var err error
	if *cfgPath != "" {
		r, err = provisioning.Load(*cfgPath)
	} else {
		r, err = provisioning.ForBoard(*board)
	}
	if err != nil {
		for _, p := range provisioning.Problems(err) {
			fmt.Fprintf(stderr, "  %v\n", p)
		}
		return &usageError{"bad board or config"}
	}
	oc := r.Opus
	if *bitrate != 0 {
		oc.Bitrate = *bitrate
	}
	if *complexity >= 0 {
		oc.Complexity = conf.Ptr(*complexity)
	}
	if err := oc.Validate(); err != nil {
		return &usageError{err.Error()}
	}

	if st, err := os.Stat(*out); err == nil {
		for flag, path := range map[string]string{"-in": *in, "-config": *cfgPath} {
			if path == "" {
				continue
			}
			if is, err := os.Stat(path); err == nil && os.SameFile(is, st) {
				return &usageError{fmt.Sprintf("-out %s is the %s file: it would be overwritten", *out, flag)}
			}
		}
	}
	in0, err := wav.Open(*in)
	if err != nil {
		return err
	}
	defer in0.Close()
	wf := in0.Format()
	format := r.Audio.Capture.AudioFormat()
	length := in0.Frames()
	if wf.Channels != format.Channels {
		// A rendered talker keeps at most sim.MaxTalker samples, at the
		// file's rate and at the capture's.
		if keep := min(sim.MaxTalker, sim.MaxTalker*int64(wf.Rate)/int64(format.Rate)); length > keep {
			fmt.Fprintf(stderr, "encode: %s is longer than a simulated talker keeps: encoding its first %.1f s\n", *in, float64(keep)/float64(wf.Rate))
			length = keep
		}
	}
	frames := int((length*int64(format.Rate)/int64(wf.Rate) + int64(format.FrameLen()) - 1) / int64(format.FrameLen()))
	var src audio.Source
	if wf.Channels == format.Channels {
		if wf.Rate != int(format.Rate) {
			return fmt.Errorf("%s: a %d-channel file is used as the capture itself and must be %d Hz, not %d Hz", *in, format.Channels, format.Rate, wf.Rate)
		}
		src, err = wav.NewSource(in0.Reader, format)
	} else {
		sc := sim.Config{File: *in, Azimuth: azimuth, SNR: snr, Realtime: conf.Ptr(false)}
		sc.SetDefaults()
		var b *sim.Board
		b, err = sim.New(sc, r.Board.Geometry, format, sim.Options{LineIn: r.Audio.Processing.Beam == dsp.BeamStereo}, nil)
		src = &limitSource{Source: b, left: frames}
	}
	if err != nil {
		return err
	}
	sp, err := pipeline.NewSpeak(r.Audio.Processing, r.Board.Geometry, format, oc)
	if err != nil {
		return err
	}
	sp.Chain.SetOnAir(true)
	defer sp.Encoder.Close()
	src = newPaddedSource(src, format, oc.Frame.D())
	p, err := pipeline.New(pipeline.Config{}, src, sp.Chain, sp.Encoder, nil)
	if err != nil {
		return err
	}
	ogg, err := oggwriter.New(*out, 48000, uint16(oc.Channels))
	if err != nil {
		return fmt.Errorf("create %s: %w", *out, err)
	}
	var bytes, packets int
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SSRC: rand.Uint32()}}
	var writeErr error
	p.SetSink(pipeline.SinkFunc(func(pk pipeline.Packet) error {
		pkt.SequenceNumber++
		pkt.Timestamp = pk.Timestamp
		pkt.Payload = pk.Data
		if err := ogg.WriteRTP(pkt); err != nil && writeErr == nil {
			writeErr = err
		}
		bytes += len(pk.Data)
		packets++
		return nil
	}))

	// Offline, the pipeline is driven frame by frame: Run's capture ring
	// would drop frames from a source that is not paced by a clock.
	cpu0 := cpuTime()
	wall0 := time.Now()
	frame := audio.NewFrame(format.Channels, format.Rate, format.Period)
	var runErr error
	for ctx.Err() == nil {
		if err := src.ReadFrame(frame); err != nil {
			if !errors.Is(err, audio.ErrEndOfStream) {
				runErr = err
			}
			break
		}
		p.Process(frame)
	}
	p.Flush()
	src.Close()
	if runErr == nil {
		runErr = ctx.Err()
	}
	cpu := cpuTime() - cpu0
	if err := ogg.Close(); err != nil && writeErr == nil {
		writeErr = err
	}
	if runErr != nil {
		return runErr
	}
	if writeErr != nil {
		return fmt.Errorf("write %s: %w", *out, writeErr)
	}
	dur := time.Duration(float64(length) / float64(wf.Rate) * float64(time.Second))
	fmt.Fprintf(stdout, "%s: %v of audio, %d packets, %d bytes (%.1f kbit/s), board %s, %d ch in, opus %s %d bit/s complexity %d\n",
		*out, dur.Round(time.Millisecond), packets, bytes, float64(bytes*8)/dur.Seconds()/1000,
		r.Board.Profile, format.Channels, oc.Application, oc.Bitrate, *oc.Complexity)
	fmt.Fprintf(stdout, "cpu %v for %v of audio (%.1f%% of one core), wall %v\n",
		cpu.Round(time.Millisecond), dur.Round(time.Millisecond), 100*cpu.Seconds()/dur.Seconds(), time.Since(wall0).Round(time.Millisecond))
	return nil
}

// oggPreSkip is the pre-skip pion's Ogg writer declares, in 48 kHz samples
// (RFC 7845 §4.2): players drop that much decoded audio from the start.
const oggPreSkip = 3840

// paddedSource plays silence before and after its source. pion's Ogg writer
// declares a fixed pre-skip of 3840 samples (80 ms) where the encoder's
// look-ahead is 312, so players drop the first 80 ms of decoded audio:
// that much leading silence makes them drop silence only (the file starts
// with the 6.5 ms look-ahead of silence). Trailing silence of one Opus
// frame and a period flushes the look-ahead, so the end is not cut either.
type paddedSource struct {
	audio.Source
	lead, tail int   // frames of silence still to play before and after
	shift      int64 // samples of silence played before the source
	next       int64 // position of the next frame
	done       bool  // the source has ended
}

func newPaddedSource(src audio.Source, f audio.Format, opusFrame time.Duration) *paddedSource {
	periods := func(d time.Duration) int { return int((d + f.Period - 1) / f.Period) }
	lead := periods(time.Duration(oggPreSkip) * time.Second / 48000)
	return &paddedSource{Source: src, lead: lead, tail: periods(opusFrame + f.Period), shift: int64(lead * f.FrameLen())}
}

func (s *paddedSource) ReadFrame(dst *audio.Frame) error {
	switch {
	case s.lead > 0:
		s.lead--
	case !s.done:
		err := s.Source.ReadFrame(dst)
		if err == nil {
			dst.Pos += s.shift
			s.next = dst.Pos + int64(dst.Len())
			return nil
		}
		if !errors.Is(err, audio.ErrEndOfStream) {
			return err
		}
		s.done = true
		fallthrough
	default:
		if s.tail == 0 {
			return audio.ErrEndOfStream
		}
		s.tail--
	}
	clear(dst.Samples)
	dst.Pos, dst.Rate = s.next, s.Format().Rate
	s.next += int64(dst.Len())
	return nil
}

// limitSource ends a looping source after a number of frames.
type limitSource struct {
	audio.Source
	left int
}

func (l *limitSource) ReadFrame(dst *audio.Frame) error {
	if l.left <= 0 {
		return audio.ErrEndOfStream
	}
	l.left--
	return l.Source.ReadFrame(dst)
}

// cpuTime is this process's user plus system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
