package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/marks"
	"github.com/onair-gateway/onair/audio/opus"
	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/net/e2ee"
	"github.com/onair-gateway/onair/net/livekit"
	"github.com/onair-gateway/onair/net/livekit/livekittest"
	"github.com/onair-gateway/onair/net/room"
)

func sine(n int, freq, amp float64, from int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(amp * math.Sin(2*math.Pi*freq*float64(from+i)/48000))
	}
	return x
}

func TestMeter(t *testing.T) {
	cases := []struct {
		freq, amp         float64
		wantRMS, wantPeak float64
	}{
		{1000, 0.1, -23.01, -20},
		{440, 1, -3.01, 0},
		{97.5, 0.01, -43.01, -40},
	}
	for _, c := range cases {
		var m meter
		// In blocks, as packets come.
		for pos := 0; pos < 48000; pos += 960 {
			m.add(sine(960, c.freq, c.amp, pos), int64(pos))
		}
		rms, peak := m.dbfs()
		if math.Abs(rms-c.wantRMS) > 0.05 || math.Abs(peak-c.wantPeak) > 0.05 {
			t.Errorf("%v Hz at %v: rms %.2f peak %.2f, want %.2f %.2f", c.freq, c.amp, rms, peak, c.wantRMS, c.wantPeak)
		}
		if f := m.freq(audio.Rate48k); math.Abs(f-c.freq) > 0.05 {
			t.Errorf("freq %.3f, want %v", f, c.freq)
		}
	}
	// Noise near the zero crossings (coding noise, hiss) must not count
	// as extra periods: 1 kHz at -23 dBFS with hiss 26 dB below it.
	var noisy meter
	rng := rand.New(rand.NewPCG(1, 2))
	for pos := 0; pos < 4*48000; pos += 960 {
		x := sine(960, 1000, 0.1, pos)
		for i := range x {
			x[i] += float32(0.005 * rng.NormFloat64())
		}
		noisy.add(x, int64(pos))
	}
	if f := noisy.freq(audio.Rate48k); math.Abs(f-1000) > 0.5 {
		t.Errorf("tone in noise: freq %.3f, want 1000", f)
	}
	var silent meter
	silent.add(make([]float32, 480), 0)
	if rms, _ := silent.dbfs(); rms != -120 || silent.freq(audio.Rate48k) != 0 {
		t.Errorf("silence: %v dBFS, %v Hz", rms, silent.freq(audio.Rate48k))
	}
}

// fakeTrack is unused by the reader tests: they call packet directly.
type fakeTrack struct{}

func (fakeTrack) Participant() string                    { return "p" }
func (fakeTrack) ID() string                             { return "TR_p" }
func (fakeTrack) ReadPacket([]byte) (room.Packet, error) { return room.Packet{}, nil }

// encodeTone returns n 20 ms Opus packets of a 1 kHz tone.
func encodeTone(t *testing.T, n int) [][]byte {
	t.Helper()
	cfg := opus.Config{Application: opus.AppAudio}
	cfg.SetDefaults()
	enc, err := opus.NewEncoder(cfg, audio.Rate48k)
	if err != nil {
		t.Fatal(err)
	}
	pkts := make([][]byte, n)
	out := make([]byte, 1500)
	for i := range pkts {
		k, err := enc.Encode(sine(960, 1000, 0.1, i*960), out)
		if err != nil {
			t.Fatal(err)
		}
		pkts[i] = append([]byte(nil), out[:k]...)
	}
	return pkts
}

func TestTrackReaderSequencing(t *testing.T) {
	pkts := encodeTone(t, 60)
	cases := []struct {
		name                  string
		steps                 []int
		lost, late, concealed int64
		wantPos               int64
	}{
		{"in order", seq(0, 50), 0, 0, 0, 50 * 960},
		{"one lost", append(seq(0, 10), seq(11, 50)...), 1, 0, 1, 50 * 960},
		{"burst lost", append(seq(0, 10), seq(15, 50)...), 5, 0, 5, 50 * 960},
		{"reordered", []int{0, 1, 3, 2, 4, 5}, 1, 1, 1, 6 * 960},
		{"duplicate", []int{0, 1, 1, 2}, 0, 1, 0, 3 * 960},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := &participant{identity: "p"}
			r, err := newTrackReader(p, fakeTrack{}, 1, nil, time.Now)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			for _, i := range c.steps {
				r.packet(room.Packet{Seq: uint16(65500 + i), Timestamp: uint32(i * 960), Payload: pkts[i]}, now.Add(time.Duration(i)*20*time.Millisecond))
			}
			if p.lost != c.lost || p.late != c.late || p.concealed != c.concealed {
				t.Errorf("lost %d late %d concealed %d, want %d %d %d", p.lost, p.late, p.concealed, c.lost, c.late, c.concealed)
			}
			if r.pos != c.wantPos {
				t.Errorf("timeline at %d samples, want %d", r.pos, c.wantPos)
			}
			if p.packets != int64(len(c.steps))-c.late {
				t.Errorf("packets %d", p.packets)
			}
			if p.jitter > 1e-6 {
				t.Errorf("jitter %v s for perfectly paced packets", p.jitter)
			}
		})
	}
	t.Run("dtx gap is silence on the timeline", func(t *testing.T) {
		p := &participant{identity: "p"}
		r, _ := newTrackReader(p, fakeTrack{}, 1, nil, time.Now)
		now := time.Now()
		r.packet(room.Packet{Seq: 1, Timestamp: 0, Payload: pkts[0]}, now)
		r.packet(room.Packet{Seq: 2, Timestamp: 48000, Payload: pkts[1]}, now.Add(time.Second))
		if r.pos != 48000+960 || p.lost != 0 {
			t.Errorf("pos %d lost %d", r.pos, p.lost)
		}
	})
}

// TestTrackReaderMarksThroughDTX: a sender with DTX on sends marks and,
// between them, one silence packet every 400 ms. The timeline skips the
// untransmitted time; the mark detector must skip it too, or every later
// mark is measured against the wrong packet (latencies that grow by
// hundreds of milliseconds). Each packet arrives 30 ms after it was
// complete, so every mark must measure the 20 ms frame, the 30 ms and the
// codec's 6.5 ms look-ahead.
func TestTrackReaderMarksThroughDTX(t *testing.T) {
	cfg := opus.Config{DTX: true}
	cfg.SetDefaults()
	enc, err := opus.NewEncoder(cfg, audio.Rate48k)
	if err != nil {
		t.Fatal(err)
	}
	chirp := marks.Chirp(audio.Rate48k)
	zero := time.Unix(1_800_000_000, 0) // sample 0 on a whole second
	p := &participant{identity: "p"}
	r, err := newTrackReader(p, fakeTrack{}, 1, nil, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]float32, 960)
	out := make([]byte, 1500)
	var seqNo uint16
	sent, skipped := 0, 0
	quiet := 0
	for k := 0; k < 5*50; k++ {
		pos := int64(k * 960)
		for i := range frame {
			frame[i] = 0
			if off := marks.Offset(pos+int64(i), audio.Rate48k); off < len(chirp) {
				frame[i] = 0.3 * chirp[off]
			}
		}
		n, err := enc.Encode(frame, out)
		if err != nil {
			t.Fatal(err)
		}
		if n <= 2 { // a DTX frame: a sender transmits one in 20
			quiet++
			if quiet%20 != 1 {
				skipped++
				continue
			}
		} else {
			quiet = 0
		}
		seqNo++
		at := zero.Add(time.Duration(k+1)*20*time.Millisecond + 30*time.Millisecond)
		r.packet(room.Packet{Seq: seqNo, Timestamp: uint32(pos), Payload: append([]byte(nil), out[:n]...)}, at)
		sent++
	}
	if skipped < 100 {
		t.Fatalf("only %d of %d frames were DTX: the test needs long silences", skipped, sent+skipped)
	}
	if len(p.latency) < 4 {
		t.Fatalf("%d marks measured in 5 s", len(p.latency))
	}
	for i, l := range p.latency {
		if l < 55*time.Millisecond || l > 58*time.Millisecond {
			t.Errorf("mark %d measured %v, want 56.5 ms", i, l)
		}
	}
	t.Logf("%d packets sent, %d DTX frames not sent; latencies %v", sent, skipped, p.latency)
}

// TestTrackReaderJoinsMidStream: a listener that joins while a tone plays
// decodes from a cold decoder, whose first output rings. The meters skip
// that warm-up: the level, peak and frequency are the tone's.
func TestTrackReaderJoinsMidStream(t *testing.T) {
	pkts := encodeTone(t, 400)
	for start := 0; start < 280; start += 23 {
		p := &participant{identity: "p"}
		r, err := newTrackReader(p, fakeTrack{}, 1, nil, time.Now)
		if err != nil {
			t.Fatal(err)
		}
		for k := start; k < start+117; k++ {
			r.packet(room.Packet{Seq: uint16(k), Timestamp: uint32(k * 960), Payload: pkts[k]}, time.Now())
		}
		rms, peak := p.total.dbfs()
		if f := p.total.freq(audio.Rate48k); math.Abs(f-1000) > 0.5 || math.Abs(rms+23.01) > 0.5 || math.Abs(peak+20) > 1 {
			t.Errorf("joined at packet %d: %.2f Hz, %.2f dBFS, peak %.2f; want 1000 Hz, -23, -20", start, f, rms, peak)
		}
	}
}

func seq(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

func TestWAVWriterMixesTimeline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.wav")
	origin := time.Now()
	w, err := createWAV(path, 2, origin)
	if err != nil {
		t.Fatal(err)
	}
	if got := w.position(origin.Add(500 * time.Millisecond)); got != 24000 {
		t.Errorf("position = %d", got)
	}
	frame := []float32{0.25, -0.25, 0.25, -0.25} // two stereo frames
	w.add(10, frame)
	w.add(11, frame) // overlaps: mixed
	if err := w.flush(11); err != nil {
		t.Fatal(err)
	}
	w.add(9, frame) // frame 9 already written: dropped; frame 10 too
	if err := w.close(20); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b[:4]) != "RIFF" || string(b[8:16]) != "WAVEfmt " || binary.LittleEndian.Uint16(b[22:]) != 2 || binary.LittleEndian.Uint32(b[24:]) != 48000 {
		t.Fatalf("bad header % x", b[:44])
	}
	data := b[44:]
	if n := binary.LittleEndian.Uint32(b[40:]); int(n) != len(data) || len(data) != 20*4 {
		t.Fatalf("data size %d, file has %d bytes, want %d", n, len(data), 20*4)
	}
	sample := func(frame, ch int) int16 { return int16(binary.LittleEndian.Uint16(data[4*frame+2*ch:])) }
	want := map[int]int16{9: 0, 10: 8192, 11: 16384, 12: 8192, 13: 0}
	for f, v := range want {
		if got := sample(f, 0); got != v || sample(f, 1) != -v {
			t.Errorf("frame %d = %d/%d, want %d/%d", f, got, sample(f, 1), v, -v)
		}
	}
	if w.dropped != 2 {
		t.Errorf("dropped %d frames, want 2", w.dropped)
	}
}

func TestViewLines(t *testing.T) {
	if b := bar(-30, -10); strings.Count(b, "█") != 15 || !strings.Contains(b, "|") {
		t.Errorf("bar %q", b)
	}
	if b := bar(-200, -200); strings.Count(b, "█") != 0 {
		t.Errorf("silent bar %q", b)
	}
	p := snapshot{Identity: "dev", Active: true, Packets: 100, Lost: 1, LossPct: 0.99, LevelDB: -23, PeakDB: -20, Freq: 1000, Jitter: time.Millisecond, Latency: 40 * time.Millisecond, LatMedian: 41 * time.Millisecond, Marks: 3, E2EE: "on", Undecryptable: 2}
	var buf bytes.Buffer
	v := &view{w: &buf}
	v.draw(viewFrame{room: "demo", state: room.StateChange{State: room.StateConnected}, elapsed: 3 * time.Second, people: []snapshot{p}})
	want := "t=3s participant=dev active=true level=-23.0dBFS peak=-20.0dBFS freq=1000Hz packets=100 lost=1 loss=1.0% jitter=1.0ms latency=40.0ms e2ee=on undecryptable=2\n"
	if buf.String() != want {
		t.Errorf("plain line\n%q\nwant\n%q", buf.String(), want)
	}
	buf.Reset()
	v = &view{w: &buf, tty: true}
	v.draw(viewFrame{room: "demo", people: []snapshot{p, p}})
	v.draw(viewFrame{room: "demo", people: []snapshot{p}})
	out := buf.String()
	if !strings.Contains(out, "\x1b[3A") || strings.Count(out, "\x1b[2K") != 6 {
		t.Errorf("terminal redraw does not move back over its 3 lines and clear them: %q", out)
	}
}

func TestParseListen(t *testing.T) {
	cases := []struct {
		args []string
		ok   bool
	}{
		{[]string{"-url", "ws://127.0.0.1:1", "-token", "t"}, true},
		{[]string{"-api-key", "k", "-api-secret", "s", "-room", "demo", "-duration", "3s", "-once-json"}, true},
		{[]string{}, false}, // no credentials
		{[]string{"-token", "t", "-api-key", "k", "-api-secret", "s"}, false},
		{[]string{"-token", "t", "-wav-channels", "3"}, false},
		{[]string{"-token", "t", "extra"}, false},
		{[]string{"-token", "t", "-url", "ftp://x"}, false},
	}
	for _, c := range cases {
		_, err := parseListen(c.args, &bytes.Buffer{})
		if (err == nil) != c.ok {
			t.Errorf("parseListen(%q) = %v, want ok %v", c.args, err, c.ok)
		}
	}
}

// publisher joins srv as identity and sends what gen renders, one 20 ms
// frame at a time in real time, frame k at start + (k+1)·20 ms: the moment
// a capture device would deliver it.
func publisher(t *testing.T, srv *livekittest.Server, name, identity string, start time.Time, gen func(pos int64, frame []float32)) {
	t.Helper()
	publisherWith(t, srv, name, identity, start, livekit.Options{}, gen)
}

// publisherWith is publisher with LiveKit options (an Encryptor).
func publisherWith(t *testing.T, srv *livekittest.Server, name, identity string, start time.Time, opts livekit.Options, gen func(pos int64, frame []float32)) {
	t.Helper()
	livekit.SetSDKLogger(slog.New(slog.DiscardHandler))
	cfg := room.Config{URL: srv.URL, Room: name, APIKey: srv.APIKey, APISecret: conf.Secret(srv.APISecret)}
	cfg.SetDefaults(identity)
	r, err := livekit.New(cfg, opts, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := r.Join(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ecfg := opus.Config{}
	ecfg.SetDefaults()
	enc, err := opus.NewEncoder(ecfg, audio.Rate48k)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	stop := make(chan struct{})
	go func() {
		defer close(done)
		frame := make([]float32, 960)
		out := make([]byte, 1500)
		for k := int64(0); ; k++ {
			at := start.Add(time.Duration(k+1) * 20 * time.Millisecond)
			select {
			case <-stop:
				return
			case <-time.After(time.Until(at)):
			}
			gen(k*960, frame)
			n, err := enc.Encode(frame, out)
			if err != nil {
				t.Error(err)
				return
			}
			_ = s.WriteOpus(out[:n], 20*time.Millisecond)
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		_ = s.Close()
	})
}

// TestListenAgainstServer runs onairctl listen against a real server with
// two publishers: a 1 kHz tone, and marks on every whole second.
func TestListenAgainstServer(t *testing.T) {
	srv := livekittest.Start(t)
	const name = "demo"
	start := marks.Start(time.Now())
	publisher(t, srv, name, "tone", start, func(pos int64, frame []float32) {
		for i := range frame {
			frame[i] = float32(0.1 * math.Sin(2*math.Pi*1000*float64(pos+int64(i))/48000))
		}
	})
	chirp := marks.Chirp(audio.Rate48k)
	publisher(t, srv, name, "marks", start, func(pos int64, frame []float32) {
		for i := range frame {
			frame[i] = 0
			if off := marks.Offset(pos+int64(i), audio.Rate48k); off < len(chirp) {
				frame[i] = 0.3 * chirp[off]
			}
		}
	})

	wav := filepath.Join(t.TempDir(), "heard.wav")
	var stdout, stderr bytes.Buffer
	err := runListen(context.Background(), []string{
		"-url", srv.URL, "-room", name, "-api-key", srv.APIKey, "-api-secret", srv.APISecret,
		"-duration", "4s", "-once-json", "-wav", wav,
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("listen: %v\n%s", err, stderr.String())
	}
	var s summary
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		t.Fatalf("summary: %v\n%s", err, stdout.String())
	}
	t.Logf("summary: %s", stdout.String())
	if s.State != "connected" || len(s.Participants) != 2 {
		t.Fatalf("state %q, %d participants", s.State, len(s.Participants))
	}
	by := map[string]participantSummary{}
	for _, p := range s.Participants {
		by[p.Identity] = p
	}
	tone, mk := by["tone"], by["marks"]
	if tone.Packets < 100 || tone.Lost != 0 || tone.Corrupt != 0 {
		t.Errorf("tone: %+v", tone)
	}
	if math.Abs(tone.FrequencyHz-1000) > 2 {
		t.Errorf("tone heard at %.1f Hz", tone.FrequencyHz)
	}
	if math.Abs(tone.LevelDBFS-(-23.01)) > 1.5 {
		t.Errorf("tone heard at %.2f dBFS RMS, want -23", tone.LevelDBFS)
	}
	if mk.LatencyMarks < 2 || mk.LatencyMsMedian == nil {
		t.Fatalf("marks: %d latency measurements", mk.LatencyMarks)
	}
	// Frame, Opus look-ahead, loopback and decoding: well under 200 ms,
	// and never before the mark was sent.
	if l := *mk.LatencyMsMedian; l < 20 || l > 200 {
		t.Errorf("mouth-to-ear latency %.1f ms", l)
	}
	info, err := os.Stat(wav)
	if err != nil {
		t.Fatal(err)
	}
	// About 4 s of mono 16-bit audio, less the time to join.
	if secs := float64(info.Size()-44) / 96000; secs < 3 || secs > 4.5 {
		t.Errorf("wav holds %.2f s", secs)
	}
}

func TestListenRefusedToken(t *testing.T) {
	srv := livekittest.Start(t)
	tok := srv.Token("listener", "demo", false)
	var stdout, stderr bytes.Buffer
	start := time.Now()
	err := runListen(context.Background(), []string{"-url", srv.URL, "-room", "demo", "-token", tok + "x", "-once-json"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("err = %v, want a refusal naming HTTP 401", err)
	}
	var s summary
	if jerr := json.Unmarshal(stdout.Bytes(), &s); jerr != nil || s.State != "error" || !strings.Contains(s.Reason, "unauthorized") {
		t.Errorf("summary %q (%v)", stdout.String(), jerr)
	}
	t.Logf("refused after %v: %v", time.Since(start).Round(time.Millisecond), err)
}

// TestListenEncryptedRoom: a publisher encrypts end to end. Without a key
// the listener must say so and decode nothing (ciphertext decoded as Opus
// is loud noise); with a wrong passphrase it must count the frames that do
// not decrypt and warn; with the right one it hears the tone.
func TestListenEncryptedRoom(t *testing.T) {
	srv := livekittest.Start(t)
	const name, pass = "sealed", "correct horse battery"
	keys, err := e2ee.New(e2ee.Config{Passphrase: conf.Secret(pass)})
	if err != nil {
		t.Fatal(err)
	}
	publisherWith(t, srv, name, "dev", time.Now(), livekit.Options{Encryptor: keys}, func(pos int64, frame []float32) {
		for i := range frame {
			frame[i] = float32(0.1 * math.Sin(2*math.Pi*1000*float64(pos+int64(i))/48000))
		}
	})
	listen := func(extra ...string) (participantSummary, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		args := append([]string{"-url", srv.URL, "-room", name, "-api-key", srv.APIKey, "-api-secret", srv.APISecret,
			"-duration", "2500ms", "-once-json"}, extra...)
		if err := runListen(context.Background(), args, &stdout, &stderr); err != nil {
			t.Fatalf("listen %v: %v\n%s", extra, err, stderr.String())
		}
		var s summary
		if err := json.Unmarshal(stdout.Bytes(), &s); err != nil || len(s.Participants) != 1 {
			t.Fatalf("summary %v: %s", err, stdout.String())
		}
		return s.Participants[0], stderr.String()
	}
	t.Setenv("ONAIR_E2EE_PASSPHRASE", "")

	p, logs := listen()
	if p.E2EE != "no-key" || p.Packets < 50 || p.LevelDBFS != -120 || p.Corrupt != 0 {
		t.Errorf("without a key: %+v", p)
	}
	if !strings.Contains(logs, "end-to-end encrypted") || !strings.Contains(logs, "ONAIR_E2EE_PASSPHRASE") {
		t.Errorf("without a key, no warning saying so:\n%s", logs)
	}

	p, logs = listen("-e2ee-passphrase", "wrong horse battery")
	if p.E2EE != "on" || p.Packets != 0 || p.Undecryptable < 50 {
		t.Errorf("wrong passphrase: %+v", p)
	}
	if !strings.Contains(logs, "wrong passphrase or key index") {
		t.Errorf("wrong passphrase, no warning saying so:\n%s", logs)
	}

	p, _ = listen("-e2ee-passphrase", pass)
	if p.E2EE != "on" || p.Undecryptable != 0 || p.Packets < 50 || math.Abs(p.FrequencyHz-1000) > 2 {
		t.Errorf("right passphrase: %+v", p)
	}
}

// TestListenNeverJoined: nothing listens at the URL; when the duration ends
// without a join, listen fails (exit 1) and says why, and -once-json still
// prints its summary.
func TestListenNeverJoined(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "ws://" + ln.Addr().String()
	ln.Close()
	var stdout, stderr bytes.Buffer
	err = runListen(context.Background(), []string{"-url", url, "-room", "r", "-api-key", "k", "-api-secret", "s", "-duration", "1500ms", "-once-json"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "never joined room r") {
		t.Errorf("err = %v, want a failure saying it never joined", err)
	}
	var s summary
	if jerr := json.Unmarshal(stdout.Bytes(), &s); jerr != nil || s.State == "connected" {
		t.Errorf("summary %q (%v)", stdout.String(), jerr)
	}
}

// TestListenCredentialsFromEnvironment: the token and API secret may come
// from the environment, out of ps, as the passphrase does.
func TestListenCredentialsFromEnvironment(t *testing.T) {
	t.Setenv("ONAIR_TOKEN", "tok-from-env")
	t.Setenv("ONAIR_API_SECRET", "secret-from-env")
	var stderr bytes.Buffer
	o, err := parseListen([]string{"-url", "ws://127.0.0.1:7880", "-room", "r"}, &stderr)
	if err != nil || o.cfg.Token.Reveal() != "tok-from-env" {
		t.Errorf("token from $ONAIR_TOKEN: %v, %v", err, o.cfg.Token)
	}
	o, err = parseListen([]string{"-url", "ws://127.0.0.1:7880", "-room", "r", "-api-key", "k"}, &stderr)
	if err != nil || o.cfg.APISecret.Reveal() != "secret-from-env" || o.cfg.Token.IsSet() {
		t.Errorf("secret from $ONAIR_API_SECRET: %v", err)
	}
}

// TestLiveViewDropsDeparted: a participant whose tracks all ended leaves
// the live view after goneFor, and stays in the summary.
func TestLiveViewDropsDeparted(t *testing.T) {
	l := &listener{people: map[string]*participant{
		"here":    {identity: "here", active: 1},
		"leaving": {identity: "leaving", goneAt: time.Now()},
		"gone":    {identity: "gone", goneAt: time.Now().Add(-goneFor - time.Second)},
	}}
	names := func(fr viewFrame) string {
		var s []string
		for _, p := range fr.people {
			s = append(s, p.Identity)
		}
		return strings.Join(s, ",")
	}
	if got := names(l.frame(true)); got != "here,leaving" {
		t.Errorf("live view shows %q, want here,leaving", got)
	}
	if got := names(l.frame(false)); got != "gone,here,leaving" {
		t.Errorf("summary shows %q, want everyone", got)
	}
}
