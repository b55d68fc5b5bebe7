//go:build race

package whip

// raceEnabled reports whether the tests run under the race detector, where
// sync.Pool drops a random quarter of what is Put, so a path that takes its
// buffers from pools (pion's SRTP and RTP packet pools) allocates on misses
// it never has in a normal build.
const raceEnabled = true
