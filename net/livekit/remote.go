package livekit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/pion/webrtc/v4"

	"github.com/onair-gateway/onair/net/room"
)

// errShortRTP reports a packet too short for the RTP header it announces.
var errShortRTP = errors.New("livekit: malformed RTP packet")

// remoteTrack is another participant's audio track. It implements
// room.RemoteTrack. ReadPacket is meant for one reader goroutine.
type remoteTrack struct {
	t           *webrtc.TrackRemote
	participant string
	id          string
	encrypted   bool      // the publisher announced end-to-end encryption
	enc         Encryptor // non-nil only for an encrypted track
	failed      atomic.Uint64

	mu      sync.Mutex // one reader at a time: scratch is shared
	scratch []byte     // raw packets of an encrypted track
}

var (
	_ room.RemoteTrack = (*remoteTrack)(nil)
	_ room.CryptoTrack = (*remoteTrack)(nil)
)

func newRemoteTrack(t *webrtc.TrackRemote, participant, id string, encrypted bool, enc Encryptor) *remoteTrack {
	rt := &remoteTrack{t: t, participant: participant, id: id, encrypted: encrypted}
	if encrypted && enc != nil {
		rt.enc = enc
		rt.scratch = make([]byte, mtu)
	}
	return rt
}

// Participant implements room.RemoteTrack.
func (t *remoteTrack) Participant() string { return t.participant }

// ID implements room.RemoteTrack.
func (t *remoteTrack) ID() string { return t.id }

// Encrypted implements room.CryptoTrack.
func (t *remoteTrack) Encrypted() bool { return t.encrypted }

// Undecryptable implements room.CryptoTrack.
func (t *remoteTrack) Undecryptable() uint64 { return t.failed.Load() }

// ReadPacket implements room.RemoteTrack. It reads the next RTP packet
// (after pion's interceptors) into buf and returns its header fields and the
// Opus payload as a sub-slice of buf; buf should hold 1500 bytes. It returns
// io.EOF once the track has ended.
func (t *remoteTrack) ReadPacket(buf []byte) (room.Packet, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	raw := buf
	if t.enc != nil {
		raw = t.scratch
	}
	for {
		n, _, err := t.t.Read(raw)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) {
				return room.Packet{}, io.EOF
			}
			return room.Packet{}, fmt.Errorf("livekit: read track %s: %w", t.id, err)
		}
		p, err := parseRTP(raw[:n])
		if err != nil {
			continue // not ours to decode; pion has counted it
		}
		if len(p.Payload) == 0 {
			continue // padding-only probe
		}
		if t.enc != nil {
			out, err := t.enc.Open(buf[:0], p.Payload, t.participant)
			if err != nil {
				// A frame we cannot open is as good as lost.
				if !errors.Is(err, room.ErrNotAudio) {
					t.failed.Add(1)
				}
				continue
			}
			p.Payload = out
		}
		return p, nil
	}
}

// parseRTP reads the fixed RTP header, CSRCs, header extension and padding
// (RFC 3550 §5.1, §5.3.1) without allocating; Payload is a sub-slice of b.
func parseRTP(b []byte) (room.Packet, error) {
	if len(b) < 12 || b[0]>>6 != 2 {
		return room.Packet{}, errShortRTP
	}
	off := 12 + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 {
		if len(b) < off+4 {
			return room.Packet{}, errShortRTP
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(b[off+2:]))
	}
	end := len(b)
	if b[0]&0x20 != 0 {
		if end == 0 {
			return room.Packet{}, errShortRTP
		}
		end -= int(b[end-1])
	}
	if off > end {
		return room.Packet{}, errShortRTP
	}
	return room.Packet{
		Seq:       binary.BigEndian.Uint16(b[2:]),
		Timestamp: binary.BigEndian.Uint32(b[4:]),
		Payload:   b[off:end:end],
	}, nil
}
