package fleet

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: Watch, Snapshot,
// requests and Token stop theirs before returning, Close ends paho's.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
