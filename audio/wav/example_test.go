package wav_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/onair-gateway/onair/audio/wav"
)

// Write a file, then stream it back in chunks.
func Example() {
	dir, err := os.MkdirTemp("", "wav")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "tone.wav")
	w, err := wav.Create(path, wav.Format{Encoding: wav.PCM, Channels: 2, Rate: 48000, Bits: 16})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := w.Write([]float32{0.5, -0.5, 0.25, -0.25, 0, 0}); err != nil {
		fmt.Println(err)
	}
	if err := w.Close(); err != nil {
		fmt.Println(err)
	}
	f, err := wav.Open(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	fmt.Printf("%+v, %d frames\n", f.Format(), f.Frames())
	buf := make([]float32, 4) // two frames at a time
	for {
		n, err := f.Read(buf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(buf[:2*n])
	}
	// Output:
	// {Encoding:PCM Channels:2 Rate:48000 Bits:16}, 3 frames
	// [0.5 -0.5 0.25 -0.25]
	// [0 0]
}
