package audiotest

import (
	"strings"
	"testing"
	"time"
)

func TestLeftBehind(t *testing.T) {
	before := Goroutines()
	release := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-release
	}()
	left := LeftBehind(before, 50*time.Millisecond)
	if len(left) != 1 || !strings.Contains(left[0], "audiotest.TestLeftBehind") {
		t.Fatalf("LeftBehind with one goroutine blocked = %q", left)
	}
	close(release)
	<-done
	if left := LeftBehind(before, time.Second); len(left) != 0 {
		t.Fatalf("LeftBehind after the goroutine exited = %q", left)
	}
	// Subtests are the testing package's, not leaks.
	t.Run("sub", func(t *testing.T) {
		if left := LeftBehind(before, 0); len(left) != 0 {
			t.Errorf("a subtest counted as a leak: %q", left)
		}
	})
}
