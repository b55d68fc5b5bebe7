package audiotest

import (
	"bytes"
	"runtime"
	"strings"
	"time"
)

// Goroutines returns the IDs of the goroutines running now, for LeftBehind.
func Goroutines() map[string]bool {
	ids := make(map[string]bool)
	for _, g := range stacks(false) {
		ids[goroutineID(g)] = true
	}
	return ids
}

// LeftBehind waits up to wait for every goroutine not in before to exit, and
// returns the stacks of those that did not, except the testing package's
// own. Unlike checks that skip goroutines in a system call, it reports a
// goroutine stuck in cgo, which is how a leaked driver thread looks.
func LeftBehind(before map[string]bool, wait time.Duration) []string {
	deadline := time.Now().Add(wait)
	for {
		var left []string
		for _, g := range stacks(true) {
			if !before[goroutineID(g)] && !fromTesting(g) {
				left = append(left, g)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stacks returns the stack trace of every goroutine, the caller's first
// unless skipSelf.
func stacks(skipSelf bool) []string {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	parts := bytes.Split(buf, []byte("\n\n"))
	out := make([]string, 0, len(parts))
	for i, p := range parts {
		if i == 0 && skipSelf { // the calling goroutine comes first
			continue
		}
		if s := strings.TrimSpace(string(p)); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// goroutineID returns N from a stack's "goroutine N [state]:" header.
func goroutineID(stack string) string {
	id, _, _ := strings.Cut(strings.TrimPrefix(stack, "goroutine "), " ")
	return id
}

// fromTesting reports whether a goroutine belongs to the testing package:
// other tests and subtests waiting to run.
func fromTesting(stack string) bool {
	return strings.Contains(stack, "\ntesting.tRunner(") || strings.Contains(stack, "\ncreated by testing.")
}
