package whip

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/net/room"
)

// testLog logs to the test's output: everything for tests, warnings and
// errors only for benchmarks.
func testLog(t testing.TB) *slog.Logger {
	level := slog.LevelDebug
	if _, ok := t.(*testing.B); ok {
		level = slog.LevelWarn
	}
	w := &testWriter{out: t.Output()}
	t.Cleanup(w.stop)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// testWriter writes to a test's output until the test's cleanup, and drops
// what comes later: pion's goroutines (now logging through slog) may log
// while a closed PeerConnection winds down, after the test has ended.
type testWriter struct {
	mu      sync.Mutex
	out     io.Writer
	stopped bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return len(p), nil
	}
	return w.out.Write(p)
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// joinTest joins srv with the loopback options plus o.
func joinTest(t testing.TB, url, token string, o Options) (*Room, *Session) {
	t.Helper()
	o.Loopback = true
	r, err := New(room.Config{URL: url, Token: conf.Secret(token), Identity: "dev-1"}, o, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Join(testContext(t))
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	return r, s.(*Session)
}

func TestJoinPublishClose(t *testing.T) {
	for _, ch := range []int{1, 2} {
		t.Run(map[int]string{1: "mono", 2: "stereo"}[ch], func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			srv := newWHIPServer(t, "secret-token", serverOptions{})
			_, s := joinTest(t, srv.url(), "secret-token", Options{Channels: ch})
			ss := srv.only()

			for _, want := range []string{"a=sendonly", "opus/48000/2", "useinbandfec=1", "a=group:BUNDLE", "a=end-of-candidates"} {
				if !strings.Contains(ss.offer, want) {
					t.Errorf("offer lacks %q", want)
				}
			}
			if got := strings.Contains(ss.offer, "stereo=1;sprop-stereo=1"); got != (ch == 2) {
				t.Errorf("offer stereo=1 present %v, want %v", got, ch == 2)
			}

			frames := toneFrames(t, 697, ch, 60, 20*time.Millisecond)
			var sent uint64
			for _, f := range frames {
				if err := s.WriteOpus(f, 20*time.Millisecond); err != nil {
					t.Fatal(err)
				}
				sent += uint64(len(f))
			}
			got := ss.waitPackets(t, len(frames))
			payloads := make([][]byte, len(got))
			for i, p := range got {
				payloads[i] = p.payload
				if !bytes.Equal(p.payload, frames[i]) {
					t.Fatalf("packet %d payload differs from frame %d", i, i)
				}
				if i > 0 {
					if p.seq != got[i-1].seq+1 {
						t.Errorf("packet %d seq %d after %d", i, p.seq, got[i-1].seq)
					}
					if p.ts-got[i-1].ts != 960 {
						t.Errorf("packet %d timestamp step %d, want 960 (20 ms at 48 kHz)", i, p.ts-got[i-1].ts)
					}
				}
			}
			// Skip the encoder's first 100 ms while it settles.
			f, purity := toneFrequency(decodeOpus(t, ch, payloads)[4800*ch:], ch)
			if f < 690 || f > 704 || purity < 0.8 {
				t.Errorf("server decoded %.1f Hz (purity %.2f), want 697 Hz", f, purity)
			}
			st := s.Stats()
			if st.PacketsSent != uint64(len(frames)) || st.BytesSent != sent {
				t.Errorf("stats %d packets %d bytes, want %d and %d", st.PacketsSent, st.BytesSent, len(frames), sent)
			}

			// The server sends receiver reports every 200 ms and a sender
			// report goes out every second: wait for an RTT.
			keepSending(t, s, frames, func() bool { return s.Stats().RTT > 0 })
			st = s.Stats()
			if st.RTT <= 0 || st.RTT > time.Second || st.FractionLost != 0 {
				t.Errorf("stats from receiver reports: rtt %v lost %v jitter %v", st.RTT, st.FractionLost, st.Jitter)
			}

			if err := s.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			select {
			case <-s.Done():
			default:
				t.Fatal("Done not closed after Close")
			}
			if s.Err() != nil {
				t.Errorf("Err after Close = %v, want nil", s.Err())
			}
			if _, ok := <-s.Events(); ok {
				t.Error("Events not closed after Close")
			}
			if err := s.WriteOpus(frames[0], 20*time.Millisecond); !errors.Is(err, room.ErrClosed) {
				t.Errorf("WriteOpus after Close = %v, want ErrClosed", err)
			}
			if err := s.Close(); err != nil {
				t.Errorf("second Close = %v", err)
			}
			reqs := srv.requests()
			last := reqs[len(reqs)-1]
			if last.method != "DELETE" || last.path != "/resource/1" || last.auth != "Bearer secret-token" {
				t.Errorf("last request %+v, want an authorized DELETE of /resource/1", last)
			}
			if !ss.deleted.Load() {
				t.Error("server session not deleted")
			}
			srv.close()
		})
	}
}

// keepSending writes frames in real time (20 ms apart, looping) until
// cond holds, failing after 10 s.
func keepSending(t *testing.T, s *Session, frames [][]byte, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for i := 0; !cond(); i++ {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatal("condition not met within 10 s")
		}
		err := s.WriteOpus(frames[i%len(frames)], 20*time.Millisecond)
		if err != nil && !errors.Is(err, room.ErrNotConnected) {
			t.Fatalf("write: %v", err)
		}
	}
}

func TestWriteOpusRejectsBadPackets(t *testing.T) {
	srv := newWHIPServer(t, "", serverOptions{})
	_, s := joinTest(t, srv.url(), "", Options{})
	defer s.Close()
	for _, c := range []struct {
		name string
		pkt  []byte
		dur  time.Duration
	}{
		{"empty", nil, 20 * time.Millisecond},
		{"too large", make([]byte, maxOpusPacket+1), 20 * time.Millisecond},
		{"zero duration", []byte{0xfc}, 0},
		{"over 120 ms", []byte{0xfc}, 140 * time.Millisecond},
	} {
		if err := s.WriteOpus(c.pkt, c.dur); !errors.Is(err, ErrBadPacket) {
			t.Errorf("%s: err = %v, want ErrBadPacket", c.name, err)
		}
	}
	if st := s.Stats(); st.PacketsSent != 0 {
		t.Errorf("sent %d packets, want 0", st.PacketsSent)
	}
}

// syncBuffer is a bytes.Buffer safe for pion's goroutines to log into.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestPionLogsThroughSlog: pion's own logs (ICE, DTLS) of a WHIP session
// arrive on the Room's slog logger, tagged with their pion scope.
func TestPionLogsThroughSlog(t *testing.T) {
	srv := newWHIPServer(t, "secret-token", serverOptions{})
	var out syncBuffer
	log := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r, err := New(room.Config{URL: srv.url(), Token: "secret-token", Identity: "dev-1"}, Options{Loopback: true}, log)
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Join(testContext(t))
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	s.Close()
	if got := out.String(); !strings.Contains(got, "pion=ice") || !strings.Contains(got, "component=net.whip") {
		t.Errorf("no pion ICE log through slog:\n%s", got)
	}
}
