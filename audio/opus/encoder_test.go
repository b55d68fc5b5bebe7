//go:build cgo

package opus

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/conf"
)

// libopus's resamplers leave the true end-to-end delay within a few samples
// of OPUS_GET_LOOKAHEAD (SILK decodes at 16 kHz internally), so alignment
// searches this many samples either side of the lookahead.
const lagSlack = 6

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		app     Application
		rate    audio.SampleRate
		bitrate int
		frame   time.Duration
		signal  func(t *testing.T, rate audio.SampleRate) []float32
	}{
		{"sine voip 48k", AppVoIP, audio.Rate48k, 32000, 20 * time.Millisecond, func(t *testing.T, r audio.SampleRate) []float32 { return sine(2*int(r), r, 440, 0.5) }},
		{"speech-like voip 48k", AppVoIP, audio.Rate48k, 32000, 20 * time.Millisecond, func(t *testing.T, r audio.SampleRate) []float32 { return speechLike(3*int(r), r) }},
		{"espeak voip 48k", AppVoIP, audio.Rate48k, 32000, 20 * time.Millisecond, func(t *testing.T, r audio.SampleRate) []float32 { return loadSpeech(t) }},
		{"espeak audio 48k 10ms", AppAudio, audio.Rate48k, 32000, 10 * time.Millisecond, func(t *testing.T, r audio.SampleRate) []float32 { return loadSpeech(t) }},
		{"espeak lowdelay 48k 40ms", AppLowDelay, audio.Rate48k, 32000, 40 * time.Millisecond, func(t *testing.T, r audio.SampleRate) []float32 { return loadSpeech(t) }},
		{"sine voip 16k", AppVoIP, audio.Rate16k, 32000, 20 * time.Millisecond, func(t *testing.T, r audio.SampleRate) []float32 { return sine(2*int(r), r, 440, 0.5) }},
		{"speech-like voip 16k", AppVoIP, audio.Rate16k, 32000, 20 * time.Millisecond, func(t *testing.T, r audio.SampleRate) []float32 { return speechLike(3*int(r), r) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sig := tc.signal(t, tc.rate)
			enc := mustEncoder(t, Config{Application: tc.app, Bitrate: tc.bitrate, Frame: conf.Duration(tc.frame)}, tc.rate)
			if want := tc.rate.Samples(tc.frame); enc.FrameSamples() != want {
				t.Fatalf("FrameSamples = %d, want %d", enc.FrameSamples(), want)
			}
			out, pkts := roundTrip(t, enc, sig)
			la := enc.Lookahead() * int(tc.rate) / int(audio.Rate48k)
			from, to := int(tc.rate)/10, len(out)-la-lagSlack
			lag, c := bestLag(sig, out, la-lagSlack, la+lagSlack, from, to)
			bits := 0
			for _, p := range pkts {
				bits += 8 * len(p)
			}
			kbps := float64(bits) / (float64(len(out)) / float64(tc.rate)) / 1000
			t.Logf("lookahead %d, best lag %d, correlation %.4f, %.1f kbit/s", la, lag, c, kbps)
			if c < 0.9 {
				t.Errorf("correlation %.4f < 0.9 at lag %d (lookahead %d)", c, lag, la)
			}
			if kbps > 1.25*float64(tc.bitrate)/1000 {
				t.Errorf("%.1f kbit/s, configured %d bit/s", kbps, tc.bitrate)
			}
		})
	}
}

func TestLookahead(t *testing.T) {
	// RFC 6716 §4.4 / opus_encoder.c: 2.5 ms of CELT overlap, plus 4 ms of
	// delay compensation unless restricted-lowdelay.
	for _, tc := range []struct {
		app  Application
		rate audio.SampleRate
		want int
	}{
		{AppVoIP, audio.Rate48k, 312},
		{AppAudio, audio.Rate48k, 312},
		{AppLowDelay, audio.Rate48k, 120},
		{AppVoIP, audio.Rate16k, 312},
	} {
		enc := mustEncoder(t, Config{Application: tc.app}, tc.rate)
		if got := enc.Lookahead(); got != tc.want {
			t.Errorf("%s at %d Hz: Lookahead = %d, want %d", tc.app, tc.rate, got, tc.want)
		}
	}
}

func TestStereoRoundTrip(t *testing.T) {
	const rate = audio.Rate48k
	left, right := speechLike(3*int(rate), rate), sine(3*int(rate), rate, 330, 0.4)
	enc := mustEncoder(t, Config{Application: AppAudio, Bitrate: 128000, Channels: 2}, rate)
	out, _ := roundTrip(t, enc, interleave(left, right))
	la := enc.Lookahead()
	for _, tc := range []struct {
		name string
		in   []float32
		c    int
	}{{"left", left, 0}, {"right", right, 1}} {
		got := channel(out, 2, tc.c)
		from, to := int(rate)/10, len(got)-la-lagSlack
		lag, c := bestLag(tc.in, got, la-lagSlack, la+lagSlack, from, to)
		t.Logf("%s: lag %d, correlation %.4f", tc.name, lag, c)
		if c < 0.9 {
			t.Errorf("%s: correlation %.4f < 0.9", tc.name, c)
		}
		// The other channel's input must not show up here.
		other := right
		if tc.c == 1 {
			other = left
		}
		if x := corr(other, got, lag, from, to); x > 0.2 {
			t.Errorf("%s: correlation with the other channel %.3f, want < 0.2", tc.name, x)
		}
	}
}

func TestDTX(t *testing.T) {
	silence := make([]float32, 2*int(audio.Rate48k))
	for _, dtx := range []bool{true, false} {
		enc := mustEncoder(t, Config{DTX: dtx}, audio.Rate48k)
		_, pkts := roundTrip(t, enc, silence)
		tiny := 0
		for _, p := range pkts[10:] { // DTX starts after 200 ms of silence
			if len(p) <= 2 {
				tiny++
			}
		}
		frac := float64(tiny) / float64(len(pkts)-10)
		t.Logf("dtx %v: %.0f%% of packets are 1-2 bytes", dtx, 100*frac)
		if dtx && frac < 0.8 {
			t.Errorf("DTX on: only %.0f%% of silent packets are 1-2 bytes, want >= 80%%", 100*frac)
		}
		if !dtx && tiny > 0 {
			t.Errorf("DTX off: %d packets of 1-2 bytes", tiny)
		}
	}
}

// TestSettersWhileEncoding changes bitrate, loss and DTX from another
// goroutine while encoding (run with -race), then checks that a bitrate
// change takes effect from the next frames.
func TestSettersWhileEncoding(t *testing.T) {
	const rate = audio.Rate48k
	sig := speechLike(4*int(rate), rate)
	enc := mustEncoder(t, Config{Bitrate: 64000}, rate)
	flen := enc.FrameSamples()
	buf := make([]byte, MaxPacket)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	errs := make(chan error, 1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			var err error
			switch i % 3 {
			case 0:
				err = enc.SetBitrate(16000 + 1000*(i%48))
			case 1:
				err = enc.SetPacketLoss(i % 40)
			case 2:
				err = enc.SetDTX(i%2 == 0)
			}
			if err != nil {
				errs <- err
				return
			}
			time.Sleep(100 * time.Microsecond)
		}
	}()
	for off := 0; off+flen <= len(sig)/2; off += flen {
		if _, err := enc.Encode(sig[off:off+flen], buf); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}

	mean := func(bps int) float64 {
		if err := enc.SetBitrate(bps); err != nil {
			t.Fatal(err)
		}
		if err := enc.SetDTX(false); err != nil {
			t.Fatal(err)
		}
		total, n := 0, 0
		for off := len(sig) / 2; off+flen <= len(sig); off += flen {
			m, err := enc.Encode(sig[off:off+flen], buf)
			if err != nil {
				t.Fatal(err)
			}
			total += m
			n++
		}
		return float64(total) / float64(n)
	}
	high, low := mean(64000), mean(12000)
	t.Logf("mean packet: %.0f bytes at 64 kbit/s, %.0f at 12 kbit/s", high, low)
	if low > 0.5*high {
		t.Errorf("SetBitrate(12000) left packets at %.0f bytes vs %.0f at 64000", low, high)
	}
}

func TestEncoderErrors(t *testing.T) {
	enc := mustEncoder(t, Config{}, audio.Rate48k)
	flen := enc.FrameSamples()
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"short frame", func() error { _, err := enc.Encode(make([]float32, flen-1), make([]byte, MaxPacket)); return err }, ErrBadArg},
		{"empty out", func() error { _, err := enc.Encode(make([]float32, flen), nil); return err }, ErrBufferTooSmall},
		{"bitrate low", func() error { return enc.SetBitrate(5999) }, ErrBadArg},
		{"bitrate high", func() error { return enc.SetBitrate(510001) }, ErrBadArg},
		{"loss negative", func() error { return enc.SetPacketLoss(-1) }, ErrBadArg},
		{"loss over 100", func() error { return enc.SetPacketLoss(101) }, ErrBadArg},
		{"rate 44100", func() error { _, err := NewEncoder(Config{}, 44100); return err }, ErrBadArg},
		{"bad config", func() error { _, err := NewEncoder(Config{Channels: 3}, audio.Rate48k); return err }, ErrBadArg},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var oe *Error
			if !errors.As(err, &oe) || oe.Op == "" {
				t.Fatalf("err %v is not an *Error naming its operation", err)
			}
		})
	}

	_, err := NewEncoder(Config{Channels: 3}, audio.Rate48k)
	var fe *conf.FieldError
	if !errors.As(err, &fe) || fe.Path != "channels" {
		t.Errorf("bad config: %v does not wrap the channels field error", err)
	}

	closed := mustEncoder(t, Config{}, audio.Rate48k)
	if err := closed.Close(); err != nil {
		t.Fatal(err)
	}
	if err := closed.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := closed.Encode(make([]float32, flen), make([]byte, MaxPacket)); !errors.Is(err, ErrInvalidState) {
		t.Errorf("Encode after Close: %v, want ErrInvalidState", err)
	}
	if err := closed.SetBitrate(32000); !errors.Is(err, ErrInvalidState) {
		t.Errorf("SetBitrate after Close: %v, want ErrInvalidState", err)
	}
}

// TestEncodeRespectsLen checks that Encode never writes past len(out) even
// when out has more capacity (the bindings hand libopus cap(out)).
func TestEncodeRespectsLen(t *testing.T) {
	enc := mustEncoder(t, Config{Bitrate: 128000}, audio.Rate48k)
	pcm := speechLike(enc.FrameSamples(), audio.Rate48k)
	backing := make([]byte, MaxPacket)
	for i := range backing {
		backing[i] = 0xA5
	}
	const limit = 40
	n, err := enc.Encode(pcm, backing[:limit])
	if err != nil && !errors.Is(err, ErrBufferTooSmall) {
		t.Fatal(err)
	}
	if n > limit {
		t.Fatalf("Encode returned %d bytes into a %d-byte slice", n, limit)
	}
	for i := limit; i < len(backing); i++ {
		if backing[i] != 0xA5 {
			t.Fatalf("byte %d beyond len(out) was written", i)
		}
	}
}

func TestEncodeAllocs(t *testing.T) {
	enc := mustEncoder(t, Config{}, audio.Rate48k)
	pcm := speechLike(enc.FrameSamples(), audio.Rate48k)
	out := make([]byte, MaxPacket)
	enc.Encode(pcm, out) // warm up
	if a := testing.AllocsPerRun(100, func() {
		if _, err := enc.Encode(pcm, out); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("Encode: %v allocs per frame, want 0", a)
	}
	if a := testing.AllocsPerRun(100, func() {
		if err := enc.SetBitrate(24000); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("SetBitrate: %v allocs, want 0", a)
	}
}

// TestLimitBitrate: the room's cap lowers the configured bitrate, never
// raises it, and a new configured bitrate stays under the cap; Target
// reports what libopus runs at and whether it codes FEC, and the packets
// shrink under a cap.
func TestLimitBitrate(t *testing.T) {
	sig := speechLike(2*48000, audio.Rate48k)
	enc := mustEncoder(t, Config{Bitrate: 64000, PacketLoss: conf.Ptr(0)}, audio.Rate48k)
	flen := enc.FrameSamples()
	buf := make([]byte, MaxPacket)
	mean := func() float64 {
		total, n := 0, 0
		for off := 0; off+flen <= len(sig); off += flen {
			m, err := enc.Encode(sig[off:off+flen], buf)
			if err != nil {
				t.Fatal(err)
			}
			total += m
			n++
		}
		return float64(total) / float64(n)
	}
	check := func(wantBps int, wantFEC bool) {
		t.Helper()
		if b, fec := enc.Target(); b != wantBps || fec != wantFEC {
			t.Errorf("Target = %d, %v; want %d, %v", b, fec, wantBps, wantFEC)
		}
	}
	check(64000, false) // FEC enabled by default, but no loss expected
	full := mean()
	if err := enc.LimitBitrate(16000); err != nil {
		t.Fatal(err)
	}
	check(16000, false)
	capped := mean()
	if capped > 0.5*full {
		t.Errorf("LimitBitrate(16000): %.0f bytes per packet vs %.0f uncapped", capped, full)
	}
	if err := enc.LimitBitrate(100000); err != nil {
		t.Fatal(err)
	}
	check(64000, false) // a cap above the configured bitrate does not raise it
	if err := enc.SetBitrate(24000); err != nil {
		t.Fatal(err)
	}
	check(24000, false)
	if err := enc.LimitBitrate(20000); err != nil {
		t.Fatal(err)
	}
	if err := enc.SetBitrate(48000); err != nil {
		t.Fatal(err)
	}
	check(20000, false) // the cap holds across a config change
	if err := enc.SetPacketLoss(7); err != nil {
		t.Fatal(err)
	}
	check(20000, true)
	if err := enc.LimitBitrate(0); err != nil {
		t.Fatal(err)
	}
	check(48000, true)
	if b, fec := enc.Configured(); b != 48000 || !fec {
		t.Errorf("Configured = %d, %v", b, fec)
	}
	for _, bad := range []int{-1, 5999, 510001} {
		if err := enc.LimitBitrate(bad); !errors.Is(err, ErrBadArg) {
			t.Errorf("LimitBitrate(%d) = %v, want ErrBadArg", bad, err)
		}
	}
	noFEC := mustEncoder(t, Config{FEC: conf.Ptr(false), PacketLoss: conf.Ptr(20)}, audio.Rate48k)
	if _, fec := noFEC.Target(); fec {
		t.Error("Target reports FEC with fec: false")
	}
}
