package mix_test

import (
	"fmt"

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
