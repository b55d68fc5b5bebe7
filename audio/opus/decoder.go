//go:build cgo

package opus

import (
	"fmt"
	"time"

	"github.com/onair-gateway/onair/audio"
	hopus "gopkg.in/hraban/opus.v2"
)

// Decoder decodes Opus packets into interleaved float32 samples and
// conceals or recovers lost packets. It belongs to one goroutine.
type Decoder struct {
	dec      *hopus.Decoder
	channels int
	rate     audio.SampleRate
	maxLen   int // samples per channel in the longest packet
	unit     int // samples per channel in 2.5 ms, the PLC/FEC granularity
}

// NewDecoder returns a decoder producing channels (1 or 2) at rate (48000 or
// 16000 Hz). Any Opus stream decodes at any of these settings: libopus mixes
// or duplicates channels and resamples as needed.
func NewDecoder(rate audio.SampleRate, channels int) (*Decoder, error) {
	const op = "new decoder"
	if rate != audio.Rate48k && rate != audio.Rate16k {
		return nil, newError(codeBadArg, op, fmt.Sprintf("rate %d Hz is not 48000 or 16000", rate))
	}
	if channels != 1 && channels != 2 {
		return nil, newError(codeBadArg, op, fmt.Sprintf("%d channels: want 1 or 2", channels))
	}
	dec, err := hopus.NewDecoder(int(rate), channels)
	if err != nil {
		return nil, translate(op, err)
	}
	return &Decoder{
		dec:      dec,
		channels: channels,
		rate:     rate,
		maxLen:   rate.Samples(MaxPacketDuration),
		unit:     rate.Samples(2500 * time.Microsecond),
	}, nil
}

// Channels returns the number of interleaved output channels.
func (d *Decoder) Channels() int { return d.channels }

// Rate returns the output sample rate.
func (d *Decoder) Rate() audio.SampleRate { return d.rate }

// MaxFrameLen returns the samples per channel of the longest packet (120 ms):
// a pcm buffer of MaxFrameLen()*Channels() values decodes any packet.
func (d *Decoder) MaxFrameLen() int { return d.maxLen }

// Decode decodes pkt into pcm, which the caller owns, and returns the number
// of samples per channel written. pcm must hold the packet's duration; a
// buffer of MaxFrameLen()*Channels() always does. A corrupt packet gives
// ErrInvalidPacket, a short buffer ErrBufferTooSmall. An empty packet is
// invalid: for a lost packet call DecodePLC or DecodeFEC. Decode never
// allocates.
func (d *Decoder) Decode(pkt []byte, pcm []float32) (int, error) {
	const op = "decode"
	if len(pkt) == 0 {
		return 0, newError(codeInvalidPacket, op, "empty packet")
	}
	pcm, err := d.fit(op, pcm)
	if err != nil {
		return 0, err
	}
	n, err := d.dec.DecodeFloat32(pkt, pcm)
	if err != nil {
		return 0, translate(op, err)
	}
	return n, nil
}

// DecodeFEC recovers the packet lost just before pkt from the in-band
// forward error correction pkt carries (RFC 6716 §2.1.7), writing into pcm,
// whose length sets the duration recovered: it must be the lost packet's
// duration, a multiple of 2.5 ms. Afterwards decode pkt itself with Decode.
// When pkt carries no FEC (the encoder had FEC off, or the frame was coded
// without it), libopus conceals the loss as DecodePLC would. DecodeFEC never
// allocates.
func (d *Decoder) DecodeFEC(pkt []byte, pcm []float32) error {
	const op = "decode fec"
	if len(pkt) == 0 {
		return newError(codeInvalidPacket, op, "empty packet")
	}
	pcm, err := d.fitExact(op, pcm)
	if err != nil {
		return err
	}
	if err := d.dec.DecodeFECFloat32(pkt, pcm); err != nil {
		return translate(op, err)
	}
	return nil
}

// DecodePLC conceals one lost packet (packet loss concealment), writing into
// pcm, whose length sets the duration concealed: use the lost packet's
// duration, a multiple of 2.5 ms. It returns the samples per channel
// written, len(pcm)/Channels(). DecodePLC never allocates.
func (d *Decoder) DecodePLC(pcm []float32) (int, error) {
	const op = "decode plc"
	pcm, err := d.fitExact(op, pcm)
	if err != nil {
		return 0, err
	}
	if err := d.dec.DecodePLCFloat32(pcm); err != nil {
		return 0, translate(op, err)
	}
	return len(pcm) / d.channels, nil
}

// fit trims pcm to whole frames and caps its capacity at its length (the
// bindings size the output by cap(pcm)).
func (d *Decoder) fit(op string, pcm []float32) ([]float32, error) {
	n := len(pcm) / d.channels * d.channels
	if n == 0 {
		return nil, newError(codeBufferTooSmall, op, fmt.Sprintf("pcm holds %d samples, less than one per channel", len(pcm)))
	}
	return pcm[:n:n], nil
}

// fitExact is fit for PLC and FEC, where the length is the duration asked
// for and must be whole 2.5 ms units.
func (d *Decoder) fitExact(op string, pcm []float32) ([]float32, error) {
	if len(pcm)%d.channels != 0 || len(pcm) == 0 || (len(pcm)/d.channels)%d.unit != 0 {
		return nil, newError(codeBadArg, op, fmt.Sprintf("pcm of %d samples is not a whole number of 2.5 ms x %d channels", len(pcm), d.channels))
	}
	if len(pcm)/d.channels > d.maxLen {
		return nil, newError(codeBadArg, op, fmt.Sprintf("pcm of %d samples per channel is longer than %v", len(pcm)/d.channels, MaxPacketDuration))
	}
	return pcm[:len(pcm):len(pcm)], nil
}
