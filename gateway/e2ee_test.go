package gateway

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/onair-gateway/onair/net/e2ee"
	"github.com/onair-gateway/onair/net/livekit/livekittest"
	"github.com/onair-gateway/onair/net/room"
	"github.com/onair-gateway/onair/net/room/roomtest"
	"github.com/onair-gateway/onair/provisioning"
)

const roomPassphrase = "correct-horse-battery-staple"

// startDevice runs a gateway on the simulated board, on air from the start,
// in room roomName of srv. signal is a board.sim snippet.
func startDevice(t *testing.T, srv *livekittest.Server, id, roomName, signal, extra string) *Gateway {
	t.Helper()
	g := runDevice(t, deviceDoc(srv, id, roomName, signal, extra))
	waitFor(t, "live", func() bool { return g.Status().State == StateLive })
	if err := g.Do(context.Background(), Command{Kind: CmdOnAir, On: true}); err != nil {
		t.Fatal(err)
	}
	return g
}

func roomKeys(t *testing.T, passphrase string, index int) *e2ee.Keys {
	t.Helper()
	k, err := e2ee.New(e2ee.Config{Passphrase: passphraseSecret(passphrase), KeyIndex: index})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestEncryptedRoom: the device publishes encrypted; a listener with the
// key hears the tone; a listener without it gets payloads that are not the
// signal (LiveKit frame trailers, and Opus decoding yields errors or
// noise); the server itself only ever forwarded those payloads.
func TestEncryptedRoom(t *testing.T) {
	srv := livekittest.Start(t)
	g := startDevice(t, srv, "enc-dev", "secret-room", "signal: tone, frequency: 1000, level: -12",
		"e2ee: {passphrase: "+roomPassphrase+", required: true}")
	if s := g.Status(); !s.Encrypted {
		t.Fatalf("status says the room is not encrypted: %+v", s)
	}
	keyed := subscribeKeyed(t, srv, "secret-room", "enc-dev", "with-key", roomKeys(t, roomPassphrase, 0))
	plain := subscribeKeyed(t, srv, "secret-room", "enc-dev", "no-key", nil)
	start := time.Now()
	waitFor(t, "1 s of decrypted audio", func() bool { return len(keyed.since(start.Add(300*time.Millisecond))) >= 48000 })
	on := keyed.since(start.Add(300 * time.Millisecond))
	lvl, share := rmsDBFS(on), toneShare(on, 1000)
	t.Logf("with the key: %.1f dBFS, %.0f%% at 1 kHz", lvl, 100*share)
	if lvl < -30 || share < 0.8 {
		t.Errorf("listener with the key hears %.1f dBFS, %.0f%% at 1 kHz", lvl, 100*share)
	}

	noKey := assertCiphertextOnly(t, plain)
	if len(noKey) > 0 && toneShare(noKey, 1000) > 0.1 {
		t.Errorf("the keyless listener decodes the signal: %.0f%% at 1 kHz", 100*toneShare(noKey, 1000))
	}
}

// assertCiphertextOnly waits for 50 payloads at a listener without the key
// and checks that every one ends with LiveKit's frame trailer (IV length 12,
// key index 0): the server forwarded nothing but ciphertext. It returns
// what the listener's Opus decoder made of them.
func assertCiphertextOnly(t *testing.T, plain *heard) []float32 {
	t.Helper()
	waitFor(t, "payloads at the keyless listener", func() bool { plain.mu.Lock(); defer plain.mu.Unlock(); return len(plain.raw) >= 50 })
	plain.mu.Lock()
	raw, decErrs := plain.raw, plain.decErrs
	noKey := append([]float32(nil), plain.samples...)
	plain.mu.Unlock()
	trailers := 0
	for _, p := range raw {
		if len(p) > 2 && p[len(p)-2] == 12 && p[len(p)-1] == 0 {
			trailers++
		}
	}
	t.Logf("without the key: %d payloads, %d with LiveKit's frame trailer, %d refused by the Opus decoder, %.1f dBFS decoded",
		len(raw), trailers, decErrs, rmsDBFS(noKey))
	if trailers != len(raw) {
		t.Errorf("%d of %d payloads lack the e2ee trailer: the server saw plaintext", len(raw)-trailers, len(raw))
	}
	return noKey
}

// TestEncryptedSpeech: real recorded speech (espeak-ng) through the device,
// encrypted; the keyed listener's audio follows the speech's envelope.
func TestEncryptedSpeech(t *testing.T) {
	srv := livekittest.Start(t)
	startDevice(t, srv, "speech-dev", "speech", "file: ../testdata/speech48k.wav, level: -20",
		"e2ee: {passphrase: "+roomPassphrase+"}")
	keyed := subscribeKeyed(t, srv, "speech", "speech-dev", "with-key", roomKeys(t, roomPassphrase, 0))
	plain := subscribeKeyed(t, srv, "speech", "speech-dev", "no-key", nil)
	start := time.Now()
	waitFor(t, "3 s of audio", func() bool { return len(keyed.since(start)) >= 3*48000 })
	got := keyed.since(start)
	voiced := 0
	for i := 0; i+480 <= len(got); i += 480 {
		if rmsDBFS(got[i:i+480]) > -40 {
			voiced++
		}
	}
	frac := float64(voiced) / float64(len(got)/480)
	t.Logf("with the key: %.1f dBFS overall, %.0f%% of 10 ms blocks voiced", rmsDBFS(got), 100*frac)
	if frac < 0.3 || rmsDBFS(got) < -35 {
		t.Errorf("the keyed listener does not hear speech: %.0f%% voiced, %.1f dBFS", 100*frac, rmsDBFS(got))
	}
	assertCiphertextOnly(t, plain)
}

// TestKeyRotationKeepsAudio rotates the key while a listener holding both
// keys listens: not one frame fails to decrypt, and audio keeps coming.
func TestKeyRotationKeepsAudio(t *testing.T) {
	srv := livekittest.Start(t)
	g := startDevice(t, srv, "rot-dev", "rot", "signal: tone, frequency: 1000, level: -12",
		"e2ee: {passphrase: "+roomPassphrase+"}")
	listenerKeys := roomKeys(t, roomPassphrase, 0)
	if err := listenerKeys.Rotate(1, "the-next-room-passphrase", ""); err != nil {
		t.Fatal(err)
	}
	// The listener already holds both keys; its own current index does not
	// matter for decryption, which reads each frame's index.
	h := subscribeKeyed(t, srv, "rot", "rot-dev", "both-keys", listenerKeys)
	start := time.Now()
	waitFor(t, "audio before rotation", func() bool { return len(h.since(start)) >= 25*960 })
	if err := g.Do(context.Background(), Command{Kind: CmdRotateKey, KeyIndex: 1, Passphrase: "the-next-room-passphrase"}); err != nil {
		t.Fatal(err)
	}
	rotated := time.Now()
	waitFor(t, "1 s of audio after rotation", func() bool { return len(h.since(rotated)) >= 50*960 })
	st := listenerKeys.Stats()
	t.Logf("listener: %d frames opened, %d failed across the rotation", st.Opened, st.Failed)
	if st.Failed != 0 {
		t.Errorf("%d frames failed to decrypt across the rotation", st.Failed)
	}
	if share := toneShare(h.since(rotated), 1000); share < 0.8 {
		t.Errorf("after rotation the tone share is %.0f%%", 100*share)
	}
	if err := g.Do(context.Background(), Command{Kind: CmdRotateKey, KeyIndex: 999, Passphrase: "x-passphrase"}); err == nil {
		t.Error("rotation to index 999 accepted")
	}
}

// TestRequiredEncryptionRefusesPlainRoom: with e2ee.required and a room
// that cannot encrypt, the device refuses to go on air and says why.
func TestRequiredEncryptionRefusesPlainRoom(t *testing.T) {
	r := resolve(t, simDoc+"e2ee: {passphrase: "+roomPassphrase+", required: true}\n")
	tr := roomtest.NewLiveRoom(8)
	g, err := New(r, Options{Hardware: &SimHardware{log: testLogger(t)}, Log: testLogger(t),
		Rooms: func(*provisioning.Resolved, *e2ee.Keys, *slog.Logger) (room.Room, bool, error) { return tr, false, nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go g.Run(ctx)
	waitFor(t, "error state", func() bool { return g.Status().State == StateError })
	_ = g.Do(ctx, Command{Kind: CmdOnAir, On: true})
	s := g.Status()
	if s.OnAir || s.Encrypted || s.Reason == "" {
		t.Errorf("status %+v", s)
	}
	// Capture runs (30 frames, 300 ms of audio) and nothing is published.
	f0 := g.speak.stats().Frames
	waitFor(t, "capture running", func() bool { return g.speak.stats().Frames >= f0+30 })
	if n := tr.Packets(); n != 0 {
		t.Errorf("%d frames published unencrypted", n)
	}
}
