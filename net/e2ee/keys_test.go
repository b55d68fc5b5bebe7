package e2ee

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/onair-gateway/onair/conf"
)

// opusFrame is a plausible Opus packet: TOC byte 0x78 (CELT FB 20 ms mono)
// and some payload.
func opusFrame(n int, seed byte) []byte {
	f := make([]byte, n)
	f[0] = 0x78
	for i := 1; i < n; i++ {
		f[i] = byte(i)*7 + seed
	}
	return f
}

func keys(t *testing.T, cfg Config) *Keys {
	t.Helper()
	k, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestPassphraseKeyMatchesLiveKit checks the derivation against a known
// answer computed independently (Python's hashlib.pbkdf2_hmac with
// LiveKit's parameters: SHA-256, 100 000 iterations, salt
// "LKFrameEncryptionKey", 16 bytes).
func TestPassphraseKeyMatchesLiveKit(t *testing.T) {
	k := keys(t, Config{Passphrase: "onair-demo-passphrase"})
	key, err := k.kp.GetKey(0)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(key); got != "72e722fc9198a513ef7a5fd80aa5572d" {
		t.Fatalf("derived key %s does not match LiveKit's derivation", got)
	}
}

func TestFrameFormat(t *testing.T) {
	k := keys(t, Config{Passphrase: "onair-demo-passphrase", KeyIndex: 3})
	frame := opusFrame(80, 1)
	sealed, err := k.Seal(nil, frame)
	if err != nil {
		t.Fatal(err)
	}
	// TOC clear | ciphertext (len-1) + 16-byte tag | 12-byte IV | 12 | kid
	if len(sealed) != len(frame)+16+12+2 {
		t.Fatalf("sealed %d bytes from %d", len(sealed), len(frame))
	}
	if sealed[0] != frame[0] {
		t.Error("TOC byte not left clear")
	}
	if sealed[len(sealed)-2] != 12 || sealed[len(sealed)-1] != 3 {
		t.Errorf("trailer %v, want IV length 12 and key index 3", sealed[len(sealed)-2:])
	}
	if bytes.Contains(sealed, frame[1:20]) {
		t.Error("plaintext visible in the sealed frame")
	}
	again, _ := k.Seal(nil, frame)
	if bytes.Equal(again[len(again)-14:len(again)-2], sealed[len(sealed)-14:len(sealed)-2]) {
		t.Error("IV repeated between frames")
	}
	// An independent decryption with the SDK's stand-alone function and a
	// key derived by its other code path.
	key, err := lksdk.DeriveKeyFromString("onair-demo-passphrase")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := lksdk.DecryptGCMAudioSample(sealed, key, nil)
	if err != nil || !bytes.Equal(plain, frame) {
		t.Fatalf("SDK decrypt: %v, equal=%v", err, bytes.Equal(plain, frame))
	}
}

func TestOpenRoundTripAndFailures(t *testing.T) {
	a := keys(t, Config{Passphrase: "the-room-passphrase"})
	b := keys(t, Config{Passphrase: "the-room-passphrase"})
	wrong := keys(t, Config{Passphrase: "another-passphrase"})
	for i := 0; i < 50; i++ {
		f := opusFrame(20+i, byte(i))
		s, err := a.Seal(nil, f)
		if err != nil {
			t.Fatal(err)
		}
		p, err := b.Open(nil, s, "device")
		if err != nil || !bytes.Equal(p, f) {
			t.Fatalf("frame %d: %v", i, err)
		}
		if _, err := wrong.Open(nil, s, "device"); !errors.Is(err, ErrOpen) {
			t.Fatalf("wrong key opened a frame: %v", err)
		}
		s[len(s)/2] ^= 1
		if _, err := b.Open(nil, s, "device"); !errors.Is(err, ErrOpen) {
			t.Fatalf("tampered frame opened: %v", err)
		}
	}
	if _, err := b.Open(nil, opusFrame(60, 9), "plain"); err == nil {
		t.Error("an unencrypted Opus frame opened")
	}
	if st := b.Stats(); st.Opened != 50 || st.Failed != 51 {
		t.Errorf("stats %+v, want 50 opened, 51 failed", st)
	}
	if st := wrong.Stats(); st.Failed != 50 || st.Opened != 0 {
		t.Errorf("wrong-key stats %+v", st)
	}
}

// TestRotation: after a rotation, frames carry the new index; a listener
// holding both keys opens frames from before and after, one holding only
// the old key fails on the new frames and is told which index it lacks.
func TestRotation(t *testing.T) {
	dev := keys(t, Config{Passphrase: "first-passphrase"})
	both := keys(t, Config{Passphrase: "first-passphrase"})
	old := keys(t, Config{Passphrase: "first-passphrase"})
	before, _ := dev.Seal(nil, opusFrame(40, 1))
	if err := dev.Rotate(1, "second-passphrase", ""); err != nil {
		t.Fatal(err)
	}
	if err := both.Rotate(1, "second-passphrase", ""); err != nil {
		t.Fatal(err)
	}
	after, _ := dev.Seal(nil, opusFrame(40, 2))
	if after[len(after)-1] != 1 || dev.KeyIndex() != 1 {
		t.Fatalf("after rotation the frame carries key index %d", after[len(after)-1])
	}
	for _, f := range [][]byte{before, after} {
		if _, err := both.Open(nil, f, "dev"); err != nil {
			t.Errorf("listener with both keys: %v", err)
		}
	}
	if _, err := old.Open(nil, after, "dev"); !errors.Is(err, ErrNoKey) || !strings.Contains(err.Error(), "index 1") {
		t.Errorf("old-key listener: %v", err)
	}
	// A new key at the same index takes effect from the next frame.
	if err := dev.Rotate(1, "third-passphrase", ""); err != nil {
		t.Fatal(err)
	}
	third := keys(t, Config{Passphrase: "third-passphrase", KeyIndex: 1})
	inPlace, _ := dev.Seal(nil, opusFrame(40, 3))
	if _, err := third.Open(nil, inPlace, "dev"); err != nil {
		t.Errorf("after an in-place rotation the new key does not open the frame: %v", err)
	}
	if _, err := both.Open(nil, inPlace, "dev"); err == nil {
		t.Error("after an in-place rotation the old key still opens new frames")
	}
	if err := dev.Rotate(300, "x-passphrase", ""); err == nil {
		t.Error("index 300 accepted")
	}
}

func TestRawKeyAndSecretsNeverPrinted(t *testing.T) {
	raw := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	k := keys(t, Config{Key: conf.Secret(raw)})
	s, _ := k.Seal(nil, opusFrame(30, 0))
	plain, err := lksdk.DecryptGCMAudioSample(s, []byte("0123456789abcdef"), nil)
	if err != nil || len(plain) != 30 {
		t.Fatalf("raw key: %v", err)
	}
	_, err = New(Config{Key: "c2hvcnQ="}) // "short"
	out := fmt.Sprint(err, k, k.Stats())
	for _, secret := range []string{raw, "0123456789abcdef", "c2hvcnQ=", "short"} {
		if strings.Contains(out, secret) {
			t.Errorf("key material printed: %s", out)
		}
	}
	if err == nil {
		t.Error("a 5-byte key was accepted")
	}
	if _, err := New(Config{}); err == nil {
		t.Error("no key accepted")
	}
}

func FuzzOpen(f *testing.F) {
	k, err := New(Config{Passphrase: "fuzz-passphrase"})
	if err != nil {
		f.Fatal(err)
	}
	s, _ := k.Seal(nil, opusFrame(50, 3))
	f.Add(s)
	f.Add([]byte{0x78, 1, 2, 3})
	f.Add(make([]byte, 40))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := k.Open(nil, b, "fuzz")
		if err == nil && len(out) == 0 {
			t.Fatal("opened to nothing without an error")
		}
	})
}

func BenchmarkSeal(b *testing.B) {
	k, _ := New(Config{Passphrase: "bench-passphrase"})
	frame := opusFrame(80, 0)
	dst := make([]byte, 0, len(frame)+SealOverhead)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := k.Seal(dst[:0], frame); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSealAllocatesNothing: the send path's crypto allocates nothing per
// frame, IVs never repeat across the random batches, and every sealed frame
// opens with the SDK's own decryptor.
func TestSealAllocatesNothing(t *testing.T) {
	k := keys(t, Config{Passphrase: "alloc-test-passphrase"})
	frame := opusFrame(90, 5)
	dst := make([]byte, 0, len(frame)+SealOverhead)
	if allocs := testing.AllocsPerRun(1000, func() {
		if _, err := k.Seal(dst[:0], frame); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Errorf("Seal allocates %.1f times per frame", allocs)
	}
	key, _ := lksdk.DeriveKeyFromString("alloc-test-passphrase")
	seen := map[string]bool{}
	for i := 0; i < 3*ivBatch+7; i++ {
		s, err := k.Seal(nil, frame)
		if err != nil {
			t.Fatal(err)
		}
		iv := string(s[len(s)-2-ivLength : len(s)-2])
		if seen[iv] {
			t.Fatalf("IV repeated at frame %d", i)
		}
		seen[iv] = true
		if p, err := lksdk.DecryptGCMAudioSample(s, key, nil); err != nil || !bytes.Equal(p, frame) {
			t.Fatalf("frame %d does not open with the SDK: %v", i, err)
		}
	}
}
