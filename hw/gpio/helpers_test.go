package gpio

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// guard is how long a test waits for a goroutine under test to react
// before failing. It is a failure deadline, never a pacing sleep: every
// wait in these tests ends as soon as the awaited thing happens.
const guard = 10 * time.Second

// epoch is the fake clocks' start.
func epoch() time.Time { return time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC) }

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// settle waits until the animator goroutine of an LED group or ring has
// re-armed its timer after clk.Advance: a fired fake timer leaves the
// clock's waiter list and comes back only once the goroutine has rendered
// the new time. Use it only while something is animating (the timer is
// armed) and when the animator is the clock's only waiter.
func settle(t *testing.T, clk *clockwork.FakeClock) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := clk.BlockUntilContext(ctx, 1); err != nil {
		t.Fatalf("animator did not re-arm its timer: %v", err)
	}
}
