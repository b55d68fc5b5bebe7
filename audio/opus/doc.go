// Package opus encodes and decodes Opus (RFC 6716) through libopus, using
// gopkg.in/hraban/opus.v2 for the bindings. It is the only cgo package under
// audio/; build with -tags nolibopusfile so that only libopus is linked.
// Without cgo the package still builds, and NewEncoder and NewDecoder return
// an error.
//
// An Encoder turns one frame of interleaved float32 samples (full scale ±1.0,
// Config.Frame long, Config.Channels wide, at 48 or 16 kHz) into one Opus
// packet. A Decoder turns packets back into samples, conceals lost packets
// (DecodePLC) and recovers a lost packet from the in-band forward error
// correction carried by the next one (DecodeFEC).
//
// Buffers belong to the caller: Encode writes into out (MaxPacket bytes is
// always enough) and Decode into pcm (Decoder.MaxFrameLen samples per channel
// is always enough). Neither allocates; libopus copies nothing it keeps.
//
// Goroutines: the package starts none. An Encoder may be used by one encoding
// goroutine while others call SetBitrate, SetPacketLoss and SetDTX: a mutex
// serialises those calls with Encode, so a setting takes effect from the next
// frame. A Decoder belongs to one goroutine.
//
// Errors: every libopus error code becomes an *Error carrying the code and
// its name (OPUS_BAD_ARG, OPUS_INVALID_PACKET, ...); compare with errors.Is
// against ErrBadArg, ErrBufferTooSmall, ErrInvalidPacket and the other
// sentinels. Nothing in this package panics on bad input.
package opus
