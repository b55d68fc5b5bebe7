package mix_test

import (
	"fmt"
	"time"

	"github.com/onair-gateway/onair/audio/mix"
)

type printer struct{}

func (printer) Write(pcm []float32) error { fmt.Println(pcm); return nil }

// Two streams on one mono timeline: they overlap at frame 2, and the sum
// there clips at full scale instead of wrapping.
func Example() {
	tl, err := mix.New(printer{}, 1, 16)
	if err != nil {
		fmt.Println(err)
		return
	}
	tl.Add(0, []float32{0.5, 0.5, 0.75})
	tl.Add(2, []float32{0.5, 0.25})
	if err := tl.Flush(tl.End()); err != nil {
		fmt.Println(err)
	}
	fmt.Printf("%+v\n", tl.Stats())
	// Output:
	// [0.5 0.5 1 0.25]
	// {Written:4 Late:0 Early:0 Clipped:1}
}

// Two talkers at once whose sum would pass full scale: the Bus plays them
// under its ceiling, and a moment later one alone at its own level.
func ExampleBus() {
	bus, err := mix.NewBus(4, 10*time.Millisecond, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	out := make([]float32, 4)
	bus.Add([]float32{0.8, -0.8, 0.4, 0})
	bus.Add([]float32{0.8, -0.8, 0.4, 0})
	bus.Mix(out)
	fmt.Printf("%.3f gain %.3f\n", out, bus.Stats().Gain)
	// Output:
	// [0.891 -0.891 0.445 0.000] gain 0.557
}
