package whip

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: sessions stop
// theirs in Close, and the test servers stop theirs in cleanup.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
