package hardnet

import (
	"log/slog"
	"os"
	"testing"

	"github.com/onair-gateway/onair/net/livekit"
)

func TestMain(m *testing.M) {
	// The SDK's and pion's own logs (process-wide) stay quiet.
	livekit.SetSDKLogger(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}
