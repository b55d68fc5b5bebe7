//go:build race

package gateway

// raceEnabled reports whether the tests run under the race detector, which
// slows Go code several times: a test that needs the simulated board in
// real time with three WebRTC participants in one process cannot keep up
// on a small machine.
const raceEnabled = true
