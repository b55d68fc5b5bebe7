//go:build !cgo

package opus

import "github.com/onair-gateway/onair/audio"

// unavailable is what every entry point returns in a build without cgo.
func unavailable(op string) error {
	return newError(codeUnimplemented, op, "libopus needs cgo; this binary was built with CGO_ENABLED=0")
}

// Encoder is unavailable without cgo; see the cgo build.
type Encoder struct{}

// NewEncoder reports that libopus is unavailable in this build.
func NewEncoder(cfg Config, rate audio.SampleRate) (*Encoder, error) {
	return nil, unavailable("new encoder")
}

// FrameSamples returns 0.
func (e *Encoder) FrameSamples() int { return 0 }

// Channels returns 0.
func (e *Encoder) Channels() int { return 0 }

// Rate returns 0.
func (e *Encoder) Rate() audio.SampleRate { return 0 }

// Lookahead returns 0.
func (e *Encoder) Lookahead() int { return 0 }

// Encode reports that libopus is unavailable.
func (e *Encoder) Encode(pcm []float32, out []byte) (int, error) { return 0, unavailable("encode") }

// SetBitrate reports that libopus is unavailable.
func (e *Encoder) SetBitrate(bps int) error { return unavailable("set bitrate") }

// LimitBitrate reports that libopus is unavailable.
func (e *Encoder) LimitBitrate(bps int) error { return unavailable("limit bitrate") }

// Configured returns 0 and false.
func (e *Encoder) Configured() (bitrate int, fec bool) { return 0, false }

// Target returns 0 and false.
func (e *Encoder) Target() (bitrate int, fec bool) { return 0, false }

// SetPacketLoss reports that libopus is unavailable.
func (e *Encoder) SetPacketLoss(pct int) error { return unavailable("set packet loss") }

// SetDTX reports that libopus is unavailable.
func (e *Encoder) SetDTX(on bool) error { return unavailable("set dtx") }

// Close does nothing.
func (e *Encoder) Close() error { return nil }

// Decoder is unavailable without cgo; see the cgo build.
type Decoder struct{}

// NewDecoder reports that libopus is unavailable in this build.
func NewDecoder(rate audio.SampleRate, channels int) (*Decoder, error) {
	return nil, unavailable("new decoder")
}

// Channels returns 0.
func (d *Decoder) Channels() int { return 0 }

// Rate returns 0.
func (d *Decoder) Rate() audio.SampleRate { return 0 }

// MaxFrameLen returns 0.
func (d *Decoder) MaxFrameLen() int { return 0 }

// Decode reports that libopus is unavailable.
func (d *Decoder) Decode(pkt []byte, pcm []float32) (int, error) { return 0, unavailable("decode") }

// DecodeFEC reports that libopus is unavailable.
func (d *Decoder) DecodeFEC(pkt []byte, pcm []float32) error { return unavailable("decode fec") }

// DecodePLC reports that libopus is unavailable.
func (d *Decoder) DecodePLC(pcm []float32) (int, error) { return 0, unavailable("decode plc") }
