// Package e2ee end-to-end encrypts onair's room audio in LiveKit's frame
// format, so that the room server forwards only ciphertext and every
// browser or app holding the room's key hears the device.
//
// Keys come from github.com/livekit/server-sdk-go/v2: its ExternalKeyProvider
// derives them from a passphrase exactly as LiveKit's JavaScript SDK does
// (PBKDF2-SHA256, 100 000 iterations, salt "LKFrameEncryptionKey", AES-128)
// or takes a raw key, and its GCM frame decryptor opens received frames.
// The frame format: the Opus TOC byte stays clear and is authenticated, the
// rest is AES-GCM ciphertext with its tag, then a 12-byte IV, one byte
// holding 12, and one byte holding the key index. Seal writes that format
// with Go's standard AES-GCM, because the SDK's encryptor allocates on every
// frame and the send path must not; tests hold every sealed frame to the
// SDK's decryptor and to livekit-client in Chromium.
//
// Keys holds a ring of keys by index. Seal uses the current index; Open
// reads the index from each frame's trailer, so listeners who hold the new
// key keep hearing the device across a rotation. Seal and Open may be
// called from any goroutine. Key material never leaves the package in
// errors, logs or String output.
package e2ee

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	lksdk "github.com/livekit/server-sdk-go/v2"
	sdke2ee "github.com/livekit/server-sdk-go/v2/e2ee"
	"github.com/livekit/server-sdk-go/v2/e2ee/types"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/net/room"
)

// Errors.
var (
	// ErrNoKey: a frame names a key index the ring does not hold.
	ErrNoKey = errors.New("e2ee: no key at that index")
	// ErrOpen: a frame did not decrypt (wrong key, corrupt, or not
	// encrypted at all). It is counted and must never be played.
	ErrOpen = errors.New("e2ee: frame did not decrypt")
	// ErrServerFrame: a server-injected frame, which carries no audio. It
	// matches room.ErrNotAudio.
	ErrServerFrame error = serverFrameError{}
)

type serverFrameError struct{}

func (serverFrameError) Error() string        { return "e2ee: server-injected frame" }
func (serverFrameError) Is(target error) bool { return target == room.ErrNotAudio }

// Stats counts frames.
type Stats struct {
	Sealed uint64 `json:"sealed"`
	Opened uint64 `json:"opened"`
	Failed uint64 `json:"failed"`
	// KeyIndex is the index Seal uses now.
	KeyIndex int `json:"key_index"`
}

// Keys is the room's key ring and frame cryptor. It implements
// net/livekit's Encryptor.
type Keys struct {
	mu  sync.Mutex // serialises key changes
	kp  *sdke2ee.ExternalKeyProvider
	dec atomic.Pointer[sdke2ee.GCMFrameDecryptor]

	sif  atomic.Pointer[trailerBox]
	seal atomic.Pointer[sealState]

	ivMu  sync.Mutex
	ivs   [ivBatch * ivLength]byte
	ivOff int

	sealed, opened, failed atomic.Uint64
}

// New returns a key ring holding cfg's key at cfg.KeyIndex, or an error
// when cfg holds no key.
func New(cfg Config) (*Keys, error) {
	if !cfg.Enabled() {
		return nil, errors.New("e2ee: no passphrase or key configured")
	}
	k := &Keys{kp: sdke2ee.NewExternalKeyProvider()}
	if err := k.set(cfg.KeyIndex, cfg.Passphrase, cfg.Key); err != nil {
		return nil, err
	}
	dec, err := lksdk.NewFrameDecryptor(k.kp, lksdk.CodecOpus, nil)
	if err != nil {
		return nil, fmt.Errorf("e2ee: %w", err)
	}
	k.dec.Store(dec)
	return k, nil
}

// set installs a key at index and makes it current. Errors never carry the
// key material.
func (k *Keys) set(index int, passphrase, key conf.Secret) error {
	if index < 0 || index > 255 {
		return fmt.Errorf("e2ee: key index %d is out of range 0..255", index)
	}
	switch {
	case passphrase.IsSet() && key.IsSet():
		return errors.New("e2ee: give a passphrase or a key, not both")
	case passphrase.IsSet():
		if err := k.kp.SetKeyFromPassphrase(passphrase.Reveal(), uint32(index)); err != nil {
			return errors.New("e2ee: passphrase rejected")
		}
	case key.IsSet():
		raw, err := base64.StdEncoding.DecodeString(key.Reveal())
		if err != nil || len(raw) != types.KeySizeBytes {
			return fmt.Errorf("e2ee: key must be %d bytes of base64 (value redacted)", types.KeySizeBytes)
		}
		if err := k.kp.SetRawKey(raw, uint32(index)); err != nil {
			return errors.New("e2ee: key rejected (value redacted)")
		}
	default:
		return errors.New("e2ee: no passphrase or key given")
	}
	return nil
}

// Rotate installs a new key at index and makes it the one Seal uses from
// the next frame on. Keys at other indexes stay, so frames in flight and
// listeners still on the old key keep decrypting until they move.
func (k *Keys) Rotate(index int, passphrase, key conf.Secret) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.set(index, passphrase, key)
}

// KeyIndex returns the index Seal uses.
func (k *Keys) KeyIndex() int { return int(k.kp.CurrentKeyIndex()) }

// Seal encrypts one Opus frame into LiveKit's frame format and appends it
// to dst:
//
//	TOC byte (clear, the AES-GCM additional data) | ciphertext | 16-byte tag |
//	12-byte IV | 12 | key index
//
// It is the send path's one crypto step per frame and allocates nothing
// when dst has room (len(frame)+SealOverhead). The key bytes come from the
// SDK's key provider; the sealing is Go's standard AES-GCM in exactly the
// layout of the SDK's EncryptGCMAudioSampleCustomCipher (which allocates
// four times per frame), and tests check every sealed frame against the
// SDK's own decryptor and against livekit-client in a browser. Seal may be
// called from several goroutines.
func (k *Keys) Seal(dst, frame []byte) ([]byte, error) {
	if len(frame) == 0 {
		return dst, errors.New("e2ee: empty frame")
	}
	st, err := k.sealer()
	if err != nil {
		return dst, err
	}
	k.ivMu.Lock()
	iv, err := k.nextIV()
	if err != nil {
		k.ivMu.Unlock()
		return dst, err
	}
	dst = append(dst, frame[0])
	dst = st.aead.Seal(dst, iv, frame[1:], frame[:1])
	dst = append(dst, iv...)
	k.ivMu.Unlock()
	dst = append(dst, ivLength, byte(st.index))
	k.sealed.Add(1)
	return dst, nil
}

// SealOverhead is how many bytes Seal adds to a frame: tag, IV and trailer.
const SealOverhead = 16 + ivLength + 2

// ivLength is LiveKit's frame IV size (12 bytes, the GCM standard nonce).
const ivLength = 12

// ivBatch is how many IVs one crypto/rand read fills: one system call every
// 256 frames (5 s of 20 ms frames) instead of one per frame.
const ivBatch = 256

// sealState is the AEAD for the current key, rebuilt on rotation.
type sealState struct {
	index uint32
	key   []byte // compared on every frame: a rotation may reuse an index
	aead  cipher.AEAD
}

func (k *Keys) sealer() (*sealState, error) {
	idx := k.kp.CurrentKeyIndex()
	key, err := k.kp.GetKey(idx)
	if err != nil {
		return nil, fmt.Errorf("%w: index %d", ErrNoKey, idx)
	}
	// A new key at the same index (a passphrase changed in place) must
	// take effect at once, so the cache is keyed by the key bytes too.
	if st := k.seal.Load(); st != nil && st.index == idx && bytes.Equal(st.key, key) {
		return st, nil
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, errors.New("e2ee: bad key (value redacted)")
	}
	aead, err := cipher.NewGCMWithNonceSize(block, ivLength)
	if err != nil {
		return nil, fmt.Errorf("e2ee: %w", err)
	}
	st := &sealState{index: idx, key: append([]byte(nil), key...), aead: aead}
	k.seal.Store(st)
	return st, nil
}

// nextIV returns a fresh random IV from the batch, refilling it from
// crypto/rand when used up. k.ivMu must be held.
func (k *Keys) nextIV() ([]byte, error) {
	if k.ivOff == 0 || k.ivOff >= len(k.ivs) {
		if _, err := rand.Read(k.ivs[:]); err != nil {
			return nil, fmt.Errorf("e2ee: random IV: %w", err)
		}
		k.ivOff = 0
	}
	iv := k.ivs[k.ivOff : k.ivOff+ivLength]
	k.ivOff += ivLength
	return iv, nil
}

// Open decrypts one frame received from participant and appends the Opus
// frame to dst. A frame that does not decrypt returns ErrOpen (or ErrNoKey)
// and is counted; callers treat it as lost, never as audio.
func (k *Keys) Open(dst, frame []byte, participant string) ([]byte, error) {
	if k.isServerFrame(frame) {
		return dst, ErrServerFrame
	}
	if len(frame) < 2+1+12+16 { // TOC + tag + IV + trailer at the least
		k.failed.Add(1)
		return dst, ErrOpen
	}
	kid := int(frame[len(frame)-1])
	if _, err := k.kp.GetKey(uint32(kid)); err != nil && !k.isServerFrame(frame) {
		k.failed.Add(1)
		return dst, fmt.Errorf("%w: index %d from %s", ErrNoKey, kid, participant)
	}
	out, err := k.dec.Load().DecryptFrame(frame)
	if err != nil {
		k.failed.Add(1)
		return dst, fmt.Errorf("%w (from %s, key index %d)", ErrOpen, participant, kid)
	}
	if out == nil {
		return dst, ErrServerFrame
	}
	k.opened.Add(1)
	return append(dst, out...), nil
}

// SetServerTrailer tells the key ring the server-injected-frame trailer the
// LiveKit server sent at join (lksdk Room.SifTrailer): frames that end with
// it are the server's own (silence it injects), not the publisher's, and
// Open returns ErrServerFrame for them instead of counting a failure.
func (k *Keys) SetServerTrailer(trailer []byte) {
	dec, err := lksdk.NewFrameDecryptor(k.kp, lksdk.CodecOpus, append([]byte(nil), trailer...))
	if err != nil {
		return
	}
	k.sif.Store(&trailerBox{append([]byte(nil), trailer...)})
	k.dec.Store(dec)
}

type trailerBox struct{ b []byte }

func (k *Keys) isServerFrame(frame []byte) bool {
	t := k.sif.Load()
	return t != nil && len(t.b) > 0 && len(frame) >= len(t.b) && string(frame[len(frame)-len(t.b):]) == string(t.b)
}

// Stats returns the counters.
func (k *Keys) Stats() Stats {
	return Stats{Sealed: k.sealed.Load(), Opened: k.opened.Load(), Failed: k.failed.Load(), KeyIndex: k.KeyIndex()}
}

// String never shows key material.
func (k *Keys) String() string { return fmt.Sprintf("e2ee keys (current index %d)", k.KeyIndex()) }
