// Package hardnet holds the end-to-end measurements of the speak path on
// hard networks (its tests; the package itself is empty): the simulated
// board's speech or timing marks through the voice chain, Opus, the room
// supervisor and a real livekit-server, to a listener built like
// `onairctl listen` (net/room/listen, audio/rx), with the device forced
// through the lossy TURN relay of net/nettest/relay when a test asks.
//
// The listener's audio is scored against what the device encoded (the
// chain's output, tapped before Opus) by audio/quality's envelope and
// log-mel correlations; mouth-to-ear latency comes from the timing marks
// (audio/marks), read as `onairctl listen` reads them.
//
// The tests need livekit-server ($ONAIR_LIVEKIT_SERVER) and run in real
// time. ONAIR_MEASURE_NET=1 prints the README's "Loss and latency results"
// table as markdown.
package hardnet
