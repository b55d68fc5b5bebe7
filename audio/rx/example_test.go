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

// A jitter buffer on a playback clock: packets arrive every 20 ms, one is
// lost; the device pulls 20 ms each period once the first packet has
// waited the target delay, and the loss is recovered from the next
// packet's FEC.
func ExampleJitter() {
	cfg := opus.Config{}
	cfg.SetDefaults()
	enc, err := opus.NewEncoder(cfg, audio.Rate48k)
	if err != nil {
		fmt.Println(err)
		return
	}
	j, err := rx.NewJitter(rx.JitterConfig{Channels: 1, Rate: audio.Rate48k})
	if err != nil {
		fmt.Println(err)
		return
	}
	pcm, pkt, out := make([]float32, 960), make([]byte, 1500), make([]float32, 960)
	t0 := time.Unix(1000, 0)
	played := 0
	for k := 0; k < 20; k++ {
		now := t0.Add(time.Duration(k) * 20 * time.Millisecond)
		n, err := enc.Encode(pcm, pkt)
		if err != nil {
			fmt.Println(err)
			return
		}
		if k != 5 {
			j.Push(rx.Packet{Seq: uint16(k), Timestamp: uint32(k * 960), Payload: pkt[:n]}, now)
		}
		if j.Pull(now, out) {
			played++
		}
	}
	s := j.Stats()
	fmt.Printf("played %d frames; target %v; lost %d, recovered %d\n", played, s.Target, s.Lost, s.Recovered)
	// Output:
	// played 18 frames; target 40ms; lost 1, recovered 1
}
