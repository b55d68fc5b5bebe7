package sim

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/audiotest"
	"github.com/onair-gateway/onair/conf"
)

// TestSourceContract runs the shared audio.Source contract on every board
// configuration in fast mode, and on the real clock for the plain array and
// the line input.
func TestSourceContract(t *testing.T) {
	for _, c := range boardCases(t) {
		t.Run(c.name, func(t *testing.T) {
			audiotest.TestSource(t, func(t *testing.T) audio.Source {
				return newBoard(t, c.cfg, c.g, c.f, c.o)
			})
		})
		if c.name != "4mic" && c.name != "linein-wav" {
			continue
		}
		t.Run(c.name+"-realtime", func(t *testing.T) {
			cfg := c.cfg
			cfg.Realtime = nil
			audiotest.TestSource(t, func(t *testing.T) audio.Source {
				return newBoard(t, cfg, c.g, c.f, c.o)
			})
		})
	}
}

// TestFramesExact checks what the board promises beyond the contract:
// Format is what was asked for, positions start at 0 and follow on by
// exactly one frame, and samples stay within full scale.
func TestFramesExact(t *testing.T) {
	for _, c := range boardCases(t) {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			cfg.Level = conf.Ptr(0.0) // loud enough to clip
			b := newBoard(t, cfg, c.g, c.f, c.o)
			if got := b.Format(); got != c.f {
				t.Fatalf("Format() = %+v, want %+v", got, c.f)
			}
			fr := audio.NewFrame(c.f.Channels, c.f.Rate, c.f.Period)
			var peak float32
			for k := range int64(20) {
				if err := b.ReadFrame(fr); err != nil {
					t.Fatalf("frame %d: %v", k, err)
				}
				if fr.Pos != k*int64(c.f.FrameLen()) {
					t.Fatalf("frame %d: pos %d, want %d", k, fr.Pos, k*int64(c.f.FrameLen()))
				}
				for i, v := range fr.Samples {
					if v > 1 || v < -1 {
						t.Fatalf("frame %d sample %d = %v, beyond full scale", k, i, v)
					}
					peak = max(peak, abs32(v))
				}
			}
			if c.cfg.Signal != SignalChirp && peak < 0.5 {
				t.Errorf("peak %v at Level 0 dBFS", peak)
			}
		})
	}
}

// TestSourceContractRealtime checks that Close unblocks a paced read for
// each configuration, whichever frame it is waiting for.
func TestSourceContractRealtime(t *testing.T) {
	for _, c := range boardCases(t) {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			clk := clockwork.NewFakeClock()
			cfg := c.cfg
			cfg.Realtime = nil
			b := newBoard(t, cfg, c.g, c.f, Options{Clock: clk, LineIn: c.o.LineIn, Reference: c.o.Reference})
			r := startReader(t, b)
			for range 3 {
				r.req <- struct{}{}
				if err := clk.BlockUntilContext(ctx, 1); err != nil {
					t.Fatal(err)
				}
				clk.Advance(c.f.Period)
				if res := r.wait(t, ctx); res.err != nil {
					t.Fatal(res.err)
				}
			}
			r.req <- struct{}{}
			if err := clk.BlockUntilContext(ctx, 1); err != nil {
				t.Fatal(err)
			}
			b.Close()
			if res := r.wait(t, ctx); !errors.Is(res.err, audio.ErrClosed) {
				t.Fatalf("pending read after Close: %v, want ErrClosed", res.err)
			}
		})
	}
}
