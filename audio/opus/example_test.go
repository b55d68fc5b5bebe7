//go:build cgo

package opus_test

import (
	"errors"
	"fmt"
	"math"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/opus"
)

// A speak path encodes one 20 ms frame at a time into a buffer it owns.
func ExampleNewEncoder() {
	var cfg opus.Config
	cfg.SetDefaults() // voip, 32 kbit/s, 20 ms, mono, FEC at 10% loss
	if err := cfg.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	enc, err := opus.NewEncoder(cfg, audio.Rate48k)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer enc.Close()

	pcm := make([]float32, enc.FrameSamples()*enc.Channels())
	for i := range pcm {
		pcm[i] = float32(0.3 * math.Sin(2*math.Pi*440*float64(i)/48000))
	}
	out := make([]byte, opus.MaxPacket)
	n, err := enc.Encode(pcm, out)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("samples per frame:", enc.FrameSamples())
	fmt.Println("delay:", enc.Lookahead(), "samples")
	fmt.Println("packet within 20..200 bytes:", n >= 20 && n <= 200)
	// Output:
	// samples per frame: 960
	// delay: 312 samples
	// packet within 20..200 bytes: true
}

// A listen path decodes what arrives, conceals a lost packet, and recovers
// it from the next packet's FEC when that packet is already there.
func ExampleNewDecoder() {
	var cfg opus.Config
	cfg.SetDefaults()
	enc, err := opus.NewEncoder(cfg, audio.Rate48k)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer enc.Close()
	dec, err := opus.NewDecoder(audio.Rate48k, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	frame := make([]float32, enc.FrameSamples())
	pkt := make([]byte, opus.MaxPacket)
	n, err := enc.Encode(frame, pkt)
	if err != nil {
		fmt.Println(err)
		return
	}

	pcm := make([]float32, dec.MaxFrameLen()) // room for any packet
	got, err := dec.Decode(pkt[:n], pcm)
	fmt.Println("decoded:", got, err)

	// The previous packet was lost and this one has arrived: recover it.
	if err := dec.DecodeFEC(pkt[:n], pcm[:960]); err != nil {
		fmt.Println(err)
	}
	// No packet at all: conceal.
	got, err = dec.DecodePLC(pcm[:960])
	fmt.Println("concealed:", got, err)

	_, err = dec.Decode([]byte{0x03, 0x00}, pcm)
	fmt.Println("corrupt packet is ErrInvalidPacket:", errors.Is(err, opus.ErrInvalidPacket))
	// Output:
	// decoded: 960 <nil>
	// concealed: 960 <nil>
	// corrupt packet is ErrInvalidPacket: true
}
