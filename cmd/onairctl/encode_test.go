package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pion/webrtc/v4/pkg/media/oggreader"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/opus"
)

// writeWAV16 writes interleaved 16-bit PCM at 48 kHz.
func writeWAV16(t *testing.T, path string, channels int, samples []float32) {
	t.Helper()
	var b bytes.Buffer
	data := len(samples) * 2
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(36+data))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(channels), uint32(48000), uint32(48000 * 2 * channels), uint16(2 * channels), uint16(16)} {
		_ = binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	_ = binary.Write(&b, binary.LittleEndian, uint32(data))
	for _, v := range samples {
		_ = binary.Write(&b, binary.LittleEndian, int16(max(-1, min(1, v))*32767))
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestEncodeKeepsStartAndEnd encodes 300 ms of silence then a tone to the
// last sample, and plays the Ogg file back as a player does (dropping the
// header's pre-skip): the tone must start where it started, not 73.5 ms
// early (pion's writer declares a pre-skip of 3840 samples), and must still
// sound at the end.
func TestEncodeKeepsStartAndEnd(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.wav"), filepath.Join(dir, "out.opus")
	const n, onset = 48000, 14400 // 1 s; the tone starts at 300 ms
	x := make([]float32, 2*n)
	for i := onset; i < n; i++ {
		v := float32(0.25 * math.Sin(2*math.Pi*1000*float64(i)/48000))
		x[2*i], x[2*i+1] = v, v
	}
	writeWAV16(t, in, 2, x)
	var stdout, stderr bytes.Buffer
	if err := runEncode(context.Background(), []string{"-in", in, "-out", out, "-board", "respeaker-2mic"}, &stdout, &stderr); err != nil {
		t.Fatalf("encode: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "1s of audio") {
		t.Errorf("encode reports %q, want 1s of audio", stdout.String())
	}

	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, head, err := oggreader.NewWith(f)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := opus.NewDecoder(audio.Rate48k, 1)
	if err != nil {
		t.Fatal(err)
	}
	var pcm []float32
	buf := make([]float32, 5760)
	for {
		payload, _, err := r.ParseNextPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if bytes.HasPrefix(payload, []byte("OpusTags")) {
			continue
		}
		k, err := dec.Decode(payload, buf)
		if err != nil {
			t.Fatal(err)
		}
		pcm = append(pcm, buf[:k]...)
	}
	if int(head.PreSkip) >= len(pcm) {
		t.Fatalf("pre-skip %d of %d samples", head.PreSkip, len(pcm))
	}
	pcm = pcm[head.PreSkip:] // what a player plays
	if len(pcm) < n {
		t.Fatalf("plays %d samples, the input had %d", len(pcm), n)
	}
	// Where the tone starts: the first 2 ms above -40 dBFS.
	start := -1
	for i := 0; i+96 <= len(pcm); i += 96 {
		var e float64
		for _, v := range pcm[i : i+96] {
			e += float64(v) * float64(v)
		}
		if 10*math.Log10(e/96+1e-20) > -40 {
			start = i
			break
		}
	}
	ms := func(s int) float64 { return float64(s) / 48 }
	if start < 0 || ms(start) < 295 || ms(start) > 320 {
		t.Errorf("the tone starts at %.1f ms of playback, want 300 ms plus the 6.5 ms look-ahead", ms(start))
	}
	var e float64
	for _, v := range pcm[n-960 : n] {
		e += float64(v) * float64(v)
	}
	if db := 10 * math.Log10(e/960+1e-20); db < -30 {
		t.Errorf("the last 20 ms of the input play at %.1f dBFS: the end was cut", db)
	}
	t.Logf("pre-skip %d; plays %.1f ms for a 1000 ms input; tone from %.1f ms", head.PreSkip, ms(len(pcm)), ms(start))
}

// TestEncodeRefusesHostileFiles: the output may not be the input, and a
// device or FIFO as input is refused at once rather than read forever.
func TestEncodeRefusesHostileFiles(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.wav")
	writeWAV16(t, in, 2, make([]float32, 2*4800))
	before, _ := os.ReadFile(in)
	var stdout, stderr bytes.Buffer
	err := runEncode(context.Background(), []string{"-in", in, "-out", filepath.Join(dir, ".", "in.wav"), "-board", "respeaker-2mic"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "is the -in file") {
		t.Errorf("encode onto its input: %v", err)
	}
	if after, _ := os.ReadFile(in); !bytes.Equal(before, after) {
		t.Error("the input was overwritten")
	}
	cfg := filepath.Join(dir, "onair.yaml")
	if err := os.WriteFile(cfg, []byte("board: {profile: respeaker-2mic}\nroom: {url: \"ws://127.0.0.1:7880\", token: t}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = runEncode(context.Background(), []string{"-in", in, "-out", cfg, "-config", cfg}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "is the -config file") {
		t.Errorf("encode onto its config: %v", err)
	}
	for _, path := range []string{"/dev/zero"} {
		err := runEncode(context.Background(), []string{"-in", path, "-out", filepath.Join(dir, "z.opus"), "-board", "respeaker-2mic"}, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("encode -in %s: %v", path, err)
		}
	}
}
