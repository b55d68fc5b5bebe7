//go:build !race

package whip

// raceEnabled: see race_test.go.
const raceEnabled = false
