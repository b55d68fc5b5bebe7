package rx_test

import (
	"fmt"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/opus"
	"github.com/onair-gateway/onair/audio/rx"
)

// A receiver fed three packets with the second lost: the loss is
// concealed, and the timeline stays whole.
func Example() {
	cfg := opus.Config{}
	cfg.SetDefaults()
	enc, err := opus.NewEncoder(cfg, audio.Rate48k)
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := rx.New(rx.Config{Channels: 1, Rate: audio.Rate48k})
	if err != nil {
		fmt.Println(err)
		return
	}
	pcm, out := make([]float32, 960), make([]byte, 1500)
	var c rx.Chunk
	for seq := range 3 {
		n, err := enc.Encode(pcm, out)
		if err != nil {
			fmt.Println(err)
			return
		}
		if seq == 1 {
			continue // lost on the way
		}
		r.Push(rx.Packet{Seq: uint16(seq), Timestamp: uint32(seq * 960), Payload: out[:n]}, time.Now())
		for r.Pull(&c) {
			fmt.Println(c.Pos, c.N, c.Kind == rx.Concealed)
		}
	}
	s := r.Stats()
	fmt.Println("lost", s.Lost, "concealed", s.Concealed)
	// Output:
	// 0 960 false
	// 960 960 true
	// 1920 960 false
	// lost 1 concealed 1
}
